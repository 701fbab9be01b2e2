"""Crash matrix for the Shopify adapter: a real `autopack worker` process SIGKILLed
at each crashpoint while it upserts a product or adjusts inventory at the Shopify
fake; then a restarted executor (its clock past the dead worker's lease and the
settle window) reconciles and runs what is claimable. The fake's store is the
ground truth. Afterwards, for every point:

- zero duplicate products (one product per identifier, ever);
- zero double adjustments (each level moved by exactly its delta, one group);
- zero lost confirmations: every action succeeded with the object id the fake holds;
- nothing left unknown or dispatching.
"""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from autopack.domain.providers import Intent
from autopack.providers.shopify.payloads import derived_handle
from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime, utc_now
from autopack.services.executor import CRASHPOINT_DELAY_ENV, CRASHPOINT_ENV, Executor
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.providers import ProviderRegistry
from autopack.services.runtime import build_runtime
from fakes_support import running_fakes
from policy_support import clear_policy
from shopify_support import (
    PRODUCT,
    SHOP,
    connect_shop,
    product_packet,
    run_worker,
    shopify_settings,
)

pytestmark = pytest.mark.slow

# point -> (crashpoint, Shopify fake fault for the dispatch or None)
POINTS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "before_claim": ("before_claim", None),
    "after_claim_commit": ("after_claim_commit", None),
    "during_dispatch": ("during_dispatch", {"kind": "delay", "seconds": 1.0}),
    "provider_committed_no_response": ("after_response", {"kind": "lost_response"}),
    "after_response_before_confirm": ("after_response", None),
    "after_confirm": ("after_confirm", None),
}
DELTA = 7


def _payload(action: str, index: int, workspace: Path, rt: Runtime) -> dict[str, Any]:
    if action == "product.upsert":
        fields = {**PRODUCT, "title": f"Crash jacket {index}"}
        return product_packet(workspace, fields, name=f"crash-{index}", runtime=rt)
    change = {
        "inventoryItemId": f"gid://shopify/InventoryItem/{8000 + index}",
        "locationId": "gid://shopify/Location/31",
        "delta": DELTA,
        "changeFromQuantity": 0,
    }
    return {"reason": "received", "name": "available", "changes": [change]}


@pytest.mark.parametrize("action", ["product.upsert", "inventory.adjust"])
def test_shopify_crash_matrix(
    action: str, workspace: Path, database_url: str, tmp_path: Path
) -> None:
    with running_fakes(tmp_path, "shopify") as fakes:
        settings = shopify_settings(workspace, database_url, fakes.url)
        rt = build_runtime(settings)
        registry = ProviderRegistry.for_runtime(rt)
        ledger = LedgerService(rt, registry)
        approvals = ApprovalService(rt, registry)
        skew = timedelta(0)
        rt.clock = lambda: utc_now() + skew
        try:
            connect_shop(rt)
            clear_policy(rt, "shopify")
            for index, (name, (point, fault)) in enumerate(POINTS.items()):
                key = f"crash-{name}".replace("_", "-")
                payload = _payload(action, index, workspace, rt)
                record = ledger.propose(
                    IntentRequest(
                        provider="shopify", action=action, account=SHOP, key=key, payload=payload
                    )
                ).record
                assert record.approval_id is not None
                approvals.approve(record.approval_id, hash_=record.payload_hash, approver="alice")
                if fault is not None:
                    fakes.set_faults({"provider": "shopify", **fault})
                killed = run_worker(
                    workspace,
                    database_url,
                    fakes.url,
                    **{CRASHPOINT_ENV: point, CRASHPOINT_DELAY_ENV: "300"},
                )
                assert killed.returncode == -signal.SIGKILL, (name, killed.stderr)
                before = ledger.get(key)
                fakes.wait_idle()  # the dead worker's request may still be in the fake
                fakes.clear_faults()

                # Restart: a new executor after the dead worker's lease ran out,
                # then past the settle window for "not found" lookups.
                skew += timedelta(minutes=5)
                executor = Executor(rt, registry, worker="restarted")
                executor.reconcile()
                skew += timedelta(seconds=executor.settle_seconds_for("shopify") + 1)
                for _ in range(2):
                    executor.reconcile()
                    executor.run_once()

                after = ledger.get(key)
                where = f"{action}/{name}: {before.status} -> {after.status}"
                effects = fakes.effects("shopify")
                if action == "product.upsert":
                    handle = derived_handle(Intent("shopify", action, SHOP, key, payload))
                    made = [e for e in effects if e["kind"] == "product" and e["handle"] == handle]
                    assert len(made) == 1, where  # zero duplicate products
                    expected_id = made[0]["id"]
                else:
                    item = payload["changes"][0]["inventoryItemId"]
                    groups = [
                        e
                        for e in effects
                        if e["kind"] == "adjustment_group"
                        and any(c["item"]["id"] == item for c in e["changes"])
                    ]
                    assert len(groups) == 1, where  # one adjustment group
                    levels = fakes.control("GET", "/shopify/levels")["levels"]
                    quantity = next(lv for lv in levels if lv["item"] == item)["quantities"]
                    assert quantity["available"] == DELTA, where  # zero double adjustments
                    expected_id = groups[0]["id"]
                assert after.status == "succeeded", where
                assert after.provider_object_id == expected_id, where  # no lost confirmation
                if before.status == "succeeded":
                    assert after.provider_object_id == before.provider_object_id, where
            ledger.verify_chain()
        finally:
            registry.close()
            rt.close()
