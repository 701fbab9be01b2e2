"""`autopack policy ...` and /api/policy over a local policy site, on both backends:
the whole cycle through the CLI and the API, bad input as exit 2 / 4xx (never a
traceback or a 500), and `policy watch` as a real process stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from autopack.api.app import create_app
from autopack.services.runtime import build_runtime
from conftest import invoke_cli, make_settings, principal_headers
from policy.policy_site import PolicySite, serve_policy_site

V1 = "<html><body><h1>Terms</h1><p>Label AI-generated media.</p></body></html>"
V2 = V1.replace("AI-generated media", "AI-generated media and voices")


@pytest.fixture
def site() -> Iterator[PolicySite]:
    with serve_policy_site() as served:
        served.pages["/terms"] = V1
        yield served


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code, out, err = invoke_cli(list(args), capsys)
    assert "Traceback" not in out + err
    return code, out, err


def watch_local_only(capsys: pytest.CaptureFixture[str], site: PolicySite) -> None:
    """Replace YouTube's default (real, public) pages by the local site's page."""
    code, out, _ = cli(capsys, "policy", "pages", "list", "--provider", "youtube", "--json")
    assert code == 0
    for page in json.loads(out)["pages"]:
        assert (
            cli(capsys, "policy", "pages", "remove", "youtube", page["url"], "--as", "ops")[0] == 0
        )
    assert (
        cli(capsys, "policy", "pages", "add", "youtube", site.url("/terms"), "--as", "ops")[0] == 0
    )


def test_the_cli_cycle_fetch_change_diff_ack(
    cli_env: Path, site: PolicySite, capsys: pytest.CaptureFixture[str]
) -> None:
    watch_local_only(capsys, site)
    code, out, _ = cli(capsys, "policy", "fetch", "--provider", "youtube")
    assert code == 0
    assert f"youtube  {site.url('/terms')}  first" in out
    code, out, _ = cli(capsys, "policy", "status", "--provider", "youtube", "--json")
    (status,) = json.loads(out)["providers"]
    assert status["standing"] == "current"
    old = status["pages"][0]["current_hash"]

    site.pages["/terms"] = V2
    code, out, _ = cli(capsys, "policy", "fetch", "--provider", "youtube", "--json")
    (report,) = json.loads(out)["fetched"]
    assert report["outcome"] == "changed"
    new = report["hash"]
    code, out, _ = cli(capsys, "policy", "status", "--provider", "youtube")
    assert "youtube: unacknowledged" in out
    code, out, _ = cli(capsys, "policy", "diff", "youtube")
    assert code == 0
    assert "+Label AI-generated media and voices." in out
    assert f"autopack policy ack youtube --from {old} --to {new}" in out

    code, _, err = cli(capsys, "policy", "ack", "youtube", "--from", new, "--to", old)
    assert code == 2
    assert err.startswith("error: ")
    assert "not a pending policy change" in err
    code, out, _ = cli(capsys, "policy", "ack", "youtube", "--from", old, "--to", new, "--as", "al")
    assert code == 0
    assert "acknowledged youtube" in out
    code, out, _ = cli(capsys, "policy", "status", "--provider", "youtube", "--json")
    assert json.loads(out)["providers"][0]["standing"] == "current"
    code, out, _ = cli(capsys, "policy", "diff", "youtube")
    assert "nothing to acknowledge" in out


def test_a_failed_fetch_exits_3_and_is_reported(
    cli_env: Path, site: PolicySite, capsys: pytest.CaptureFixture[str]
) -> None:
    watch_local_only(capsys, site)
    site.failures["/terms"] = 500
    code, out, err = cli(capsys, "policy", "fetch", "--provider", "youtube")
    assert code == 3
    assert "failed: HTTP 500" in out
    assert "could not be fetched" in err
    code, out, _ = cli(capsys, "policy", "status", "--provider", "youtube")
    assert "missing" in out
    assert "last fetch failed: HTTP 500" in out


@pytest.mark.parametrize(
    "args",
    [
        ["policy", "pages", "add", "youtube", "not-a-url"],
        ["policy", "pages", "add", "youtube", "file:///etc/passwd"],
        ["policy", "pages", "add", "youtube", "https://user:pw@example.org/terms"],
        ["policy", "pages", "add", "sandbox", "https://example.org/terms"],
        ["policy", "pages", "remove", "youtube", "https://example.org/never-watched"],
        ["policy", "fetch", "--provider", "nosuch"],
        ["policy", "status", "--provider", "alpaca"],
        ["policy", "diff", "etsy\u00e9"],
        ["policy", "ack", "youtube", "--from", "zz", "--to", "yy"],
        ["policy", "ack", "youtube", "--from", "a" * 64, "--to", "b" * 64],
        ["policy", "ack", "youtube", "--from", "a" * 64],
        ["policy", "watch", "--every", "0s"],
        ["policy", "watch", "--every", "6 hours"],
        ["policy", "watch", "--rounds", "-1"],
    ],
)
def test_bad_input_exits_2_without_a_traceback(
    cli_env: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, out, err = cli(capsys, *args)
    assert code == 2, (out, err)
    assert (out + err).isascii()


def test_watch_runs_bounded_rounds(
    cli_env: Path, site: PolicySite, capsys: pytest.CaptureFixture[str]
) -> None:
    watch_local_only(capsys, site)
    code, out, err = cli(
        capsys, "policy", "watch", "--every", "1s", "--rounds", "2", "--provider", "youtube"
    )
    assert code == 0
    assert out.count(site.url("/terms")) == 2
    assert "stopped after 2 round(s)" in err


def test_watch_stops_cleanly_on_sigterm(
    cli_env: Path, site: PolicySite, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    watch_local_only(capsys, site)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    env.update(AUTOPACK_WORKSPACE=str(cli_env), AUTOPACK_DATABASE_URL=database_url)
    log = cli_env / "watch.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from autopack.cli import main; main()",
                *("policy", "watch", "--every", "1h", "--provider", "youtube"),
            ],
            env=env,
            cwd=cli_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while site.url("/terms") not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    shown = log.read_text(errors="replace")
    assert "stopped after 1 round(s)" in shown
    assert "Traceback" not in shown


def test_the_api_reads_and_acknowledges_as_an_operator(
    workspace: Path, database_url: str, site: PolicySite
) -> None:
    from autopack.services.policy_monitor import PolicyMonitor

    rt = build_runtime(make_settings(workspace, database_url, api_key="test-key-" + "k" * 40))
    try:
        monitor = PolicyMonitor(rt)
        for page in monitor.pages("youtube"):
            monitor.remove_page("youtube", page["url"], actor="ops")
        monitor.add_page("youtube", site.url("/terms"), actor="ops")
        old = monitor.fetch("youtube")[0]["hash"]
        site.pages["/terms"] = V2
        new = monitor.fetch("youtube")[0]["hash"]
        operator = principal_headers(rt, "olga", "operator")
        agent = principal_headers(rt, "agent7", "agent")
        with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as client:
            assert client.get("/api/policy", headers=agent).status_code == 403
            listed = client.get("/api/policy", headers=operator)
            assert listed.status_code == 200
            youtube = next(p for p in listed.json()["providers"] if p["provider"] == "youtube")
            assert youtube["standing"] == "unacknowledged"
            assert youtube["pages"][0]["current_hash"] == new
            assert {p["provider"] for p in listed.json()["providers"]} == {
                "etsy",
                "shopify",
                "youtube",
            }

            diff = client.get("/api/policy/youtube/diff", headers=operator)
            assert diff.status_code == 200
            (change,) = diff.json()["changes"]
            assert (change["from_hash"], change["to_hash"]) == (old, new)
            assert "+Label AI-generated media and voices." in change["diff"]
            assert client.get("/api/policy/sandbox/diff", headers=operator).json()["error"][
                "code"
            ] == ("policy_not_watched")

            body = {"from_hash": old, "to_hash": new}
            denied = client.post("/api/policy/youtube/ack", json=body, headers=agent)
            assert (denied.status_code, denied.json()["error"]["code"]) == (403, "forbidden")
            other = client.post(
                "/api/policy/youtube/ack", json=body | {"actor": "mallory"}, headers=operator
            )
            assert (other.status_code, other.json()["error"]["code"]) == (403, "identity_mismatch")
            bad = client.post(
                "/api/policy/youtube/ack", json={"from_hash": "x", "to_hash": new}, headers=operator
            )
            assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_policy_hash")
            wrong = client.post(
                "/api/policy/youtube/ack",
                json={"from_hash": new, "to_hash": old},
                headers=operator,
            )
            assert (wrong.status_code, wrong.json()["error"]["code"]) == (
                409,
                "policy_ack_mismatch",
            )
            assert (
                client.post("/api/policy/youtube/ack", json={}, headers=operator).status_code == 422
            )

            done = client.post("/api/policy/youtube/ack", json=body, headers=operator)
            assert done.status_code == 200
            (item,) = done.json()["acknowledged"]
            assert (item["by"], item["to_hash"]) == ("olga", new)
            again = client.get("/api/policy", headers=operator).json()["providers"]
            assert next(p for p in again if p["provider"] == "youtube")["standing"] == "current"
            assert client.get("/api/policy/youtube/diff", headers=operator).json()["changes"] == []
    finally:
        rt.close()
