"""Etsy ``listing.create`` renders: exact bytes, deterministic, no secret; every
payload refusal names its field; fuzzed payloads never crash the render."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from autopack.domain.canonical import canonical_json
from autopack.domain.packets import adapter_payload
from autopack.domain.providers import BodyEncoding, Intent
from autopack.providers._media import MediaRefError
from autopack.providers._payload import ProviderPayloadError
from autopack.providers.etsy import multipart
from autopack.providers.etsy.adapter import EtsyAdapter
from autopack.providers.etsy.listing import lookup_marker
from autopack.providers.etsy.packet import PACKET_PROFILE
from autopack.services.providers import NoCredentialStore

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "etsy" / "listing.create" / "payload.json"
SHARED_SECRET = "shared-secret-Vq7Lm2Xr9Tz4Kp1Wn8Js"
KEYSTRING = "keystring4x9q2w7e1r"
BASE = "https://api.etsy.com/v3/application"


def adapter(root: Path = REPO) -> EtsyAdapter:
    return EtsyAdapter(
        BASE,
        keystring=KEYSTRING,
        shared_secret=SecretStr(SHARED_SECRET),
        credentials=NoCredentialStore("etsy"),
        media_root=root,
    )


def example() -> dict[str, Any]:
    """What the adapter reads of the example packet (the registry's packet wrapper
    turns the packet into this), with an alt text on its image."""
    packet = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    payload: dict[str, Any] = adapter_payload(packet, PACKET_PROFILE)
    payload["images"][0]["alt_text"] = "A speckled stoneware mug"
    return payload


def intent(payload: dict[str, Any], key: str = "k1") -> Intent:
    return Intent("etsy", "listing.create", "shop-main", key, payload)


def test_the_example_renders_the_exact_sequence() -> None:
    payload = example()
    with adapter() as etsy:
        rendered = etsy.render(intent(payload))
    marker = lookup_marker("etsy", "shop-main", "k1")
    assert rendered.provider_idempotency_key == marker
    assert (rendered.method, rendered.url) == ("POST", f"{BASE}/shops/12345678/listings")
    assert rendered.encoding is BodyEncoding.FORM
    assert rendered.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"
    assert rendered.headers["x-api-key"] == "<keystring>:<shared secret>"
    assert rendered.headers["Authorization"] == "Bearer <user id>.<access token>"
    assert rendered.body == (
        "quantity=4&title=Hand-thrown+stoneware+mug%3A+speckled+glaze"
        "&description=A+350+ml+stoneware+mug%2C+thrown+and+glazed+by+hand."
        "+Dishwasher+safe.%0A%0A%5B" + marker.replace(":", "%3A") + "%5D"
        "&price=28.00&who_made=i_did&when_made=made_to_order&taxonomy_id=1062"
        "&type=physical&shipping_profile_id=987654321"
        "&tags=stoneware+mug%2Chandmade%2Cceramic&materials=stoneware%2Cglaze&is_supply=false"
    )
    image, publish = rendered.steps
    assert (image.method, image.encoding) == ("POST", BodyEncoding.MULTIPART)
    assert image.url == f"{BASE}/shops/12345678/listings/{{listing_id}}/images"
    assert image.body == {
        "fields": {"rank": "1", "overwrite": "true", "alt_text": "A speckled stoneware mug"},
        "files": [{k: v for k, v in payload["images"][0].items() if k != "alt_text"}],
    }
    boundary = multipart.boundary_for(image.body)
    assert image.headers["Content-Type"] == f"multipart/form-data; boundary={boundary}"
    assert (publish.method, publish.encoding) == ("PATCH", BodyEncoding.FORM)
    assert publish.url == f"{BASE}/shops/12345678/listings/{{listing_id}}"
    # The publishing update writes the description back without the marker.
    assert publish.body == (
        "state=active&description=A+350+ml+stoneware+mug%2C+thrown+and+glazed+by+hand."
        "+Dishwasher+safe."
    )


def test_a_draft_without_publish_has_no_update_step() -> None:
    payload = {**example(), "publish": False}
    with adapter() as etsy:
        rendered = etsy.render(intent(payload))
    assert [s.method for s in rendered.steps] == ["POST"]
    del payload["images"]
    with adapter() as etsy:
        assert etsy.render(intent(payload)).steps == ()


def test_render_holds_no_secret_and_is_deterministic() -> None:
    with adapter() as etsy:
        first = canonical_json(etsy.render(intent(example())).to_dict())
        again = canonical_json(etsy.render(intent(copy.deepcopy(example()))).to_dict())
    assert first == again
    for secret in (SHARED_SECRET, KEYSTRING):
        assert secret.encode() not in first
    # Another marker per idempotency key and per account, the same per action.
    with adapter() as etsy:
        other = etsy.render(intent(example(), key="k2"))
    assert other.provider_idempotency_key != lookup_marker("etsy", "shop-main", "k1")


def test_render_is_byte_identical_in_another_process() -> None:
    """Across runs and machines: a fresh interpreter (another hash seed) renders the
    same bytes (no absolute path, no clock, no set order)."""
    code = (
        "import json,sys\n"
        "from pathlib import Path\n"
        "from autopack.domain.canonical import canonical_json\n"
        "from autopack.domain.providers import Intent\n"
        "from autopack.providers.etsy.adapter import EtsyAdapter\n"
        "from autopack.services.providers import NoCredentialStore\n"
        "from autopack.domain.packets import adapter_payload\n"
        "from autopack.providers.etsy.packet import PACKET_PROFILE\n"
        "p=adapter_payload(json.loads(Path(sys.argv[1]).read_text()),PACKET_PROFILE)\n"
        "p['images'][0]['alt_text']='A speckled stoneware mug'\n"
        "a=EtsyAdapter(sys.argv[2],keystring=None,shared_secret=None,"
        "credentials=NoCredentialStore('etsy'),media_root=Path('/nonexistent'))\n"
        "sys.stdout.write(canonical_json(a.render(Intent('etsy','listing.create','shop-main',"
        "'k1',p)).to_dict()).decode())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(EXAMPLE), BASE],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
        timeout=60,
    ).stdout
    with adapter() as etsy:
        assert out.encode() == canonical_json(etsy.render(intent(example())).to_dict())


REFUSALS: list[tuple[dict[str, Any], str]] = [
    ({"shop_id": "12"}, "shop_id"),
    ({"title": "a % b % c"}, "title"),
    ({"title": "a: b: c"}, "title"),
    ({"title": "x" * 141}, "title"),
    ({"price": 28.0}, "price"),
    ({"price": "28.001"}, "price"),
    ({"price": "0.00"}, "price"),
    ({"price": "-1"}, "price"),
    ({"quantity": "4"}, "quantity"),
    ({"quantity": 1000}, "quantity"),
    ({"quantity": True}, "quantity"),
    ({"who_made": "me"}, "who_made"),
    ({"when_made": "2020_2024"}, "when_made"),
    ({"type": "digital"}, "type"),
    ({"taxonomy_id": 0}, "taxonomy_id"),
    ({"shipping_profile_id": None}, "shipping_profile_id"),
    ({"tags": ["a"] * 14}, "tags"),
    ({"tags": ["x" * 21]}, "tags"),
    ({"tags": ["a,b"]}, "tags"),
    ({"tags": ["emoji \U0001f600"]}, "tags"),
    ({"materials": ["m" * 46]}, "materials"),
    ({"styles": ["a", "b", "c"]}, "styles"),
    ({"is_supply": "no"}, "is_supply"),
    ({"item_weight": "0.5"}, "item_weight_unit"),
    ({"item_weight_unit": "oz"}, "item_weight_unit"),
    ({"item_weight": "0.5", "item_weight_unit": "stone"}, "item_weight_unit"),
    ({"images": "x.png"}, "images"),
    ({"images": []}, "images"),  # publish needs an image
    ({"publish": "yes"}, "publish"),
    ({"description": "see [autopack-ref:abc]"}, "description"),
    ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("change", "field"), REFUSALS)
def test_each_refusal_names_its_field(change: dict[str, Any], field: str) -> None:
    payload = {**example(), **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    with adapter() as etsy, pytest.raises(ProviderPayloadError) as info:
        etsy.render(intent(payload))
    assert info.value.code == "invalid_provider_payload"
    assert info.value.details["field"] == field, info.value.message
    assert field in info.value.message


def test_image_refusals_name_the_image() -> None:
    payload = example()
    payload["images"][0]["content_type"] = "image/webp"
    with adapter() as etsy, pytest.raises(ProviderPayloadError) as info:
        etsy.render(intent(payload))
    assert info.value.details["field"] == "images[0].content_type"
    payload = example()
    payload["images"][0]["path"] = "../outside.png"
    with adapter() as etsy, pytest.raises(MediaRefError) as media:
        etsy.render(intent(payload))
    assert "images[0].path" in media.value.message


def test_the_example_image_is_a_real_png_of_the_declared_bytes() -> None:
    ref = example()["images"][0]
    data = (REPO / ref["path"]).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert (len(data), hashlib.sha256(data).hexdigest()) == (ref["size"], ref["sha256"])


FUZZ_ADAPTER = adapter()  # render does no I/O: one for every example
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.lists(st.text(max_size=25), max_size=15),
    st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from([*sorted(example()), "x"]), VALUES, max_size=6))
def test_fuzzed_payloads_render_or_are_refused_by_name(changes: dict[str, Any]) -> None:
    payload = {**example(), **changes}
    try:
        rendered = FUZZ_ADAPTER.render(intent(payload))
    except (ProviderPayloadError, MediaRefError):
        return
    assert isinstance(rendered.body, str)
    assert SHARED_SECRET not in json.dumps(rendered.to_dict())


def test_the_shared_secret_setting_is_masked_and_redacted(
    workspace: Path, database_url: str
) -> None:
    from autopack.providers.registry import secret_settings
    from autopack.services.runtime import build_runtime
    from conftest import make_settings

    settings = make_settings(
        workspace, database_url, etsy_client_id=KEYSTRING, etsy_shared_secret=SHARED_SECRET
    )
    assert SHARED_SECRET not in repr(settings)
    assert SHARED_SECRET not in settings.model_dump_json()
    assert SHARED_SECRET in secret_settings(settings)
    rt = build_runtime(settings)
    try:
        masked = rt.redactor().redact_text(f"x-api-key: {KEYSTRING}:{SHARED_SECRET}")
    finally:
        rt.close()
    assert SHARED_SECRET not in masked


def test_the_registry_takes_the_example_packet_and_renders_the_same(tmp_path: Path) -> None:
    from autopack.domain.packets import PacketError
    from autopack.services.providers import ProviderRegistry
    from autopack.settings import Settings

    registry = ProviderRegistry(Settings(_env_file=None, workspace=REPO, etsy_api_url=BASE))
    try:
        wrapped = registry.get("etsy")
        packet = json.loads(EXAMPLE.read_text(encoding="utf-8"))
        rendered = wrapped.render(intent(packet))
        raw = adapter_payload(packet, PACKET_PROFILE)
        assert rendered == adapter().render(intent(raw))
        with pytest.raises(PacketError) as info:
            wrapped.render(intent(raw))  # the packet action's payload IS a packet
        assert info.value.code == "packet_required"
    finally:
        registry.close()


def test_a_refusal_is_exit_2_on_the_cli_and_400_on_the_api(
    cli_env: Path, capsys: pytest.CaptureFixture[str], runtime: Any
) -> None:
    from fastapi.testclient import TestClient

    from autopack.api.app import create_app
    from conftest import invoke_cli

    packet = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    packet["fields"]["price"] = "28.001"
    bad = cli_env / "bad.json"
    bad.write_text(json.dumps(packet), encoding="utf-8")
    code, out, err = invoke_cli(
        [
            *("actions", "render", "--provider", "etsy", "--action", "listing.create"),
            *("--payload", str(bad), "--key", "k1"),
        ],
        capsys,
    )
    assert (code, out) == (2, "")
    assert err.startswith("error: etsy listing.create: price ")
    assert "Traceback" not in err
    headers = {"X-API-Key": runtime.settings.api_key.get_secret_value()}
    body = {
        "provider": "etsy",
        "action": "listing.create",
        "key": "k1",
        "payload_json": json.dumps(packet),
    }
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
        r = client.post("/api/actions", json=body, headers=headers)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_provider_payload"
    assert "price" in error["message"]


def test_a_bad_api_url_setting_is_refused_by_name() -> None:
    from autopack.domain.errors import ConfigurationError

    for url in ("ftp://api.etsy.com/v3", "https://api.etsy.com/v3?x=1", "not a url"):
        with pytest.raises(ConfigurationError) as info:
            EtsyAdapter(
                url,
                keystring=None,
                shared_secret=None,
                credentials=NoCredentialStore("etsy"),
                media_root=REPO,
            )
        assert info.value.code == "invalid_setting"
        assert "AUTOPACK_ETSY_API_URL" in info.value.message
