"""The redaction library: pattern rules, field rules, HAR, known secrets, properties."""

from __future__ import annotations

import base64
import json
import re
import string
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from autopack.domain.redaction import (
    MIN_SECRET_LENGTH,
    Finding,
    PatternRule,
    Redactor,
    is_secret_field,
    is_secret_param,
    mask,
)
from autopack.providers.registry import DEFAULT_REDACTOR
from autopack.providers.registry import REDACTION_RULES as PATTERN_RULES

R = DEFAULT_REDACTOR

# Synthetic values in each provider's real shape. None is a live credential.
GOOGLE_API_KEY = "AIzaSyD3f9-Qx7L1kPz0W2mNv8BcT4uY6rEaHs5"
GOOGLE_ACCESS = "ya29.a0AfB_byC7kLmN0pQrStUvWxYz1234567890abcdEFGHijklMNOP"
GOOGLE_REFRESH = "1//0gK7yPq2LmN9xRtWv3ZaBcDeFgHiJkLmNoPqRsTuVwXyZ012345"
GOOGLE_CLIENT_SECRET = "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"
SHOPIFY_TOKEN = "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"
ALPACA_KEY_ID = "PKX4Q7ZL2M9N0B3V8C1D"
ALPACA_SECRET = "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5zA7b"
ETSY_KEYSTRING = "1aa2bb33c44d55eeeeee6fff"
ETSY_TOKEN = "12345678.O1zLuwveeKjpIqCQFfmR-PaMMpBmagH6DljRAkK9qt05OtRKiANJOyZlMx3WQ_o2FdCom"
JWT = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwiZXhwIjoxNzY3MjI1NjAwfQ"
    ".c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIzNDU2Nzg5MA"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF0qJ3x7vZ8nQk1Zc9Y2mB4pQ9rXs\n"
    "Proc-Type: 4,ENCRYPTED\n"
    "DEK-Info: AES-128-CBC,3F17F5316E2BAC89\n"
    "q3LmN8xRtWv2ZaBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789+/abcdEFGHijk==\n"
    "-----END RSA PRIVATE KEY-----"
)

