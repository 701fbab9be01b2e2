"""Alpaca Trading API: key pairs for a paper or a live host, and the order actions.

Modules: ``wire`` (paths, payload rules and the request of each action: pure),
``client`` (a small read client: account, configuration, orders, positions),
``adapter`` (render, dispatch, lookup; imported only when first built).
"""

from __future__ import annotations

import re
import string

from autopack.domain.credentials import ApiKeyProfile, Environment
from autopack.domain.ledger import ActionCategory
from autopack.domain.providers import ProviderAdapter
from autopack.domain.redaction import PatternRule
from autopack.providers.alpaca.wire import HOSTS, KEY_PREFIXES
from autopack.providers.unit import ActionWire, ProviderContext, ProviderUnit

# Host URLs below are public addresses, not secrets.
CREDENTIAL_PROFILE = ApiKeyProfile(
    provider="alpaca",
    title="Alpaca Trading API",
    hosts=dict(HOSTS),
    environments=(Environment.PAPER, Environment.LIVE),
    key_prefixes={prefix: Environment(env) for prefix, env in KEY_PREFIXES.items()},
)

_ALNUM = string.ascii_letters + string.digits
REDACTION_RULES = (
    PatternRule(
        "alpaca-key-id",
        "Alpaca API key id: PK (paper), AK (live) or CK prefix and 18 upper-case characters",
        re.compile(r"(?P<secret>(?:PK|AK|CK)[A-Z0-9]{18})(?![A-Za-z0-9])"),
        not_after=_ALNUM,
    ),
    PatternRule(
        "alpaca-secret-key",
        "Alpaca secret: 40 mixed-case letters and digits on the same line after an Alpaca "
        "key id (positional client arguments, key:secret pairs); mixed case keeps hex SHAs out",
        re.compile(
            r"(?:PK|AK|CK)[A-Z0-9]{18}(?![A-Za-z0-9])[^\r\n]{1,160}?(?<![A-Za-z0-9])"
            r"(?P<secret>(?=[A-Za-z0-9]{0,39}[a-z])(?=[A-Za-z0-9]{0,39}[A-Z])[A-Za-z0-9]{40})"
            r"(?![A-Za-z0-9])"
        ),
        not_after=_ALNUM,
    ),
)


def build_adapter(context: ProviderContext) -> ProviderAdapter:
    from autopack.providers.alpaca.adapter import AlpacaAdapter

    return AlpacaAdapter(
        paper_url=context.settings.alpaca_paper_url,
        live_url=context.settings.alpaca_live_url,
        credentials=context.credentials,
        clock=context.clock,
        transport=context.transport,
    )


_BY_CLIENT_ORDER_ID = "client_order_id derived from the idempotency key (Alpaca refuses reuse)"
UNIT = ProviderUnit(
    name="alpaca",
    title="Alpaca Trading API",
    adapter_factory=build_adapter,
    credential_profile=CREDENTIAL_PROFILE,
    # Orders and positions: trade, so always a human approval. Suspending trading
    # moves nothing (the kill switch uses it): other, as its name always classified.
    actions={
        "order.submit": ActionCategory.TRADE,
        "order.cancel": ActionCategory.TRADE,
        "orders.cancel_all": ActionCategory.TRADE,
        "positions.close_all": ActionCategory.TRADE,
        "account.suspend_trading": ActionCategory.OTHER,
    },
    redaction_rules=REDACTION_RULES,
    settings=("alpaca_paper_url", "alpaca_live_url"),
    wire={
        "order.submit": ActionWire(
            idempotency=_BY_CLIENT_ORDER_ID,
            lookup="GET /v2/orders:by_client_order_id (a 422 40010001 is looked up and adopted)",
        ),
        "order.cancel": ActionWire(
            idempotency="DELETE of one order id: a resend cannot cancel anything else",
            lookup="GET /v2/orders/{id}: canceled or pending_cancel",
            protective=True,
        ),
        "orders.cancel_all": ActionWire(
            idempotency="DELETE /v2/orders cancels what is open: a resend is harmless",
            lookup="GET /v2/orders?status=open: none left",
            protective=True,
        ),
        "positions.close_all": ActionWire(
            idempotency="DELETE /v2/positions with cancel_orders replaces earlier closing orders",
            lookup="GET /v2/positions and open orders: every position has its closing order",
            protective=True,
        ),
        "account.suspend_trading": ActionWire(
            idempotency="partial PATCH of one field: a resend sets the same value",
            lookup="GET /v2/account/configurations: suspend_trade as asked",
            protective=True,
        ),
    },
    packet=None,
    policy_pages=(),
)
