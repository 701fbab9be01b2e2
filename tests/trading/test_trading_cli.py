"""`autopack trading ...` as separate processes against the Alpaca fake over
loopback (SQLite and PostgreSQL): register a strategy from a file, limits by
request and a second person's approval, an order through the ledger and a real
worker, sync and status, the kill switch with --flatten, a kill that cannot
reach the broker (exit 1, loud), resume by approval; and bad input fuzzed
through the in-process CLI (exit 2, one line, never a traceback)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import NotFoundError
from autopack.domain.trading.limits import COUNT_FIELDS, DECIMAL_FIELDS, FIELD_NAMES
from autopack.services.context import Runtime
from autopack.services.trading.service import TradingService
from conftest import invoke_cli
from fakes_support import FakesProcess, running_fakes

KEY_ID = "PKTRADINGCLIKEY00001"
SECRET = "cliSecretKey" + "Z9q" * 10
CODE = b"def decide(bars):\n    return 'buy'\n"

# What the command line prints and exits with does not depend on the database;
# the PostgreSQL paths of kills and promotions are run by tests/trading/
# test_trading_live.py and test_trading_flow.py on both backends (CI budget).
ONE_BACKEND = "command-line behaviour, run on SQLite; the service tests cover PostgreSQL"


@pytest.fixture
def fakes(tmp_path: Path) -> Iterator[FakesProcess]:
    with running_fakes(tmp_path, "alpaca") as running:
        running.control("POST", "/alpaca/prices", {"prices": {"AAPL": "100", "MSFT": "50"}})
        yield running


def subprocess_env(workspace: Path, database_url: str, fakes_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    env.update(
        AUTOPACK_WORKSPACE=str(workspace),
        AUTOPACK_DATABASE_URL=database_url,
        AUTOPACK_ALPACA_PAPER_URL=f"{fakes_url}/alpaca/paper",
        AUTOPACK_ALPACA_LIVE_URL=f"{fakes_url}/alpaca/live",
    )
    return env


class Cli:
    """`python -m autopack ...` in the test's workspace, against the fakes."""

    def __init__(self, workspace: Path, database_url: str, fakes_url: str) -> None:
        self.cwd = workspace
        self.env = subprocess_env(workspace, database_url, fakes_url)

    def run(self, *args: str, expect: int = 0, stdin: str = "") -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "autopack", *args],
            env=self.env,
            cwd=self.cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == expect, (args, proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        proc.stdout.encode("ascii")  # ASCII-only output
        return proc

    def json(self, *args: str, expect: int = 0) -> Any:
        return json.loads(self.run(*args, "--json", expect=expect).stdout)


def broker_get(fakes: FakesProcess, path: str, **params: str) -> Any:
    """The paper broker's own answer, read as a client would."""
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        response = client.get(
            f"{fakes.url}/alpaca/paper{path}",
            params=params,
            headers={"APCA-API-KEY-ID": KEY_ID, "APCA-API-SECRET-KEY": SECRET},
        )
    response.raise_for_status()
    return response.json()


def ready(cli: Cli, tmp_path: Path, **limits: str) -> dict[str, str]:
    """Strategy from a file, limits requested by olivia and approved by oscar, a
    paper key, a first broker read: all through the command line."""
    path = tmp_path / "momentum.py"
    path.write_bytes(CODE)
    registered = cli.json(
        "trading", "strategy", "register", "momentum", "--file", str(path), "--as", "olivia"
    )
    assert registered["applied"] is True
    assert registered["strategy"]["sha256"] == hashlib.sha256(CODE).hexdigest()
    options = [f"--{name.replace('_', '-')}={value}" for name, value in limits.items()]
    asked = cli.json("trading", "limits", "set", "--account", "main", *options, "--as", "olivia")
    assert asked["applied"] is False
    assert set(asked["loosened"]) == set(limits)
    request = asked["request"]
    # The requester cannot approve their own loosening.
    refused = cli.run(
        *("trading", "approve", str(request["id"]), "--hash", request["payload_hash"]),
        *("--as", "olivia"),
        expect=2,
    )
    assert "another person approves it" in refused.stderr
    approved = cli.run(
        *("trading", "approve", str(request["id"]), "--hash", request["payload_hash"]),
        *("--as", "oscar"),
    )
    assert f"request {request['id']} (limits) applied" in approved.stdout
    cli.run(
        *("credentials", "add-key", "--provider", "alpaca", "--account", "main"),
        *("--key-id", KEY_ID, "--environment", "paper"),
        stdin=SECRET + "\n",
    )
    assert cli.json("trading", "sync", "--account", "main")["ok"] is True
    return {"name": "momentum", "sha256": registered["strategy"]["sha256"]}


def order_through_the_ledger(
    cli: Cli, tmp_path: Path, key: str, strategy: dict[str, str], **terms: str
) -> None:
    payload = tmp_path / f"{key}.json"
    order = {
        "environment": "paper",
        "symbol": "AAPL",
        "side": "buy",
        "type": "limit" if "limit_price" in terms else "market",
        "time_in_force": "day",
        "strategy": strategy,
        **terms,
    }
    payload.write_text(json.dumps(order), encoding="utf-8")
    record = cli.json(
        *("actions", "propose", "--provider", "alpaca", "--action", "order.submit"),
        *("--account", "main", "--key", key, "--payload", str(payload)),
    )["action"]
    cli.run(
        *("approvals", "approve", str(record["approval_id"]), "--hash", record["payload_hash"]),
        *("--as", "alice"),
    )
    cli.run("worker", "--once")
    shown = cli.json("actions", "show", key)
    assert shown["action"]["status"] == "succeeded", (shown["waiting_reason"], shown["gates"])


def test_limits_order_status_kill_flatten_and_resume(
    workspace: Path, database_url: str, tmp_path: Path, fakes: FakesProcess
) -> None:
    cli = Cli(workspace, database_url, fakes.url)
    strategy = ready(
        cli,
        tmp_path,
        max_position_qty="10",
        max_order_notional="5000",
        symbols="AAPL,MSFT",
        max_orders_per_day="100",
    )
    assert [s["name"] for s in cli.json("trading", "strategy", "list")["strategies"]] == [
        "momentum"
    ]
    assert (
        "sha256 " + strategy["sha256"] in cli.run("trading", "strategy", "show", "momentum").stdout
    )
    shown = cli.run("trading", "limits", "show", "--account", "main").stdout
    assert "max_position_qty = 10  (largest absolute position per symbol" in shown
    assert "max_daily_loss = unset" in shown

    # Tightening applies at once.
    tightened = cli.run(
        "trading", "limits", "set", "--account", "main", "--max-order-notional", "4000"
    )
    assert "applied at once (tightening), version 2" in tightened.stdout
    # A strategy's own set only narrows the account's: applied at once too.
    narrowed = cli.run(
        *("trading", "limits", "set", "--account", "main", "--strategy", "momentum"),
        "--max-position-qty=8",
    )
    assert "limits of strategy momentum on account main applied at once" in narrowed.stdout
    assert "strategy momentum limits on main, version 1:" in (
        cli.run("trading", "limits", "show", "--account", "main").stdout
    )

    order_through_the_ledger(cli, tmp_path, "cli-buy-1", strategy, qty="3", limit_price="100")
    # The worker's trading duty already read the broker; a sync now finds the fill.
    synced = cli.run("trading", "sync", "--account", "main")
    assert "1 position(s)" in synced.stdout
    (status,) = cli.json("trading", "status")["accounts"]
    assert status["exposure"]["AAPL"]["position_qty"] == "3"
    assert status["exposure"]["AAPL"]["reserved_qty"] == "0"
    assert status["broker"]["age_seconds"] is not None
    text = cli.run("trading", "status", "--account", "main").stdout
    assert "account main: ACTIVE" in text
    assert "exposure AAPL: position 3" in text

    # An order left open at the broker (its limit is below the price).
    order_through_the_ledger(cli, tmp_path, "cli-buy-2", strategy, qty="1", limit_price="90")
    assert len(broker_get(fakes, "/v2/orders", status="open")) == 1

    killed = cli.run(
        *("trading", "kill", "--account", "main", "--reason", "cli kill", "--flatten"),
        *("--as", "olivia"),
    )
    for step in ("cancel-orders  orders.cancel_all  succeeded", "close-positions", "suspend"):
        assert step in killed.stdout
    assert killed.stderr == ""
    assert broker_get(fakes, "/v2/orders", status="open") == []
    assert broker_get(fakes, "/v2/positions") == []
    assert broker_get(fakes, "/v2/account/configurations")["suspend_trade"] is True
    (halted,) = cli.json("trading", "status", "--account", "main")["accounts"]
    assert (halted["state"], halted["state_reason"]) == ("halted", "cli kill")

    # Resume is a request; its approval lifts suspend_trade at the broker.
    asked = cli.json(
        "trading", "resume", "--account", "main", "--reason", "clear", "--as", "olivia"
    )
    request = asked["request"]
    listed = cli.run("trading", "requests").stdout
    assert f"{request['id']}  resume account main  pending  0 of 1 approvals" in listed
    resumed = cli.run(
        *("trading", "approve", str(request["id"]), "--hash", request["payload_hash"]),
        *("--as", "oscar"),
    )
    assert f"request {request['id']} (resume) applied" in resumed.stdout
    assert "lift-suspension  account.suspend_trading  succeeded" in resumed.stdout
    assert broker_get(fakes, "/v2/account/configurations")["suspend_trade"] is False
    assert cli.json("trading", "status", "--account", "main")["accounts"][0]["state"] == "active"
    assert cli.run("trading", "requests").stdout.strip() == "no pending trading requests"

    events = cli.json("trading", "events", "--account", "main", "--limit", "50")["events"]
    by_event = {e["event"]: e["actor"] for e in events}
    assert by_event["killed"] == "olivia"
    assert by_event["resumed"] == "oscar"
    assert fakes.stderr_problems() == []


@pytest.mark.parametrize(
    ("broker", "failing"),
    [
        # Unreachable: nothing happened there; a person decides.
        ("stopped", {"cancel-orders": "needs_attention", "suspend": "needs_attention"}),
        # Refused (a 4xx): a definite failure, never resent.
        ("refused", {"cancel-orders": "failed", "suspend": "failed"}),
        # One order could not be cancelled (207 with a 500 entry): maybe partly done,
        # so the reconciler checks the account and sends the DELETE again.
        ("partial", {"cancel-orders": "unknown"}),
    ],
)
def test_a_kill_the_broker_did_not_take_fails_loudly(
    workspace: Path,
    database_url: str,
    backend: str,
    tmp_path: Path,
    fakes: FakesProcess,
    broker: str,
    failing: dict[str, str],
) -> None:
    if backend == "postgresql":
        pytest.skip(ONE_BACKEND)
    cli = Cli(workspace, database_url, fakes.url)
    strategy = ready(cli, tmp_path, max_orders_per_day="100")
    if broker == "stopped":
        fakes.stop()
        failed_sync = cli.run("trading", "sync", "--account", "main", expect=1)
        assert "error: broker read of account main failed" in failed_sync.stderr
    elif broker == "refused":
        fakes.set_faults(
            {
                "provider": "alpaca",
                "kind": "status",
                "status": 403,
                "times": 10,
                "body": {"code": 40310000, "message": "request is not authorized"},
            }
        )
    else:
        order_through_the_ledger(cli, tmp_path, "open-1", strategy, qty="1", limit_price="90")
        fakes.set_faults({"provider": "alpaca", "kind": "partial_cancel"})
    killed = cli.run("trading", "kill", "--account", "main", "--reason", "panic", expect=1)
    assert f"ATTENTION: kill switch on account main: {len(failing)} of 2 broker step" in (
        killed.stderr
    )
    for step, status in failing.items():
        pattern = rf"^  trading-kill-main-\d+-{step}  {status}: \S"
        assert re.search(pattern, killed.stderr, re.MULTILINE), killed.stderr
    failed_keys = re.findall(r"^  (trading-kill-\S+)  ", killed.stderr, re.MULTILINE)
    assert len(failed_keys) == len(failing)
    for key in failed_keys:
        assert cli.json("actions", "show", key)["action"]["status"] == failing[key.split("-", 4)[4]]
    # Autopack's own state is HALTED whatever the broker did.
    assert cli.json("trading", "status", "--account", "main")["accounts"][0]["state"] == "halted"


def test_promotion_by_two_then_voided_by_loosening_and_a_voided_approval_exits_1(
    workspace: Path, database_url: str, backend: str, tmp_path: Path, fakes: FakesProcess
) -> None:
    if backend == "postgresql":
        pytest.skip(ONE_BACKEND)
    cli = Cli(workspace, database_url, fakes.url)
    ready(cli, tmp_path, max_order_notional="1000")
    promotion = cli.json(
        *("trading", "promote", "--account", "main", "--strategy", "momentum", "--days", "3"),
        *("--as", "olivia"),
    )["request"]
    assert promotion["required_approvals"] == 2
    approve = ("trading", "approve", str(promotion["id"]), "--hash", promotion["payload_hash"])
    once = cli.run(*approve, "--as", "oscar")
    assert f"request {promotion['id']} (promote) still pending: 1 of 2 approvals" in once.stdout
    again = cli.run(*approve, "--as", "oscar", expect=2)
    assert "already approved" in again.stderr
    assert "(promote) applied" in cli.run(*approve, "--as", "otto").stdout
    (promoted,) = cli.json("trading", "status", "--account", "main")["accounts"][0]["promotions"]
    assert promoted["strategy"] == "momentum"
    assert "promotion " in cli.run("trading", "status").stdout

    first = cli.json(
        "trading", "limits", "set", "--account", "main", "--max-order-notional", "2000"
    )["request"]
    second = cli.json(
        "trading", "limits", "set", "--account", "main", "--unset", "max_order_notional"
    )
    assert second["loosened"] == ["max_order_notional"]
    for request, expect in ((first, 0), (second["request"], 1)):
        done = cli.run(
            *("trading", "approve", str(request["id"]), "--hash", request["payload_hash"]),
            *("--as", "oscar"),
            expect=expect,
        )
    assert f"request {second['request']['id']} was voided" in done.stderr
    (status,) = cli.json("trading", "status", "--account", "main")["accounts"]
    assert status["limits"]["account"]["limits"]["max_order_notional"] == "2000"
    # The loosening voided the promotion: live must be promoted again.
    assert status["promotions"] == []
    decided = cli.json("trading", "requests", "--all")["requests"]
    assert [r["status"] for r in decided] == ["applied", "applied", "applied", "voided"]
    third = cli.json(
        "trading", "limits", "set", "--account", "main", "--max-order-notional", "3000"
    )["request"]
    rejected = cli.run(
        *("trading", "reject", str(third["id"]), "--reason", "too loose", "--as", "oscar")
    )
    assert f"request {third['id']} (limits) rejected" in rejected.stdout
    assert "rejected by oscar: too loose" in cli.run("trading", "requests", "--all").stdout


# -- bad input: exit 2, never a traceback ------------------------------------------------

NO_DIGITS = st.text(max_size=12).filter(lambda s: not any(c.isdigit() for c in s))
BAD_AMOUNTS = st.one_of(
    NO_DIGITS,
    st.decimals(max_value=0, allow_nan=False).map(str),
    st.decimals(min_value="1000000000001", max_value="1e20", places=0).map(str),
    st.sampled_from(["nan", "inf", "-Infinity", "1e13", "0", "-0.0", "1,5"]),
)
BAD_COUNTS = st.one_of(
    NO_DIGITS,
    st.integers(max_value=0).map(str),
    st.integers(min_value=1_000_001).map(str),
    st.sampled_from(["1.5", "2e3", "ten"]),
)
BAD_NAMES = st.text(min_size=1, max_size=30).filter(
    lambda s: s.strip().lower().replace("-", "_") not in FIELD_NAMES
)


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


BAD_COMMANDS = st.one_of(
    st.tuples(st.sampled_from(DECIMAL_FIELDS), BAD_AMOUNTS).map(
        lambda fv: ["trading", "limits", "set", "--account=main", f"{_option(fv[0])}={fv[1]}"]
    ),
    st.sampled_from(["100", "150", "1e3"]).map(
        lambda v: ["trading", "limits", "set", "--account=main", f"--max-drawdown-pct={v}"]
    ),
    st.tuples(st.sampled_from(COUNT_FIELDS), BAD_COUNTS).map(
        lambda fv: ["trading", "limits", "set", "--account=main", f"{_option(fv[0])}={fv[1]}"]
    ),
    BAD_NAMES.map(lambda n: ["trading", "limits", "set", "--account=main", f"--unset={n}"]),
    NO_DIGITS.map(lambda s: ["trading", "limits", "set", "--account=main", f"--symbols={s},$"]),
    st.text(max_size=20).map(lambda a: ["trading", "limits", "show", f"--account={a}"]),
    st.text(max_size=20).map(lambda a: ["trading", "status", f"--account={a}"]),
    st.text(max_size=20).map(lambda n: ["trading", "strategy", "show", "--", n]),
    st.one_of(st.integers().map(str), st.text(max_size=12)).map(
        lambda i: ["trading", "approve", "--hash", "0" * 64, "--", i]
    ),
    st.one_of(st.integers().map(str), st.text(max_size=12)).map(
        lambda i: ["trading", "reject", "--reason", "no", "--", i]
    ),
    st.text(max_size=12).map(
        lambda t: ["trading", "resume", "--account=main", "--reason=x", f"--to={t}z"]
    ),
    st.integers()
    .filter(lambda n: not 1 <= n <= 90)
    .map(lambda d: ["trading", "promote", "--account=main", "--strategy=s", f"--days={d}"]),
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(argv=BAD_COMMANDS)
def test_bad_input_exits_2_with_one_line_and_no_traceback(
    cli_env: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, stdout, stderr = invoke_cli(argv, capsys)
    assert code == 2, (argv, stdout, stderr)
    assert "Traceback" not in stderr
    stderr.encode("ascii")
    # Our own refusals are one line; Typer's usage errors end in one "Error:" line.
    lines = stderr.strip().splitlines()
    one_line = len(lines) == 1 and lines[0].startswith("error: ")
    assert one_line or lines[-1].startswith("Error: "), (argv, stderr)


@pytest.mark.parametrize("request_id", [0, -1, 2**31])
def test_a_request_id_out_of_range_is_not_found(runtime: Runtime, request_id: int) -> None:
    # Regression: the range check raised InvalidInputError with a not_found code,
    # which the error class refuses (TypeError: an internal error, exit 4 / a 500).
    service = TradingService(runtime)
    calls: list[Callable[[], object]] = [
        lambda: service.request(request_id),
        lambda: service.approve(request_id, "0" * 64, actor="oscar"),
        lambda: service.reject(request_id, reason="no", actor="oscar"),
    ]
    for call in calls:
        with pytest.raises(NotFoundError) as caught:
            call()
        assert caught.value.code is ErrorCode.TRADING_REQUEST_NOT_FOUND