# rule id -> (text, the secret that must disappear)
POSITIVE: dict[str, list[tuple[str, str]]] = {
    "pem-private-key": [
        (f"key file:\n{PEM}\ndone", "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn"),
        (f"after {PEM}", "q3LmN8xRtWv2ZaBcDeFgHiJkLmNoPqRsTuVwXyZ"),
        (
            '"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC'
            '\\nBKcwggSjAgEAAoIBAQC7\\n-----END PRIVATE KEY-----\\n"',
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        ),
    ],
    "jwt": [(f"id_token verified: {JWT} ok", JWT)],
    "google-api-key": [(f"GET /youtube/v3/search?part=id&key={GOOGLE_API_KEY}", GOOGLE_API_KEY)],
    "google-oauth-access": [(f"refreshed {GOOGLE_ACCESS} for channel", GOOGLE_ACCESS)],
    "google-oauth-refresh": [(f"stored refresh {GOOGLE_REFRESH}", GOOGLE_REFRESH)],
    "google-client-secret": [(f"client {GOOGLE_CLIENT_SECRET}", GOOGLE_CLIENT_SECRET)],
    "shopify-token": [
        (f"session with {SHOPIFY_TOKEN} opened", SHOPIFY_TOKEN),
        ("shared 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 seen", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
    ],
    "etsy-oauth-token": [(f"401 using {ETSY_TOKEN}", ETSY_TOKEN)],
    "alpaca-key-id": [(f"client ready with {ALPACA_KEY_ID} paper", ALPACA_KEY_ID)],
    "alpaca-secret-key": [
        (f'TradingClient("{ALPACA_KEY_ID}", "{ALPACA_SECRET}", paper=True)', ALPACA_SECRET),
        (f"{ALPACA_KEY_ID}:{ALPACA_SECRET}", ALPACA_SECRET),
    ],
    "aws-access-key-id": [("aws AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE")],
    "github-token": [("ghp_0123456789abcdefghijABCDEFGHIJ012345 x", "ghp_0123456789abcdefghij")],
    "autopack-api-key": [
        (
            "X-API-Key: apk_0a1b2c3d4e5f_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde",
            "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        )
    ],
    "stripe-key": [("sk_live_0123456789abcdefABCDEF in env", "sk_live_0123456789abcdef")],
    "slack-token": [("xoxb-123456789012-abcdefABCDEF posted", "xoxb-123456789012-abcdef")],
    "bearer-token": [("sent Bearer abc123def456ghi789 upstream", "abc123def456ghi789")],
    "basic-auth": [
        (
            "proxy said basic " + base64.b64encode(b"ops:hunter2hunter2").decode(),
            base64.b64encode(b"ops:hunter2hunter2").decode(),
        )
    ],
    "url-password": [
        ("DATABASE_URL=postgresql://autopack:s3cr3t%2Fpw@db:5432/app", "s3cr3t%2Fpw"),
        ("git clone https://x-access-token:tok_98765abcdef@github.com/o/r", "tok_98765abcdef"),
    ],
    "secret-header": [
        ("Authorization: OAuth oauth_token=abc123xyz, oauth_nonce=77", "abc123xyz"),
        ("Cookie: _shopify_s=abc123; _y=def456", "_shopify_s=abc123"),
        ("> authorization: Token tok_live_8f7e6d5c4b3a", "tok_live_8f7e6d5c4b3a"),
        ("DEBUG headers: Cookie: sid=opaque; theme=dark", "sid=opaque"),
        ("Set-Cookie: session=opaqueSessionValue; Path=/; HttpOnly", "opaqueSessionValue"),
        (
            "Proxy-Authorization: Digest username=ops, response=6629fae49393a05397450978507c4ef1",
            "6629fae49393a05397450978507c4ef1",
        ),
    ],
    "secret-query-param": [
        ("GET /oauth/callback?state=xyz&code=4%2F0AeanS0aBcDeF&scope=upload", "4%2F0AeanS0aBcDeF"),
        ("https://storage.example/o?X-Goog-Signature=9f8e7d6c5b4a", "9f8e7d6c5b4a"),
    ],
    "secret-cli-flag": [
        (
            "autopack credentials add-key --client-secret Zx9Yw8Vu7Ts6 --provider etsy",
            "Zx9Yw8Vu7Ts6",
        ),
    ],
    "netrc-password": [("machine api.example.com login ops password Tr0ub4dor&3", "Tr0ub4dor&3")],
    "pgpass-password": [("db.internal:5432:autopack:autopack:pgPassw0rd9", "pgPassw0rd9")],
    "registry-login-password": [
        ("docker login -u ops -p RegPass123 registry.example.com", "RegPass123")
    ],
    "secret-assignment": [
        (f"APCA-API-SECRET-KEY: {ALPACA_SECRET}", ALPACA_SECRET),
        (f"x-api-key: {ETSY_KEYSTRING}", ETSY_KEYSTRING),
        (f"ETSY_KEYSTRING={ETSY_KEYSTRING}", ETSY_KEYSTRING),
        ('{"client_secret": "hunter2 with spaces", "client_id": "abc"}', "hunter2 with spaces"),
        ("{'refresh_token': 'rt-opaque-value-1'}", "rt-opaque-value-1"),
        (r'body="{\"password\": \"pa55 w0rd\", \"user\": \"ops\"}"', "pa55 w0rd"),
        ("password=hunter2 user=bob", "hunter2"),
        ("client_secret=abc%2Bdef%2Fghi&grant_type=refresh_token", "abc%2Bdef%2Fghi"),
        ("password: hunter2", "hunter2"),
        ("token: 9f8e7d6c5b4a3", "9f8e7d6c5b4a3"),
        ("x-api-key=ks%3Asecret%40value&x=1", "ks%3Asecret%40value"),
    ],
}

# Text that mentions secrets without containing one, or carries ids and hashes.
BENIGN = [
    "commit 3f786850e387550fdab836ed7e6dc881de23001b",
    "Merge: 3f78685 e387550",
    "uuid 123e4567-e89b-12d3-a456-426614174000 done",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    '"content_hash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="',
    "run 20260101-120000-123456-abcdef at 2026-01-01T12:00:00.123456Z",
    "idempotency_key=order-123 payload_hash=9f86d081884c7d659a2feaa0c55ad015",
    '{"token_type": "Bearer", "expires_in": 3599, "nextPageToken": "CAUQAA"}',
    '{"pageToken": "CAoQAA", "syncToken": "CPDAlvWDx70CEPDAlvWDx70CGAU="}',
    "input_tokens=1532 output_tokens=412 max_tokens: 4096",
    "The refresh token rotates on every use; set the password in the store.",
    "I have a basic understanding of OAuth. Refresh the token: run autopack.",
    "Use a Bearer token in the Authorization header.",
    "curl -H 'Authorization: Bearer $ETSY_TOKEN' https://openapi.etsy.com/v3/application/openapi-ping",
    "Authorization: Bearer <access_token>",
    "      password: ${DB_PASSWORD}",
    'token = os.environ["AUTOPACK_TOKEN"]',
    '{"token_uri": "https://oauth2.googleapis.com/token", "auth_uri": "https://accounts.google.com/o/oauth2/auth"}',
    '{"password_min_length": 12, "token_expires_at": "2026-01-01T00:00:00Z"}',
    '{"has_refresh_token": true, "refresh_token_present": false}',
    "grant_type=refresh_token&client_id=1234-x.apps.googleusercontent.com",
    "POST https://oauth2.googleapis.com/token -> 200 in 120 ms",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42",
    "gid://shopify/Product/1234567890123 listing 1234567890",
    'ETag: "33a64df551425fcc55e4d42a148795d9f25f89d4"',
    "x-goog-hash: crc32c=n03x6A==, md5=Ojk9c3dhfxgoKVVHYwFbHQ==",
    "alpaca order 61e69015-8549-4bfd-b9c3-01e75cb2b1b5 client_order_id=ap-9f86d081884c7d65",
    "password=",
    "password: null",
    '"secret": ""',
    "[REDACTED:secret-field]",
    "version 1.2.3 released 2026-01-01; see https://example.com/releases?page=2",
    "oauth: the provider refused the authorization: access_denied",
    "DATABASE_URL=postgresql+psycopg://user:password@host:5432/autopack",
    "the provider redirects to /callback?code=...&state=... after consent",
    '{"no_refresh_token": "The credential has no refresh token.", "hasRefreshToken": "yes"}',
    "Authorization: Bearer",
]


def _rule(rule_id: str) -> PatternRule:
    return next(r for r in PATTERN_RULES if r.id == rule_id)


# -- pattern rules ----------------------------------------------------------


def test_every_rule_has_an_id_a_reason_and_positive_examples() -> None:
    ids = [rule.id for rule in PATTERN_RULES]
    assert len(ids) == len(set(ids))
    assert all(rule.reason for rule in PATTERN_RULES)
    assert set(POSITIVE) == set(ids)


@pytest.mark.parametrize(
    ("rule_id", "text", "secret"),
    [(rule_id, text, secret) for rule_id, cases in POSITIVE.items() for text, secret in cases],
)
def test_rule_masks_its_example(rule_id: str, text: str, secret: str) -> None:
    assert secret in text
    assert any(f.rule_id == rule_id for f in _rule(rule_id).findings(text)), rule_id
    out = R.redact_text(text)
    assert secret not in out
    assert "[REDACTED:" in out
    assert R.redact_text(out) == out


@pytest.mark.parametrize("text", BENIGN)
def test_benign_text_is_unchanged(text: str) -> None:
    assert R.scan(text) == []
    assert R.redact_text(text) == text


def test_marker_names_the_rule_and_never_the_secret() -> None:
    out = R.redact_text(f"X-Shopify-Access-Token: {SHOPIFY_TOKEN}")
    assert out == "X-Shopify-Access-Token: [REDACTED:shopify-token]"
    assert mask("jwt") == "[REDACTED:jwt]"


def test_pem_block_is_masked_whole_and_following_text_kept() -> None:
    out = R.redact_text(f"before\n{PEM}\nafter")
    assert out == "before\n[REDACTED:pem-private-key]\nafter"


def test_header_value_masked_to_end_of_line_only() -> None:
    out = R.redact_text("Authorization: Basic b3BzOmh1bnRlcjI=\nAccept: */*")
    assert out == "Authorization: [REDACTED:secret-header]\nAccept: */*"


def test_token_glued_to_a_longer_word_is_not_a_token() -> None:
    assert R.redact_text(f"x{GOOGLE_API_KEY}") == f"x{GOOGLE_API_KEY}"
    assert R.redact_text(f"{GOOGLE_API_KEY}x") == f"{GOOGLE_API_KEY}x"
    # An uppercase hex id is not an Alpaca key id once glued to more characters.
    assert R.redact_text("PKX4Q7ZL2M9N0B3V8C1DE") == "PKX4Q7ZL2M9N0B3V8C1DE"


def test_alpaca_secret_rule_leaves_a_hex_sha_on_the_same_line() -> None:
    sha = "3f786850e387550fdab836ed7e6dc881de23001b"
    out = R.redact_text(f"deployed {ALPACA_KEY_ID} at commit {sha}")
    assert sha in out
    assert ALPACA_KEY_ID not in out


def test_basic_rule_needs_credentials_that_decode_to_user_and_password() -> None:
    assert (
        R.redact_text("basic dGVzdGluZ3dpdGhvdXRjb2xvbg==") == "basic dGVzdGluZ3dpdGhvdXRjb2xvbg=="
    )


def test_non_ascii_text_keeps_positions() -> None:
    # "\u0130".lower() is two code points; anchors must still index the original.
    text = "\u0130\u0130\u0130 password=hunter2 \u0130"
    assert R.redact_text(text) == "\u0130\u0130\u0130 password=[REDACTED:secret-assignment] \u0130"


# -- field rules ------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "x-api-key",
        "X-API-KEY", "api_key", "apikey", "access_token", "refresh_token", "client_secret",
        "password", "secret", "token", "private_key", "APCA-API-SECRET-KEY", "APCA-API-KEY-ID",
        "X-Shopify-Access-Token", "x-goog-api-key", "id_token", "webhookSecret", "keystring",
        "aws_secret_access_key", "passwd", "pwd", "sessionid", "credentials",
    ],
)  # fmt: skip
def test_secret_field_names(name: str) -> None:
    assert is_secret_field(name)
    assert is_secret_param(name)


