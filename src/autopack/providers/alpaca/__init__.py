"""Alpaca Trading API: key pairs for a paper or a live host, and the order actions.

The adapter is not built yet (``adapter_factory=None``): keys can be stored and
are masked, but nothing can be proposed for Alpaca.
"""

from __future__ import annotations

import re
import string

from autopack.domain.credentials import ApiKeyProfile, Environment
from autopack.domain.ledger import ActionCategory
from autopack.domain.redaction import PatternRule
from autopack.providers.unit import ProviderUnit

# Host URLs below are public addresses, not secrets.
CREDENTIAL_PROFILE = ApiKeyProfile(
    provider="alpaca",
    title="Alpaca Trading API",
    hosts={
        Environment.PAPER.value: "https://paper-api.alpaca.markets",
        Environment.LIVE.value: "https://api.alpaca.markets",
    },
    environments=(Environment.PAPER, Environment.LIVE),
    key_prefixes={"PK": Environment.PAPER, "AK": Environment.LIVE},
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

UNIT = ProviderUnit(
    name="alpaca",
    title="Alpaca Trading API",
    adapter_factory=None,
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
    settings=(),
    wire={},
    packet=None,
)
