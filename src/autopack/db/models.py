"""ORM models. Change them only together with an Alembic migration."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from autopack.db.types import UTCDateTime

# Deterministic constraint names so migrations and `alembic check` agree on
# every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RunRow(Base):
    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project: Mapped[str] = mapped_column(String(64))
    family: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_runs_project_family_created", "project", "family", "created_at"),)


class ApprovalRow(Base):
    """A request for a human decision, bound to one payload hash or a batch of them."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_hash: Mapped[str] = mapped_column(String(64))
    # Canonical JSON list of the payload hashes covered (one for a single action).
    hashes: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    project: Mapped[str | None] = mapped_column(String(64), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    # The authenticated principal that asked (NULL for the command line).
    requested_by_principal: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # How many distinct people must approve (2 under the project's two-person rule).
    required_approvals: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_approvals_status_created", "status", "created_at"),)


class ExternalActionRow(Base):
    """One current-state row per idempotency key."""

    __tablename__ = "external_actions"

    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(16))
    project: Mapped[str | None] = mapped_column(String(64), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Canonical JSON of the payload exactly as proposed and hashed.
    payload: Mapped[str] = mapped_column(Text)
    payload_hash: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempt_count: Mapped[int] = mapped_column(Integer)
    retry_count: Mapped[int] = mapped_column(Integer)
    redispatch_count: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fencing: Mapped[int] = mapped_column(Integer)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    provider_object_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # Redacted canonical JSON.
    response_summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The last progress checkpoint of a multi-request dispatch (an upload session,
    # a created draft's id): canonical JSON, read back by the adapter to resume.
    # Internal: never part of a response (its events record the note and the keys).
    progress: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Head of this action's event chain: tampering with its events is detectable.
    event_count: Mapped[int] = mapped_column(Integer)
    last_event_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_external_actions_status_next", "status", "next_attempt_at"),
        # Partial: most actions belong to no run, and they should not pay for it.
        Index(
            "ix_external_actions_run",
            "run_id",
            sqlite_where=text("run_id IS NOT NULL"),
            postgresql_where=text("run_id IS NOT NULL"),
        ),
        Index("ix_external_actions_approval", "approval_id"),
    )


class ExternalActionEventRow(Base):
    """Insert-only (database triggers refuse UPDATE and DELETE), hash-chained per action."""

    __tablename__ = "external_action_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(ForeignKey("external_actions.idempotency_key"))
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    to_status: Mapped[str] = mapped_column(String(24))
    fencing: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Redacted canonical JSON.
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("idempotency_key", "seq", name="uq_external_action_events_key_seq"),
    )


class CredentialKeyRow(Base):
    """The credential store's key ring: one salt per key generation, never the key.

    The active row has ``active_slot = 1`` (unique); retired rows have NULL.
    """

    __tablename__ = "credential_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))
    active_slot: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CredentialRow(Base):
    """One provider account's credential; secret material only in ``secret_ciphertext``."""

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    environment: Mapped[str] = mapped_column(String(16))
    # Canonical JSON list of granted scopes.
    scopes: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    paused: Mapped[bool] = mapped_column(Boolean)
    pause_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    refresh_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    has_refresh_token: Mapped[bool] = mapped_column(Boolean)
    key_hint: Mapped[str | None] = mapped_column(String(8), nullable=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("credential_keys.key_id"))
    # AES-256-GCM (nonce + ciphertext + tag), base64; bound to provider/account/kind.
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    # Bumped on every change of the secret material (compare-and-set).
    version: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    refresh_count: Mapped[int] = mapped_column(Integer)
    failure_count: Mapped[int] = mapped_column(Integer)
    total_failures: Mapped[int] = mapped_column(Integer)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error_class: Mapped[str | None] = mapped_column(String(24), nullable=True)
    last_error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Workspace-relative POSIX path of the open re-auth task (Markdown), if any.
    reauth_task: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("provider", "account", name="uq_credentials_provider_account"),
    )


class CredentialEventRow(Base):
    """Insert-only (database triggers refuse UPDATE and DELETE); never holds secrets."""

    __tablename__ = "credential_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Redacted canonical JSON.
    data: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_credential_events_provider_account", "provider", "account", "id"),)


