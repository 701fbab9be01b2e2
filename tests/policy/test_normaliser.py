"""The versioned policy-page normaliser and the policy gate: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import (
    ActionFacts,
    CredentialFacts,
    CredentialRequirement,
    GateFacts,
    PolicyFacts,
    Verdict,
)
from autopack.domain.gates.pipeline import decide
from autopack.domain.gates.policy import PolicyGate
from autopack.domain.policy import (
    NORMALISER_VERSION,
    PageState,
    normalise_html,
    snapshot_hash,
    unified_diff,
)

PAGE = """<!DOCTYPE html>
<html lang="en"><head><title>Terms</title>
<meta name="build" content="abc123"><style>p { color: red }</style>
<script>window.dataLayer = [{ts: 1733562000}];</script></head>
<body>
<nav role="navigation"><a href="/">Home</a> <a href="/help">Help</a></nav>
<div id="cookie-banner">We use cookies. <button>Accept</button></div>
<main>
<h1 class="title" data-x="1">Terms of Service</h1>
<p>Creators must <b>disclose</b>   altered or synthetic&nbsp;content.</p>
<ul><li>Made for kids: set the audience.</li><li>No spam.</li></ul>
<p hidden>debug panel</p>
<!-- rendered by node-7 at 2026-12-07T06:00:00Z -->
</main>
<footer>Page generated 2026-12-07 06:00:01 UTC &middot; request 06:00:01</footer>
</body></html>"""

NOISY = (
    PAGE.replace('class="title" data-x="1"', 'data-x="1" class="title"')
    .replace("ts: 1733562000", "ts: 1733565600, cb: 'x9'")
    .replace("2026-12-07 06:00:01 UTC", "2026-12-08 11:22:33 UTC")
    .replace("request 06:00:01", "request 11:22:33")
    .replace("node-7 at 2026-12-07T06:00:00Z", "node-3 at 2026-12-08T11:22:33Z")
    .replace("<p>Creators", "<p\n   >Creators")
)


def test_the_normalised_text_keeps_the_rules_and_drops_the_noise() -> None:
    assert normalise_html(PAGE) == (
        "# Terms of Service\n"
        "Creators must disclose altered or synthetic content.\n"
        "- Made for kids: set the audience.\n"
        "- No spam.\n"
        "Page generated \u00b7 request\n"
    )


def test_noise_gives_the_same_hash_and_a_rule_change_does_not() -> None:
    assert snapshot_hash(normalise_html(NOISY)) == snapshot_hash(normalise_html(PAGE))
    changed = PAGE.replace("No spam.", "No spam or scams.")
    assert snapshot_hash(normalise_html(changed)) != snapshot_hash(normalise_html(PAGE))
    # A plain date is part of the rules (an effective date), not a render stamp.
    dated = PAGE.replace("No spam.", "No spam. Effective 2026-01-05.")
    redated = PAGE.replace("No spam.", "No spam. Effective 2026-02-05.")
    assert normalise_html(dated) != normalise_html(redated)


def test_the_normaliser_version_is_part_of_the_hash() -> None:
    text = normalise_html(PAGE)
    assert snapshot_hash(text) == snapshot_hash(text, NORMALISER_VERSION)
    assert snapshot_hash(text) != snapshot_hash(text, "policy-text/0")


def test_the_diff_is_unified_and_empty_when_equal() -> None:
    assert unified_diff("a\nb\n", "a\nb\n", "old", "new") == ""
    diff = unified_diff("a\nb\n", "a\nc\n", "old", "new")
    assert diff.splitlines()[:2] == ["--- old", "+++ new"]
    assert "-b" in diff.splitlines()
    assert "+c" in diff.splitlines()


def test_deep_nesting_and_empty_input_do_not_crash() -> None:
    assert normalise_html("") == ""
    deep = "<div>" * 20000 + "deep" + "</div>" * 20000
    assert normalise_html(deep) == "deep\n"
    assert normalise_html("<![if x]><!x") == normalise_html("<![if x]><!x")


html_like = st.lists(
    st.one_of(
        st.text(max_size=30),
        st.sampled_from(
            [
                "<p>",
                "</p>",
                "<div class='a' id=b>",
                "</div>",
                "<script>",
                "</script>",
                "<style>",
                "<!--",
                "-->",
                "<![CDATA[",
                "]]>",
                "<!DOCTYPE html>",
                "<?xml x?>",
                "<li>",
                "<br>",
                "<nav>",
                "&amp;",
                "&#0;",
                "&#xD800;",
                "\x00",
                "\ud800",
                "2026-12-07T06:00:00Z",
                "<",
                ">",
                "<h1>",
                "<table><tr><td>",
            ]
        ),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(html=html_like)
def test_the_normaliser_never_crashes_and_is_deterministic(html: str) -> None:
    first = normalise_html(html)
    assert first == normalise_html(html)
    assert first == "" or first.endswith("\n")
    first.encode("utf-8")  # storable: no lone surrogates
    assert snapshot_hash(first) == snapshot_hash(normalise_html(html))
    # Normalising the text again (as if it were HTML) changes nothing but escaping.
    assert all(line == line.strip() and line for line in first.splitlines())


NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
H1, H2 = "1" * 64, "2" * 64


def facts(
    provider: str = "youtube", category: str = "publish", policy: PolicyFacts | None = None
) -> GateFacts:
    return GateFacts(
        now=NOW,
        action=ActionFacts(provider, "video.upload", "chan", category, "0" * 64, 0),
        approval=None,
        credential=CredentialFacts(CredentialRequirement.NONE),
        policy=policy if policy is not None else PolicyFacts(),
    )


def watched(*pages: PageState) -> PolicyFacts:
    return PolicyFacts(watched=True, pages=pages, freshness=timedelta(days=7))


def test_the_gate_allows_other_categories_and_providers_without_a_monitor() -> None:
    stale = watched(PageState("u", H1, H1, NOW - timedelta(days=30)))
    assert PolicyGate().check(facts(category="other", policy=stale)).verdict is Verdict.ALLOW
    assert PolicyGate().check(facts(category="trade", policy=stale)).verdict is Verdict.ALLOW
    # The sandbox has no policy pages: its publish actions are not gated.
    assert PolicyGate().check(facts("sandbox")).verdict is Verdict.ALLOW
    for category in ("publish", "list"):
        assert PolicyGate().check(facts(category=category, policy=stale)).verdict is Verdict.HOLD


def test_the_gate_names_each_problem_and_the_worst_code() -> None:
    policy = watched(
        PageState("https://a/terms", H2, H1, NOW),
        PageState("https://b/rules", H1, H1, NOW - timedelta(days=8)),
        PageState("https://c/new", None, None, None),
    )
    result = PolicyGate().check(facts(policy=policy))
    assert result.verdict is Verdict.HOLD
    assert result.code is ErrorCode.POLICY_MISSING
    assert result.message is not None
    assert "https://c/new has no snapshot" in result.message
    assert "https://b/rules was last checked more than 7 days ago" in result.message
    assert f"autopack policy ack youtube --from {H1} --to {H2}" in result.message
    fresh = watched(PageState("https://a/terms", H1, H1, NOW - timedelta(days=7)))
    assert PolicyGate().check(facts(policy=fresh)).verdict is Verdict.ALLOW


def test_a_policy_hold_wins_over_a_missing_approval_in_the_pipeline() -> None:
    decision = decide(facts(policy=watched()))
    assert decision.verdict is Verdict.HOLD
    assert decision.code is ErrorCode.POLICY_MISSING
