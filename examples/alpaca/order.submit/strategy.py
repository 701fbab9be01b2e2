"""An example trading strategy: its SHA-256 is what `autopack trading strategy
register example-momentum --file examples/alpaca/order.submit/strategy.py`
records, and what payload.json names (every order names its strategy)."""


def decide(closes: list[float]) -> str:
    """Buy when the last close is above the average of the last five."""
    window = closes[-5:]
    if len(window) < 5:
        return "hold"
    return "buy" if window[-1] > sum(window) / len(window) else "hold"