@pytest.mark.parametrize(
    "name",
    [
        "idempotency_key", "payload_hash", "token_type", "nextPageToken", "pageToken",
        "syncToken", "expires_in", "tokens", "max_tokens", "token_count", "public_key",
        "primary_key", "sort_key", "client_id", "code", "key", "state", "password_hash_algo",
        "has_refresh_token", "hasRefreshToken", "is_secret", "no_refresh_token", "max_token",
        "", "---",
    ],
)  # fmt: skip
def test_non_secret_field_names(name: str) -> None:
    assert not is_secret_field(name)


def test_short_param_names_are_secret_only_as_params() -> None:
    for name in ("code", "key", "sig", "code_verifier", "X-Amz-Signature"):
        assert is_secret_param(name)
    assert not is_secret_param("state")


def test_redact_value_masks_fields_keeps_shape_and_types() -> None:
    data = {
        "provider": "etsy",
        "Authorization": "Bearer anything",
        "refresh_token": None,
        "has_refresh_token": True,
        "password": "",
        "token": {"access_token": "a", "expires_in": 3600, "scopes": ["x", "y"], "ok": False},
        "items": [{"api_key": 12345}, ("free text", f"log {GOOGLE_ACCESS}")],
        "count": 3,
        "ratio": 0.5,
    }
    out = R.redact_value(data)
    field = mask("secret-field")
    assert out == {
        "provider": "etsy",
        "Authorization": field,
        "refresh_token": None,
        "has_refresh_token": True,
        "password": "",
        "token": {
            "access_token": field,
            "expires_in": field,
            "scopes": [field, field],
            "ok": False,
        },
        "items": [{"api_key": field}, ("free text", "log [REDACTED:google-oauth-access]")],
        "count": 3,
        "ratio": 0.5,
    }
    assert R.redact_value(out) == out
    assert data["Authorization"] == "Bearer anything"  # input untouched


