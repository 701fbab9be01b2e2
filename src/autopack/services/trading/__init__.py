"""Trading: strategies, risk limits, trading states, promotions, reservations,
the broker sync and the kill switch, all durable and shared by every process.

Modules: ``records`` (tables and row helpers), ``facts`` (what the trading
gates read, gathered in the claim's transaction with the account row locked),
``reservations`` (headroom taken at claim, settled from the broker),
``requests`` (changes that need approval, and applying them), ``sync`` (broker
reads: account, orders, positions; automatic HALT on a daily-loss or drawdown
breach), ``kill`` (the kill switch's broker steps, through the ledger) and
``service`` (the facade the CLI and the API call; import it from there: the
gate service imports ``facts`` through this package).
"""
