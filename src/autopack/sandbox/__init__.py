"""The sandbox provider: a separate local HTTP server that performs fake side effects.

It records every effect durably in its own SQLite store and injects faults
(delay, response lost after commit, 5xx, 429, no idempotency, no lookup), so
the ledger's crash and duplicate-effect tests have a real provider to talk to.
Start it with ``autopack sandbox serve`` (or ``python -m autopack.sandbox``,
which starts faster). The wire contract is ``autopack.domain.sandbox_protocol``.
"""