def test_secret_used_as_a_key_is_masked_without_losing_entries() -> None:
    red = R.with_secrets(["tok-aaaaaaaa", "tok-bbbbbbbb"])
    out = red.redact_value({"tok-aaaaaaaa": 1, "tok-bbbbbbbb": 2})
    assert sorted(out.values()) == [1, 2]
    assert not any("tok-" in k for k in out)


def test_redact_headers_mapping_and_pairs() -> None:
    headers = {"Authorization": "Bearer x", "Accept": "*/*", "X-Trace": f"t {SHOPIFY_TOKEN}"}
    assert R.redact_headers(headers) == {
        "Authorization": mask("secret-field"),
        "Accept": "*/*",
        "X-Trace": "t [REDACTED:shopify-token]",
    }
    pairs = [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Accept", "*/*")]
    assert R.redact_headers(pairs) == [
        ("Set-Cookie", mask("secret-field")),
        ("Set-Cookie", mask("secret-field")),
        ("Accept", "*/*"),
    ]


def test_redact_url_userinfo_query_and_fragment() -> None:
    url = (
        "https://ops:pw%40123@api.example.com/v1/cb?a=1&client_secret=x%2By"
        "&code=4%2F0Ab&state=s1#access_token=zz&token_type=Bearer"
    )
    out = R.redact_url(url)
    assert out == (
        "https://ops:[REDACTED:url-password]@api.example.com/v1/cb?a=1"
        "&client_secret=[REDACTED:secret-field]&code=[REDACTED:secret-field]&state=s1"
        "#access_token=[REDACTED:secret-field]&token_type=Bearer"
    )
    assert R.redact_url(out) == out
    assert R.redact_url("https://example.com/a?b=c#top") == "https://example.com/a?b=c#top"


