"""The catalogue of stable error codes: every code Autopack answers, what it means
and its category.

A code is the contract clients and scripts rely on, so none is a free string:
exceptions take an ``ErrorCode`` member (``AutopackError`` refuses anything
else), and tests/test_error_codes.py pins this catalogue, so removing or
renaming a code is a deliberate edit of that test and of the error-code table
in docs/CANONICAL_API_CONTRACT.md. The category decides the HTTP status
(``autopack.api.errors``) and the CLI exit code (``autopack.cli._common``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


class ErrorCategory(enum.Enum):
    """What kind of refusal a code is; each interface maps it to one answer."""

    INVALID_INPUT = "invalid_input"  # the caller sent something refused; nothing changed
    UNAUTHENTICATED = "unauthenticated"  # missing or wrong credentials
    FORBIDDEN = "forbidden"  # the caller is known; its role does not allow this
    NOT_FOUND = "not_found"  # the named thing does not exist
    CONFLICT = "conflict"  # contradicts what is already recorded; nothing changed
    INVALID_REQUEST = "invalid_request"  # an HTTP request that does not match its schema
    PROTOCOL = "protocol"  # an HTTP-level refusal; the web framework chose the status
    CONFIGURATION = "configuration"  # a setting is missing or unsafe
    CHECK_FAILED = "check_failed"  # a check ran and found a problem
    UNAVAILABLE = "unavailable"  # a dependency is not usable now; try again later
    INTERNAL = "internal"  # a bug: details are in the server log only


class ErrorCode(enum.StrEnum):
    """Every stable error code. Meaning and category: ``CATALOGUE``."""

    # Generic codes of the exception classes (their ``default_code``).
    AUTOPACK_ERROR = "autopack_error"
    INVALID_INPUT = "invalid_input"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    UNAUTHENTICATED = "unauthenticated"
    INVALID_CONFIGURATION = "invalid_configuration"
    UNAVAILABLE = "unavailable"
    CHECK_FAILED = "check_failed"

    # HTTP interface.
    MISSING_API_KEY = "missing_api_key"
    INVALID_API_KEY = "invalid_api_key"
    ROUTE_NOT_FOUND = "route_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    HTTP_ERROR = "http_error"
    INVALID_REQUEST = "invalid_request"
    INTERNAL_ERROR = "internal_error"

    # Names, identifiers and filters.
    INVALID_IDENTIFIER = "invalid_identifier"
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    INVALID_PROVIDER = "invalid_provider"
    INVALID_ACTION = "invalid_action"
    INVALID_ACCOUNT = "invalid_account"
    INVALID_REQUESTER = "invalid_requester"
    INVALID_ACTOR = "invalid_actor"
    INVALID_APPROVER = "invalid_approver"
    INVALID_STATUS = "invalid_status"

    # Canonical JSON.
    NOT_CANONICALIZABLE = "not_canonicalizable"
    NAIVE_DATETIME = "naive_datetime"
    FLOAT_NOT_ALLOWED = "float_not_allowed"
    NON_STRING_KEY = "non_string_key"
    DUPLICATE_KEY = "duplicate_key"
    UNSUPPORTED_TYPE = "unsupported_type"
    INVALID_JSON = "invalid_json"

    # Runs.
    RUN_EXISTS = "run_exists"
    RUN_NOT_FOUND = "run_not_found"

    # The external-action ledger.
    UNKNOWN_PROVIDER = "unknown_provider"
    UNKNOWN_ACTION = "unknown_action"
    INVALID_PAYLOAD = "invalid_payload"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    PAYLOAD_UNREADABLE = "payload_unreadable"
    PROJECT_MISMATCH = "project_mismatch"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    ACTION_NOT_FOUND = "action_not_found"
    ILLEGAL_TRANSITION = "illegal_transition"
    LEASE_LOST = "lease_lost"
    NOT_CANCELLABLE = "not_cancellable"
    INVALID_OUTCOME = "invalid_outcome"
    OBJECT_ID_REQUIRED = "object_id_required"
    INVALID_OBJECT_ID = "invalid_object_id"
    NOT_RESOLVABLE = "not_resolvable"
    CHAIN_BROKEN = "chain_broken"

    # Sandbox provider.
    INVALID_SANDBOX_INTENT = "invalid_sandbox_intent"
    INVALID_SANDBOX_URL = "invalid_sandbox_url"
    RESERVED_FIELD = "reserved_field"
    WRONG_PROVIDER = "wrong_provider"
    SANDBOX_START_FAILED = "sandbox_start_failed"

    # Provider adapters and their fakes.
    INVALID_PROVIDER_PAYLOAD = "invalid_provider_payload"
    INVALID_MEDIA_REF = "invalid_media_ref"
    FAKES_START_FAILED = "fakes_start_failed"

    # Publish packets.
    INVALID_PACKET = "invalid_packet"
    PACKET_NOT_FOUND = "packet_not_found"
    PACKET_REQUIRED = "packet_required"
    MISSING_DISCLOSURE = "missing_disclosure"
    TEXT_OVER_LIMIT = "text_over_limit"
    MEDIA_TYPE_MISMATCH = "media_type_mismatch"
    MEDIA_UNREADABLE = "media_unreadable"

    # Approvals and policy.
    INVALID_POLICY = "invalid_policy"
    APPROVAL_NOT_FOUND = "approval_not_found"
    APPROVAL_REFUSED = "approval_refused"
    APPROVAL_HASH_MISMATCH = "approval_hash_mismatch"
    APPROVAL_USED = "approval_used"
    APPROVAL_EXPIRED = "approval_expired"
    APPROVER_RESERVED = "approver_reserved"
    SELF_APPROVAL_REFUSED = "self_approval_refused"
    NOT_APPROVED = "not_approved"
    NOTHING_TO_APPROVE = "nothing_to_approve"
    NOT_AWAITING_APPROVAL = "not_awaiting_approval"
    INVALID_BATCH = "invalid_batch"
    CONCURRENT_UPDATE = "concurrent_update"

    # Credentials.
    UNKNOWN_CREDENTIAL_PROVIDER = "unknown_credential_provider"
    NOT_AN_OAUTH_PROVIDER = "not_an_oauth_provider"
    NOT_AN_API_KEY_PROVIDER = "not_an_api_key_provider"
    INVALID_ENVIRONMENT = "invalid_environment"
    INVALID_SECRET_LENGTH = "invalid_secret_length"  # noqa: S105 - a code name, not a secret
    SECRET_MISSING = "secret_missing"  # noqa: S105 - a code name, not a secret
    ACCOUNT_REQUIRED = "account_required"
    CREDENTIAL_NOT_FOUND = "credential_not_found"
    CREDENTIAL_NEEDS_REAUTH = "credential_needs_reauth"
    REFRESH_TRANSIENT = "refresh_transient"
    REFRESH_IN_PROGRESS = "refresh_in_progress"
    CREDENTIAL_KEY_MISMATCH = "credential_key_mismatch"
    CREDENTIAL_UNDECRYPTABLE = "credential_undecryptable"
    CREDENTIALS_UNHEALTHY = "credentials_unhealthy"
    MISSING_OAUTH_CLIENT = "missing_oauth_client"
    OAUTH_CONNECT_FAILED = "oauth_connect_failed"
    OAUTH_STATE_MISMATCH = "oauth_state_mismatch"
    OAUTH_DENIED = "oauth_denied"
    OAUTH_NO_CODE = "oauth_no_code"
    OAUTH_EXCHANGE_FAILED = "oauth_exchange_failed"
    CALLBACK_PORT_UNAVAILABLE = "callback_port_unavailable"
    CALLBACK_TIMEOUT = "callback_timeout"
    FAKE_OAUTH_START_FAILED = "fake_oauth_start_failed"

    # Settings and the database.
    INVALID_SETTING = "invalid_setting"
    MISSING_SECRET = "missing_secret"  # noqa: S105 - a code name, not a secret
    PLACEHOLDER_SECRET = "placeholder_secret"  # noqa: S105 - a code name, not a secret
    INVALID_DATABASE_URL = "invalid_database_url"
    DATABASE_UNREACHABLE = "database_unreachable"
    SCHEMA_NOT_AT_HEAD = "schema_not_at_head"
    SCHEMA_BEHIND = "schema_behind"
    SCHEMA_DRIFT = "schema_drift"

    # Docs governance.
    BAD_ROOT = "bad_root"
    MISSING_REGISTRY = "missing_registry"
    BAD_REGISTRY = "bad_registry"
    NOT_A_GIT_REPO = "not_a_git_repo"
    UNREADABLE_FILE = "unreadable_file"

    # Console sessions.
    INVALID_SESSION = "invalid_session"
    CSRF_TOKEN_INVALID = "csrf_token_invalid"  # noqa: S105 - an error code, not a secret
    NOT_A_PRINCIPAL_KEY = "not_a_principal_key"
    BAD_FORMAT = "bad_format"
    MISSING_SECTION = "missing_section"
    EXISTS = "exists"

    # The gate pipeline: stable reason codes of holds (shown by `actions show`).
    HALTED = "halted"
    CREDENTIALS_MISSING = "credentials_missing"
    CREDENTIALS_PAUSED = "credentials_paused"
    CREDENTIALS_NEEDS_REAUTH = "credentials_needs_reauth"
    CREDENTIALS_INVALID = "credentials_invalid"

    # Input limits, the database's presence, the worker's lease, the HTTP body.
    NESTING_TOO_DEEP = "nesting_too_deep"
    INTEGER_TOO_LARGE = "integer_too_large"
    INVALID_UNICODE = "invalid_unicode"
    DATABASE_MISSING = "database_missing"
    DATABASE_UNAVAILABLE = "database_unavailable"
    LEASE_TOO_SHORT = "lease_too_short"
    REQUEST_TOO_LARGE = "request_too_large"

    # Provider registry.
    PROVIDER_NOT_AVAILABLE = "provider_not_available"
    NO_CREDENTIAL_STORE = "no_credential_store"

    # Chain checkpoints.
    INVALID_CHECKPOINT = "invalid_checkpoint"
    CHECKPOINT_SIGNATURE_INVALID = "checkpoint_signature_invalid"

    # Halts.
    INVALID_SCOPE = "invalid_scope"
    INVALID_REASON = "invalid_reason"
    INVALID_HALT_ID = "invalid_halt_id"
    HALT_NOT_FOUND = "halt_not_found"
    HALT_RELEASED = "halt_released"

    # Principals and roles.
    FORBIDDEN = "forbidden"
    INVALID_PRINCIPAL_NAME = "invalid_principal_name"
    INVALID_ROLE = "invalid_role"
    PRINCIPAL_EXISTS = "principal_exists"
    PRINCIPAL_NOT_FOUND = "principal_not_found"
    PRINCIPAL_REVOKED = "principal_revoked"
    SECOND_APPROVER_REQUIRED = "second_approver_required"
    IDENTITY_MISMATCH = "identity_mismatch"
    LAST_ADMIN = "last_admin"

    # Provider policy monitor (the policy gate's holds, pages, snapshots, acknowledgements).
    POLICY_MISSING = "policy_missing"
    POLICY_STALE = "policy_stale"
    POLICY_UNACKNOWLEDGED = "policy_unacknowledged"
    PACKET_POLICY_NOT_CURRENT = "packet_policy_not_current"
    INVALID_POLICY_URL = "invalid_policy_url"
    INVALID_POLICY_HASH = "invalid_policy_hash"
    POLICY_NOT_WATCHED = "policy_not_watched"
    POLICY_PAGE_NOT_FOUND = "policy_page_not_found"
    POLICY_ACK_MISMATCH = "policy_ack_mismatch"
    POLICY_FETCH_FAILED = "policy_fetch_failed"
    # Notifications and list pages.
    INVALID_WEBHOOK_URL = "invalid_webhook_url"
    WEBHOOK_NOT_CONFIGURED = "webhook_not_configured"
    WEBHOOK_REJECTED = "webhook_rejected"
    WEBHOOK_UNREACHABLE = "webhook_unreachable"
    NOTIFICATION_NOT_FOUND = "notification_not_found"
    INVALID_CURSOR = "invalid_cursor"
    # Sub-agent handoff and run memory.
    INVALID_TASK = "invalid_task"
    INVALID_HANDOFF_TEXT = "invalid_handoff_text"
    INVALID_CONTEXT = "invalid_context"
    CONTEXT_NOT_FOUND = "context_not_found"
    CONTEXT_STALE = "context_stale"
    OUTPUT_REJECTED = "output_rejected"
    PATH_ESCAPES_RUN = "path_escapes_run"
    INVALID_QUERY = "invalid_query"
    MEMORY_UNAVAILABLE = "memory_unavailable"
    # Packet media previews (the console).
    MEDIA_NOT_IN_PACKET = "media_not_in_packet"
    MEDIA_CHANGED = "media_changed"
    MEDIA_NOT_PREVIEWABLE = "media_not_previewable"

    # Trading: the trading gates' holds and refusals, strategies, limits, requests.
    TRADING_HALTED = "trading_halted"
    TRADING_REDUCING = "trading_reducing"
    TRADING_STRATEGY_UNREGISTERED = "trading_strategy_unregistered"
    TRADING_STRATEGY_CHANGED = "trading_strategy_changed"
    TRADING_LIVE_DISABLED = "trading_live_disabled"
    TRADING_LIVE_CREDENTIAL = "trading_live_credential"
    TRADING_NOT_PROMOTED = "trading_not_promoted"
    TRADING_LIMITS_MISSING = "trading_limits_missing"
    TRADING_SYMBOL_NOT_ALLOWED = "trading_symbol_not_allowed"
    TRADING_ORDER_NOTIONAL = "trading_order_notional"
    TRADING_POSITION_LIMIT = "trading_position_limit"
    TRADING_ORDER_RATE = "trading_order_rate"
    TRADING_DAILY_LOSS = "trading_daily_loss"
    TRADING_DRAWDOWN = "trading_drawdown"
    TRADING_ACCOUNT_UNKNOWN = "trading_account_unknown"
    TRADING_ACCOUNT_STALE = "trading_account_stale"
    TRADING_PRICE_UNKNOWN = "trading_price_unknown"
    INVALID_TRADING_LIMITS = "invalid_trading_limits"
    INVALID_STRATEGY = "invalid_strategy"
    INVALID_TRADING_STATE = "invalid_trading_state"
    STRATEGY_NOT_FOUND = "strategy_not_found"
    TRADING_ACCOUNT_NOT_FOUND = "trading_account_not_found"
    TRADING_REQUEST_NOT_FOUND = "trading_request_not_found"
    TRADING_REQUEST_DECIDED = "trading_request_decided"
    TRADING_REQUEST_HASH = "trading_request_hash"
    TRADING_NO_CHANGE = "trading_no_change"
    INVALID_TRADING_HASH = "invalid_trading_hash"

    @property
    def category(self) -> ErrorCategory:
        return CATALOGUE[self].category

    @property
    def meaning(self) -> str:
        return CATALOGUE[self].meaning


@dataclass(frozen=True, slots=True)
class CodeEntry:
    category: ErrorCategory
    meaning: str


_BAD = ErrorCategory.INVALID_INPUT
_AUTH = ErrorCategory.UNAUTHENTICATED
_MISSING = ErrorCategory.NOT_FOUND
_CONFLICT = ErrorCategory.CONFLICT
_CONFIG = ErrorCategory.CONFIGURATION
_CHECK = ErrorCategory.CHECK_FAILED
_DOWN = ErrorCategory.UNAVAILABLE

_E = ErrorCode
CATALOGUE: Mapping[ErrorCode, CodeEntry] = MappingProxyType(
    {
        _E.AUTOPACK_ERROR: CodeEntry(ErrorCategory.INTERNAL, "an error without a specific code"),
        _E.INVALID_INPUT: CodeEntry(_BAD, "the input is refused; nothing was changed"),
        _E.NOT_FOUND: CodeEntry(_MISSING, "the named thing does not exist"),
        _E.CONFLICT: CodeEntry(_CONFLICT, "the request contradicts what is recorded"),
        _E.UNAUTHENTICATED: CodeEntry(_AUTH, "authentication failed"),
        _E.INVALID_CONFIGURATION: CodeEntry(_CONFIG, "a setting is missing or unsafe"),
        _E.UNAVAILABLE: CodeEntry(_DOWN, "a dependency is not usable now"),
        _E.CHECK_FAILED: CodeEntry(_CHECK, "a check ran and found a problem"),
        _E.MISSING_API_KEY: CodeEntry(_AUTH, "no X-API-Key header"),
        _E.INVALID_API_KEY: CodeEntry(_AUTH, "the X-API-Key header is wrong"),
        _E.ROUTE_NOT_FOUND: CodeEntry(_MISSING, "no such HTTP route"),
        _E.METHOD_NOT_ALLOWED: CodeEntry(
            ErrorCategory.PROTOCOL, "the route does not answer this HTTP method"
        ),
        _E.HTTP_ERROR: CodeEntry(ErrorCategory.PROTOCOL, "another HTTP-level refusal"),
        _E.INVALID_REQUEST: CodeEntry(
            ErrorCategory.INVALID_REQUEST, "the request does not match the route's schema"
        ),
        _E.INTERNAL_ERROR: CodeEntry(ErrorCategory.INTERNAL, "a bug; see the server log"),
        _E.INVALID_IDENTIFIER: CodeEntry(_BAD, "a project, family or run id breaks the rule"),
        _E.INVALID_IDEMPOTENCY_KEY: CodeEntry(_BAD, "an idempotency key breaks the rule"),
        _E.INVALID_PROVIDER: CodeEntry(_BAD, "a provider name breaks the naming rule"),
        _E.INVALID_ACTION: CodeEntry(_BAD, "an action name breaks the naming rule"),
        _E.INVALID_ACCOUNT: CodeEntry(_BAD, "an account name breaks the naming rule"),
        _E.INVALID_REQUESTER: CodeEntry(_BAD, "a requester name breaks the naming rule"),
        _E.INVALID_ACTOR: CodeEntry(_BAD, "an actor name breaks the naming rule"),
        _E.INVALID_APPROVER: CodeEntry(_BAD, "an approver or rejecter name breaks the rule"),
        _E.INVALID_STATUS: CodeEntry(_BAD, "an unknown status filter"),
        _E.NOT_CANONICALIZABLE: CodeEntry(_BAD, "a value has no canonical JSON form"),
        _E.NAIVE_DATETIME: CodeEntry(_BAD, "a datetime without a time zone"),
        _E.FLOAT_NOT_ALLOWED: CodeEntry(_BAD, "a float or non-finite number in JSON"),
        _E.NON_STRING_KEY: CodeEntry(_BAD, "a JSON object key that is not a string"),
        _E.DUPLICATE_KEY: CodeEntry(_BAD, "a JSON object repeats a key"),
        _E.UNSUPPORTED_TYPE: CodeEntry(_BAD, "a value of a type JSON does not have"),
        _E.INVALID_JSON: CodeEntry(_BAD, "text that is not UTF-8 JSON"),
        _E.RUN_EXISTS: CodeEntry(_CONFLICT, "the run id or its directory already exists"),
        _E.RUN_NOT_FOUND: CodeEntry(_MISSING, "no such run"),
        _E.UNKNOWN_PROVIDER: CodeEntry(_BAD, "no provider of that name is registered"),
        _E.UNKNOWN_ACTION: CodeEntry(_BAD, "the provider has no action of that name"),
        _E.INVALID_PAYLOAD: CodeEntry(_BAD, "the payload is not a JSON object"),
        _E.PAYLOAD_TOO_LARGE: CodeEntry(_BAD, "the canonical payload exceeds the size limit"),
        _E.PAYLOAD_UNREADABLE: CodeEntry(_BAD, "the payload file cannot be read"),
        _E.PROJECT_MISMATCH: CodeEntry(_BAD, "the run belongs to another project"),
        _E.IDEMPOTENCY_CONFLICT: CodeEntry(_CONFLICT, "the key is used by a different intent"),
        _E.ACTION_NOT_FOUND: CodeEntry(_MISSING, "no action with that idempotency key"),
        _E.ILLEGAL_TRANSITION: CodeEntry(_CONFLICT, "the action cannot move to that state"),
        _E.LEASE_LOST: CodeEntry(_CONFLICT, "another worker holds the action's lease"),
        _E.NOT_CANCELLABLE: CodeEntry(_CONFLICT, "the action is in flight or finished"),
        _E.INVALID_OUTCOME: CodeEntry(_BAD, "a resolve outcome other than succeeded or failed"),
        _E.OBJECT_ID_REQUIRED: CodeEntry(_BAD, "succeeded needs the provider object id"),
        _E.INVALID_OBJECT_ID: CodeEntry(_BAD, "the provider object id is too long or unprintable"),
        _E.NOT_RESOLVABLE: CodeEntry(_CONFLICT, "the action is not unknown or needs_attention"),
        _E.CHAIN_BROKEN: CodeEntry(_CHECK, "the event hash chain does not verify"),
        _E.INVALID_SANDBOX_INTENT: CodeEntry(_BAD, "the sandbox cannot render this intent"),
        _E.INVALID_SANDBOX_URL: CodeEntry(_BAD, "the sandbox URL is not http(s)://host:port"),
        _E.RESERVED_FIELD: CodeEntry(_BAD, "the payload sets a field the sandbox reserves"),
        _E.WRONG_PROVIDER: CodeEntry(_BAD, "the intent is for another provider"),
        _E.SANDBOX_START_FAILED: CodeEntry(_CONFIG, "the sandbox server cannot start"),
        _E.INVALID_PROVIDER_PAYLOAD: CodeEntry(_BAD, "the provider's adapter refuses the payload"),
        _E.INVALID_MEDIA_REF: CodeEntry(_BAD, "a media reference is malformed or escapes its root"),
        _E.FAKES_START_FAILED: CodeEntry(_CONFIG, "the provider fakes server cannot start"),
        _E.INVALID_PACKET: CodeEntry(_BAD, "the packet or its spec is malformed"),
        _E.PACKET_NOT_FOUND: CodeEntry(_MISSING, "no packet with that id in the workspace"),
        _E.PACKET_REQUIRED: CodeEntry(_BAD, "this action takes a publish packet as its payload"),
        _E.MISSING_DISCLOSURE: CodeEntry(_BAD, "the provider requires a disclosure the spec lacks"),
        _E.TEXT_OVER_LIMIT: CodeEntry(_BAD, "a text field is over the provider's limit"),
        _E.MEDIA_TYPE_MISMATCH: CodeEntry(_BAD, "a media file's content is not a type it takes"),
        _E.MEDIA_UNREADABLE: CodeEntry(_BAD, "a media file is missing or cannot be read"),
        _E.INVALID_POLICY: CodeEntry(_BAD, "the project policy file is malformed"),
        _E.APPROVAL_NOT_FOUND: CodeEntry(_MISSING, "no such approval"),
        _E.APPROVAL_REFUSED: CodeEntry(_CONFLICT, "the approval does not allow this"),
        _E.APPROVAL_HASH_MISMATCH: CodeEntry(_CONFLICT, "the hash is not the approval's subject"),
        _E.APPROVAL_USED: CodeEntry(_CONFLICT, "the approval is already decided"),
        _E.APPROVAL_EXPIRED: CodeEntry(_CONFLICT, "the approval expired"),
        _E.APPROVER_RESERVED: CodeEntry(_CONFLICT, "the approver name is reserved"),
        _E.SELF_APPROVAL_REFUSED: CodeEntry(_CONFLICT, "the requester may not approve"),
        _E.NOT_APPROVED: CodeEntry(_CONFLICT, "the action has no valid approval"),
        _E.NOTHING_TO_APPROVE: CodeEntry(_CONFLICT, "no action awaits this approval"),
        _E.NOT_AWAITING_APPROVAL: CodeEntry(_CONFLICT, "the action is not awaiting approval"),
        _E.INVALID_BATCH: CodeEntry(_BAD, "a batch approval breaks the batch rules"),
        _E.CONCURRENT_UPDATE: CodeEntry(_CONFLICT, "an action changed meanwhile; retry"),
        _E.UNKNOWN_CREDENTIAL_PROVIDER: CodeEntry(_BAD, "no credential profile of that name"),
        _E.NOT_AN_OAUTH_PROVIDER: CodeEntry(_BAD, "the provider uses API keys, not OAuth"),
        _E.NOT_AN_API_KEY_PROVIDER: CodeEntry(_BAD, "the provider uses OAuth, not API keys"),
        _E.INVALID_ENVIRONMENT: CodeEntry(_BAD, "the provider has no such environment"),
        _E.INVALID_SECRET_LENGTH: CodeEntry(_BAD, "a secret is too short or too long"),
        _E.SECRET_MISSING: CodeEntry(_BAD, "no secret on standard input"),
        _E.ACCOUNT_REQUIRED: CodeEntry(_BAD, "several accounts are stored: name one"),
        _E.CREDENTIAL_NOT_FOUND: CodeEntry(_MISSING, "no stored credential"),
        _E.CREDENTIAL_NEEDS_REAUTH: CodeEntry(_CONFLICT, "a person must reconnect the account"),
        _E.REFRESH_TRANSIENT: CodeEntry(_DOWN, "the token endpoint kept failing transiently"),
        _E.REFRESH_IN_PROGRESS: CodeEntry(_DOWN, "another process is still refreshing"),
        _E.CREDENTIAL_KEY_MISMATCH: CodeEntry(_CONFIG, "the secret key cannot open the store"),
        _E.CREDENTIAL_UNDECRYPTABLE: CodeEntry(_CHECK, "a stored credential fails to decrypt"),
        _E.CREDENTIALS_UNHEALTHY: CodeEntry(_CHECK, "a health check found bad credentials"),
        _E.MISSING_OAUTH_CLIENT: CodeEntry(_CONFIG, "no OAuth client id or secret is set"),
        _E.OAUTH_CONNECT_FAILED: CodeEntry(_AUTH, "the OAuth connect failed"),
        _E.OAUTH_STATE_MISMATCH: CodeEntry(_AUTH, "the callback state is not this attempt's"),
        _E.OAUTH_DENIED: CodeEntry(_AUTH, "the provider refused the authorization"),
        _E.OAUTH_NO_CODE: CodeEntry(_AUTH, "the callback carries no authorization code"),
        _E.OAUTH_EXCHANGE_FAILED: CodeEntry(_AUTH, "the code exchange failed"),
        _E.CALLBACK_PORT_UNAVAILABLE: CodeEntry(_AUTH, "the OAuth callback port is taken"),
        _E.CALLBACK_TIMEOUT: CodeEntry(_AUTH, "no OAuth callback arrived in time"),
        _E.FAKE_OAUTH_START_FAILED: CodeEntry(_CONFIG, "the fake OAuth server cannot start"),
        _E.INVALID_SETTING: CodeEntry(_CONFIG, "a setting has an invalid value"),
        _E.MISSING_SECRET: CodeEntry(_CONFIG, "a required secret setting is not set"),
        _E.PLACEHOLDER_SECRET: CodeEntry(_CONFIG, "a secret setting still holds a placeholder"),
        _E.INVALID_DATABASE_URL: CodeEntry(_CONFIG, "the database URL is not usable"),
        _E.DATABASE_UNREACHABLE: CodeEntry(_DOWN, "the database cannot be reached"),
        _E.SCHEMA_NOT_AT_HEAD: CodeEntry(_DOWN, "the schema is behind: autopack db upgrade"),
        _E.SCHEMA_BEHIND: CodeEntry(_CHECK, "db check: the schema is behind head"),
        _E.SCHEMA_DRIFT: CodeEntry(_CHECK, "db check: the models differ from the migrations"),
        _E.BAD_ROOT: CodeEntry(_BAD, "the --root directory does not exist"),
        _E.MISSING_REGISTRY: CodeEntry(_BAD, "docs/PROJECT_INDEX.json is missing"),
        _E.BAD_REGISTRY: CodeEntry(_BAD, "docs/PROJECT_INDEX.json is malformed"),
        _E.NOT_A_GIT_REPO: CodeEntry(_BAD, "the directory is not a git repository"),
        _E.BAD_FORMAT: CodeEntry(_BAD, "an output format other than text, json or sarif"),
        _E.MISSING_SECTION: CodeEntry(_BAD, "the registry has no section for the asked check"),
        _E.EXISTS: CodeEntry(_BAD, "the file to write exists (use --force)"),
        _E.HALTED: CodeEntry(_CONFLICT, "a gate holds the action: an engaged halt covers it"),
        _E.CREDENTIALS_MISSING: CodeEntry(
            _CONFLICT, "a gate holds the action: its provider account has no credential"
        ),
        _E.CREDENTIALS_PAUSED: CodeEntry(
            _CONFLICT, "a gate holds the action: its provider account is paused"
        ),
        _E.CREDENTIALS_NEEDS_REAUTH: CodeEntry(
            _CONFLICT, "a gate holds the action: its credential needs re-authorization"
        ),
        _E.CREDENTIALS_INVALID: CodeEntry(
            _CONFLICT, "a gate holds the action: its credential is invalid"
        ),
        _E.NESTING_TOO_DEEP: CodeEntry(_BAD, "JSON nested deeper than the documented limit"),
        _E.INTEGER_TOO_LARGE: CodeEntry(_BAD, "an integer with more digits than the limit"),
        _E.INVALID_UNICODE: CodeEntry(_BAD, "text that is not valid Unicode (a lone surrogate)"),
        _E.DATABASE_MISSING: CodeEntry(
            _DOWN, "no embedded database in this workspace: run autopack db upgrade"
        ),
        _E.DATABASE_UNAVAILABLE: CodeEntry(
            _DOWN, "the database cannot be reached or has no schema"
        ),
        _E.LEASE_TOO_SHORT: CodeEntry(_BAD, "a worker lease not longer than the adapter timeout"),
        _E.REQUEST_TOO_LARGE: CodeEntry(
            ErrorCategory.PROTOCOL, "the request body is larger than the limit (413)"
        ),
        _E.PROVIDER_NOT_AVAILABLE: CodeEntry(
            _BAD, "the provider is registered but has no adapter yet"
        ),
        _E.NO_CREDENTIAL_STORE: CodeEntry(
            _CONFIG, "an adapter asked for credentials where no credential store is wired"
        ),
        _E.INVALID_CHECKPOINT: CodeEntry(_BAD, "a checkpoint file that is not a checkpoint"),
        _E.CHECKPOINT_SIGNATURE_INVALID: CodeEntry(
            _CHECK, "the checkpoint's signature does not verify with this secret key"
        ),
        _E.INVALID_SCOPE: CodeEntry(_BAD, "a halt scope other than all, provider:P, account:P/A"),
        _E.INVALID_REASON: CodeEntry(_BAD, "a halt reason that is empty or too long"),
        _E.INVALID_HALT_ID: CodeEntry(_BAD, "a halt id out of range"),
        _E.HALT_NOT_FOUND: CodeEntry(_MISSING, "no such halt"),
        _E.HALT_RELEASED: CodeEntry(_CONFLICT, "the halt is already released"),
        _E.FORBIDDEN: CodeEntry(ErrorCategory.FORBIDDEN, "the caller's role does not allow this"),
        _E.INVALID_PRINCIPAL_NAME: CodeEntry(_BAD, "a principal name breaks the naming rule"),
        _E.INVALID_ROLE: CodeEntry(_BAD, "a role other than agent, operator or admin"),
        _E.PRINCIPAL_EXISTS: CodeEntry(_CONFLICT, "a principal of that name exists"),
        _E.PRINCIPAL_NOT_FOUND: CodeEntry(_MISSING, "no such principal"),
        _E.PRINCIPAL_REVOKED: CodeEntry(_CONFLICT, "the principal is revoked"),
        _E.LAST_ADMIN: CodeEntry(_CONFLICT, "revoking the last admin is refused"),
        _E.IDENTITY_MISMATCH: CodeEntry(
            ErrorCategory.FORBIDDEN, "a request body named someone other than its caller"
        ),
        _E.SECOND_APPROVER_REQUIRED: CodeEntry(
            _CONFLICT, "the same person approved already; the two-person rule needs another"
        ),
        _E.UNREADABLE_FILE: CodeEntry(_BAD, "a document cannot be read as UTF-8 text"),
        _E.POLICY_MISSING: CodeEntry(
            _CONFLICT, "a gate holds the action: a watched policy page has no snapshot"
        ),
        _E.POLICY_STALE: CodeEntry(
            _CONFLICT, "a gate holds the action: a policy snapshot is older than the window"
        ),
        _E.POLICY_UNACKNOWLEDGED: CodeEntry(
            _CONFLICT, "a gate holds the action: a policy page changed and nobody acknowledged it"
        ),
        _E.PACKET_POLICY_NOT_CURRENT: CodeEntry(
            _CONFLICT,
            "a gate holds the action: its packet cites outdated policy snapshots",
        ),
        _E.INVALID_POLICY_URL: CodeEntry(_BAD, "a policy page URL that is not absolute http(s)"),
        _E.INVALID_POLICY_HASH: CodeEntry(_BAD, "a policy snapshot hash that is not 64 hex digits"),
        _E.POLICY_NOT_WATCHED: CodeEntry(_BAD, "the provider has no policy monitor"),
        _E.POLICY_PAGE_NOT_FOUND: CodeEntry(_MISSING, "no such watched policy page"),
        _E.POLICY_ACK_MISMATCH: CodeEntry(
            _CONFLICT, "the acknowledged pair is not the provider's pending policy change"
        ),
        _E.POLICY_FETCH_FAILED: CodeEntry(_DOWN, "a policy page could not be fetched"),
        _E.INVALID_WEBHOOK_URL: CodeEntry(_BAD, "a webhook URL that is not http(s)://host/..."),
        _E.WEBHOOK_NOT_CONFIGURED: CodeEntry(_CONFIG, "no notification webhook or secret is set"),
        _E.WEBHOOK_REJECTED: CodeEntry(_CHECK, "the webhook receiver answered other than 2xx"),
        _E.WEBHOOK_UNREACHABLE: CodeEntry(_DOWN, "the webhook receiver cannot be reached"),
        _E.NOTIFICATION_NOT_FOUND: CodeEntry(_MISSING, "no such dead notification"),
        _E.INVALID_CURSOR: CodeEntry(_BAD, "a page cursor that this list did not hand out"),
        _E.INVALID_SESSION: CodeEntry(
            _AUTH, "the console session cookie is unknown, expired or ended: log in again"
        ),
        _E.CSRF_TOKEN_INVALID: CodeEntry(
            ErrorCategory.FORBIDDEN,
            "a write with a session cookie lacks the matching X-CSRF-Token header",
        ),
        _E.NOT_A_PRINCIPAL_KEY: CodeEntry(
            _BAD,
            "a login key not shaped like a principal key (apk_...), e.g. the bootstrap key",
        ),
        _E.INVALID_TASK: CodeEntry(_BAD, "a brief task other than research, plan or review"),
        _E.INVALID_HANDOFF_TEXT: CodeEntry(_BAD, "a goal, constraint or question is empty or long"),
        _E.INVALID_CONTEXT: CodeEntry(_BAD, "handoff/context.json is not a context document"),
        _E.CONTEXT_NOT_FOUND: CodeEntry(_MISSING, "the run has no handoff context yet"),
        _E.CONTEXT_STALE: CodeEntry(_CHECK, "context.md differs from what context.json renders"),
        _E.OUTPUT_REJECTED: CodeEntry(
            _BAD, "a helper output failed its contract; kept in rejected/"
        ),
        _E.PATH_ESCAPES_RUN: CodeEntry(_BAD, "a handoff path leads out of the run's handoff/"),
        _E.INVALID_QUERY: CodeEntry(_BAD, "a memory search text without a searchable word"),
        _E.MEMORY_UNAVAILABLE: CodeEntry(_DOWN, "the run-memory index cannot be used now"),
        _E.TRADING_HALTED: CodeEntry(
            _CONFLICT, "a trading gate refuses the order: the account's trading state is HALTED"
        ),
        _E.TRADING_REDUCING: CodeEntry(
            _CONFLICT,
            "the account is REDUCING and the order does not reduce exposure",
        ),
        _E.TRADING_STRATEGY_UNREGISTERED: CodeEntry(
            _CONFLICT, "the order names a strategy that is not registered"
        ),
        _E.TRADING_STRATEGY_CHANGED: CodeEntry(
            _CONFLICT,
            "the order's strategy hash is not the registered one (changed since approval)",
        ),
        _E.TRADING_LIVE_DISABLED: CodeEntry(
            _CONFLICT, "a live order while AUTOPACK_LIVE_TRADING is not true"
        ),
        _E.TRADING_LIVE_CREDENTIAL: CodeEntry(
            _CONFLICT, "a live order for an account without a live credential"
        ),
        _E.TRADING_NOT_PROMOTED: CodeEntry(
            _CONFLICT, "a live order without a valid promotion of its strategy and limits"
        ),
        _E.TRADING_LIMITS_MISSING: CodeEntry(
            _CONFLICT, "a trading gate holds the order: its account has no risk limits"
        ),
        _E.TRADING_SYMBOL_NOT_ALLOWED: CodeEntry(
            _CONFLICT, "the order's symbol is not in the allowlist"
        ),
        _E.TRADING_ORDER_NOTIONAL: CodeEntry(
            _CONFLICT, "the order's notional is above the per-order limit"
        ),
        _E.TRADING_POSITION_LIMIT: CodeEntry(
            _CONFLICT,
            "a trading gate holds the order: the position would pass its limit",
        ),
        _E.TRADING_ORDER_RATE: CodeEntry(
            _CONFLICT,
            "a trading gate holds the order: orders per minute or per day used up",
        ),
        _E.TRADING_DAILY_LOSS: CodeEntry(_CONFLICT, "the account's daily loss reached its limit"),
        _E.TRADING_DRAWDOWN: CodeEntry(
            _CONFLICT, "the account's drawdown from its high-water mark reached its limit"
        ),
        _E.TRADING_ACCOUNT_UNKNOWN: CodeEntry(
            _CONFLICT, "a trading gate holds the order: the broker account was never read"
        ),
        _E.TRADING_ACCOUNT_STALE: CodeEntry(
            _CONFLICT, "a trading gate holds the order: the last broker account read is too old"
        ),
        _E.TRADING_PRICE_UNKNOWN: CodeEntry(
            _CONFLICT, "a trading gate holds the order: no price is known to check a limit"
        ),
        _E.INVALID_TRADING_LIMITS: CodeEntry(
            _BAD, "a risk limit value that is not a positive decimal or count"
        ),
        _E.INVALID_STRATEGY: CodeEntry(_BAD, "a strategy name, file or hash that is not valid"),
        _E.INVALID_TRADING_STATE: CodeEntry(
            _BAD, "a trading state other than active, reducing or halted"
        ),
        _E.STRATEGY_NOT_FOUND: CodeEntry(_MISSING, "no such registered strategy"),
        _E.TRADING_ACCOUNT_NOT_FOUND: CodeEntry(_MISSING, "no trading record for this account"),
        _E.TRADING_REQUEST_NOT_FOUND: CodeEntry(_MISSING, "no such trading change request"),
        _E.TRADING_REQUEST_DECIDED: CodeEntry(
            _CONFLICT, "the trading change request is no longer pending"
        ),
        _E.TRADING_REQUEST_HASH: CodeEntry(
            _CONFLICT, "the approval names another hash than the request's"
        ),
        _E.TRADING_NO_CHANGE: CodeEntry(_CONFLICT, "the asked change is what is already in force"),
        _E.MEDIA_NOT_IN_PACKET: CodeEntry(_MISSING, "the packet has no media file of that name"),
        _E.MEDIA_CHANGED: CodeEntry(
            _CONFLICT, "a media file's bytes no longer match the packet's SHA-256"
        ),
        _E.MEDIA_NOT_PREVIEWABLE: CodeEntry(
            _BAD, "a media file of a type or size the console does not preview"
        ),
        _E.INVALID_TRADING_HASH: CodeEntry(
            _BAD, "a trading request hash that is not 64 lower-case hex digits"
        ),
    }
)

_uncatalogued = set(ErrorCode) ^ set(CATALOGUE)
if _uncatalogued:  # an import-time failure, so no code ships without its entry
    raise RuntimeError(f"error codes without a catalogue entry: {sorted(_uncatalogued)}")


def codes_in(category: ErrorCategory) -> frozenset[ErrorCode]:
    return frozenset(code for code, entry in CATALOGUE.items() if entry.category is category)
