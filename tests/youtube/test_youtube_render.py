"""The YouTube render: the exact initiate request and chunk steps, deterministic,
byte-identical across runs and processes, with no secret; every payload refusal
names its field; fuzzed payloads never crash it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autopack.domain.canonical import canonical_json
from autopack.domain.errors import InvalidInputError
from autopack.domain.providers import BodyEncoding
from autopack.providers._media import MediaRefError
from autopack.providers._payload import ProviderPayloadError
from autopack.providers.youtube.adapter import YouTubeAdapter
from autopack.providers.youtube.video import upload_marker
from youtube.yt_support import ACCESS_TOKEN, QUANTUM, StaticToken, intent, payload

MEDIA: dict[str, Any] = {
    "path": "clips/clip.mp4",
    "size": 2 * QUANTUM + 1000,
    "sha256": "ab" * 32,
    "content_type": "video/mp4",
}


def _adapter(root: Path, chunk: int = QUANTUM, token: StaticToken | None = None) -> YouTubeAdapter:
    return YouTubeAdapter(
        api_url="https://www.googleapis.com",
        chunk_bytes=chunk,
        quota_cost_insert=100,
        quota_cost_list=1,
        credentials=token or StaticToken(),
        media_root=root,
        clock=lambda: datetime(2026, 12, 7, tzinfo=UTC),
    )


def test_render_is_the_initiate_then_one_put_per_chunk(tmp_path: Path) -> None:
    token = StaticToken()
    adapter = _adapter(tmp_path, token=token)
    the_intent = intent(payload(MEDIA))
    rendered = adapter.render(the_intent)
    marker = upload_marker(the_intent)
    assert rendered.method == "POST"
    assert rendered.url == (
        "https://www.googleapis.com/upload/youtube/v3/videos"
        "?uploadType=resumable&part=snippet%2Cstatus"
    )
    body = rendered.body
    assert isinstance(body, dict)
    assert dict(rendered.headers) == {
        "Authorization": "Bearer <access token>",
        "Content-Length": str(len(canonical_json(body))),
        "Content-Type": "application/json; charset=UTF-8",
        "X-Upload-Content-Length": str(MEDIA["size"]),
        "X-Upload-Content-Type": "video/mp4",
    }
    assert body == {
        "snippet": {
            "title": "Autopack test upload",
            "description": f"A test video.\n\n{marker}",
            "tags": ["autopack", "test"],
            "categoryId": "22",
        },
        "status": {
            "privacyStatus": "private",
            "selfDeclaredMadeForKids": False,
            "containsSyntheticMedia": True,
        },
    }
    assert rendered.provider_idempotency_key == marker
    assert rendered.encoding is BodyEncoding.JSON
    ranges = [step.headers["Content-Range"] for step in rendered.steps]
    total = MEDIA["size"]
    assert ranges == [
        f"bytes 0-{QUANTUM - 1}/{total}",
        f"bytes {QUANTUM}-{2 * QUANTUM - 1}/{total}",
        f"bytes {2 * QUANTUM}-{total - 1}/{total}",
    ]
    for step in rendered.steps:
        assert step.method == "PUT"
        assert step.url == "{session_uri}"
        assert step.encoding is BodyEncoding.MEDIA
        assert step.body == MEDIA
        assert step.headers["Authorization"] == "Bearer <access token>"
        assert step.headers["Content-Type"] == "video/mp4"
    assert [s.headers["Content-Length"] for s in rendered.steps] == [
        str(QUANTUM),
        str(QUANTUM),
        "1000",
    ]
    assert token.calls == 0
    assert ACCESS_TOKEN not in json.dumps(rendered.to_dict())


def test_the_chunk_size_setting_shapes_the_steps(tmp_path: Path) -> None:
    the_intent = intent(payload(MEDIA))
    assert len(_adapter(tmp_path, QUANTUM).render(the_intent).steps) == 3
    assert len(_adapter(tmp_path, 4 * QUANTUM).render(the_intent).steps) == 1
    with pytest.raises(ValueError, match="multiple of 262144"):
        _adapter(tmp_path, QUANTUM + 1)


def test_the_marker_is_stable_per_account_and_key_only() -> None:
    first = upload_marker(intent(payload(MEDIA), key="k1"))
    assert first == upload_marker(intent(payload(MEDIA, title="other"), key="k1"))
    assert first != upload_marker(intent(payload(MEDIA), key="k2"))
    assert first != upload_marker(intent(payload(MEDIA), key="k1", account="other"))
    assert first.startswith("ap-yt-")
    assert len(first) == len("ap-yt-") + 32


def test_an_empty_description_is_the_marker_alone(tmp_path: Path) -> None:
    the_intent = intent(payload(MEDIA, description=None))
    body: Any = _adapter(tmp_path).render(the_intent).body
    assert body["snippet"]["description"] == upload_marker(the_intent)


def test_publish_at_is_sent_only_for_private_videos(tmp_path: Path) -> None:
    adapter = _adapter(tmp_path)
    body: Any = adapter.render(intent(payload(MEDIA, publishAt="2026-12-24T18:00:00Z"))).body
    assert body["status"]["publishAt"] == "2026-12-24T18:00:00Z"
    with pytest.raises(ProviderPayloadError) as info:
        adapter.render(
            intent(payload(MEDIA, privacyStatus="public", publishAt="2026-12-24T18:00:00Z"))
        )
    assert info.value.details["field"] == "publishAt"


_RENDER_SCRIPT = """
import json, sys
from datetime import UTC, datetime
from pathlib import Path
from autopack.domain.providers import Intent
from autopack.providers.youtube.adapter import YouTubeAdapter