def test_redact_query_keeps_encoding_of_other_parameters() -> None:
    assert R.redact_query("q=a%20b&api_key=k1;x=%2F") == (
        "q=a%20b&api_key=[REDACTED:secret-field];x=%2F"
    )


def _har() -> dict[str, object]:
    return {
        "log": {
            "version": "1.2",
            "entries": [
                {
                    "request": {
                        "method": "POST",
                        "url": f"https://oauth2.googleapis.com/token?key={GOOGLE_API_KEY}",
                        "headers": [
                            {"name": "Authorization", "value": "Bearer opaque"},
                            {"name": "x-api-key", "value": ETSY_KEYSTRING},
                            {"name": "APCA-API-SECRET-KEY", "value": ALPACA_SECRET},
                            {"name": "Accept", "value": "application/json"},
                        ],
                        "queryString": [
                            {"name": "key", "value": GOOGLE_API_KEY},
                            {"name": "part", "value": "snippet"},
                        ],
                        "cookies": [{"name": "_shopify_s", "value": "c00kie", "httpOnly": True}],
                        "postData": {
                            "mimeType": "application/x-www-form-urlencoded",
                            "text": "grant_type=refresh_token&refresh_token="
                            + quote(GOOGLE_REFRESH),
                            "params": [
                                {"name": "grant_type", "value": "refresh_token"},
                                {"name": "refresh_token", "value": GOOGLE_REFRESH},
                            ],
                        },
                    },
                    "response": {
                        "status": 200,
                        "headers": [{"name": "Set-Cookie", "value": "sid=s2; Path=/"}],
                        "cookies": [{"name": "sid", "value": "s2"}],
                        "content": {
                            "mimeType": "application/json",
                            "text": json.dumps(
                                {"access_token": "opaque-at", "token_type": "Bearer"}
                            ),
                        },
                    },
                }
            ],
        }
    }


