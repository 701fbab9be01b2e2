"""The policy monitor against a local policy site (127.0.0.1), on both backends:
first fetch, same content, changed content and its acknowledgement, a stale
snapshot, failed fetches, and the gate's answer (with the claim query's SQL
pre-filter agreeing) at every step."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, literal, select, text
from sqlalchemy.exc import DBAPIError

from autopack.db.models import PolicySnapshotRow
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConflictError, InvalidInputError, NotFoundError
from autopack.domain.gates import ActionFacts, CredentialFacts, CredentialRequirement, GateFacts
from autopack.domain.gates.policy import PolicyGate
from autopack.domain.layout import policy_diff_path, policy_snapshot_path
from autopack.domain.policy import normalise_html, snapshot_hash
from autopack.services.context import Runtime
from autopack.services.gates import GateService
from autopack.services.ledger import make_store
from autopack.services.policy_monitor import PolicyMonitor, PolicyRef
from autopack.services.runtime import build_runtime
from conftest import make_settings
from policy.policy_site import PolicySite, serve_policy_site

SNAPSHOTS = cast(Table, PolicySnapshotRow.__table__)
START = datetime(2026, 12, 1, 9, tzinfo=UTC)
TERMS = (
    "<html><head><script>var build = 1;</script></head><body>"
    "<nav><a href='/'>Home</a></nav>"
    "<h1 class='title' id='t'>Terms of Service</h1>"
    "<p>Disclose synthetic or AI-generated media.</p>"
    "<footer>Rendered 2026-12-01T09:00:00Z</footer></body></html>"
)
# The same rules, rendered again: attribute order, script and footer stamp differ.
TERMS_RENDERED_AGAIN = (
    "<html><head><script>var build = 2; track();</script></head><body>"
    "<nav><a href='/'>Home</a></nav>"
    "<h1 id='t' class='title'>Terms of Service</h1>"
    "<p>Disclose synthetic or AI-generated media.</p>"
    "<footer>Rendered 2026-12-02T17:45:12Z</footer></body></html>"
)
TERMS_CHANGED = TERMS.replace("AI-generated media.", "AI-generated media and voices.")
GUIDELINES = "<html><body><h2>Community</h2><ul><li>No spam</li></ul></body></html>"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Bench:
    rt: Runtime
    site: PolicySite
    clock: Clock
    monitor: PolicyMonitor

    @property
    def terms(self) -> str:
        return self.site.url("/terms")

    def hold(self) -> str | None:
        """The policy gate's hold for a YouTube upload now (None: allowed); the claim
        query's SQL pre-filter must say the same."""
        gates = GateService(make_store(self.rt), requirements={})
        now = self.clock()
        with self.rt.engine.connect() as conn:
            facts = GateFacts(
                now=now,
                action=ActionFacts("youtube", "video.upload", "chan", "publish", "0" * 64, 0),
                approval=None,
                credential=CredentialFacts(CredentialRequirement.NONE),
                policy=gates.policy(conn, "youtube", "publish"),
            )
            result = PolicyGate().check(facts)
            clause = gates.hold_free_clause(
                literal("youtube"), literal("chan"), category=literal("publish"), now=now
            )
            clear = bool(conn.execute(select(clause)).scalar_one())
        message = result.message if result.verdict.value == "hold" else None
        assert clear == (message is None), (clear, message)
        return message

    def code(self) -> ErrorCode | None:
        gates = GateService(make_store(self.rt), requirements={})
        with self.rt.engine.connect() as conn:
            facts = GateFacts(
                now=self.clock(),
                action=ActionFacts("youtube", "video.upload", "chan", "publish", "0" * 64, 0),
                approval=None,
                credential=CredentialFacts(CredentialRequirement.NONE),
                policy=gates.policy(conn, "youtube", "publish"),
            )
        return PolicyGate().check(facts).code


def watch_only(monitor: PolicyMonitor, provider: str, urls: list[str]) -> None:
    """Replace the provider's default (real, public) pages with local ones: no test
    ever fetches the real pages."""
    for page in monitor.pages(provider):
        monitor.remove_page(provider, page["url"], actor="ops")
    for url in urls:
        monitor.add_page(provider, url, actor="ops")
    assert sorted(p["url"] for p in monitor.pages(provider)) == sorted(urls)