class HaltRow(Base):
    """A durable halt: engaged until released; holds every approved action it covers.

    ``provider``/``account`` NULL mean "any" (scope ``all`` or ``provider:P``), so the
    claim query matches a halt with one indexed condition.
    """

    __tablename__ = "halts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(140))
    provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    account: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    engaged_by: Mapped[str] = mapped_column(String(64))
    engaged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    release_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_halts_released_at", "released_at"),)


class HaltEventRow(Base):
    """Insert-only history of halts (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "halt_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    halt_id: Mapped[int] = mapped_column(ForeignKey("halts.id"))
    event: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    # The authenticated principal behind ``actor`` (NULL for the command line).
    principal_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    via: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_halt_events_halt_id", "halt_id", "id"),)


class PrincipalRow(Base):
    """Who may call the API, with one role (agent, operator, admin)."""

    __tablename__ = "principals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ApiKeyRow(Base):
    """A principal's API key: only the SHA-256 of its secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(24), unique=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_api_keys_principal_id", "principal_id"),)


class PrincipalEventRow(Base):
    """Insert-only history of principals and keys (created, key made, revoked...)."""

    __tablename__ = "principal_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"))
    event: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64))
    actor_principal_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    via: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Canonical JSON (key ids, roles), never a key.
    data: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_principal_events_principal_id", "principal_id", "id"),)


class ApprovalDecisionRow(Base):
    """Insert-only: every approve or reject of an approval, by whom, via what."""

    __tablename__ = "approval_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"))
    decision: Mapped[str] = mapped_column(String(8))
    person: Mapped[str] = mapped_column(String(64))
    principal_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    via: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_approval_decisions_approval_id", "approval_id", "id"),)


