"""Audit: verify the hash-chained event history, and export a run's actions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from autopack.domain.canonical import canonical_json, format_utc
from autopack.domain.checkpoint import checkpoint_body, open_checkpoint, sign_checkpoint
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import CheckFailedError, ConfigurationError, NotFoundError
from autopack.domain.layout import RunRef, ledger_export_path, validate_identifier
from autopack.domain.ledger import GENESIS_HASH, event_hash
from autopack.services.fsio import atomic_write_bytes
from autopack.services.ledger.reads import action_events
from autopack.services.ledger.records import (
    ACTIONS,
    APPROVALS,
    EVENTS,
    EXPORT_SCHEMA,
    RUNS,
    ActionRecord,
    approval_dict,
    event_dict,
)
from autopack.services.ledger.store import LedgerStore


class Audit:
    def __init__(self, store: LedgerStore) -> None:
        self.store = store

    def _secret(self) -> str:
        secret = self.store.rt.settings.secret_key
        if secret is None:
            raise ConfigurationError(
                "checkpoints are signed with AUTOPACK_SECRET_KEY: set it (32+ random "
                "characters) and keep the same value to verify them later",
                code=ErrorCode.MISSING_SECRET,
            )
        return secret.get_secret_value()

    def checkpoint(self) -> dict[str, Any]:
        """A signed anchor of the chain as it is now (see ``domain.checkpoint``).

        Refuses to sign a chain that does not verify; signs exactly the heads it
        verified (one snapshot)."""
        _, heads = self._verify({}, anchoring=False)
        rows = [(key, int(count), digest) for key, (count, digest, _) in heads.items()]
        return sign_checkpoint(checkpoint_body(rows), self._secret())

    def write_checkpoint(self, path: Path) -> dict[str, Any]:
        """Write a signed checkpoint to ``path`` atomically; returns it."""
        document = self.checkpoint()
        atomic_write_bytes(path, canonical_json(document) + b"\n")
        return document

    def verify_chain(self, checkpoint: Any = None) -> dict[str, Any]:
        """Recompute every event hash; report any break. Raises CheckFailedError on problems.

        With ``checkpoint`` (a signed checkpoint document), also prove that every
        event it anchors is still there with the hash it had: this catches a
        writer who rewrote events and recomputed the whole chain after them."""
        anchored: dict[tuple[str, int], str] = (
            {}
            if checkpoint is None
            else {(k, s): d for k, s, d in open_checkpoint(checkpoint, self._secret())}
        )
        report, _ = self._verify(anchored, anchoring=checkpoint is not None)
        return report

    def _verify(
        self, anchored: dict[tuple[str, int], str], *, anchoring: bool
    ) -> tuple[dict[str, Any], dict[str, tuple[int, str, str]]]:
        """The report and every action's head (event count, last hash, status), from
        one read snapshot; raises CheckFailedError on any problem."""
        problems: list[dict[str, Any]] = []
        actions = 0
        events = 0
        with self.store.read() as conn:
            heads = {
                r["idempotency_key"]: (r["event_count"], r["last_event_hash"], r["status"])
                for r in conn.execute(
                    select(
                        ACTIONS.c.idempotency_key,
                        ACTIONS.c.event_count,
                        ACTIONS.c.last_event_hash,
                        ACTIONS.c.status,
                    )
                ).mappings()
            }
            state: dict[str, tuple[int, str, str | None]] = {}
            rows = conn.execute(
                select(EVENTS).order_by(EVENTS.c.idempotency_key, EVENTS.c.seq)
            ).mappings()
            for ev in rows:
                events += 1
                key = ev["idempotency_key"]
                seq, prev, status = state.get(key, (0, GENESIS_HASH, None))
                if ev["seq"] != seq + 1:
                    problems.append({"key": key, "seq": ev["seq"], "problem": "sequence_gap"})
                if ev["prev_hash"] != prev:
                    problems.append({"key": key, "seq": ev["seq"], "problem": "broken_link"})
                if ev["from_status"] != status:
                    problems.append({"key": key, "seq": ev["seq"], "problem": "status_mismatch"})
                recomputed = event_hash(
                    prev_hash=ev["prev_hash"],
                    key=key,
                    seq=ev["seq"],
                    event=ev["event"],
                    from_status=ev["from_status"],
                    to_status=ev["to_status"],
                    fencing=ev["fencing"],
                    actor=ev["actor"],
                    at=format_utc(ev["at"]),
                    data=ev["data"],
                )
                if recomputed != ev["hash"]:
                    problems.append({"key": key, "seq": ev["seq"], "problem": "hash_mismatch"})
                expected = anchored.pop((key, ev["seq"]), None)
                if expected is not None and expected != ev["hash"]:
                    problems.append(
                        {"key": key, "seq": ev["seq"], "problem": "checkpoint_rewritten"}
                    )
                state[key] = (ev["seq"], ev["hash"], ev["to_status"])
        for key, (count, head, status) in sorted(heads.items()):
            actions += 1
            seen = state.get(key, (0, GENESIS_HASH, None))
            if seen[0] != count or seen[1] != head:
                problems.append({"key": key, "seq": seen[0], "problem": "head_mismatch"})
            elif seen[2] != status:
                problems.append({"key": key, "seq": seen[0], "problem": "status_mismatch"})
        # Events whose action row is gone: a deleted action (the database refuses
        # that, but a writer can drop the trigger first).
        for key in sorted(set(state) - set(heads)):
            problems.append({"key": key, "seq": state[key][0], "problem": "orphaned_events"})
        for key, seq in sorted(anchored):
            problems.append({"key": key, "seq": seq, "problem": "checkpoint_missing"})
        report: dict[str, Any] = {
            "ok": not problems,
            "actions": actions,
            "events": events,
            "problems": problems,
        }
        if anchoring:
            report["checkpoint"] = "verified" if not problems else "broken"
        if problems:
            raise CheckFailedError(
                f"event chain broken: {len(problems)} problem(s), first: "
                f"{problems[0]['problem']} at {problems[0]['key']!r} seq {problems[0]['seq']}",
                code=ErrorCode.CHAIN_BROKEN,
                details=report,
            )
        return report, heads

    def export_document(self, run_id: str) -> tuple[RunRef, dict[str, Any]]:
        validate_identifier("run_id", run_id)
        with self.store.read() as conn:
            run = conn.execute(select(RUNS).where(RUNS.c.run_id == run_id)).mappings().first()
            if run is None:
                raise NotFoundError(f"no run {run_id!r}", code=ErrorCode.RUN_NOT_FOUND)
            ref = RunRef(run["project"], run["family"], run["run_id"])
            rows = (
                conn.execute(
                    select(ACTIONS)
                    .where(ACTIONS.c.run_id == run_id)
                    .order_by(ACTIONS.c.created_at, ACTIONS.c.idempotency_key)
                )
                .mappings()
                .all()
            )
            entries = []
            for row in rows:
                record = ActionRecord.from_row(row)
                approval = None
                if record.approval_id is not None:
                    arow = (
                        conn.execute(select(APPROVALS).where(APPROVALS.c.id == record.approval_id))
                        .mappings()
                        .first()
                    )
                    approval = None if arow is None else approval_dict(arow)
                body = record.to_dict()
                for volatile in ("lease_owner", "lease_expires_at"):
                    body.pop(volatile)
                body["approval"] = approval
                body["events"] = [event_dict(e) for e in action_events(conn, record.key)]
                entries.append(body)
        document = {
            "schema": EXPORT_SCHEMA,
            "project": ref.project,
            "family": ref.family,
            "run_id": ref.run_id,
            "actions": entries,
        }
        return ref, self.store.redactor.redact_value(document)

    def export_run(self, run_id: str) -> tuple[str, dict[str, Any]]:
        """Write ``<run dir>/ledger/actions.json`` atomically; returns (path, document)."""
        ref, document = self.export_document(run_id)
        path = ledger_export_path(self.store.rt.workspace, ref)
        atomic_write_bytes(path, canonical_json(document) + b"\n")
        return os.fspath(path), document
