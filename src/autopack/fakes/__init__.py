"""Wire-faithful local fakes of the real providers (YouTube, Etsy, Shopify, Alpaca).

One HTTP server process (``autopack fakes serve``) hosts every fake on one
loopback port: the providers' own paths do not overlap, so each request goes to
the fake whose path prefixes match. Every effect is committed to the durable
store before any response byte is written; a control API (``/_control/...``)
injects faults and reads the ground truth for tests and demos.

Modules: ``protocol`` (what a fake implements), ``store`` (the durable store),
``faults`` (generic fault injection), ``server`` (the host), ``registry`` (the
list of fakes).
"""