@pytest.fixture
def bench(workspace: Path, database_url: str) -> Iterator[Bench]:
    with serve_policy_site() as site:
        rt = build_runtime(make_settings(workspace, database_url, policy_max_page_bytes=4096))
        clock = Clock()
        rt.clock = clock
        site.pages["/terms"] = TERMS
        site.pages["/guidelines"] = GUIDELINES
        monitor = PolicyMonitor(rt)
        watch_only(monitor, "youtube", [site.url("/terms"), site.url("/guidelines")])
        try:
            yield Bench(rt, site, clock, monitor)
        finally:
            rt.close()


def outcomes(reports: list[dict[str, Any]]) -> dict[str, str]:
    return {r["url"].rsplit("/", 1)[1]: r["outcome"] for r in reports}


def test_before_any_fetch_the_gate_holds_with_the_fetch_command(bench: Bench) -> None:
    message = bench.hold()
    assert message is not None
    assert "has no snapshot" in message
    assert "autopack policy fetch --provider youtube" in message
    assert bench.code() is ErrorCode.POLICY_MISSING
    assert bench.monitor.status("youtube")[0]["standing"] == "missing"


def test_first_fetch_stores_a_content_addressed_snapshot(bench: Bench) -> None:
    reports = bench.monitor.fetch("youtube")
    assert outcomes(reports) == {"guidelines": "first", "terms": "first"}
    expected_text = normalise_html(TERMS)
    assert (
        expected_text == "# Terms of Service\nDisclose synthetic or AI-generated media.\nRendered\n"
    )
    digest = snapshot_hash(expected_text)
    terms = next(r for r in reports if r["url"] == bench.terms)
    assert terms["hash"] == digest
    path = policy_snapshot_path(bench.rt.workspace, "youtube", digest)
    assert path.read_text(encoding="utf-8") == expected_text
    with bench.rt.engine.connect() as conn:
        stored = conn.execute(
            select(SNAPSHOTS.c.text, SNAPSHOTS.c.normaliser_version, SNAPSHOTS.c.diff).where(
                SNAPSHOTS.c.hash == digest
            )
        ).one()
    assert stored.text == expected_text
    assert stored.normaliser_version == "policy-text/1"
    assert stored.diff is None
    assert bench.hold() is None
    (status,) = bench.monitor.status("youtube")
    assert status["standing"] == "current"
    assert {p["standing"] for p in status["pages"]} == {"current"}


def test_same_content_is_no_change_and_uses_conditional_requests(bench: Bench) -> None:
    bench.monitor.fetch("youtube")
    bench.clock.now += timedelta(days=3)
    again = bench.monitor.fetch("youtube")
    assert outcomes(again) == {"guidelines": "not_modified", "terms": "not_modified"}
    terms_requests = [r for r in bench.site.requests if r[0] == "/terms"]
    assert terms_requests[0][1:] == (None, None)
    assert terms_requests[-1][1] == PolicySite.etag(TERMS)
    assert terms_requests[-1][2] is not None  # If-Modified-Since sent back too
    # Rendered again (new script, attribute order, footer stamp): 200, same hash.
    bench.site.pages["/terms"] = TERMS_RENDERED_AGAIN
    rendered = bench.monitor.fetch("youtube")
    assert outcomes(rendered)["terms"] == "unchanged"
    with bench.rt.engine.connect() as conn:
        assert conn.execute(select(SNAPSHOTS.c.id)).all().__len__() == 2
    # Each successful check renews freshness: 3 + 5 days after the first, still fresh.
    bench.clock.now += timedelta(days=5)
    assert bench.hold() is None


