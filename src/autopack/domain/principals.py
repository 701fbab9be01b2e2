"""Who may do what, pure: roles, permissions, the actor of a decision, API key format.

Every caller of the HTTP API is an authenticated principal with one role:

- ``agent``: proposes actions and reads its own;
- ``operator``: also approves, rejects, halts, releases, cancels, resolves and
  reads everything;
- ``admin``: also manages credentials and principals.

The command line works on the local database with machine trust (whoever can
run it can read the database anyway): it acts as the operating-system user or
``--as NAME``, recorded with ``via = "cli"``. Agents get an agent key to the
API, never shell access to the workspace.

An API key is ``apk_<key id>_<secret>``: the key id finds the stored row, and
only the SHA-256 of the secret is stored (the secret is 256 random bits, so a
fast hash is enough); the key itself is shown once, when it is made.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Final

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ForbiddenError, InvalidInputError


class Role(enum.StrEnum):
    AGENT = "agent"
    OPERATOR = "operator"
    ADMIN = "admin"


class Permission(enum.StrEnum):
    PROPOSE = "propose"  # record a new action
    READ_ALL = "read_all"  # read every action, approval and halt (not only one's own)
    DECIDE = "decide"  # approve, reject, batch
    HALT = "halt"  # engage and release halts
    OPERATE = "operate"  # cancel, resolve, reconcile, export
    CREDENTIALS = "credentials"  # read credential health, connect, add keys
    PRINCIPALS = "principals"  # create, revoke and rotate principals and keys


PERMISSIONS: Final[dict[Role, frozenset[Permission]]] = {
    Role.AGENT: frozenset({Permission.PROPOSE}),
    Role.OPERATOR: frozenset(
        {
            Permission.PROPOSE,
            Permission.READ_ALL,
            Permission.DECIDE,
            Permission.HALT,
            Permission.OPERATE,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}


class Via(enum.StrEnum):
    API = "api"  # an authenticated principal over HTTP
    CLI = "cli"  # the command line on this machine (machine trust)
    LOCAL = "local"  # the library, called in process on this machine (machine trust)
    SYSTEM = "system"  # Autopack itself (policy auto-approval, expiry sweeps)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: a name, the principal id when authenticated, and how."""

    name: str
    role: Role
    via: Via
    principal_id: int | None = None

    def can(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise ForbiddenError(
                f"{self.name} ({self.role.value}) may not {permission.value.replace('_', ' ')}: "
                "ask an operator or an admin",
                code=ErrorCode.FORBIDDEN,
                details={"permission": permission.value, "role": self.role.value},
            )

    def same_person(self, name: str, principal_id: int | None) -> bool:
        """Whether ``name``/``principal_id`` is this actor: by principal id when both
        are authenticated principals, else by name (the CLI's machine trust)."""
        if self.principal_id is not None and principal_id is not None:
            return self.principal_id == principal_id
        return self.name == name

    def history(self) -> dict[str, str | int | None]:
        """What every decision records about its actor, beside the name."""
        return {"principal_id": self.principal_id, "via": self.via.value}


def cli_actor(name: str) -> Actor:
    """The command line acts with machine trust, as the operator it names."""
    return Actor(name=name, role=Role.ADMIN, via=Via.CLI)


def local_actor(who: str | Actor) -> Actor:
    """An actor for a library call: given, or a name acting with machine trust."""
    if isinstance(who, Actor):
        return who
    return Actor(name=who, role=Role.ADMIN, via=Via.LOCAL)


KEY_PREFIX: Final = "apk_"
KEY_ID_BYTES: Final = 6  # 12 hex characters: finds the row, not a secret
SECRET_BYTES: Final = 32
_KEY = re.compile(r"apk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly made key: ``token`` is shown once; only ``secret_hash`` is stored."""

    key_id: str
    token: str
    secret_hash: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


KEY_ENTROPY_BYTES: Final = KEY_ID_BYTES + SECRET_BYTES


def new_key(entropy: bytes) -> NewKey:
    """A new API key from ``KEY_ENTROPY_BYTES`` random bytes (the runtime's entropy seam)."""
    if len(entropy) != KEY_ENTROPY_BYTES:
        raise ValueError("wrong amount of entropy for an API key")
    key_id = entropy[:KEY_ID_BYTES].hex()
    secret = base64.urlsafe_b64encode(entropy[KEY_ID_BYTES:]).decode("ascii").rstrip("=")
    token = f"{KEY_PREFIX}{key_id}_{secret}"
    return NewKey(key_id=key_id, token=token, secret_hash=hash_secret(secret))


def parse_key(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = _KEY.fullmatch(token)
    if match is None:
        return None
    return match.group(1), match.group(2)


def secret_matches(secret: str, stored_hash: str) -> bool:
    return secrets.compare_digest(hash_secret(secret), stored_hash)


_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
NAME_MAX: Final = 64


# Names Autopack itself records as actors (the command line's default requester, the
# bootstrap key, sweeps): a principal with one of them would own what they did.
RESERVED_NAMES: Final = frozenset(
    {"agent", "operator", "bootstrap-admin", "system", "reconciler", "unknown"}
)


def validate_new_principal_name(name: str) -> str:
    """A name for a new principal: valid, and not one Autopack records by itself."""
    validate_principal_name(name)
    if name in RESERVED_NAMES:
        raise InvalidInputError(
            f"principal name {name!r} is reserved: Autopack records it as an actor itself",
            code=ErrorCode.INVALID_PRINCIPAL_NAME,
        )
    return name


def validate_principal_name(name: str) -> str:
    if not name or len(name) > NAME_MAX or _NAME.fullmatch(name) is None:
        raise InvalidInputError(
            f"invalid principal name {name[:80]!r}: 1 to {NAME_MAX} of lowercase letters, "
            "digits, '.', '_' and '-'",
            code=ErrorCode.INVALID_PRINCIPAL_NAME,
        )
    return name


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError as exc:
        raise InvalidInputError(
            f"unknown role {value[:40]!r}: use one of {', '.join(r.value for r in Role)}",
            code=ErrorCode.INVALID_ROLE,
        ) from exc