def test_har_follows_from_name_value_rules() -> None:
    har = _har()
    out = R.redact_value(har)
    dumped = json.dumps(out)
    for secret in (
        GOOGLE_API_KEY, "opaque", ETSY_KEYSTRING, ALPACA_SECRET, "c00kie", "s2",
        quote(GOOGLE_REFRESH), GOOGLE_REFRESH, "opaque-at",
    ):  # fmt: skip
        assert secret not in dumped, secret
    entry = out["log"]["entries"][0]
    request = entry["request"]
    assert {"name": "Accept", "value": "application/json"} in request["headers"]
    assert {"name": "part", "value": "snippet"} in request["queryString"]
    assert request["cookies"] == [{"name": "_shopify_s", "value": mask("cookie"), "httpOnly": True}]
    assert request["postData"]["params"][0] == {"name": "grant_type", "value": "refresh_token"}
    assert json.loads(entry["response"]["content"]["text"])["token_type"] == "Bearer"
    assert R.redact_value(out) == out


def test_har_base64_body_is_redacted_inside() -> None:
    body = json.dumps({"access_token": GOOGLE_ACCESS, "expires_in": 3599}).encode()
    content = {"mimeType": "application/json", "encoding": "base64"}
    out = R.redact_value({**content, "text": base64.b64encode(body).decode()})
    decoded = json.loads(base64.b64decode(out["text"]))
    assert decoded == {"access_token": "[REDACTED:google-oauth-access]", "expires_in": 3599}
    # Not base64 after all: treated as text.
    assert R.redact_value({**content, "text": "password=x!"}) == {
        **content,
        "text": "password=[REDACTED:secret-assignment]",
    }


secret_names = st.sampled_from(
    ["Authorization", "x-api-key", "client_secret", "refresh_token", "APCA-API-SECRET-KEY",
     "X-Shopify-Access-Token", "password", "Cookie", "private_key", "keystring"]
)  # fmt: skip
json_leaves = st.one_of(st.text(min_size=1, max_size=30), st.integers(), st.floats(allow_nan=False))
json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(secret_names, st.text(max_size=8)), inner, max_size=3),
    ),
    max_leaves=12,
)


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


@settings(max_examples=200, deadline=None)
@given(name=secret_names, value=json_values, data=json_values)
def test_every_leaf_under_a_secret_name_is_masked(name: str, value: object, data: object) -> None:
    doc = {"outer": [{name: value}, {"name": name, "value": value}], "data": data}
    out = R.redact_value(doc)
    for masked in (out["outer"][0][name], out["outer"][1]["value"]):
        assert all(leaf == mask("secret-field") for leaf in _leaves(masked))
    assert R.redact_value(out) == out


def test_cookies_as_a_mapping_keep_names() -> None:
    assert R.redact_value({"cookies": {"sid": "abc", "theme": "dark"}}) == {
        "cookies": {"sid": mask("cookie"), "theme": mask("cookie")}
    }


def test_redact_bytes_passes_invalid_utf8_through() -> None:
    data = b"\xff\xfe password=hunter2 \xc3"
    assert R.redact_bytes(data) == b"\xff\xfe password=[REDACTED:secret-assignment] \xc3"


# -- known secrets ----------------------------------------------------------

SECRET = 'S3cr3t/+="Value\\with:odd chars\u00e9'


def _encodings(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        base64.b64encode(b"ops:" + raw).decode(),
        base64.b64encode(b"o:" + raw + b"!").decode(),
        base64.b64encode(b"ops1:" + raw).decode(),
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe="")),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        json.dumps(json.dumps(secret)[1:-1])[1:-1],
    ]


@pytest.mark.parametrize("index", range(len(_encodings(SECRET))))
def test_registered_secret_masked_in_every_encoding(index: int) -> None:
    form = _encodings(SECRET)[index]
    red = Redactor(PATTERN_RULES).with_secrets([SECRET])
    for text in (f"x {form} y", f"glued{form}glued", form, f'{{"blob": "{form}"}}'):
        out = red.redact_text(text)
        assert form not in out, (form, out)
        assert "[REDACTED:known-secret]" in out
        assert red.redact_text(out) == out


def test_base64_match_takes_the_whole_token() -> None:
    red = Redactor(PATTERN_RULES).with_secrets(["correct-horse-battery"])
    blob = base64.b64encode(b'{"user": "ops", "pw": "correct-horse-battery"}').decode()
    assert red.redact_text(f"data {blob} end") == "data [REDACTED:known-secret] end"


