"""The YouTube adapter against the YouTube fake over real HTTP on 127.0.0.1:
upload, checkpoints, resume, partial ranges, session expiry, lookup and the
classification of Google's errors."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from autopack.domain.canonical import JsonValue
from autopack.domain.providers import InMemoryProgress, LookupStatus, Outcome
from autopack.providers.youtube.adapter import YouTubeAdapter
from autopack.providers.youtube.errors import seconds_until_quota_reset
from autopack.providers.youtube.video import upload_marker
from fakes_support import FakesProcess
from youtube.yt_support import QUANTUM, intent, payload, write_media


class RecordingProgress(InMemoryProgress):
    """InMemoryProgress that also notes what the fake held at each checkpoint."""

    def __init__(self, fake: FakesProcess, state: dict[str, JsonValue] | None = None) -> None:
        super().__init__(state=dict(state or {}))
        self.fake = fake
        self.seen: list[tuple[str, list[dict[str, Any]]]] = []

    def checkpoint(self, state: Any, *, note: str) -> None:
        self.seen.append((note, self.fake.control("GET", "/youtube/sessions")["sessions"]))
        super().checkpoint(state, note=note)


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _upload(adapter: YouTubeAdapter, media_root: Path, size: int, key: str = "k1") -> Any:
    media = write_media(media_root / f"{key}.mp4", size)
    the_intent = intent(payload(media), key=key)
    return the_intent, adapter.render(the_intent), media


def test_upload_checkpoints_the_session_before_any_byte_and_each_offset(
    adapter: YouTubeAdapter, fake: FakesProcess, media_root: Path
) -> None:
    size = 3 * QUANTUM + 123
    the_intent, rendered, media = _upload(adapter, media_root, size)
    progress = RecordingProgress(fake)
    result = adapter.dispatch(the_intent, rendered, progress)
    assert result.outcome is Outcome.SUCCEEDED, result
    assert result.status_code == 201
    (video,) = fake.effects("youtube")
    assert result.provider_object_id == video["id"]
    assert video["sha256"] == media["sha256"]
    assert video["size"] == size
    assert video["status"]["containsSyntheticMedia"] is True
    assert upload_marker(the_intent) in video["description"]
    notes = [note for note, _ in progress.seen]
    assert notes == [
        "upload session opened",
        f"acknowledged {QUANTUM} of {size}",
        f"acknowledged {2 * QUANTUM} of {size}",
        f"acknowledged {3 * QUANTUM} of {size}",
    ]
    # The session was open and held no byte when its URI was checkpointed.
    opened_at = progress.seen[0][1]
    assert [(s["received"], s["state"]) for s in opened_at] == [(0, "open")]
    assert progress.state["acked"] == 3 * QUANTUM
    assert result.summary["quota_units"] == 100
    assert result.summary["session"] == "opened"
    assert result.summary["requests"] == 5


def test_a_changed_file_is_permanent_and_nothing_is_sent(
    adapter: YouTubeAdapter, fake: FakesProcess, media_root: Path
) -> None:
    the_intent, rendered, _ = _upload(adapter, media_root, QUANTUM)
    path = media_root / "k1.mp4"
    data = bytearray(path.read_bytes())
    data[10] ^= 1
    path.write_bytes(bytes(data))
    progress = InMemoryProgress()
    result = adapter.dispatch(the_intent, rendered, progress)
    assert result.outcome is Outcome.PERMANENT
    assert "changed since approval" in (result.error or "")
    assert progress.notes == []
    assert fake.control("GET", "/youtube/sessions")["sessions"] == []


def test_partial_range_resumes_from_the_acknowledged_offset(
    adapter: YouTubeAdapter, fake: FakesProcess, media_root: Path
) -> None:
    size = 4 * QUANTUM
    the_intent, rendered, media = _upload(adapter, media_root, size)
    fake.set_faults(
        {"provider": "youtube", "kind": "partial_range", "method": "PUT", "drop_bytes": 1000}
    )
    progress = InMemoryProgress()
    result = adapter.dispatch(the_intent, rendered, progress)
    assert result.outcome is Outcome.SUCCEEDED, result
    assert f"acknowledged {QUANTUM - 1000} of {size}" in progress.notes
    assert f"acknowledged {2 * QUANTUM - 1000} of {size}" in progress.notes
    (video,) = fake.effects("youtube")
    assert video["sha256"] == media["sha256"]


def test_a_5xx_mid_upload_asks_the_status_and_resumes(
    adapter: YouTubeAdapter, fake: FakesProcess, media_root: Path
) -> None:
    size = 3 * QUANTUM
    the_intent, rendered, media = _upload(adapter, media_root, size)
    fake.set_faults(
        {"provider": "youtube", "kind": "partial_range", "method": "PUT", "drop_bytes": 0},
        {
            "provider": "youtube",
            "kind": "status_after_commit",
            "method": "PUT",
            "status": 503,
            "body": {"error": {"code": 503, "message": "backend error"}},
        },
    )
    result = adapter.dispatch(the_intent, rendered, InMemoryProgress())
    assert result.outcome is Outcome.SUCCEEDED, result
    assert any("HTTP 503" in note for note in result.summary["notes"])
    (video,) = fake.effects("youtube")
    assert video["sha256"] == media["sha256"]
    # The committed chunk was not sent twice: status query said where to go on.
    assert result.summary["bytes_sent"] == size


def test_a_resumed_dispatch_never_opens_a_second_session(
    adapter: YouTubeAdapter, fake: FakesProcess, media_root: Path
) -> None:
    size = 4 * QUANTUM
    the_intent, rendered, media = _upload(adapter, media_root, size)
    # The first attempt dies after two chunks: every later PUT is lost.
    fake.set_faults(
        {"provider": "youtube", "kind": "partial_range", "method": "PUT", "drop_bytes": 0},
        {"provider": "youtube", "kind": "partial_range", "method": "PUT", "drop_bytes": 0},
        {
            "provider": "youtube",
            "kind": "status",
            "method": "PUT",
            "status": 502,
            "times": 10,
        },
    )
    progress = InMemoryProgress()
    first = adapter.dispatch(the_intent, rendered, progress)
    assert first.outcome is Outcome.MAYBE_EFFECT
    assert progress.state["acked"] == 2 * QUANTUM
    fake.clear_faults()
    lookup = adapter.lookup(the_intent, progress.state)
    assert lookup.status is LookupStatus.IN_PROGRESS
    assert lookup.summary["acked"] == 2 * QUANTUM
    second = adapter.dispatch(the_intent, rendered, progress)
    assert second.outcome is Outcome.SUCCEEDED, second
    assert second.summary["session"] == "resumed"
    assert second.summary["resumed_from"] == 2 * QUANTUM
    assert second.summary["bytes_sent"] == 2 * QUANTUM
    assert second.summary["quota_units"] == 0
    assert len(fake.control("GET", "/youtube/sessions")["sessions"]) == 1
    (video,) = fake.effects("youtube")
    assert video["sha256"] == media["sha256"]
    found = adapter.lookup(the_intent, progress.state)
    assert (found.status, found.provider_object_id) == (LookupStatus.FOUND, video["id"])


def test_an_expired_session_is_found_by_marker_or_left_to_a_person(
    adapter: YouTubeAdapter, fake: FakesProcess, media_root: Path
) -> None:
    size = 2 * QUANTUM
    the_intent, rendered, _ = _upload(adapter, media_root, size)
    fake.set_faults(
        {"provider": "youtube", "kind": "partial_range", "method": "PUT", "drop_bytes": 0},
        {"provider": "youtube", "kind": "session_expired", "method": "PUT", "status": 410},
    )
    progress = InMemoryProgress()
    result = adapter.dispatch(the_intent, rendered, progress)
    assert result.outcome is Outcome.MAYBE_EFFECT
    assert "a person decides" in (result.error or "")
    assert progress.state["session_expired"] is True
    assert fake.effects("youtube") == []
    looked = adapter.lookup(the_intent, progress.state)
    assert looked.status is LookupStatus.UNSUPPORTED  # -> needs_attention
    # A redispatch asks the dead session again and never opens a new one.
    again = adapter.dispatch(the_intent, rendered, progress)
    assert again.outcome is Outcome.MAYBE_EFFECT
    assert len(fake.control("GET", "/youtube/sessions")["sessions"]) == 1


def test_an_expired_session_whose_video_exists_is_found_by_its_marker(
    adapter: YouTubeAdapter, fake: FakesProcess, media_root: Path
) -> None:
    the_intent, rendered, _ = _upload(adapter, media_root, QUANTUM)
    progress = InMemoryProgress()
    done = adapter.dispatch(the_intent, rendered, progress)
    assert done.outcome is Outcome.SUCCEEDED
    # Other uploads land after it, so the marker search has to page.
    for n in range(3):
        other_intent, other_render, _ = _upload(adapter, media_root, QUANTUM, key=f"o{n}")
        assert adapter.dispatch(other_intent, other_render, InMemoryProgress()).outcome is (
            Outcome.SUCCEEDED
        )
    fake.control("POST", "/youtube/expire_sessions", {"status": 404})
    fake.control("POST", "/youtube/expire_sessions", {"status": 404})
    stale = {**progress.state}
    found = adapter.lookup(the_intent, stale)
    assert (found.status, found.provider_object_id) == (LookupStatus.FOUND, done.provider_object_id)
    no_session = adapter.lookup(the_intent, {})
    assert no_session.provider_object_id == done.provider_object_id
    assert no_session.summary["quota_units"] == 3  # channels + one page + videos


def test_lookup_without_a_session_is_not_found_when_nothing_carries_the_marker(
    adapter: YouTubeAdapter, fake: FakesProcess, media_root: Path
) -> None:
    the_intent, _, _ = _upload(adapter, media_root, QUANTUM)
    result = adapter.lookup(the_intent, {})
    assert result.status is LookupStatus.NOT_FOUND
    assert result.summary["quota_units"] == 2


def test_a_lost_initiate_is_maybe_effect_and_the_marker_decides(
    adapter: YouTubeAdapter, fake: FakesProcess, media_root: Path
) -> None:
    the_intent, rendered, _ = _upload(adapter, media_root, QUANTUM)
    fake.set_faults({"provider": "youtube", "kind": "lost_response", "method": "POST"})
    progress = InMemoryProgress()
    result = adapter.dispatch(the_intent, rendered, progress)
    assert result.outcome is Outcome.MAYBE_EFFECT
    assert progress.state == {}
    assert adapter.lookup(the_intent, progress.state).status is LookupStatus.NOT_FOUND


def test_quota_exceeded_is_no_effect_until_midnight_pacific(
    adapter: YouTubeAdapter, fake: FakesProcess, media_root: Path
) -> None:
    the_intent, rendered, _ = _upload(adapter, media_root, QUANTUM)
    fake.set_faults({"provider": "youtube", "kind": "quota_exceeded", "method": "POST"})
    result = adapter.dispatch(the_intent, rendered, InMemoryProgress())
    assert result.outcome is Outcome.NO_EFFECT
    assert result.status_code == 403
    assert result.summary["reasons"] == ["quotaExceeded"]
    assert "quotaExceeded" in (result.error or "")
    # 12:00 UTC on Dec 7 is 04:00 PST: 20 hours to the reset.
    assert result.retry_after_seconds == 20 * 3600.0
    assert fake.control("GET", "/youtube/sessions")["sessions"] == []


def test_google_error_reasons_are_kept_and_classified(
    adapter: YouTubeAdapter, fake: FakesProcess, media_root: Path
) -> None:
    the_intent, rendered, _ = _upload(adapter, media_root, QUANTUM)
    fake.set_faults({"provider": "youtube", "kind": "upload_limit_exceeded", "method": "POST"})
    capped = adapter.dispatch(the_intent, rendered, InMemoryProgress())
    assert (capped.outcome, capped.retry_after_seconds) == (Outcome.NO_EFFECT, 86400.0)
    assert capped.summary["reasons"] == ["uploadLimitExceeded"]
    forbidden = {
        "error": {
            "code": 403,
            "message": "Forbidden",
            "errors": [{"message": "Forbidden", "domain": "global", "reason": "forbidden"}],
        }
    }
    fake.set_faults(
        {
            "provider": "youtube",
            "kind": "status",
            "method": "POST",
            "status": 403,
            "body": forbidden,
        }
    )
    refused = adapter.dispatch(the_intent, rendered, InMemoryProgress())
    assert refused.outcome is Outcome.PERMANENT
    assert refused.summary["reasons"] == ["forbidden"]
    fake.set_faults(
        {
            "provider": "youtube",
            "kind": "status",
            "method": "POST",
            "status": 429,
            "headers": {"Retry-After": "7"},
        }
    )
    limited = adapter.dispatch(the_intent, rendered, InMemoryProgress())
    assert (limited.outcome, limited.retry_after_seconds) == (Outcome.NO_EFFECT, 7.0)


def test_the_fake_refuses_a_request_without_a_bearer_token(fake: FakesProcess) -> None:
    response = httpx.post(
        f"{fake.url}/upload/youtube/v3/videos?uploadType=resumable&part=snippet",
        json={"snippet": {"title": "x"}},
        headers={"X-Upload-Content-Length": "10", "X-Upload-Content-Type": "video/mp4"},
    )
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["errors"][0]["reason"] == "required"
    assert error["errors"][0]["location"] == "Authorization"


def test_quota_reset_is_next_midnight_pacific() -> None:
    # 07:59 UTC on Dec 7 is 23:59 PST on Dec 6.
    assert seconds_until_quota_reset(datetime(2026, 12, 7, 7, 59, tzinfo=UTC)) == 60.0
    # Summer time: 06:30 UTC on Jul 1 is 23:30 PDT.
    assert seconds_until_quota_reset(datetime(2026, 7, 1, 6, 30, tzinfo=UTC)) == 1800.0


def test_a_resume_asks_the_status_first_and_rehashes_before_more_bytes(
    adapter: YouTubeAdapter, fake: FakesProcess, media_root: Path
) -> None:
    size = 3 * QUANTUM
    the_intent, rendered, _ = _upload(adapter, media_root, size)
    fake.set_faults(
        {"provider": "youtube", "kind": "partial_range", "method": "PUT", "drop_bytes": 0},
        {"provider": "youtube", "kind": "status", "method": "PUT", "status": 503, "times": 10},
    )
    progress = InMemoryProgress()
    assert adapter.dispatch(the_intent, rendered, progress).outcome is Outcome.MAYBE_EFFECT
    fake.clear_faults()
    path = media_root / "k1.mp4"
    original = path.read_bytes()
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    changed = adapter.dispatch(the_intent, rendered, progress)
    assert changed.outcome is Outcome.PERMANENT
    assert "changed since approval" in (changed.error or "")
    assert changed.summary["bytes_sent"] == 0
    (held,) = fake.control("GET", "/youtube/sessions")["sessions"]
    assert (held["received"], held["state"]) == (QUANTUM, "open")
    # A session that completed needs no file: the status query confirms it.
    path.write_bytes(original)
    done = adapter.dispatch(the_intent, rendered, progress)
    assert done.outcome is Outcome.SUCCEEDED
    path.unlink()
    again = adapter.dispatch(the_intent, rendered, progress)
    assert (again.outcome, again.provider_object_id) == (Outcome.SUCCEEDED, done.provider_object_id)
    assert again.summary["bytes_sent"] == 0
