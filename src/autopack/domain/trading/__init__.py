"""Trading rules, pure: risk limits, order terms, trading states, promotions.

``limits`` (the risk-limit sets and what loosens them), ``orders`` (what an
order asks, in numbers the limits compare), ``states`` (ACTIVE, REDUCING,
HALTED), ``exposure`` (the facts the trading gates read). The gates themselves
are ``autopack.domain.gates.trading``; storage and the broker are in
``autopack.services.trading``.
"""
