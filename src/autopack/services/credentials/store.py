"""The encrypted credential store and its key ring: one job, storage.

Tables: ``credentials`` (one row per provider account; the secret material only
in ``secret_ciphertext``, AES-256-GCM, see :mod:`autopack.services.secretbox`),
``credential_keys`` (salts and key ids, never keys) and the insert-only
``credential_events``. The store encrypts and decrypts, writes a credential
(connect, key added), removes, pauses, rotates the key, and remembers every
secret it sees so the runtime's redactor masks it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, delete, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from autopack.db.engine import read_only
from autopack.db.models import CredentialEventRow, CredentialKeyRow, CredentialRow
from autopack.domain.canonical import canonical_json
from autopack.domain.credentials import (
    CredentialCorruptError,
    CredentialKeyError,
    CredentialKind,
    CredentialNeedsReauthError,
    CredentialNotFoundError,
    StoredState,
    block_reason,
    scopes_json,
    validate_account,
)
from autopack.providers.registry import (
    DEFAULT_REDACTOR,
    secret_settings,
    validate_credential_provider,
)
from autopack.services.context import Runtime
from autopack.services.credentials.reauth import ReauthTasks
from autopack.services.secretbox import SecretBox, associated_data, new_salt, resolve_secret

CREDS = cast(Table, CredentialRow.__table__)
KEYS = cast(Table, CredentialKeyRow.__table__)
EVENTS = cast(Table, CredentialEventRow.__table__)
Row = Mapping[Any, Any]

# Fields of the decrypted material that are secrets (all of them are registered
# with the redaction library; client_id and token_type are not secret).
SECRET_FIELDS: Final = ("access_token", "refresh_token", "client_secret", "key_id", "secret_key")
_BASE_REDACTOR: Final = DEFAULT_REDACTOR
log = logging.getLogger("autopack.credentials")


def check_usable(row: Row) -> None:
    """Refuse an account that needs re-authorization (an operator pause is held
    earlier, by the claim query)."""
    state = StoredState(row["state"])
    if state is not StoredState.ACTIVE:
        reason = block_reason(
            provider=row["provider"],
            account=row["account"],
            state=state,
            paused=bool(row["paused"]),
            code=row["pause_code"],
        )
        raise CredentialNeedsReauthError(
            reason or "credentials need re-authorization",
            details={"provider": row["provider"], "account": row["account"]},
        )


class CredentialStore:
    """Rows, encryption, key ring, events. Thread-safe: share one per service."""

    def __init__(self, runtime: Runtime, tasks: ReauthTasks, *, actor: str) -> None:
        self.rt = runtime
        self.tasks = tasks
        self._actor = actor
        self.is_pg = runtime.engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._secret: bytes | None = None
        self._boxes: dict[str, SecretBox] = {}
        self._seen: set[str] = set()

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        with self.rt.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with read_only(self.rt.engine) as conn:
            yield conn

    def _secret_bytes(self) -> bytes:
        with self._lock:
            if self._secret is None:
                self._secret = resolve_secret(self.rt.settings, self.rt.entropy)
            return self._secret

    def remember(self, material: Mapping[str, Any]) -> None:
        values = [str(material[f]) for f in SECRET_FIELDS if material.get(f)]
        with self._lock:
            self._seen.update(values)
        # The runtime's redactor (ledger, logs, API) masks them from now on.
        self.rt.note_secrets(values)

    def event(
        self, conn: Connection, provider: str, account: str, event: str, data: Mapping[str, Any]
    ) -> None:
        text = canonical_json(_BASE_REDACTOR.redact_value(dict(data))).decode("utf-8")
        log.info("credential %s/%s %s %s", provider, account, event, text)
        conn.execute(
            insert(EVENTS).values(
                provider=provider,
                account=account,
                event=event,
                actor=self._actor,
                at=self.rt.clock(),
                data=text,
            )
        )

    # -- keys ------------------------------------------------------------------------

    def _derive_checked(self, key_id: str, salt: str, secret: bytes | None = None) -> SecretBox:
        box = SecretBox.derive(
            secret if secret is not None else self._secret_bytes(), bytes.fromhex(salt)
        )
        if box.key_id != key_id:
            raise CredentialKeyError(
                f"the configured AUTOPACK_SECRET_KEY does not open this credential store "
                f"(stored key id {key_id[:8]}...): set the key it was encrypted with, or run "
                "`autopack credentials rotate-key` with the old key on stdin"
            )
        return box

    def box_for(self, conn: Connection, key_id: str) -> SecretBox:
        with self._lock:
            box = self._boxes.get(key_id)
        if box is not None:
            return box
        row = conn.execute(select(KEYS).where(KEYS.c.key_id == key_id)).mappings().first()
        if row is None:
            raise CredentialCorruptError(
                f"credential key id {key_id[:8]}... is not in the key ring"
            )
        box = self._derive_checked(key_id, row["salt"])
        with self._lock:
            self._boxes[key_id] = box
        return box

    def active_box(self) -> SecretBox:
        """The active key (created on first use, race-safe through a unique slot)."""
        for _ in range(3):
            with self.tx() as conn:
                row = conn.execute(select(KEYS).where(KEYS.c.active_slot == 1)).mappings().first()
                if row is not None:
                    return self.box_for(conn, row["key_id"])
            salt = new_salt(self.rt.entropy)
            box = SecretBox.derive(self._secret_bytes(), bytes.fromhex(salt))
            try:
                with self.tx() as conn:
                    conn.execute(
                        insert(KEYS).values(
                            key_id=box.key_id,
                            salt=salt,
                            active_slot=1,
                            created_at=self.rt.clock(),
                            retired_at=None,
                        )
                    )
            except IntegrityError:
                continue  # a peer created the key ring first: use theirs
            with self._lock:
                self._boxes[box.key_id] = box
            return box
        raise CredentialKeyError("could not create the credential key ring")

    def encrypt(
        self, box: SecretBox, provider: str, account: str, kind: str, material: Mapping[str, Any]
    ) -> str:
        self.remember(material)
        plaintext = canonical_json(dict(material))
        return box.encrypt(plaintext, associated_data(provider, account, kind), self.rt.entropy(12))

    def decrypt(self, conn: Connection, row: Row) -> dict[str, Any]:
        box = self.box_for(conn, row["key_id"])
        raw = box.decrypt(
            row["secret_ciphertext"], associated_data(row["provider"], row["account"], row["kind"])
        )
        material: dict[str, Any] = json.loads(raw)
        self.remember(material)
        return material

    def active_box_in(self, conn: Connection) -> SecretBox:
        row = conn.execute(select(KEYS).where(KEYS.c.active_slot == 1)).mappings().first()
        if row is None:
            raise CredentialKeyError("the credential key ring is empty")
        return self.box_for(conn, row["key_id"])

    # -- reads -----------------------------------------------------------------------

    def row(
        self, conn: Connection, provider: str, account: str, *, lock: bool = False
    ) -> RowMapping | None:
        query = select(CREDS).where(CREDS.c.provider == provider, CREDS.c.account == account)
        if lock and self.is_pg:
            query = query.with_for_update()
        return conn.execute(query).mappings().first()

    def require(
        self, conn: Connection, provider: str, account: str, *, lock: bool = False
    ) -> RowMapping:
        row = self.row(conn, provider, account, lock=lock)
        if row is None:
            raise CredentialNotFoundError(
                f"no credentials for {provider}/{account}",
                details={"provider": provider, "account": account},
            )
        return row

    # -- writes ----------------------------------------------------------------------

    def upsert(
        self,
        *,
        provider: str,
        account: str,
        kind: CredentialKind,
        environment: str,
        scopes: list[str],
        material: Mapping[str, Any],
        expires_at: datetime | None,
        key_hint: str | None,
        event: str,
    ) -> tuple[RowMapping, datetime]:
        """Store ``material`` for one account (resuming it) and return the fresh row
        and the moment of the write."""
        box = self.active_box()
        now = self.rt.clock()
        ciphertext = self.encrypt(box, provider, account, kind.value, material)
        has_refresh = bool(material.get("refresh_token"))
        values: dict[str, Any] = {
            "kind": kind.value,
            "environment": environment,
            "scopes": scopes_json(scopes),
            "state": StoredState.ACTIVE.value,
            "paused": False,
            "pause_code": None,
            "expires_at": expires_at,
            "refresh_issued_at": now if has_refresh else None,
            "has_refresh_token": has_refresh,
            "key_hint": key_hint,
            "key_id": box.key_id,
            "secret_ciphertext": ciphertext,
            "lease_owner": None,
            "lease_expires_at": None,
            "failure_count": 0,
            "reauth_task": None,
            "updated_at": now,
        }
        with self.tx() as conn:
            row = self.row(conn, provider, account, lock=True)
            if row is None:
                conn.execute(
                    insert(CREDS).values(
                        provider=provider,
                        account=account,
                        version=1,
                        refresh_count=0,
                        total_failures=0,
                        last_success_at=now,
                        last_failure_at=None,
                        last_error_class=None,
                        last_error_code=None,
                        created_at=now,
                        **values,
                    )
                )
                resumed = False
            else:
                resumed = bool(row["paused"]) or row["state"] != StoredState.ACTIVE.value
                conn.execute(
                    update(CREDS)
                    .where(CREDS.c.id == row["id"])
                    .values(version=row["version"] + 1, last_success_at=now, **values)
                )
            self.event(
                conn,
                provider,
                account,
                event,
                {"kind": kind.value, "environment": environment, "scopes": sorted(set(scopes))},
            )
            if resumed:
                self.event(conn, provider, account, "resumed", {"after": event})
            self.tasks.remove(provider, account)
            fresh = self.require(conn, provider, account)
        return fresh, now

    def remove(self, provider: str, account: str) -> None:
        validate_credential_provider(provider)
        validate_account(account)
        with self.tx() as conn:
            row = self.require(conn, provider, account, lock=True)
            conn.execute(delete(CREDS).where(CREDS.c.id == row["id"]))
            self.event(conn, provider, account, "removed", {"kind": row["kind"]})
            self.tasks.remove(provider, account)

    def set_paused(
        self, provider: str, account: str, *, paused: bool
    ) -> tuple[RowMapping, datetime, bool]:
        """Operator pause/resume of dispatch for one account (status ``paused``).

        Resuming an account that needs re-authorization is refused: reconnect it.
        Returns the fresh row, the moment and whether its secret still decrypts.
        """
        validate_credential_provider(provider)
        validate_account(account)
        now = self.rt.clock()
        with self.tx() as conn:
            row = self.require(conn, provider, account, lock=True)
            if not paused and row["state"] != StoredState.ACTIVE.value:
                raise CredentialNeedsReauthError(
                    f"{provider}/{account} needs re-authorization, not a resume: "
                    f"run `autopack credentials connect {provider} --account {account}`"
                )
            if bool(row["paused"]) != paused:
                conn.execute(
                    update(CREDS)
                    .where(CREDS.c.id == row["id"])
                    .values(
                        paused=paused, pause_code="operator" if paused else None, updated_at=now
                    )
                )
                self.event(
                    conn, provider, account, "paused" if paused else "resumed", {"by": "operator"}
                )
            fresh = self.require(conn, provider, account)
            decryptable = True
            try:
                self.decrypt(conn, fresh)
            except (CredentialCorruptError, CredentialKeyError):
                decryptable = False
        return fresh, now, decryptable

    # -- re-auth tasks -------------------------------------------------------------

    # -- key rotation ------------------------------------------------------------------

    def rotate_key(self, old_secret: str) -> dict[str, Any]:
        """Re-encrypt every credential under the configured key with a fresh salt.

        ``old_secret`` is the key the store was encrypted with (may equal the
        configured one: then only the salt and key id change).
        """
        old = old_secret.encode("utf-8")
        new = self._secret_bytes()
        now = self.rt.clock()
        salt = new_salt(self.rt.entropy)
        new_box = SecretBox.derive(new, bytes.fromhex(salt))
        with self.tx() as conn:
            keys = conn.execute(select(KEYS)).mappings().all()
            boxes: dict[str, SecretBox] = {}
            for key in keys:
                for candidate in (old, new):
                    box = SecretBox.derive(candidate, bytes.fromhex(key["salt"]))
                    if box.key_id == key["key_id"]:
                        boxes[key["key_id"]] = box
                        break
            query = select(CREDS).order_by(CREDS.c.id)
            if self.is_pg:
                query = query.with_for_update()
            rows = conn.execute(query).mappings().all()
            for row in rows:
                if row["key_id"] not in boxes:
                    raise CredentialKeyError(
                        f"neither the old key given nor AUTOPACK_SECRET_KEY opens "
                        f"{row['provider']}/{row['account']}: nothing was changed"
                    )
            conn.execute(
                update(KEYS).where(KEYS.c.active_slot == 1).values(active_slot=None, retired_at=now)
            )
            conn.execute(
                insert(KEYS).values(
                    key_id=new_box.key_id, salt=salt, active_slot=1, created_at=now, retired_at=None
                )
            )
            for row in rows:
                aad = associated_data(row["provider"], row["account"], row["kind"])
                plaintext = boxes[row["key_id"]].decrypt(row["secret_ciphertext"], aad)
                self.remember(json.loads(plaintext))
                conn.execute(
                    update(CREDS)
                    .where(CREDS.c.id == row["id"])
                    .values(
                        secret_ciphertext=new_box.encrypt(plaintext, aad, self.rt.entropy(12)),
                        key_id=new_box.key_id,
                        updated_at=now,
                    )
                )
            for row in rows:
                self.event(
                    conn, row["provider"], row["account"], "key_rotated", {"key_id": new_box.key_id}
                )
        with self._lock:
            self._boxes = {new_box.key_id: new_box}
        return {"reencrypted": len(rows), "key_id": new_box.key_id, "retired": len(keys)}

    # -- redaction --------------------------------------------------------------------

    def known_secrets(self) -> frozenset[str]:
        """Every secret the store holds (all rows), plus secrets seen by this process
        and secret settings. Feed it to the redaction library."""
        with self.read() as conn:
            for row in conn.execute(select(CREDS)).mappings().all():
                with suppress(CredentialCorruptError, CredentialKeyError):
                    self.decrypt(conn, row)
        settings = self.rt.settings
        extra = [
            s.get_secret_value() for s in (settings.secret_key, settings.api_key) if s is not None
        ]
        extra += secret_settings(settings)
        with self._lock:
            return frozenset(self._seen | set(extra))