def test_a_change_holds_until_its_exact_pair_is_acknowledged(bench: Bench) -> None:
    first = {r["url"]: r["hash"] for r in bench.monitor.fetch("youtube")}
    old = first[bench.terms]
    bench.site.pages["/terms"] = TERMS_CHANGED
    changed = {r["url"]: r for r in bench.monitor.fetch("youtube")}[bench.terms]
    new = changed["hash"]
    assert changed["outcome"] == "changed"
    assert changed["previous_hash"] == old
    assert "-Disclose synthetic or AI-generated media." in changed["diff"]
    assert "+Disclose synthetic or AI-generated media and voices." in changed["diff"]
    diff_file = policy_diff_path(bench.rt.workspace, "youtube", old, new)
    assert diff_file.read_text(encoding="utf-8") == changed["diff"]

    message = bench.hold()
    assert message is not None
    assert f"autopack policy ack youtube --from {old} --to {new}" in message
    assert bench.code() is ErrorCode.POLICY_UNACKNOWLEDGED
    (pending,) = bench.monitor.pending("youtube")
    assert (pending["from_hash"], pending["to_hash"]) == (old, new)
    assert "+Disclose synthetic or AI-generated media and voices." in pending["diff"]

    # Re-fetching the same (changed) content never clears it.
    assert outcomes(bench.monitor.fetch("youtube"))["terms"] == "not_modified"
    bench.site.pages["/terms"] = TERMS_CHANGED.replace("<p>", "<p >")
    assert outcomes(bench.monitor.fetch("youtube"))["terms"] == "unchanged"
    assert bench.hold() is not None

    # A wrong pair is refused with the pending one named.
    with pytest.raises(ConflictError) as wrong:
        bench.monitor.ack("youtube", from_hash=new, to_hash=old, actor="alice")
    assert wrong.value.code is ErrorCode.POLICY_ACK_MISMATCH
    assert f"--from {old} --to {new}" in wrong.value.message
    with pytest.raises(InvalidInputError) as malformed:
        bench.monitor.ack("youtube", from_hash="abc", to_hash=new, actor="alice")
    assert malformed.value.code is ErrorCode.INVALID_POLICY_HASH
    assert bench.hold() is not None

    done = bench.monitor.ack("youtube", from_hash=old, to_hash=new, actor="alice")
    assert [(d["url"], d["by"]) for d in done] == [(bench.terms, "alice")]
    assert bench.hold() is None
    assert bench.monitor.pending("youtube") == []
    with pytest.raises(ConflictError, match="nothing is pending"):
        bench.monitor.ack("youtube", from_hash=old, to_hash=new, actor="alice")

    # A later change needs a new acknowledgement; the old pair does not cover it.
    bench.site.pages["/terms"] = TERMS_CHANGED.replace("voices", "likenesses")
    newer = {r["url"]: r["hash"] for r in bench.monitor.fetch("youtube")}[bench.terms]
    assert bench.hold() is not None
    with pytest.raises(ConflictError):
        bench.monitor.ack("youtube", from_hash=old, to_hash=new, actor="alice")
    bench.monitor.ack("youtube", from_hash=new, to_hash=newer, actor="bob")
    assert bench.hold() is None


def test_a_stale_snapshot_holds_and_a_failed_fetch_keeps_it_stale(bench: Bench) -> None:
    bench.monitor.fetch("youtube")
    bench.clock.now += timedelta(days=7)  # exactly the window: still fresh
    assert bench.hold() is None
    bench.clock.now += timedelta(microseconds=1)
    message = bench.hold()
    assert message is not None
    assert "last checked more than 7 days ago" in message
    assert bench.code() is ErrorCode.POLICY_STALE
    assert bench.monitor.status("youtube")[0]["standing"] == "stale"

    bench.site.failures["/terms"] = 503
    reports = bench.monitor.fetch("youtube")
    terms = next(r for r in reports if r["url"] == bench.terms)
    assert terms["outcome"] == "failed"
    assert "HTTP 503" in terms["error"]
    assert outcomes(reports)["guidelines"] == "not_modified"
    assert bench.code() is ErrorCode.POLICY_STALE  # the failed page is still stale
    page = next(p for p in bench.monitor.status("youtube")[0]["pages"] if p["url"] == bench.terms)
    assert page["standing"] == "stale"
    assert "HTTP 503" in page["last_error"]

    del bench.site.failures["/terms"]
    assert outcomes(bench.monitor.fetch("youtube"))["terms"] == "not_modified"
    assert bench.hold() is None


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/big", "byte cap"),
        ("/loop0", "redirects"),
        ("/gone", "HTTP 404"),
    ],
)
def test_bounded_fetches_fail_without_a_snapshot(bench: Bench, path: str, words: str) -> None:
    bench.site.pages["/big"] = "<p>" + "x" * 5000 + "</p>"
    watch_only(bench.monitor, "youtube", [bench.site.url(path)])
    (report,) = bench.monitor.fetch("youtube")
    assert report["outcome"] == "failed"
    assert words in report["error"]
    assert bench.code() is ErrorCode.POLICY_MISSING


def test_an_unreachable_site_is_a_failed_fetch(bench: Bench) -> None:
    watch_only(bench.monitor, "youtube", ["http://127.0.0.1:9/terms"])
    (report,) = bench.monitor.fetch("youtube")
    assert report["outcome"] == "failed"
    assert bench.code() is ErrorCode.POLICY_MISSING


