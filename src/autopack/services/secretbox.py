"""Authenticated encryption for the credential store.

AES-256-GCM from ``cryptography``. The key is never stored: it is derived with
HKDF-SHA256 from the operator's secret (``AUTOPACK_SECRET_KEY``) and a random
per-store salt kept in ``credential_keys``. A second HKDF output, the key id, is
stored next to every ciphertext so a wrong secret is reported as "wrong key"
instead of as corrupt data, and so key rotation knows which rows it re-encrypted.

Every ciphertext is bound (as GCM associated data) to the row's provider,
account and kind: a ciphertext copied onto another row does not decrypt.

Development without ``AUTOPACK_SECRET_KEY``: a random key is generated once and
kept in ``<workspace>/.autonomous_runs/_autopack/credentials.key`` (mode 0600,
created exclusively so concurrent processes agree on one key). That keeps a
laptop demo working with no setup and still protects database copies, dumps and
exports; it does not protect against someone who can read the workspace, which
is why production refuses to start without a real key (see settings).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from autopack.domain.credentials import CredentialCorruptError, CredentialKeyError
from autopack.domain.error_codes import ErrorCode
from autopack.domain.layout import credentials_key_path
from autopack.services.context import Entropy
from autopack.settings import Settings

log = logging.getLogger("autopack.credentials")
NONCE_BYTES: Final = 12
SALT_BYTES: Final = 16
GENERATED_KEY_BYTES: Final = 32
_KEY_INFO: Final = b"autopack/credentials/aes-256-gcm/v1"
_KEY_ID_INFO: Final = b"autopack/credentials/key-id/v1"
_FORMAT_PREFIX: Final = "v1."


def _hkdf(material: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(material)


@dataclass(frozen=True, slots=True)
class SecretBox:
    """One derived key: encrypt and decrypt secret material for one key id."""

    key_id: str
    _aead: AESGCM

    @classmethod
    def derive(cls, secret: bytes, salt: bytes) -> SecretBox:
        key = _hkdf(secret, salt, _KEY_INFO, 32)
        key_id = _hkdf(secret, salt, _KEY_ID_INFO, 16).hex()
        return cls(key_id=key_id, _aead=AESGCM(key))

    def encrypt(self, plaintext: bytes, aad: bytes, nonce: bytes) -> str:
        if len(nonce) != NONCE_BYTES:
            raise ValueError("nonce must be 12 bytes")
        sealed = self._aead.encrypt(nonce, plaintext, aad)
        return _FORMAT_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str, aad: bytes) -> bytes:
        if not token.startswith(_FORMAT_PREFIX):
            raise CredentialCorruptError("stored credential has an unknown format")
        try:
            raw = base64.b64decode(token[len(_FORMAT_PREFIX) :], validate=True)
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise CredentialCorruptError(
                "stored credential failed authentication: it was altered or belongs to another row"
            ) from exc


def associated_data(provider: str, account: str, kind: str) -> bytes:
    return f"autopack-credential\x00{provider}\x00{account}\x00{kind}".encode()


def new_salt(entropy: Entropy) -> str:
    return entropy(SALT_BYTES).hex()


def _read_or_create_key_file(path: Path, entropy: Entropy) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        encoded = base64.urlsafe_b64encode(entropy(GENERATED_KEY_BYTES)).decode("ascii")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(encoded + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            # link() refuses to overwrite: the first process to get here wins.
            try:
                os.link(tmp, path)
                log.warning(
                    "no AUTOPACK_SECRET_KEY: generated a development credential key in %s", path
                )
            except FileExistsError:
                pass  # a concurrent process created it first: use theirs
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        text = path.read_text(encoding="ascii").strip()
    if len(text) < 32:
        raise CredentialKeyError(f"generated credential key file is damaged: {path}")
    return text.encode("ascii")


def resolve_secret(settings: Settings, entropy: Entropy) -> bytes:
    """The secret the store's keys derive from (see the module docstring)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode("utf-8")
    if settings.is_production:
        raise CredentialKeyError(
            "AUTOPACK_SECRET_KEY is required to store credentials in production",
            code=ErrorCode.MISSING_SECRET,
        )
    return _read_or_create_key_file(credentials_key_path(settings.workspace_path), entropy)
