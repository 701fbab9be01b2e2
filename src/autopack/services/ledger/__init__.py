"""The external-action ledger: propose, read, cancel, verify the chain, export.

One current-state row per idempotency key (``external_actions``) plus an
insert-only, per-action hash-chained ``external_action_events`` table. Every
state change is a compare-and-set UPDATE on (status, fencing) in the same
transaction as the event row that records it; ``LedgerStore.move`` is the only
place that changes an action's status.

Modules, one job each: ``records`` (types), ``store`` (the storage contract and
its SQLite and PostgreSQL implementations), ``raw`` (driver-level SQL, used only
by the store), ``intake`` (propose), ``reads``, ``operator`` (cancel, resolve),
``audit`` (verify-chain, export), ``progress`` (a dispatch's durable
checkpoints) and ``service`` (``LedgerService``, which
composes them).
"""

from autopack.services.ledger.records import (
    ACTIONS,
    APPROVALS,
    DEFAULT_LIST_LIMIT,
    DEFAULT_REQUESTER,
    EVENTS,
    MAX_LIST_LIMIT,
    ActionRecord,
    IdempotencyConflictError,
    IntentRequest,
    LeaseLostError,
    PreparedIntent,
    Proposal,
    approval_dict,
)
from autopack.services.ledger.service import LedgerService
from autopack.services.ledger.store import LedgerStore, make_store

__all__ = [
    "ACTIONS",
    "APPROVALS",
    "DEFAULT_LIST_LIMIT",
    "DEFAULT_REQUESTER",
    "EVENTS",
    "MAX_LIST_LIMIT",
    "ActionRecord",
    "IdempotencyConflictError",
    "IntentRequest",
    "LeaseLostError",
    "LedgerService",
    "LedgerStore",
    "PreparedIntent",
    "Proposal",
    "approval_dict",
    "make_store",
]