def test_removing_and_adding_a_page_keeps_its_pending_change(bench: Bench) -> None:
    bench.monitor.fetch("youtube")
    bench.site.pages["/terms"] = TERMS_CHANGED
    bench.monitor.fetch("youtube")
    bench.monitor.remove_page("youtube", bench.terms, actor="ops")
    assert bench.hold() is None  # only the guidelines are watched now
    with pytest.raises(NotFoundError):
        bench.monitor.remove_page("youtube", bench.terms, actor="ops")
    bench.monitor.add_page("youtube", bench.terms, actor="ops")
    assert bench.code() is ErrorCode.POLICY_UNACKNOWLEDGED


def test_a_watched_provider_with_no_pages_holds(bench: Bench) -> None:
    watch_only(bench.monitor, "youtube", [])
    message = bench.hold()
    assert message is not None
    assert "autopack policy pages add youtube URL" in message


def test_snapshot_refs_for_publish_packets(bench: Bench) -> None:
    assert bench.monitor.current_refs("youtube") == []
    bench.monitor.fetch("youtube")
    refs = bench.monitor.current_refs("youtube")
    assert {r.url for r in refs} == {bench.terms, bench.site.url("/guidelines")}
    terms_ref = next(r for r in refs if r.url == bench.terms)
    assert terms_ref == PolicyRef("youtube", bench.terms, snapshot_hash(normalise_html(TERMS)))
    assert bench.monitor.is_current(terms_ref)
    bench.site.pages["/terms"] = TERMS_CHANGED
    new = {r["url"]: r["hash"] for r in bench.monitor.fetch("youtube")}[bench.terms]
    assert not bench.monitor.is_current(terms_ref)
    assert {r.url for r in bench.monitor.current_refs("youtube")} == {bench.site.url("/guidelines")}
    bench.monitor.ack("youtube", from_hash=terms_ref.hash, to_hash=new, actor="alice")
    assert bench.monitor.is_current(PolicyRef("youtube", bench.terms, new))
    assert not bench.monitor.is_current(terms_ref)


def test_providers_without_a_policy_monitor_are_refused(bench: Bench) -> None:
    for call in (
        lambda: bench.monitor.add_page("sandbox", "https://example.org/terms", actor="ops"),
        lambda: bench.monitor.pending("alpaca"),
        lambda: bench.monitor.current_refs("sandbox"),
    ):
        with pytest.raises(InvalidInputError) as refused:
            call()
        assert refused.value.code is ErrorCode.POLICY_NOT_WATCHED
    with pytest.raises(InvalidInputError) as bad_url:
        bench.monitor.add_page("youtube", "ftp://example.org/terms", actor="ops")
    assert bad_url.value.code is ErrorCode.INVALID_POLICY_URL


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE policy_snapshots SET text = 'forged'",
        "DELETE FROM policy_snapshots",
        "UPDATE policy_fetches SET outcome = 'first'",
        "DELETE FROM policy_acks",
        "DELETE FROM policy_pages",
    ],
)
def test_policy_history_cannot_be_rewritten(bench: Bench, statement: str) -> None:
    bench.monitor.fetch("youtube")
    bench.site.pages["/terms"] = TERMS_CHANGED
    changed = {r["url"]: r for r in bench.monitor.fetch("youtube")}[bench.terms]
    bench.monitor.ack(
        "youtube", from_hash=changed["previous_hash"], to_hash=changed["hash"], actor="alice"
    )
    with pytest.raises(DBAPIError), bench.rt.engine.begin() as conn:
        conn.execute(text(statement))


def test_a_history_row_cannot_be_replaced_by_its_id(bench: Bench) -> None:
    bench.monitor.fetch("youtube")
    with bench.rt.engine.connect() as conn:
        row = (
            conn.execute(text("SELECT * FROM policy_fetches ORDER BY id LIMIT 1")).mappings().one()
        )
    values = dict(row) | {"outcome": "forged"}
    names = ", ".join(values)
    marks = ", ".join(f":{c}" for c in values)
    if bench.rt.engine.dialect.name == "postgresql":
        statement = (
            f"INSERT INTO policy_fetches ({names}) VALUES ({marks}) "  # noqa: S608 - test constants
            "ON CONFLICT (id) DO UPDATE SET outcome = EXCLUDED.outcome"
        )
    else:
        statement = f"INSERT OR REPLACE INTO policy_fetches ({names}) VALUES ({marks})"  # noqa: S608
    with pytest.raises(DBAPIError, match="insert-only"), bench.rt.engine.begin() as conn:
        conn.execute(text(statement), values)
