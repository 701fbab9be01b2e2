"""Publish packets: deterministic content-addressed builds, every refusal, the
stored file checked against its name, and the packet action's payload contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autopack.domain.packets import (
    PACKET_SCHEMA,
    PacketError,
    PacketNotFoundError,
    adapter_payload,
    media_workspace_path,
    sniff_content_type,
)
from autopack.domain.providers import Intent, RenderedRequest
from autopack.providers.etsy.packet import PACKET_PROFILE as ETSY
from autopack.providers.youtube.packet import PACKET_PROFILE as YOUTUBE
from autopack.services.context import Runtime
from autopack.services.packet_dispatch import PacketAdapter
from autopack.services.packets import PacketService
from conftest import invoke_cli

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 8
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def youtube_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "provider": "youtube",
        "action": "video.upload",
        "fields": {
            "title": "Clay mug timelapse",
            "description": "Made by hand.",
            "privacyStatus": "private",
            "tags": ["pottery"],
        },
        "disclosures": {"containsSyntheticMedia": False, "selfDeclaredMadeForKids": False},
        "compliance": {"reviewed": True},
    }
    spec.update(overrides)
    return spec


def write(path: Path, data: bytes | dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return path


def build(workspace: Path, spec: dict[str, Any], media: dict[str, bytes]) -> Any:
    spec_path = write(workspace / "in" / "spec.json", spec)
    files = [write(workspace / "in" / name, data) for name, data in media.items()]
    return PacketService(workspace).build(spec_path, files)


def test_a_packet_is_byte_identical_across_builds_and_workspaces(tmp_path: Path) -> None:
    first = build(tmp_path / "a", youtube_spec(), {"clip.mp4": MP4})
    again = build(tmp_path / "a", youtube_spec(), {"clip.mp4": MP4})
    elsewhere = build(tmp_path / "deeper" / "b", youtube_spec(), {"clip.mp4": MP4})
    assert first.created
    assert not again.created
    assert first.packet_id == again.packet_id == elsewhere.packet_id
    assert first.path.read_bytes() == elsewhere.path.read_bytes()
    text = first.path.read_text("utf-8")
    assert str(tmp_path) not in text  # no absolute path inside
    media = first.document["media"][0]
    assert media == {
        "name": "clip.mp4",
        "path": "in/clip.mp4",
        "size": len(MP4),
        "sha256": media["sha256"],
        "content_type": "video/mp4",
    }
    assert first.document["schema"] == PACKET_SCHEMA
    changed = build(tmp_path / "c", youtube_spec(), {"clip.mp4": MP4[:-1] + b"\x01"})
    assert changed.packet_id != first.packet_id


@pytest.mark.parametrize(
    ("spec", "media", "code"),
    [
        (
            youtube_spec(disclosures={"selfDeclaredMadeForKids": False}),
            {"c.mp4": MP4},
            "missing_disclosure",
        ),
        (
            youtube_spec(disclosures={"containsSyntheticMedia": False}),
            {"c.mp4": MP4},
            "missing_disclosure",
        ),
        (
            youtube_spec(
                disclosures={"containsSyntheticMedia": "no", "selfDeclaredMadeForKids": False}
            ),
            {"c.mp4": MP4},
            "invalid_packet",
        ),
        (
            youtube_spec(fields={"title": "x" * 101, "privacyStatus": "private"}),
            {"c.mp4": MP4},
            "text_over_limit",
        ),
        (youtube_spec(fields={"privacyStatus": "private"}), {"c.mp4": MP4}, "invalid_packet"),
        (youtube_spec(), {"c.mp4": PNG}, "media_type_mismatch"),
        (youtube_spec(), {}, "invalid_packet"),
        (youtube_spec(), {"a.mp4": MP4, "b.mp4": MP4}, "invalid_packet"),
        (youtube_spec(action="video.delete"), {"c.mp4": MP4}, "invalid_packet"),
        (youtube_spec(provider="sandbox"), {"c.mp4": MP4}, "invalid_packet"),
        ({**youtube_spec(), "extra": 1}, {"c.mp4": MP4}, "invalid_packet"),
    ],
)
def test_every_refusal_names_its_reason(
    tmp_path: Path, spec: dict[str, Any], media: dict[str, bytes], code: str
) -> None:
    with pytest.raises(PacketError) as caught:
        build(tmp_path, spec, media)
    assert caught.value.code == code
    assert not (tmp_path / ".autonomous_runs").exists()  # nothing written


def test_etsy_needs_who_and_when_made_from_its_pinned_lists(tmp_path: Path) -> None:
    spec = {
        "provider": "etsy",
        "action": "listing.create",
        "fields": {"title": "Mug", "description": "Stoneware."},
        "disclosures": {"who_made": "i_did", "when_made": "2020_2026"},
    }
    built = build(tmp_path, spec, {"front.png": PNG})
    assert built.document["disclosures"] == {"who_made": "i_did", "when_made": "2020_2026"}
    payload: dict[str, Any] = adapter_payload(built.document, ETSY)
    assert payload["images"][0]["path"] == "in/front.png"
    for bad in ({"who_made": "a_robot", "when_made": "2020_2026"}, {"who_made": "i_did"}):
        with pytest.raises(PacketError):
            build(tmp_path / "x", {**spec, "disclosures": bad}, {"front.png": PNG})


def test_missing_unreadable_and_outside_media_are_refused(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    spec = write(workspace / "spec.json", youtube_spec())
    service = PacketService(workspace)
    with pytest.raises(PacketError) as missing:
        service.build(spec, [workspace / "nope.mp4"])
    assert missing.value.code == "media_unreadable"
    outside = write(tmp_path / "outside.mp4", MP4)
    with pytest.raises(PacketError) as escaped:
        service.build(spec, [outside])
    assert "outside the workspace" in escaped.value.message
    with pytest.raises(PacketError) as empty:
        service.build(spec, [write(workspace / "empty.mp4", b"")])
    assert empty.value.code == "media_unreadable"


def test_show_finds_by_id_and_refuses_an_edited_file(tmp_path: Path) -> None:
    built = build(tmp_path, youtube_spec(), {"clip.mp4": MP4})
    service = PacketService(tmp_path)
    assert service.show(built.packet_id).document == built.document
    with pytest.raises(PacketNotFoundError):
        service.show("0" * 64)
    with pytest.raises(PacketError):
        service.show("../etc")
    edited = json.loads(built.path.read_text("utf-8"))
    edited["fields"]["title"] = "Another title"
    built.path.write_text(json.dumps(edited), encoding="utf-8")
    with pytest.raises(PacketError) as caught:
        service.show(built.packet_id)
    assert "edited" in caught.value.message


def test_media_paths_are_relative_to_the_run_and_never_leave_the_workspace() -> None:
    run = {"project": "p", "family": "f", "run_id": "r1"}
    doc = {"run": run}
    assert media_workspace_path(doc, "media/a.mp4") == ".autonomous_runs/p/runs/f/r1/media/a.mp4"
    assert media_workspace_path(doc, "../../../../../in/a.mp4") == "in/a.mp4"
    with pytest.raises(PacketError):
        media_workspace_path(doc, "../" * 6 + "etc/passwd")
    with pytest.raises(PacketError):
        media_workspace_path({"run": None}, "../a.mp4")


@given(st.binary(max_size=64))
@settings(max_examples=200, deadline=None)
def test_sniffing_never_fails_and_ignores_names(head: bytes) -> None:
    assert "/" in sniff_content_type(head)


class Recorder:
    """A real adapter for the wrapper to drive: it records the payload it renders."""

    name = "youtube"
    actions = frozenset({"video.upload", "video.update"})

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def render(self, intent: Intent) -> RenderedRequest:
        self.seen.append(dict(intent.payload))
        return RenderedRequest("POST", "https://example.invalid/upload", {}, dict(intent.payload))

    def dispatch(self, intent: Intent, request: RenderedRequest, progress: Any) -> Any:
        raise AssertionError("not dispatched here")

    def lookup(self, intent: Intent, state: Any) -> Any:
        raise AssertionError("not looked up here")


def test_the_packet_action_takes_only_a_packet_and_the_adapter_sees_its_payload(
    tmp_path: Path,
) -> None:
    built = build(tmp_path, youtube_spec(), {"clip.mp4": MP4})
    inner = Recorder()
    adapter = PacketAdapter(inner, YOUTUBE)
    adapter.render(Intent("youtube", "video.upload", "main", "k1", built.document))
    assert inner.seen[-1] == {
        "title": "Clay mug timelapse",
        "description": "Made by hand.",
        "privacyStatus": "private",
        "tags": ["pottery"],
        "containsSyntheticMedia": False,
        "selfDeclaredMadeForKids": False,
        "media": {
            "path": "in/clip.mp4",
            "size": len(MP4),
            "sha256": built.document["media"][0]["sha256"],
            "content_type": "video/mp4",
        },
    }
    with pytest.raises(PacketError) as raw:
        adapter.render(Intent("youtube", "video.upload", "main", "k1", {"title": "t"}))
    assert raw.value.code == "packet_required"
    tampered = {**built.document, "disclosures": {"containsSyntheticMedia": False}}
    with pytest.raises(PacketError):
        adapter.render(Intent("youtube", "video.upload", "main", "k1", tampered))
    # Other actions pass through untouched.
    adapter.render(Intent("youtube", "video.update", "main", "k2", {"title": "t"}))
    assert inner.seen[-1] == {"title": "t"}


def test_cli_build_and_show(
    tmp_path: Path, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write(cli_env / "spec.json", youtube_spec())
    clip = write(cli_env / "clip.mp4", MP4)
    args = ["packets", "build", "--spec", str(spec), "--media", str(clip), "--json"]
    code, out, err = invoke_cli(args, capsys)
    assert (code, err) == (0, "")
    built = json.loads(out)
    assert built["path"] == f".autonomous_runs/_autopack/packets/{built['packet_id']}.json"
    code, text, err = invoke_cli(["packets", "show", built["packet_id"]], capsys)
    assert code == 0
    assert "disclosure containsSyntheticMedia: false" in text
    assert text.isascii()
    bad_spec = write(cli_env / "bad.json", youtube_spec(disclosures={}))
    for bad in (
        ["packets", "build", "--spec", str(bad_spec), "--media", str(clip)],
        ["packets", "build", "--spec", str(cli_env / "missing.json"), "--media", str(clip)],
        ["packets", "show", "not-an-id"],
    ):
        code, _, err = invoke_cli(bad, capsys)
        assert code == 2, (bad, err)
        assert "Traceback" not in err
    code, _, err = invoke_cli(["packets", "show", "f" * 64], capsys)
    assert code == 2
    assert "no packet" in err


def test_run_packets_live_in_the_run_and_copy_brings_the_media(
    tmp_path: Path, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = invoke_cli(
        ["runs", "new", "--project", "demo", "--family", "clips", "--json"], capsys
    )
    assert code == 0, out
    run_id = json.loads(out)["run_id"]
    spec = write(cli_env / "spec.json", youtube_spec())
    clip = write(tmp_path / "far" / "clip.mp4", MP4)  # outside the workspace
    args = [
        "packets",
        "build",
        "--spec",
        str(spec),
        "--media",
        str(clip),
        "--run-id",
        run_id,
        "--copy",
        "--json",
    ]
    code, out, err = invoke_cli(args, capsys)
    assert code == 0, err
    built = json.loads(out)
    media = built["packet"]["media"][0]
    assert media["path"].startswith("media/")
    run_dir = cli_env / ".autonomous_runs" / "demo" / "runs" / "clips" / run_id
    assert (run_dir / media["path"]).read_bytes() == MP4
    assert (run_dir / "packets" / f"{built['packet_id']}.json").is_file()
    shutil.rmtree(tmp_path / "far")
    assert invoke_cli(["packets", "show", built["packet_id"]], capsys)[0] == 0


def test_quick_packet_bench_prints_one_json_line_with_its_targets() -> None:
    import subprocess
    import sys

    bench = Path(__file__).resolve().parents[2] / "bench" / "packet_bench.py"
    done = subprocess.run(
        [sys.executable, str(bench), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["media_bytes"] == 96 * 1024 * 1024
    assert set(result["targets_met"]) == {"build_le_1_2x_sha256sum", "rss_growth_le_64mib"}
    assert result["build_seconds"] > 0
    assert result["sha256sum_seconds"] > 0


def test_the_api_shows_a_packet_and_refuses_bad_ids(runtime: Runtime, workspace: Path) -> None:
    from fastapi.testclient import TestClient

    from autopack.api.app import create_app

    built = build(workspace, youtube_spec(), {"clip.mp4": MP4})
    key = {"X-API-Key": "test-key-" + "k" * 40}
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
        shown = client.get(f"/api/packets/{built.packet_id}", headers=key)
        assert shown.status_code == 200
        body = shown.json()
        assert body["packet"] == built.document
        assert body["path"] == f".autonomous_runs/_autopack/packets/{built.packet_id}.json"
        assert client.get(f"/api/packets/{built.packet_id}").status_code == 401
        bad = client.get("/api/packets/not-hex", headers=key)
        assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_packet")
        missing = client.get("/api/packets/" + "a" * 64, headers=key)
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "packet_not_found")
        built.path.write_text("{}", encoding="utf-8")
        edited = client.get(f"/api/packets/{built.packet_id}", headers=key)
        assert (edited.status_code, edited.json()["error"]["code"]) == (400, "invalid_packet")


def test_the_api_refuses_a_publish_action_without_a_packet(runtime: Runtime) -> None:
    from fastapi.testclient import TestClient

    from autopack.api.app import create_app

    key = {"X-API-Key": "test-key-" + "k" * 40}
    body = {"provider": "youtube", "action": "video.upload", "key": "v1", "account": "chan"}
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
        raw = client.post(
            "/api/actions", json={**body, "payload_json": '{"title": "t"}'}, headers=key
        )
        assert (raw.status_code, raw.json()["error"]["code"]) == (400, "packet_required")
        bad = {"schema": PACKET_SCHEMA, "provider": "youtube"}
        broken = client.post(
            "/api/actions", json={**body, "payload_json": json.dumps(bad)}, headers=key
        )
        assert (broken.status_code, broken.json()["error"]["code"]) == (400, "invalid_packet")