class Token:
    def access_token(self, account): raise AssertionError("no token in a render")
    def api_key(self, account): raise AssertionError("no key")

adapter = YouTubeAdapter(api_url="https://www.googleapis.com", chunk_bytes=262144,
    quota_cost_insert=100, quota_cost_list=1, credentials=Token(), media_root=Path("."),
    clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
data = json.loads(sys.argv[1])
rendered = adapter.render(Intent("youtube", "video.upload", "main", "k-1", data))
print(rendered.request_hash)
print(json.dumps(rendered.to_dict(), sort_keys=True))
"""


def test_render_is_byte_identical_across_processes(tmp_path: Path) -> None:
    data = payload(MEDIA, title="Caf\u00e9 \u2013 d\u00e9j\u00e0 vu", tags=["\u00fcber", "a b"])
    outputs = {
        subprocess.run(
            [sys.executable, "-c", _RENDER_SCRIPT, json.dumps(data)],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    request_hash, text = next(iter(outputs)).splitlines()
    local = _adapter(tmp_path).render(intent(data, key="k-1"))
    assert local.request_hash == request_hash
    assert json.loads(text) == json.loads(json.dumps(local.to_dict(), sort_keys=True))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 101}, "title"),
        ({"title": "a <b>"}, "title"),
        ({"description": "d" * 4990}, "description"),
        ({"description": "no <script>"}, "description"),
        ({"tags": ["t" * 501]}, "tags"),
        ({"tags": ["a" * 200, "b" * 200, "c" * 100]}, "tags"),
        ({"tags": "one,two"}, "tags"),
        ({"categoryId": "music"}, "categoryId"),
        ({"privacyStatus": None}, "privacyStatus"),
        ({"privacyStatus": "friends"}, "privacyStatus"),
        ({"selfDeclaredMadeForKids": None}, "selfDeclaredMadeForKids"),
        ({"selfDeclaredMadeForKids": "no"}, "selfDeclaredMadeForKids"),
        ({"containsSyntheticMedia": None}, "containsSyntheticMedia"),
        ({"containsSyntheticMedia": 0}, "containsSyntheticMedia"),
        ({"publishAt": "tomorrow"}, "publishAt"),
        ({"publishAt": "2026-13-40T18:00:00Z"}, "publishAt"),
        ({"colour": "red"}, "colour"),
        ({"media": {**MEDIA, "content_type": "image/png"}}, "media.content_type"),
    ],
)
def test_every_payload_refusal_names_its_field(
    tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    data = {**payload(MEDIA), **change}
    refused = intent({k: v for k, v in data.items() if v is not None})
    with pytest.raises(ProviderPayloadError) as info:
        _adapter(tmp_path).render(refused)
    assert info.value.code == "invalid_provider_payload"
    assert info.value.details["field"] == field
    assert field.split(".")[0] in info.value.message


def test_a_bad_media_reference_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(MediaRefError) as info:
        _adapter(tmp_path).render(intent(payload({**MEDIA, "path": "../escape.mp4"})))
    assert info.value.code == "invalid_media_ref"
    with pytest.raises(MediaRefError):
        _adapter(tmp_path).render(intent({**payload(MEDIA), "media": "clip.mp4"}))


def test_another_provider_or_action_is_refused(tmp_path: Path) -> None:
    from autopack.domain.providers import Intent

    adapter = _adapter(tmp_path)
    with pytest.raises(InvalidInputError) as info:
        adapter.render(Intent("etsy", "video.upload", "a", "k", payload(MEDIA)))
    assert info.value.code == "wrong_provider"
    with pytest.raises(InvalidInputError) as info:
        adapter.render(Intent("youtube", "video.delete", "a", "k", payload(MEDIA)))
    assert info.value.code == "unknown_action"


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_fields = st.sampled_from(
    [
        "title",
        "description",
        "tags",
        "categoryId",
        "privacyStatus",
        "publishAt",
        "selfDeclaredMadeForKids",
        "containsSyntheticMedia",
        "media",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(_fields | st.text(max_size=8), _json, max_size=5))
def test_fuzzed_payloads_render_or_are_refused_by_name(changes: dict[str, Any]) -> None:
    adapter = _adapter(Path())
    data = {**payload(MEDIA), **changes}
    try:
        rendered = adapter.render(intent(data))
    except (ProviderPayloadError, MediaRefError):
        return
    assert rendered.request_hash == adapter.render(intent(data)).request_hash


def test_a_render_of_more_than_4096_chunks_is_refused_by_name(tmp_path: Path) -> None:
    adapter = _adapter(tmp_path, QUANTUM)
    assert len(adapter.render(intent(payload({**MEDIA, "size": 4096 * QUANTUM}))).steps) == 4096
    with pytest.raises(ProviderPayloadError) as info:
        adapter.render(intent(payload({**MEDIA, "size": 4096 * QUANTUM + 1})))
    assert info.value.details["field"] == "media.size"
    assert "AUTOPACK_YOUTUBE_CHUNK_BYTES" in info.value.message
