"""Helpers for the Shopify end-to-end and crash tests: settings pointed at the
fakes process, a connected shop in the real credential store, and a real
``autopack worker`` subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from autopack.domain.credentials import CredentialKind, Environment
from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService
from autopack.services.packet_refs import packet_service
from autopack.services.packets import PacketService
from autopack.settings import Settings
from conftest import make_settings

SHOP = "autopack-demo"
TOKEN = "shpat_" + "5e2d" * 8
SECRET_KEY = "shopify-e2e-secret-" + "Qm7x" * 8
API_KEY = "shopify-e2e-api-key-" + "Lk4p" * 8


def api_url(fakes_url: str) -> str:
    return fakes_url + "/admin/api/{version}/graphql.json"


def shopify_settings(workspace: Path, database_url: str, fakes_url: str) -> Settings:
    return make_settings(
        workspace,
        database_url,
        api_key=API_KEY,
        secret_key=SECRET_KEY,
        shopify_api_url=api_url(fakes_url),
        shopify_api_version="2026-04",
    )


def connect_shop(runtime: Runtime, account: str = SHOP) -> None:
    """Store a shop's token as a completed OAuth connect would (valid for a day)."""
    with CredentialService(runtime) as service:
        service.store.upsert(
            provider="shopify",
            account=account,
            kind=CredentialKind.OAUTH2,
            environment=Environment.PRODUCTION.value,
            scopes=["write_products", "write_inventory"],
            material={"access_token": TOKEN, "token_type": "Bearer", "client_id": "app-key"},
            expires_at=runtime.clock() + timedelta(days=1),
            key_hint=None,
            event="connected",
        )


def run_worker(
    workspace: Path, database_url: str, fakes_url: str, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    """``autopack worker --once`` as its own process, configured by environment."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_") or k.endswith("PG_URL")
    }
    env.update(
        AUTOPACK_WORKSPACE=str(workspace),
        AUTOPACK_DATABASE_URL=database_url,
        AUTOPACK_SECRET_KEY=SECRET_KEY,
        AUTOPACK_SHOPIFY_API_URL=api_url(fakes_url),
        AUTOPACK_SHOPIFY_API_VERSION="2026-04",
        **extra_env,
    )
    return subprocess.run(
        [sys.executable, "-m", "autopack", "worker", "--once", "--lease-seconds", "30"],
        env=env,
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PRODUCT: dict[str, Any] = {
    "title": "Field jacket",
    "status": "DRAFT",
    "vendor": "Autopack Outfitters",
    "productOptions": [{"name": "Size", "values": [{"name": "M"}, {"name": "L"}]}],
    "variants": [
        {"optionValues": [{"optionName": "Size", "name": "M"}], "price": "120.00"},
        {"optionValues": [{"optionName": "Size", "name": "L"}], "price": "120.00"},
    ],
}
ITEM = "gid://shopify/InventoryItem/7001"
LOCATION = "gid://shopify/Location/31"


def inventory_payload(delta: int, change_from: int | None) -> dict[str, Any]:
    return {
        "reason": "received",
        "name": "available",
        "changes": [
            {
                "inventoryItemId": ITEM,
                "locationId": LOCATION,
                "delta": delta,
                "changeFromQuantity": change_from,
            }
        ],
    }


def product_packet(
    workspace: Path, fields: dict[str, Any], name: str = "product", runtime: Runtime | None = None
) -> dict[str, Any]:
    """product.upsert takes a publish packet: build one (no media) from ``fields``,
    citing the runtime's current acknowledged policy snapshots when given one."""
    spec = workspace / f"{name}.spec.json"
    spec.write_text(
        json.dumps(
            {"provider": "shopify", "action": "product.upsert", "fields": fields, "disclosures": {}}
        ),
        encoding="utf-8",
    )
    service = PacketService(workspace) if runtime is None else packet_service(runtime)
    return service.build(spec, []).document
