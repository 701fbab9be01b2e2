"""The runtime's one redactor: stored secrets are masked in logs and the ledger,
including secrets stored after the redactor (or the log filter) was built."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import SQLAlchemyError

from autopack.api.app import create_app
from autopack.db.schema import upgrade
from autopack.domain.canonical import JsonValue
from autopack.domain.layout import project_policy_path
from autopack.domain.providers import (
    DispatchProgress,
    DispatchResult,
    Intent,
    LookupResult,
    LookupStatus,
    Outcome,
    RenderedRequest,
)
from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService
from autopack.services.executor import Executor
from autopack.services.providers import ProviderRegistry
from autopack.services.runtime import build_runtime
from autopack.settings import Settings
from conftest import make_settings

ALPACA_SECRET = "Zk8s2LqP0vXw4RtY6uB9cD1eF3gH5jK7mN0pQ2rS"
ECHOED_SECRET = "Qm3x9TvB2nL7cR5wK1pY8dF4hJ6gS0aZ2eU7iO3q"
LATER_SECRET = "Hq1w2E3r4T5y6U7i8O9p0AsDfGhJkLzXcVbNm123"


@pytest.fixture
def credentials(runtime: Runtime) -> Iterator[CredentialService]:
    with CredentialService(runtime) as service:
        yield service


def test_stored_secrets_join_the_runtime_redactor(
    runtime: Runtime, credentials: CredentialService
) -> None:
    before = runtime.redactor()
    assert ALPACA_SECRET in before.redact_text(f"x {ALPACA_SECRET} y")
    credentials.add_api_key(
        "alpaca",
        "main",
        key_id="PKTESTKEYID000000001",
        secret=ALPACA_SECRET,
        environment="paper",
    )
    after = runtime.redactor()
    assert after is not before
    assert ALPACA_SECRET not in after.redact_text(f"x {ALPACA_SECRET} y")
    assert runtime.redactor() is after  # cached until a new secret arrives


def test_a_fresh_process_loads_stored_secrets(runtime: Runtime) -> None:
    with CredentialService(runtime) as service:
        service.add_api_key(
            "alpaca",
            "main",
            key_id="PKTESTKEYID000000001",
            secret=ALPACA_SECRET,
            environment="paper",
        )
    fresh = build_runtime(runtime.settings)
    try:
        assert ALPACA_SECRET not in fresh.redactor().redact_text(ALPACA_SECRET)
    finally:
        fresh.close()


def test_server_logs_mask_secrets_stored_while_it_runs(
    runtime: Runtime, credentials: CredentialService, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("autopack.test")
    with TestClient(create_app(runtime=runtime)):
        credentials.add_api_key(
            "alpaca",
            "main",
            key_id="PKTESTKEYID000000002",
            secret=LATER_SECRET,
            environment="paper",
        )
        with caplog.at_level(logging.INFO, logger="autopack.test"):
            log.info("provider said %s", LATER_SECRET)
    assert caplog.records
    assert LATER_SECRET not in caplog.text
    assert "[REDACTED" in caplog.text
    # Uninstalled at shutdown: no filter leaks into the rest of the process.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="autopack.test"):
        log.info("plain %s", "text")
    assert "plain text" in caplog.text


def test_a_failed_first_load_is_retried_not_forgotten(
    workspace: Path, empty_database_url: str
) -> None:
    """If the store cannot be read yet (schema behind), a later call must load it."""
    rt = build_runtime(make_settings(workspace, empty_database_url))
    try:
        with pytest.raises(SQLAlchemyError):
            rt.redactor()  # no credentials table yet
        upgrade(rt.engine)
        other = build_runtime(rt.settings)  # stores the secret; `rt` never sees it noted
        try:
            with CredentialService(other) as service:
                service.add_api_key(
                    "alpaca",
                    "main",
                    key_id="PKTESTKEYID000000003",
                    secret=ALPACA_SECRET,
                    environment="paper",
                )
        finally:
            other.close()
        assert ALPACA_SECRET not in rt.redactor().redact_text(ALPACA_SECRET)
    finally:
        rt.close()


def test_the_log_redactor_never_raises_and_services_still_load_later(
    workspace: Path, empty_database_url: str
) -> None:
    """A log line with the schema behind must not fail; once a service loads the
    store, log lines mask the stored secrets too."""
    rt = build_runtime(make_settings(workspace, empty_database_url))
    try:
        rt.note_secrets(["noted-secret-value-1"])
        partial = rt.log_redactor()  # no credentials table: rules + noted secrets
        assert "noted-secret-value-1" not in partial.redact_text("noted-secret-value-1")
        upgrade(rt.engine)
        other = build_runtime(rt.settings)
        try:
            with CredentialService(other) as service:
                service.add_api_key(
                    "alpaca",
                    "main",
                    key_id="PKTESTKEYID000000004",
                    secret=ALPACA_SECRET,
                    environment="paper",
                )
        finally:
            other.close()
        rt.redactor()  # a service call retries the load
        assert ALPACA_SECRET not in rt.log_redactor().redact_text(ALPACA_SECRET)
    finally:
        rt.close()


def test_threads_wait_for_the_first_load_instead_of_getting_a_partial_redactor(
    runtime: Runtime, credentials: CredentialService
) -> None:
    credentials.add_api_key(
        "alpaca",
        "main",
        key_id="PKTESTKEYID000000005",
        secret=ALPACA_SECRET,
        environment="paper",
    )
    fresh = build_runtime(runtime.settings)
    results: list[str] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait(timeout=30)
        results.append(fresh.log_redactor().redact_text(ALPACA_SECRET))

    try:
        threads = [threading.Thread(target=ask) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        fresh.close()
    assert len(results) == 8
    assert all(ALPACA_SECRET not in text for text in results)


def test_a_secret_stored_by_another_process_is_masked_before_the_next_write(
    settings: Settings, tmp_path: Path
) -> None:
    """Issue 11 defect 4: a key added with `credentials add-key` while the API and the
    worker ran was written raw into reasons and summaries until a restart. Two
    runtimes on one database stand for two processes: each has its own caches."""
    from autopack.domain.principals import cli_actor
    from autopack.services.ledger import IntentRequest, LedgerService

    api = build_runtime(settings)
    cli = build_runtime(settings)
    try:
        ledger = LedgerService(api)
        ledger.propose(
            IntentRequest(
                provider="sandbox", action="video.upload", key="k1", payload={"title": "x"}
            )
        )
        assert ledger.store.redactor.redact_text(ALPACA_SECRET) == ALPACA_SECRET  # not yet known
        with CredentialService(cli) as service:
            service.add_api_key(
                "alpaca",
                "main",
                key_id="PKTESTKEYID000000004",
                secret=ALPACA_SECRET,
                environment="paper",
            )
        record = ledger.cancel(
            "k1", actor=cli_actor("ops"), reason=f"pasted the key {ALPACA_SECRET} by mistake"
        )
        shown = ledger.show(record.key)
        assert ALPACA_SECRET not in str(shown)
        assert "[REDACTED" in str(shown["events"][-1]["data"])

        # The outcome path too: a provider that echoes the secret in its answer.
        policy = project_policy_path(settings.workspace_path, "demo")
        policy.parent.mkdir(parents=True, exist_ok=True)
        policy.write_text('{"auto_approve": [{"provider": "echo", "action": "note.add"}]}')
        registry = ProviderRegistry(settings, extra=[EchoAdapter()])
        executor = Executor(api, registry)
        executor.store.redactor  # noqa: B018 - the API process is warm before the new key
        with CredentialService(cli) as service:
            service.add_api_key(
                "alpaca",
                "second",
                key_id="PKTESTKEYID000000005",
                secret=ECHOED_SECRET,
                environment="paper",
            )
        done = executor.guarded_call(
            IntentRequest(
                provider="echo", action="note.add", key="e1", payload={"n": 1}, project="demo"
            )
        )
        assert done.status == "succeeded"
        assert ECHOED_SECRET not in str(ledger.show("e1"))
    finally:
        api.close()
        cli.close()


class EchoAdapter:
    """A provider (the true external boundary, in process) that echoes a stored secret."""

    name = "echo"
    actions = frozenset({"note.add"})

    def render(self, intent: Intent) -> RenderedRequest:
        return RenderedRequest("POST", "echo://note", {}, dict(intent.payload))

    def dispatch(
        self, intent: Intent, request: RenderedRequest, progress: DispatchProgress
    ) -> DispatchResult:
        return DispatchResult(
            Outcome.SUCCEEDED, provider_object_id="n1", summary={"echo": ECHOED_SECRET}
        )

    def lookup(self, intent: Intent, state: Mapping[str, JsonValue]) -> LookupResult:
        return LookupResult(LookupStatus.NOT_FOUND)
