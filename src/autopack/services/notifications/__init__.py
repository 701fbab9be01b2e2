"""Notifications of what waits for a person, through a durable outbox.

``outbox`` writes a notification row in the caller's transaction (the change
that causes it); ``holds`` finds actions a gate holds and writes one
notification per (action, hold reason); ``delivery`` leases due rows and posts
them, signed, to the webhook, with bounded retries and a dead state;
``webhook`` is the one HTTP call (also `autopack notify test`).

The ledger store imports ``outbox`` alone, so this package imports none of its
modules here (``holds`` reads the ledger: that would be a cycle).
"""
