"""The fakes host: routing by prefix, the control API and the generic faults,
over real HTTP on 127.0.0.1 (an in-test fake, served by the real host code), and
the process entry points' refusals."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from autopack.fakes.protocol import FakeRequest, FakeResponse, Fault, json_response
from autopack.fakes.server import FakesServer, FakesState
from autopack.fakes.store import FakeStore


class CounterFake:
    """POST /counter/things creates a thing; GET lists them; fault kind ``teapot``
    answers 418 without an effect; GET /counter/boom is a bug (raises)."""

    name = "counter"
    prefixes = ("/counter",)

    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def handle(self, request: FakeRequest, fault: Fault | None) -> FakeResponse:
        if fault is not None and fault.kind == "teapot":
            return json_response(418, {"error": "teapot"})
        if request.path == "/counter/boom":
            raise RuntimeError("a bug in the fake")
        if request.method == "POST":
            number = self.store.next_value("counter.things")
            thing = {"id": f"t{number}", "body": request.json()}
            self.store.put(self.name, "thing", thing["id"], thing)
            return json_response(201, thing)
        return json_response(200, {"things": self.effects()})

    def effects(self) -> list[dict[str, Any]]:
        return self.store.all(self.name, "thing")

    def control(self, request: FakeRequest, action: str) -> FakeResponse:
        if action == "count":
            return json_response(200, {"count": len(self.effects())})
        return json_response(404, {"error": "unknown control"})


@pytest.fixture
def host(tmp_path: Path) -> Iterator[str]:
    store = FakeStore(tmp_path / "fakes.db")
    server = FakesServer(("127.0.0.1", 0), FakesState(store, [CounterFake(store)], False))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
        store.close()


def _client() -> httpx.Client:
    return httpx.Client(timeout=5.0, trust_env=False)


def test_routes_by_prefix_and_answers_unknown_paths_with_404(host: str) -> None:
    with _client() as client:
        created = client.post(f"{host}/counter/things", json={"n": 1})
        assert created.status_code == 201
        assert created.headers["connection"] == "close"
        assert client.get(f"{host}/counter/things").json()["things"] == [created.json()]
        assert client.get(f"{host}/elsewhere").status_code == 404
        effects = client.get(f"{host}/_control/effects", params={"provider": "counter"})
        assert effects.json()["count"] == 1
        assert client.get(f"{host}/_control/counter/count").json() == {"count": 1}
        assert client.get(f"{host}/_control/effects", params={"provider": "x"}).status_code == 404


def test_generic_faults_with_and_without_effect(host: str) -> None:
    with _client() as client:

        def queue(**fault: Any) -> httpx.Response:
            return client.post(f"{host}/_control/faults", json={"provider": "counter", **fault})

        assert queue(kind="status", status=503, headers={"Retry-After": "2"}).status_code == 200
        refused = client.post(f"{host}/counter/things", json={"n": 1})
        assert (refused.status_code, refused.headers["retry-after"]) == (503, "2")
        assert queue(kind="status_after_commit", status=500).status_code == 200
        assert client.post(f"{host}/counter/things", json={"n": 2}).status_code == 500
        assert queue(kind="lost_response", method="POST").status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(f"{host}/counter/things", json={"n": 3})
        assert queue(kind="teapot", path_contains="things", times=2).status_code == 200
        assert client.get(f"{host}/_control/faults").json()["pending"][0]["times"] == 2
        assert client.post(f"{host}/counter/things", json={"n": 4}).status_code == 418
        assert client.post(f"{host}/counter/things", json={"n": 5}).status_code == 418
        assert client.post(f"{host}/counter/things", json={"n": 6}).status_code == 201
        bodies = [e["body"]["n"] for e in client.get(f"{host}/counter/things").json()["things"]]
        # 503 made nothing; status_after_commit and lost_response committed theirs.
        assert bodies == [2, 3, 6]


@pytest.mark.parametrize(
    "fault",
    [
        {"provider": "nobody", "kind": "status", "status": 500},
        {"provider": "counter", "kind": ""},
        {"provider": "counter", "kind": "status"},
        {"provider": "counter", "kind": "status", "status": 99},
        {"provider": "counter", "kind": "delay", "seconds": 61},
        {"provider": "counter", "kind": "x", "times": 0},
        {"provider": "counter", "kind": "x", "method": "TRACE"},
        {"provider": "counter", "kind": "status", "status": 500, "headers": {"a": 1}},
        "not an object",
    ],
)
def test_bad_faults_are_refused_with_400(host: str, fault: Any) -> None:
    with _client() as client:
        answer = client.post(f"{host}/_control/faults", json=fault)
        assert answer.status_code == 400
        assert answer.json()["error"]["message"]
        assert client.get(f"{host}/_control/faults").json()["pending"] == []


def test_a_bug_in_a_fake_is_a_500_and_reset_forgets_everything(host: str) -> None:
    with _client() as client:
        assert client.get(f"{host}/counter/boom").status_code == 500
        client.post(f"{host}/counter/things", json={"n": 1})
        client.post(f"{host}/_control/faults", json={"provider": "counter", "kind": "teapot"})
        assert client.post(f"{host}/_control/reset").status_code == 200
        assert client.get(f"{host}/_control/faults").json()["pending"] == []
        assert client.get(f"{host}/counter/things").json()["things"] == []
        health = client.get(f"{host}/_control/health").json()
        assert (health["status"], health["providers"], health["in_flight"]) == (
            "ok",
            ["counter"],
            0,
        )


def test_effects_survive_a_new_store_on_the_same_file(tmp_path: Path) -> None:
    store = FakeStore(tmp_path / "f.db")
    store.put("p", "k", "1", {"id": "1"})
    blob = store.blob_path("p", "session/1")
    assert store.append_blob(blob, iter([b"ab", b"cd"])) == 4
    store.close()
    again = FakeStore(tmp_path / "f.db")
    assert again.all("p") == [{"id": "1"}]
    assert blob.read_bytes() == b"abcd"
    assert blob.parent == again.blob_dir
    again.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "nope"], "no fake for nope"),
        (["--host", "0.0.0.0"], "loopback only"),  # noqa: S104 - the refused address
    ],
)
@pytest.mark.parametrize("entry", [["-m", "autopack.fakes"], ["-m", "autopack", "fakes", "serve"]])
def test_bad_options_exit_2_with_one_line(
    tmp_path: Path, entry: list[str], args: list[str], message: str
) -> None:
    done = subprocess.run(
        [sys.executable, *entry, "--store", str(tmp_path / "f.db"), "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