def test_overlapping_registered_secrets_both_masked() -> None:
    red = Redactor(PATTERN_RULES).with_secrets(["abcdefgh1234", "1234zyxwvuts"])
    assert red.redact_text("--abcdefgh1234zyxwvuts--") == "--[REDACTED:known-secret]--"


def test_short_secrets_ignored_and_counted() -> None:
    red = Redactor(PATTERN_RULES).with_secrets(["1234567", "", "  abc  ", "12345678"])
    assert red.secret_count == 1
    assert red.ignored_secret_count == 3
    assert red.redact_text("pin 1234567") == "pin 1234567"
    assert MIN_SECRET_LENGTH == 8


def test_with_secrets_returns_a_new_redactor_and_keeps_old_secrets() -> None:
    base = Redactor(PATTERN_RULES)
    first = base.with_secrets(["first-secret-1"])
    second = first.with_secrets(["second-secret-2"])
    assert base.secret_count == 0
    assert first.secret_count == 1
    assert second.secret_count == 2
    assert base.redact_text("first-secret-1") == "first-secret-1"
    assert second.redact_text("first-secret-1 second-secret-2") == (
        "[REDACTED:known-secret] [REDACTED:known-secret]"
    )


def test_secret_with_surrounding_whitespace_also_registered_stripped() -> None:
    red = Redactor(PATTERN_RULES).with_secrets(["  padded-secret-9\n"])
    assert red.redact_text("x padded-secret-9 y") == "x [REDACTED:known-secret] y"


def test_secret_inside_a_marker_is_refused_to_keep_idempotence() -> None:
    red = Redactor(PATTERN_RULES).with_secrets(["REDACTED:known"])
    assert red.secret_count == 0
    assert red.ignored_secret_count == 1


def test_repr_shows_counts_never_secrets() -> None:
    red = Redactor(PATTERN_RULES).with_secrets([SECRET])
    assert repr(red) == f"Redactor(rules={len(PATTERN_RULES)}, secrets=1)"


def test_many_secrets_compile_into_one_fast_pattern() -> None:
    secrets = [f"{i:04d}-" + "k" * 20 + f"-{i * 7919:08d}" for i in range(500)]
    red = Redactor(PATTERN_RULES).with_secrets(secrets)
    text = " ".join(secrets[::50])
    assert red.redact_text(text) == " ".join(["[REDACTED:known-secret]"] * 10)


def test_redactor_is_shareable_between_threads() -> None:
    red = Redactor(PATTERN_RULES).with_secrets([SECRET])
    texts = [f"{i} {SECRET} {_encodings(SECRET)[i % 16]} password=p{i}" for i in range(200)]
    expected = [red.redact_text(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(red.redact_text, texts)) == expected


# -- properties -------------------------------------------------------------

_SECRET_ALPHABET = string.ascii_letters + string.digits + string.punctuation + " \u00e9\u4e2d"
secrets_st = st.text(alphabet=_SECRET_ALPHABET, min_size=MIN_SECRET_LENGTH, max_size=48).filter(
    lambda s: len(s.strip()) >= MIN_SECRET_LENGTH
)
fragments = st.sampled_from(
    [text for cases in POSITIVE.values() for text, _ in cases] + BENIGN + [" ", "\n", "="]
)
mixed_text = st.lists(st.one_of(st.text(max_size=30), fragments), max_size=8).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_text)
def test_redaction_is_idempotent(text: str) -> None:
    once = R.redact_text(text)
    assert R.redact_text(once) == once


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=secrets_st, prefix=st.text(max_size=40), suffix=st.text(max_size=40), data=st.data())
def test_registered_secret_never_survives_in_any_encoding(
    secret: str, prefix: str, suffix: str, data: st.DataObject
) -> None:
    red = Redactor(PATTERN_RULES).with_secrets([secret])
    assume(red.secret_count >= 1)
    form = data.draw(st.sampled_from(_encodings(secret)))
    out = red.redact_text(prefix + form + suffix)
    assert form not in out
    assert red.redact_text(out) == out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=secrets_st, head=st.binary(max_size=20), tail=st.binary(max_size=20))
