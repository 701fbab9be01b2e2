"""End to end against the Shopify fake: propose -> approve -> a real `autopack
worker` process dispatches -> `succeeded` with Shopify's object id in `actions
show`, for every Shopify action; the shop's token comes from the encrypted
credential store and never shows in the ledger."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from autopack.api.app import create_app
from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime, utc_now
from autopack.services.executor import Executor
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.providers import ProviderRegistry
from autopack.services.runtime import build_runtime
from conftest import invoke_cli
from fakes_support import running_fakes
from policy_support import clear_policy
from shopify_support import (
    API_KEY,
    PRODUCT,
    SECRET_KEY,
    SHOP,
    TOKEN,
    api_url,
    connect_shop,
    inventory_payload,
    product_packet,
    run_worker,
    shopify_settings,
)


def _show(key: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, err = invoke_cli(["actions", "show", key, "--json"], capsys)
    assert (code, err) == (0, ""), err
    assert TOKEN not in out
    detail: dict[str, Any] = json.loads(out)
    return detail


def test_every_shopify_action_succeeds_through_the_worker(
    workspace: Path,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with running_fakes(tmp_path, "shopify") as fakes:
        settings = shopify_settings(workspace, database_url, fakes.url)
        rt = build_runtime(settings)
        registry = ProviderRegistry.for_runtime(rt)
        ledger = LedgerService(rt, registry)
        approvals = ApprovalService(rt, registry)

        def propose_and_approve(action: str, key: str, payload: dict[str, Any]) -> None:
            record = ledger.propose(
                IntentRequest(
                    provider="shopify", action=action, account=SHOP, key=key, payload=payload
                )
            ).record
            assert record.approval_id is not None  # listing changes need a person
            approvals.approve(record.approval_id, hash_=record.payload_hash, approver="alice")

        try:
            connect_shop(rt)
            clear_policy(rt, "shopify")
            propose_and_approve(
                "product.upsert", "jacket-1", product_packet(workspace, PRODUCT, runtime=rt)
            )
            propose_and_approve("inventory.adjust", "stock-1", inventory_payload(12, 0))
            first = run_worker(workspace, database_url, fakes.url)
            assert first.returncode == 0, first.stderr
            assert TOKEN not in first.stdout + first.stderr

            for key, value in {
                "AUTOPACK_WORKSPACE": str(workspace),
                "AUTOPACK_DATABASE_URL": database_url,
                "AUTOPACK_SECRET_KEY": SECRET_KEY,
                "AUTOPACK_API_KEY": API_KEY,
                "AUTOPACK_SHOPIFY_API_URL": api_url(fakes.url),
            }.items():
                monkeypatch.setenv(key, value)
            monkeypatch.chdir(workspace)
            effects = fakes.effects("shopify")
            products = [e for e in effects if e["kind"] == "product"]
            groups = [e for e in effects if e["kind"] == "adjustment_group"]
            assert len(products) == 1
            assert len(groups) == 1
            jacket = _show("jacket-1", capsys)["action"]
            assert (jacket["status"], jacket["provider_object_id"]) == (
                "succeeded",
                products[0]["id"],
            )
            assert products[0]["title"] == "Field jacket"
            assert [v["price"] for v in products[0]["variants"]] == ["120.00", "120.00"]
            stock = _show("stock-1", capsys)["action"]
            assert (stock["status"], stock["provider_object_id"]) == ("succeeded", groups[0]["id"])

            care = {
                "ownerId": products[0]["id"],
                "namespace": "custom",
                "key": "care_guide",
                "type": "single_line_text_field",
                "value": "Dry clean only",
            }
            propose_and_approve("metafields.set", "care-1", {"metafields": [care]})
            second = run_worker(workspace, database_url, fakes.url)
            assert second.returncode == 0, second.stderr
            metafields = [e for e in fakes.effects("shopify") if e["kind"] == "metafield"]
            assert [m["value"] for m in metafields] == ["Dry clean only"]
            shown = _show("care-1", capsys)["action"]
            assert (shown["status"], shown["provider_object_id"]) == (
                "succeeded",
                metafields[0]["id"],
            )
            ledger.verify_chain()
        finally:
            registry.close()
            rt.close()


def test_a_payload_refusal_names_the_field_on_the_cli_and_the_api(
    cli_env: Path, capsys: pytest.CaptureFixture[str], runtime: Runtime
) -> None:
    bad = {**PRODUCT, "variants": [{**PRODUCT["variants"][0], "price": "12.345678"}]}
    path = cli_env / "bad.json"
    path.write_text(json.dumps(product_packet(cli_env, bad)), encoding="utf-8")
    for verb in ("render", "propose"):
        code, out, err = invoke_cli(
            [
                *("actions", verb, "--provider", "shopify", "--action", "product.upsert"),
                *("--key", "bad-1", "--payload", str(path), "--account", SHOP),
            ],
            capsys,
        )
        assert code == 2, (verb, out, err)
        assert err.startswith("error: ")
        assert "variants[0].price" in err
        assert "Traceback" not in err
    app = create_app(runtime=runtime)
    headers = {"X-API-Key": runtime.settings.api_key.get_secret_value()}  # type: ignore[union-attr]
    body = {
        "provider": "shopify",
        "action": "inventory.adjust",
        "account": SHOP,
        "key": "bad-2",
        "payload_json": json.dumps({"reason": "correction", "name": "available", "changes": []}),
    }
    with TestClient(app, raise_server_exceptions=False) as client:
        refused = client.post("/api/actions", json=body, headers=headers)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_provider_payload"
    assert error["details"]["field"] == "changes"
    code, out, _ = invoke_cli(["actions", "list", "--json"], capsys)
    assert (code, json.loads(out)) == (0, [])  # nothing recorded


def test_a_throttled_dispatch_waits_the_cost_then_succeeds(
    workspace: Path, database_url: str, tmp_path: Path
) -> None:
    """THROTTLED is no effect: the executor schedules the retry after the wait the
    returned cost gives ((10 - 0) / 2 per s = 5 s), and the retry succeeds."""
    with running_fakes(tmp_path, "shopify") as fakes:
        rt = build_runtime(shopify_settings(workspace, database_url, fakes.url))
        registry = ProviderRegistry.for_runtime(rt)
        skew = timedelta(0)
        rt.clock = lambda: utc_now() + skew
        try:
            connect_shop(rt)
            clear_policy(rt, "shopify")
            ledger = LedgerService(rt, registry)
            record = ledger.propose(
                IntentRequest(
                    provider="shopify",
                    action="inventory.adjust",
                    account=SHOP,
                    key="throttled-1",
                    payload=inventory_payload(3, None),
                )
            ).record
            assert record.approval_id is not None
            ApprovalService(rt, registry).approve(
                record.approval_id, hash_=record.payload_hash, approver="alice"
            )
            fakes.set_faults(
                {"provider": "shopify", "kind": "throttled", "available": 0, "restore_rate": 2.0}
            )
            executor = Executor(rt, registry, worker="w1")
            [waiting] = executor.run_once()
            assert (waiting.status, waiting.retry_count) == ("retry_wait", 1)
            assert waiting.next_attempt_at is not None
            wait = (waiting.next_attempt_at - waiting.updated_at).total_seconds()
            assert wait == pytest.approx(5.0, abs=0.01)
            assert "THROTTLED" in str(waiting.last_error)
            assert fakes.effects("shopify") == []
            skew += timedelta(seconds=4)
            assert executor.run_once() == []  # not before the bucket has the points
            skew += timedelta(seconds=2)
            [done] = executor.run_once()
            groups = [e for e in fakes.effects("shopify") if e["kind"] == "adjustment_group"]
            assert (done.status, done.provider_object_id) == ("succeeded", groups[0]["id"])
        finally:
            registry.close()
            rt.close()
