"""Every provider action with an adapter has an example payload, and `actions
render` and `actions propose` accept each example as is."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from autopack.providers.registry import PROVIDERS
from autopack.services.context import Runtime
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.packets import PacketService
from conftest import invoke_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DISPATCHABLE = sorted(
    (unit.name, action)
    for unit in PROVIDERS
    if unit.adapter_factory is not None
    for action in unit.actions
)
FOUND = sorted(
    (path.parent.parent.name, path.parent.name) for path in EXAMPLES.glob("*/*/payload.json")
)


PACKET_ACTIONS = sorted(
    (unit.name, unit.packet.action) for unit in PROVIDERS if unit.packet is not None
)


def test_every_dispatchable_action_has_exactly_its_example() -> None:
    assert FOUND == DISPATCHABLE


@pytest.mark.parametrize(("provider", "action"), [p for p in PACKET_ACTIONS if p in FOUND])
def test_a_packet_example_is_the_packet_its_spec_and_media_build(
    provider: str, action: str
) -> None:
    """payload.json of a packet action is the packet built from packet.json and the
    media beside it, with the repository as the workspace (so it stays in step)."""
    folder = EXAMPLES / provider / action
    media = sorted(p for p in folder.iterdir() if p.name not in {"packet.json", "payload.json"})
    document, _ = PacketService(ROOT).assemble(folder / "packet.json", media)
    assert json.loads((folder / "payload.json").read_text("utf-8")) == document


def test_the_order_example_names_the_hash_of_its_strategy_file() -> None:
    """Every order names its registered strategy by hash: the example's is its file's."""
    folder = EXAMPLES / "alpaca" / "order.submit"
    payload = json.loads((folder / "payload.json").read_text("utf-8"))
    digest = hashlib.sha256((folder / "strategy.py").read_bytes()).hexdigest()
    assert payload["strategy"] == {"name": "example-momentum", "sha256": digest}


@pytest.mark.parametrize(("provider", "action"), FOUND)
def test_render_accepts_the_example_and_is_stable(
    provider: str, action: str, capsys: pytest.CaptureFixture[str], cli_env: Path
) -> None:
    payload = EXAMPLES / provider / action / "payload.json"
    args = ["actions", "render", "--provider", provider, "--action", action]
    args += ["--payload", str(payload), "--key", "example-1"]
    code, first, err = invoke_cli(args, capsys)
    assert (code, err) == (0, "")
    again = invoke_cli(args, capsys)
    assert again == (0, first, "")  # byte-identical across runs
    shown = json.loads(first)
    assert shown["render"]["method"] in {"GET", "POST", "PUT", "PATCH", "DELETE"}
    assert first.isascii()


@pytest.mark.parametrize(("provider", "action"), FOUND)
def test_propose_records_the_example_with_the_rendered_hash(
    provider: str, action: str, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = json.loads((EXAMPLES / provider / action / "payload.json").read_text("utf-8"))
    proposal = LedgerService(runtime).propose(
        IntentRequest(
            provider=provider, action=action, account="default", key="ex-1", payload=payload
        )
    )
    assert proposal.created
    assert proposal.record.request_hash == proposal.rendered.request_hash


def test_render_refuses_bad_input_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_env: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"qty": 1.5}', encoding="utf-8")
    base = ["actions", "render", "--action", "video.upload", "--payload"]
    for args in (
        [*base, str(bad), "--provider", "sandbox"],  # a float
        [*base, str(tmp_path / "missing.json"), "--provider", "sandbox"],
        [*base, str(bad), "--provider", "nosuch"],
    ):
        code, out, err = invoke_cli(args, capsys)
        assert code == 2, (args, out, err)
        assert err.startswith("error:")
        assert "Traceback" not in err