def test_secret_inside_any_base64_payload_is_masked_whole(
    secret: str, head: bytes, tail: bytes
) -> None:
    red = Redactor(PATTERN_RULES).with_secrets([secret])
    assume(red.secret_count >= 1)
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        blob = encode(head + secret.encode() + tail).decode()
        out = red.redact_text(f"payload {blob} end")
        assert out == "payload [REDACTED:known-secret] end"


_hex = st.integers(min_value=0).map(lambda n: f"{n:x}")
benign_tokens = st.one_of(
    st.binary(min_size=20, max_size=20).map(bytes.hex),  # commit SHA
    st.binary(min_size=32, max_size=32).map(bytes.hex),  # sha256
    st.uuids().map(str),
    st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.integers(min_value=0, max_value=10**12).map(str),
    st.binary(min_size=3, max_size=3).map(lambda b: f"20260101-120000-123456-{b.hex()}"),
    st.sampled_from(["order", "listing", "upload", "status", "succeeded", "approved", "hash"]),
    _hex,
)
benign_text = st.lists(
    st.tuples(benign_tokens, st.sampled_from([" ", ", ", "\n", " = ", " | ", "; "])), max_size=30
).map(lambda parts: "".join(a + b for a, b in parts))


WITH_SECRETS = Redactor(PATTERN_RULES).with_secrets(
    [GOOGLE_ACCESS, ETSY_TOKEN, ALPACA_SECRET, SECRET]
)


@settings(max_examples=300, deadline=None)
@given(benign_text)
def test_text_without_secrets_is_unchanged(text: str) -> None:
    assert WITH_SECRETS.redact_text(text) == text


def _covered(findings: list[Finding]) -> set[int]:
    return {i for f in findings for i in range(f.start, f.end)}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_text)
def test_prefilters_and_anchors_lose_no_match(text: str) -> None:
    """The trigger gate, anchor search and not_after check are speed-ups only:
    every span a plain scan of each regex finds is also masked by scan()."""
    expected: list[Finding] = []
    for rule in PATTERN_RULES:
        for match in rule.regex.finditer(text):
            if rule.not_after and match.start() > 0 and text[match.start() - 1] in rule.not_after:
                continue
            if rule.validate is not None and not rule.validate(match):
                continue
            for name in rule.groups:
                start, end = match.span(name)
                if start >= 0 and end > start:
                    expected.append(Finding(rule.id, start, end))
                    break
    assert _covered(expected) <= _covered(R.scan(text))


def test_findings_carry_positions_not_secrets() -> None:
    findings = R.scan(f"a {SHOPIFY_TOKEN} b")
    assert findings == [Finding("shopify-token", 2, 2 + len(SHOPIFY_TOKEN))]
    assert SHOPIFY_TOKEN not in repr(findings)


ADVERSARIAL = [
    "a" * 40000,
    "A/" * 20000,
    "-" * 40000,
    "1." * 20000,
    "key" * 13000,
    "eyJ" * 13000,
    "password=" * 5000,
    "token:" * 8000,
    "nextPageToken=" * 8000,
    "Authorization:" * 8000,
    "--token " * 8000,
    "password=${" * 8000,
    "docker login " * 5000,
    "a://" * 10000,
    "-----BEGIN PRIVATE KEY-----" * 2000,
]


@pytest.mark.parametrize("index", range(len(ADVERSARIAL)))
def test_adversarial_input_scans_in_bounded_time(index: int) -> None:
    # Each of these once made a rule rescan the rest of the line from every
    # anchor (quadratic: minutes); bounded rules take milliseconds.
    red = Redactor(PATTERN_RULES).with_secrets(["correct-horse-battery"])
    text = ADVERSARIAL[index]
    started = time.perf_counter()
    out = red.redact_text(text)
    assert time.perf_counter() - started < 3.0
    assert red.redact_text(out) == out


def test_base64_run_full_of_a_secret_is_masked_in_linear_time() -> None:
    red = Redactor(PATTERN_RULES).with_secrets(["correct-horse-battery"])
    blob = base64.b64encode(b"correct-horse-battery" * 3000).decode()
    started = time.perf_counter()
    assert red.redact_text(f"x {blob} y") == "x [REDACTED:known-secret] y"
    assert time.perf_counter() - started < 3.0
