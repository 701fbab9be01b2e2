"""The policy monitor: watched pages, fetches, snapshots, diffs, acknowledgements.

Each watched page has one current-state row (``policy_pages``) and insert-only
history (``policy_snapshots``, ``policy_fetches``, ``policy_acks``). A fetch
runs outside any transaction; its result is recorded in one transaction that
locks the page's row:

- a new text is a new snapshot (stored in the database and, atomically, as
  ``_autopack/policy/<provider>/<hash>.txt`` with its diff beside it); the
  page's first snapshot is its acknowledged baseline, any later one waits for
  ``autopack policy ack``;
- the same text (or a 304 to our ETag / Last-Modified) renews ``verified_at``
  and changes nothing else: re-fetching never clears an unacknowledged change;
- a failure records the error and leaves ``verified_at`` alone: a failed fetch
  never makes a snapshot fresh.

The default pages of each provider under the monitor (its unit's
``policy_pages``) are added on first use; a page removed from the watch list
keeps its row (``watched`` false), so it stays removed and, added again,
resumes its snapshot and acknowledgement.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from autopack.db.engine import read_only
from autopack.db.models import PolicyAckRow, PolicyFetchRow, PolicyPageRow, PolicySnapshotRow
from autopack.domain.approvals import validate_person
from autopack.domain.canonical import format_utc
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConflictError, InvalidInputError, NotFoundError
from autopack.domain.layout import policy_diff_path, policy_snapshot_path
from autopack.domain.policy import (
    NORMALISER_VERSION,
    PageStanding,
    PageState,
    normalise_html,
    snapshot_hash,
    unified_diff,
    validate_hash,
    validate_page_url,
    worst,
)
from autopack.domain.principals import Actor, Permission, local_actor
from autopack.providers.registry import POLICY_PAGES
from autopack.services.context import Runtime
from autopack.services.fsio import atomic_write_text
from autopack.services.policy_monitor.fetcher import PageFetcher, PolicyFetchError

PAGES = cast(Table, PolicyPageRow.__table__)
SNAPSHOTS = cast(Table, PolicySnapshotRow.__table__)
FETCHES = cast(Table, PolicyFetchRow.__table__)
ACKS = cast(Table, PolicyAckRow.__table__)
DEFAULTS_ACTOR = "defaults"
MAX_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """A reference to one policy snapshot: what a publish packet records as checked."""

    provider: str
    url: str
    hash: str


def freshness_window(runtime: Runtime) -> timedelta:
    return timedelta(days=runtime.settings.policy_freshness_days)


def watched_provider(provider: str) -> str:
    """``provider`` if the policy monitor watches it; a clear refusal otherwise."""
    if provider not in POLICY_PAGES:
        raise InvalidInputError(
            f"{provider[:64]!r} has no policy monitor: the watched providers are "
            + ", ".join(sorted(POLICY_PAGES)),
            code=ErrorCode.POLICY_NOT_WATCHED,
            details={"watched": sorted(POLICY_PAGES)},
        )
    return provider


def page_states(conn: Connection | Any, provider: str) -> tuple[PageState, ...]:
    """The watched pages of ``provider`` as the policy gate sees them."""
    rows = conn.execute(
        select(PAGES.c.url, PAGES.c.current_hash, PAGES.c.acknowledged_hash, PAGES.c.verified_at)
        .where(PAGES.c.provider == provider, PAGES.c.watched.is_(True))
        .order_by(PAGES.c.url)
    ).all()
    return tuple(PageState(*row) for row in rows)


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else format_utc(moment)


class PolicyMonitor:
    """Every policy monitor operation; ``transport`` is the HTTP seam (None: network)."""

    def __init__(self, runtime: Runtime, *, transport: httpx.BaseTransport | None = None) -> None:
        self.rt = runtime
        self.transport = transport

    @property
    def freshness(self) -> timedelta:
        return freshness_window(self.rt)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with read_only(self.rt.engine) as conn:
            yield conn

    # -- watched pages ------------------------------------------------------------------

    def _seed_defaults(self) -> None:
        """Add each provider's default pages once (never again after a removal)."""
        with self._read() as conn:
            known = {(p, u) for p, u in conn.execute(select(PAGES.c.provider, PAGES.c.url))}
        missing = [(p, u) for p, urls in POLICY_PAGES.items() for u in urls if (p, u) not in known]
        for provider, url in missing:
            try:
                with self.rt.engine.begin() as conn:
                    conn.execute(
                        insert(PAGES).values(
                            provider=provider,
                            url=url,
                            watched=True,
                            added_by=DEFAULTS_ACTOR,
                            added_at=self.rt.clock(),
                        )
                    )
            except IntegrityError:
                continue  # another process added it first

    def pages(self, provider: str | None = None) -> list[dict[str, Any]]:
        """The watched pages (of one provider), by provider and URL."""
        return [self._public(page) for page in self._watched(provider)]

    def _watched(self, provider: str | None) -> list[dict[str, Any]]:
        if provider is not None:
            watched_provider(provider)
        self._seed_defaults()
        query = select(PAGES).where(PAGES.c.watched.is_(True))
        if provider is not None:
            query = query.where(PAGES.c.provider == provider)
        with self._read() as conn:
            rows = conn.execute(query.order_by(PAGES.c.provider, PAGES.c.url)).mappings().all()
        return [self._page_dict(row) for row in rows]

    def add_page(self, provider: str, url: str, *, actor: str | Actor) -> dict[str, Any]:
        who = local_actor(actor)
        who.require(Permission.OPERATE)
        validate_person("actor", who.name)
        watched_provider(provider)
        url = validate_page_url(url)
        self._seed_defaults()
        with self.rt.engine.begin() as conn:
            row = self._page_row(conn, provider, url, lock=True)
            if row is None:
                conn.execute(
                    insert(PAGES).values(
                        provider=provider,
                        url=url,
                        watched=True,
                        added_by=who.name,
                        added_at=self.rt.clock(),
                    )
                )
            elif not row["watched"]:
                conn.execute(update(PAGES).where(PAGES.c.id == row["id"]).values(watched=True))
            fresh = self._page_row(conn, provider, url)
        assert fresh is not None
        return self._public(self._page_dict(fresh))

    def remove_page(self, provider: str, url: str, *, actor: str | Actor) -> dict[str, Any]:
        who = local_actor(actor)
        who.require(Permission.OPERATE)
        validate_person("actor", who.name)
        watched_provider(provider)
        url = validate_page_url(url)
        self._seed_defaults()
        with self.rt.engine.begin() as conn:
            row = self._page_row(conn, provider, url, lock=True)
            if row is None or not row["watched"]:
                raise NotFoundError(
                    f"{url} is not a watched policy page of {provider}: "
                    f"`autopack policy pages list --provider {provider}` shows them",
                    code=ErrorCode.POLICY_PAGE_NOT_FOUND,
                )
            conn.execute(update(PAGES).where(PAGES.c.id == row["id"]).values(watched=False))
            fresh = self._page_row(conn, provider, url)
        assert fresh is not None
        return self._public(self._page_dict(fresh))

    # -- fetching -------------------------------------------------------------------------

    def fetch(self, provider: str | None = None) -> list[dict[str, Any]]:
        """Fetch every watched page (of one provider); one report per page. A failed
        page is reported (``outcome`` failed, ``error``) and the others still run."""
        targets = self._watched(provider)
        settings = self.rt.settings
        fetcher = PageFetcher(
            timeout_seconds=settings.policy_fetch_timeout_seconds,
            max_bytes=settings.policy_max_page_bytes,
            transport=self.transport,
        )
        try:
            return [self._fetch_one(fetcher, page) for page in targets]
        finally:
            fetcher.close()

    def _fetch_one(self, fetcher: PageFetcher, page: dict[str, Any]) -> dict[str, Any]:
        provider, url = page["provider"], page["url"]
        # Conditional only when the stored snapshot was made by this normaliser:
        # a new normaliser must see the page again.
        conditional = page["normaliser_version"] == NORMALISER_VERSION and page["current_hash"]
        try:
            fetched = fetcher.fetch(
                url,
                etag=page["etag"] if conditional else None,
                last_modified=page["last_modified"] if conditional else None,
            )
        except PolicyFetchError as exc:
            return self._record_failure(provider, url, exc.message)
        if fetched.html is None:
            if not conditional:
                return self._record_failure(provider, url, "HTTP 304 to an unconditional request")
            return self._record_verified(provider, url, "not_modified", fetched.http_status)
        text = normalise_html(fetched.html)
        digest = snapshot_hash(text)
        return self._record_text(
            provider, url, text, digest, fetched.http_status, fetched.etag, fetched.last_modified
        )

    def _fetch_row(
        self,
        conn: Connection,
        provider: str,
        url: str,
        outcome: str,
        http_status: int | None,
        digest: str | None,
        error: str | None,
        now: datetime,
    ) -> None:
        conn.execute(
            insert(FETCHES).values(
                provider=provider,
                url=url,
                at=now,
                outcome=outcome,
                http_status=http_status,
                hash=digest,
                error=error,
            )
        )

    def _record_failure(self, provider: str, url: str, error: str) -> dict[str, Any]:
        error = self.rt.redactor().redact_text(error)[:MAX_ERROR_CHARS]
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            row = self._page_row(conn, provider, url, lock=True)
            assert row is not None
            conn.execute(
                update(PAGES)
                .where(PAGES.c.id == row["id"])
                .values(last_attempt_at=now, last_error=error)
            )
            self._fetch_row(conn, provider, url, "failed", None, None, error, now)
        return self._report(provider, url, "failed", row["current_hash"], error=error)

    def _record_verified(
        self, provider: str, url: str, outcome: str, http_status: int
    ) -> dict[str, Any]:
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            row = self._page_row(conn, provider, url, lock=True)
            assert row is not None
            conn.execute(
                update(PAGES)
                .where(PAGES.c.id == row["id"])
                .values(verified_at=now, last_attempt_at=now, last_error=None)
            )
            self._fetch_row(
                conn, provider, url, outcome, http_status, row["current_hash"], None, now
            )
        return self._report(provider, url, outcome, row["current_hash"])

    def _record_text(
        self,
        provider: str,
        url: str,
        text: str,
        digest: str,
        http_status: int,
        etag: str | None,
        last_modified: str | None,
    ) -> dict[str, Any]:
        validators = {"etag": (etag or None) and etag[:512], "last_modified": last_modified}
        if last_modified is not None and len(last_modified) > 128:
            validators["last_modified"] = None
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            row = self._page_row(conn, provider, url, lock=True)
            assert row is not None
            previous = row["current_hash"]
            if previous == digest:
                conn.execute(
                    update(PAGES)
                    .where(PAGES.c.id == row["id"])
                    .values(verified_at=now, last_attempt_at=now, last_error=None, **validators)
                )
                self._fetch_row(conn, provider, url, "unchanged", http_status, digest, None, now)
                return self._report(provider, url, "unchanged", digest)
            diff = None
            if previous is not None:
                old_text = self._snapshot_text(conn, provider, url, previous)
                diff = unified_diff(old_text, text, f"{url} @ {previous}", f"{url} @ {digest}")
            # Files first: the database never names a snapshot whose file is missing.
            atomic_write_text(policy_snapshot_path(self.rt.workspace, provider, digest), text)
            if previous is not None and diff is not None:
                atomic_write_text(
                    policy_diff_path(self.rt.workspace, provider, previous, digest), diff
                )
            conn.execute(
                insert(SNAPSHOTS).values(
                    provider=provider,
                    url=url,
                    hash=digest,
                    normaliser_version=NORMALISER_VERSION,
                    text=text,
                    previous_hash=previous,
                    diff=diff,
                    fetched_at=now,
                )
            )
            values: dict[str, Any] = {
                "current_hash": digest,
                "normaliser_version": NORMALISER_VERSION,
                "verified_at": now,
                "last_attempt_at": now,
                "last_error": None,
                **validators,
            }
            if previous is None:
                values["acknowledged_hash"] = digest  # the first snapshot is the baseline
            conn.execute(update(PAGES).where(PAGES.c.id == row["id"]).values(**values))
            outcome = "first" if previous is None else "changed"
            self._fetch_row(conn, provider, url, outcome, http_status, digest, None, now)
        return self._report(provider, url, outcome, digest, previous=previous, diff=diff)

    @staticmethod
    def _report(
        provider: str,
        url: str,
        outcome: str,
        digest: str | None,
        *,
        previous: str | None = None,
        diff: str | None = None,
        error: str | None = None,
    ) -> dict[str, Any]:
        return {
            "provider": provider,
            "url": url,
            "outcome": outcome,
            "hash": digest,
            "previous_hash": previous,
            "diff": diff,
            "error": error,
        }

    # -- status, diff, acknowledgement -------------------------------------------------

    def status(self, provider: str | None = None) -> list[dict[str, Any]]:
        """Per provider under the monitor: its pages, each one's snapshot, age and
        standing, and the provider's worst standing (``no_pages`` if none is watched)."""
        providers = [watched_provider(provider)] if provider is not None else sorted(POLICY_PAGES)
        pages = self._watched(provider)
        now = self.rt.clock()
        freshness = self.freshness
        found: list[dict[str, Any]] = []
        for name in providers:
            mine = [p for p in pages if p["provider"] == name]
            for page in mine:
                state = PageState(
                    page["url"], page["current_hash"], page["acknowledged_hash"], page["_verified"]
                )
                page["standing"] = state.standing(now, freshness).value
                verified = page["_verified"]
                page["age_seconds"] = (
                    None if verified is None else int((now - verified).total_seconds())
                )
            standing = (
                worst(PageStanding(p["standing"]) for p in mine).value if mine else "no_pages"
            )
            found.append(
                {
                    "provider": name,
                    "standing": standing,
                    "freshness_days": self.rt.settings.policy_freshness_days,
                    "pages": [self._public(p) for p in mine],
                }
            )
        return found

    def pending(self, provider: str) -> list[dict[str, Any]]:
        """The unacknowledged changes of ``provider``: per page, the acknowledged
        snapshot, the current one and the unified diff between them."""
        watched_provider(provider)
        self._seed_defaults()
        with self._read() as conn:
            rows = conn.execute(
                select(PAGES)
                .where(
                    PAGES.c.provider == provider,
                    PAGES.c.watched.is_(True),
                    PAGES.c.current_hash.is_not(None),
                )
                .order_by(PAGES.c.url)
            ).mappings()
            changes = []
            for row in rows:
                old, new = row["acknowledged_hash"], row["current_hash"]
                if old == new:
                    continue
                old_text = (
                    "" if old is None else self._snapshot_text(conn, provider, row["url"], old)
                )
                new_text = self._snapshot_text(conn, provider, row["url"], new)
                changes.append(
                    {
                        "url": row["url"],
                        "from_hash": old,
                        "to_hash": new,
                        "diff": unified_diff(
                            old_text, new_text, f"{row['url']} @ {old}", f"{row['url']} @ {new}"
                        ),
                        "ack_command": f"autopack policy ack {provider} --from {old} --to {new}",
                    }
                )
        return changes

    def ack(
        self, provider: str, *, from_hash: str, to_hash: str, actor: str | Actor
    ) -> list[dict[str, Any]]:
        """Acknowledge the pending change ``from_hash`` -> ``to_hash`` of ``provider``
        (every watched page with exactly that pending pair). Any other pair is refused."""
        who = local_actor(actor)
        who.require(Permission.DECIDE)
        validate_person("actor", who.name)
        watched_provider(provider)
        old = validate_hash(from_hash, "--from")
        new = validate_hash(to_hash, "--to")
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            rows = (
                conn.execute(
                    select(PAGES)
                    .where(PAGES.c.provider == provider, PAGES.c.watched.is_(True))
                    .order_by(PAGES.c.url)
                    .with_for_update()
                )
                .mappings()
                .all()
            )
            matching = [
                r for r in rows if r["acknowledged_hash"] == old and r["current_hash"] == new
            ]
            if old == new or not matching:
                raise self._mismatch(provider, old, new, rows)
            acknowledged = []
            for row in matching:
                conn.execute(
                    update(PAGES).where(PAGES.c.id == row["id"]).values(acknowledged_hash=new)
                )
                conn.execute(
                    insert(ACKS).values(
                        provider=provider,
                        url=row["url"],
                        from_hash=old,
                        to_hash=new,
                        actor=who.name,
                        principal_id=who.principal_id,
                        via=who.via.value,
                        at=now,
                    )
                )
                acknowledged.append(
                    {
                        "url": row["url"],
                        "from_hash": old,
                        "to_hash": new,
                        "by": who.name,
                        "at": format_utc(now),
                    }
                )
        return acknowledged

    @staticmethod
    def _mismatch(provider: str, old: str, new: str, rows: Sequence[Any]) -> ConflictError:
        pending = [
            f"{r['url']}: --from {r['acknowledged_hash']} --to {r['current_hash']}"
            for r in rows
            if r["current_hash"] is not None and r["current_hash"] != r["acknowledged_hash"]
        ]
        shown = "; ".join(pending) if pending else "nothing is pending"
        return ConflictError(
            f"{old[:12]} -> {new[:12]} is not a pending policy change of {provider} "
            f"(pending: {shown})",
            code=ErrorCode.POLICY_ACK_MISMATCH,
            details={"pending": pending},
        )

    # -- for publish packets -----------------------------------------------------------

    def current_refs(self, provider: str) -> list[PolicyRef]:
        """The acknowledged snapshot of every watched page of ``provider`` whose
        current snapshot is acknowledged (a page still unfetched or changed is left
        out; the policy gate holds the provider's publish actions meanwhile)."""
        watched_provider(provider)
        with self._read() as conn:
            states = page_states(conn, provider)
        return [
            PolicyRef(provider, s.url, s.current_hash)
            for s in states
            if s.current_hash is not None and s.current_hash == s.acknowledged_hash
        ]

    def is_current(self, ref: PolicyRef) -> bool:
        """True while ``ref`` is still its page's current, acknowledged snapshot."""
        with self._read() as conn:
            row = self._page_row(conn, ref.provider, ref.url)
        return (
            row is not None
            and bool(row["watched"])
            and row["current_hash"] == ref.hash
            and row["acknowledged_hash"] == ref.hash
        )

    # -- rows ------------------------------------------------------------------------

    @staticmethod
    def _page_row(conn: Connection, provider: str, url: str, *, lock: bool = False) -> Any:
        query = select(PAGES).where(PAGES.c.provider == provider, PAGES.c.url == url)
        if lock:
            query = query.with_for_update()
        return conn.execute(query).mappings().first()

    @staticmethod
    def _snapshot_text(conn: Connection, provider: str, url: str, digest: str) -> str:
        text = conn.execute(
            select(SNAPSHOTS.c.text)
            .where(
                SNAPSHOTS.c.provider == provider, SNAPSHOTS.c.url == url, SNAPSHOTS.c.hash == digest
            )
            .order_by(SNAPSHOTS.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return "" if text is None else str(text)

    @staticmethod
    def _page_dict(row: Any) -> dict[str, Any]:
        return {
            "provider": row["provider"],
            "url": row["url"],
            "added_by": row["added_by"],
            "added_at": format_utc(row["added_at"]),
            "current_hash": row["current_hash"],
            "acknowledged_hash": row["acknowledged_hash"],
            "normaliser_version": row["normaliser_version"],
            "verified_at": _when(row["verified_at"]),
            "last_attempt_at": _when(row["last_attempt_at"]),
            "last_error": row["last_error"],
            "etag": row["etag"],
            "last_modified": row["last_modified"],
            "_verified": row["verified_at"],
        }

    @staticmethod
    def _public(page: dict[str, Any]) -> dict[str, Any]:
        hidden = ("etag", "last_modified")
        return {k: v for k, v in page.items() if not k.startswith("_") and k not in hidden}