class PolicyPageRow(Base):
    """A provider policy page the monitor knows: current state, never deleted.

    ``watched`` false means removed from the watch list; the row stays, so adding
    the page again resumes its snapshot and acknowledgement (removing and adding
    a page never clears an unacknowledged change). ``current_hash`` is the last
    snapshot fetched, ``acknowledged_hash`` the one a person acknowledged (the
    first snapshot counts as acknowledged), ``verified_at`` the last successful
    check (a failed fetch never moves it).
    """

    __tablename__ = "policy_pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    watched: Mapped[bool] = mapped_column(Boolean)
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    current_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acknowledged_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    normaliser_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Validators of the last successful response, sent back as a conditional request.
    etag: Mapped[str | None] = mapped_column(String(512), nullable=True)
    last_modified: Mapped[str | None] = mapped_column(String(128), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (UniqueConstraint("provider", "url", name="uq_policy_pages_provider_url"),)


class PolicySnapshotRow(Base):
    """Insert-only: each new normalised text of a page, content-addressed, with its
    unified diff against the page's previous snapshot."""

    __tablename__ = "policy_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    hash: Mapped[str] = mapped_column(String(64))
    normaliser_version: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    previous_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    diff: Mapped[str | None] = mapped_column(Text, nullable=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_policy_snapshots_provider_url", "provider", "url", "id"),)


class PolicyFetchRow(Base):
    """Insert-only: every fetch attempt of a page and how it ended."""

    __tablename__ = "policy_fetches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # first | changed | unchanged | not_modified | failed
    outcome: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_policy_fetches_provider_url", "provider", "url", "id"),)


class PolicyAckRow(Base):
    """Insert-only: who acknowledged which change (old -> new hash) of which page."""

    __tablename__ = "policy_acks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    from_hash: Mapped[str] = mapped_column(String(64))
    to_hash: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    principal_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    via: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_policy_acks_provider_url", "provider", "url", "id"),)


class NotificationRow(Base):
    """The notification outbox: written in the transaction of the change it reports,
    delivered (at least once, leased so two deliverers never send one row at once)
    by the worker or `autopack notify deliver`."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Stable id sent with every attempt (receivers dedupe on it); derived from the
    # cause, so the same cause cannot be written twice.
    notification_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    # What it is about: an approval id, an action key or a halt id (for listings).
    subject: Mapped[str] = mapped_column(String(200))
    # Redacted canonical JSON.
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_notifications_status_next", "status", "next_attempt_at"),)


class ConsoleSessionRow(Base):
    """A console login: a principal's API key exchanged for a session. Only the
    SHA-256 of the session and CSRF tokens is stored."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_hash: Mapped[str] = mapped_column(String(64))
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"))
    # The key that opened the session: revoking or rotating it ends the session.
    key_id: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_console_sessions_principal_id", "principal_id"),)


# -- trading (amounts are decimal strings: the same digits on every backend) ---------


class TradingAccountRow(Base):
    """One broker account's trading state and its last broker read."""

    __tablename__ = "trading_accounts"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    state_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    state_by: Mapped[str] = mapped_column(String(64))
    state_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Bumped on every state change: a resume request applies only to the state it saw.
    state_version: Mapped[int] = mapped_column(Integer)
    equity: Mapped[str | None] = mapped_column(String(40), nullable=True)
    last_equity: Mapped[str | None] = mapped_column(String(40), nullable=True)
    high_water: Mapped[str | None] = mapped_column(String(40), nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Canonical JSON {symbol: {"qty": ..., "value": ..., "price": ...}}.
    positions: Mapped[str | None] = mapped_column(Text, nullable=True)
    read_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    read_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When a worker last took this account's periodic sync (one worker per interval).
    sync_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TradingStrategyRow(Base):
    """A registered strategy: the SHA-256 of its code or config."""

    __tablename__ = "trading_strategies"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    registered_by: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TradingLimitsRow(Base):
    """Insert-only versions of one account's (or one strategy's on it) risk limits."""

    __tablename__ = "trading_limits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64))
    # "" for the account's own set.
    strategy: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    limits: Mapped[str] = mapped_column(Text)
    limits_hash: Mapped[str] = mapped_column(String(64))
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("account", "strategy", "version", name="uq_trading_limits_version"),
    )


class TradingRequestRow(Base):
    """A change that needs approval: promote, loosen limits, change a strategy, resume."""

    __tablename__ = "trading_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    payload_hash: Mapped[str] = mapped_column(String(64))
    required_approvals: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_by_principal: Mapped[int | None] = mapped_column(Integer, nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_trading_requests_status", "status", "id"),)


class TradingApprovalRow(Base):
    """Insert-only: one person's approval of one request, bound to its hash."""

    __tablename__ = "trading_approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("trading_requests.id"))
    payload_hash: Mapped[str] = mapped_column(String(64))
    approver: Mapped[str] = mapped_column(String(64))
    principal_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    via: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("request_id", "approver", name="uq_trading_approvals_request_approver"),
    )


class TradingPromotionRow(Base):
    """Live trading of one strategy on one account, bound to hashes, with an expiry."""

    __tablename__ = "trading_promotions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(64))
    strategy_hash: Mapped[str] = mapped_column(String(64))
    # Canonical JSON {"account": limits, "strategy": limits | null} as promoted.
    limits: Mapped[str] = mapped_column(Text)
    limits_hash: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[int] = mapped_column(ForeignKey("trading_requests.id"))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_trading_promotions_account", "account", "strategy", "status"),)


class TradingReservationRow(Base):
    """Headroom one order holds from its claim until the broker settles it."""

    __tablename__ = "trading_reservations"

    action_key: Mapped[str] = mapped_column(
        ForeignKey("external_actions.idempotency_key"), primary_key=True
    )
    account: Mapped[str] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(24))
    client_order_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Signed (sell negative) whole units, so SQL sums them exactly: quantities in
    # billionths of a share, notionals in cents. NULL when no price was known.
    qty_nanos: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    notional_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    open_qty_nanos: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    open_notional_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    filled_qty_nanos: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    settle_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("ix_trading_reservations_account_status", "account", "status"),
        # Covers the order-count query (no table reads while counting a day).
        Index(
            "ix_trading_reservations_account_created",
            "account",
            "created_at",
            "strategy",
            "action_key",
        ),
    )


class TradingEventRow(Base):
    """Insert-only history of every trading change, with its principal."""

    __tablename__ = "trading_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    principal_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    via: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_trading_events_account", "account", "id"),)
