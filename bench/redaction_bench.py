"""Redaction benchmark: Autopack's redactor next to detect-secrets on the same files.

Builds, from a fixed seed, three corpora of files in a temporary directory:

- **registered**: secrets that are registered with the redactor (as the
  credential store does), planted raw, base64 (standard, URL-safe, unpadded,
  inside ``user:secret``), URL-encoded (``quote``, ``quote_plus``), JSON-escaped
  (once and twice), glued inside other words, in plain prose with no hint, and
  inside HAR files;
- **pattern**: other secrets in our providers' formats (Google, Shopify, Alpaca,
  Etsy, JWT, PEM, passwords), NOT registered, in the places they really show up:
  HTTP headers, curl commands, .env and YAML files, token responses, log lines,
  URLs, form bodies, Basic auth, Kubernetes base64 secrets, escaped JSON bodies,
  and HAR files;
- **benign**: commit SHAs, UUIDs, SHA-256 hex and base64 content hashes, run
  ids, ISO timestamps, provider object ids, ledger JSON, benign HAR traffic, and
  prose that talks about tokens and passwords without containing any.

Definitions (one planted secret = one occurrence of one secret in one file, in
the exact form it takes there, e.g. its base64):

- *recall (ours)*: the fraction of planted secrets of which nothing survives in
  the redacted file: neither the planted form nor any 16-character window of it
  (shorter forms: the whole form). Partial masking counts as a miss.
- *recall (detect-secrets)*: the fraction of planted secrets for which
  detect-secrets reports a finding on a line the planted form occupies (a
  generous measure: it only has to point at the line).
- *false-positive rate*: over the lines of the benign files, the fraction our
  redactor changes / detect-secrets reports a finding on.
- *throughput*: total corpus bytes / wall time to process every file
  (read + redact + write for us, HAR files as parsed JSON through
  ``redact_value``; ``SecretsCollection.scan_file`` for detect-secrets).

``registered_recall`` is ours on the registered corpus; ``pattern_recall`` and
``detect_secrets_recall`` are on the pattern corpus. Our numbers come from one
redactor with every registered secret and all pattern and field rules on, run
once over everything. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import string
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from detect_secrets.core.secrets_collection import SecretsCollection
from detect_secrets.settings import default_settings

from autopack.domain.redaction import Redactor
from autopack.providers.registry import REDACTION_RULES

SEED = 20260101
WINDOW = 16

LOWER_DIGITS = string.ascii_lowercase + string.digits
ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
B64URL = ALNUM + "-_"
PASSWORD_CHARS = ALNUM + "!@#$%^&*-_=+.,:/?~"
HEX = "0123456789abcdef"


# ---------------------------------------------------------------------------
# Secret generators: our providers' real formats
# ---------------------------------------------------------------------------


class Secrets:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def google_api_key(self) -> str:
        return "AIza" + self.chars(B64URL, 35)

    def google_access(self) -> str:
        return "ya29.a0" + self.chars(B64URL, self.rng.randint(140, 210))

    def google_refresh(self) -> str:
        return "1//0" + self.rng.choice("3g") + self.chars(B64URL, 97)

    def google_client_secret(self) -> str:
        return "GOCSPX-" + self.chars(B64URL, 28)

    def google_code(self) -> str:
        return "4/0A" + self.chars(B64URL, 69)

    def shopify_access(self) -> str:
        return self.rng.choice(["shpat_", "shpca_"]) + self.chars(HEX, 32)

    def shopify_secret(self) -> str:
        return "shpss_" + self.chars(HEX, 32)

    def alpaca_key_id(self) -> str:
        return self.rng.choice(["PK", "AK"]) + self.chars(UPPER_ALNUM, 18)

    def alpaca_secret(self) -> str:
        return self.chars(ALNUM, 40)

    def etsy_keystring(self) -> str:
        return self.chars(LOWER_DIGITS, 24)

    def etsy_shared_secret(self) -> str:
        return self.chars(LOWER_DIGITS, 10)

    def etsy_token(self) -> str:
        return f"{self.rng.randint(10**7, 10**9)}.{self.chars(B64URL, 91)}"

    def jwt(self) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).decode().rstrip("=")

        header = b64(
            json.dumps({"alg": "RS256", "kid": self.chars(HEX, 40), "typ": "JWT"}).encode()
        )
        claims = {
            "iss": "https://accounts.google.com",
            "sub": str(self.rng.randint(10**20, 10**21)),
            "email": f"user{self.rng.randint(1, 999)}@example.com",
            "exp": 1767225600 + self.rng.randint(0, 10**6),
        }
        payload = b64(json.dumps(claims).encode())
        return f"{header}.{payload}.{b64(self.rng.randbytes(256))}"

    def password(self) -> str:
        return self.chars(PASSWORD_CHARS, self.rng.randint(12, 24))

    def pem(self) -> str:
        body = base64.b64encode(self.rng.randbytes(1190)).decode()
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        kind = self.rng.choice(["PRIVATE KEY", "RSA PRIVATE KEY"])
        return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"

    def any_registered(self) -> str:
        maker = self.rng.choice(
            [
                self.google_access,
                self.google_refresh,
                self.google_client_secret,
                self.shopify_access,
                self.alpaca_key_id,
                self.alpaca_secret,
                self.etsy_keystring,
                self.etsy_token,
                self.password,
                self.password,
            ]
        )
        return maker()


# ---------------------------------------------------------------------------
# Benign material
# ---------------------------------------------------------------------------

PROSE = [
    "The refresh token rotates on every use, so two workers must never redeem it at once.",
    "Use a Bearer token in the Authorization header; the console shows only its status.",
    "Set the password in the credential store, never on the command line.",
    "Each secret is encrypted with a key derived from AUTOPACK_SECRET_KEY.",
    "A basic understanding of OAuth is enough to connect a provider account.",
    "The API key for Etsy is called a keystring in their documentation.",
    "If the token expired, run the refresh command and check the health endpoint.",
    "Shopify offline tokens now expire and rotate like Etsy's.",
    "Alpaca uses separate key pairs and hosts for paper and live trading.",
    "Google refresh tokens expire after seven days for apps in Testing status.",
    "The approval binds to the payload hash; changing any field needs a new approval.",
    "Tokens used: the prompt took 1532 tokens and the answer 412 tokens.",
    "Rotate the signing key before the release and record who did it.",
    "Cookies are not used by the API; the console uses a session cookie only.",
    "The private key never leaves the machine that generated it.",
    "The secret scanner runs on every commit and blocks pushes with findings.",
    "Ask the operator for the credentials; do not paste them into the ticket.",
    "Upload the video, then set its privacy status once the approval lands.",
]

WORDS = [
    *("order", "listing", "video", "upload", "approval", "ledger", "worker", "lease"),
    *("claim", "dispatch", "confirm", "reconcile", "provider", "sandbox", "paper"),
    *("policy", "snapshot", "packet", "media", "thumbnail", "symbol", "quantity"),
    *("notional", "limit", "drawdown", "halt", "resume", "status", "event", "chain"),
]


class Benign:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.clock = 1767225600

    def hexs(self, n: int) -> str:
        return "".join(self.rng.choice(HEX) for _ in range(n))

    def uuid(self) -> str:
        h = self.hexs(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{self.rng.choice('89ab')}{h[17:20]}-{h[20:]}"

    def sha256_b64(self) -> str:
        return base64.b64encode(self.rng.randbytes(32)).decode()

    def ts(self) -> str:
        self.clock += self.rng.randint(0, 5)
        t = time.gmtime(self.clock)
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{self.rng.randint(0, 999999):06d}Z"

    def run_id(self) -> str:
        r = self.rng
        return f"20260101-{r.randint(0, 235959):06d}-{r.randint(0, 999999):06d}-{self.hexs(6)}"

    def youtube_id(self) -> str:
        return "".join(self.rng.choice(B64URL) for _ in range(11))

    def line(self) -> str:
        r = self.rng
        choices: list[Callable[[], str]] = [
            lambda: f"commit {self.hexs(40)}",
            lambda: f"Merge: {self.hexs(7)} {self.hexs(7)}",
            lambda: f"    {r.choice(PROSE)}",
            lambda: (
                f"{self.ts()} INFO autopack.worker claimed action {self.uuid()} run={self.run_id()}"
            ),
            lambda: (
                f"{self.ts()} DEBUG autopack.ledger event_hash={self.hexs(64)} prev={self.hexs(64)}"
            ),
            lambda: json.dumps(
                {
                    "idempotency_key": f"{r.choice(WORDS)}-{r.randint(1, 10**6)}",
                    "payload_hash": self.hexs(64),
                    "provider": r.choice(["youtube", "etsy", "shopify", "alpaca"]),
                    "provider_object_id": r.choice(
                        [
                            self.uuid(),
                            self.youtube_id(),
                            str(r.randint(10**9, 10**10)),
                            f"gid://shopify/Product/{r.randint(10**12, 10**13)}",
                        ]
                    ),
                    "status": r.choice(["succeeded", "unknown", "awaiting_approval"]),
                    "created_at": self.ts(),
                }
            ),
            lambda: f'  "sha256": "{self.hexs(64)}",',
            lambda: f'  "content_hash": "sha256-{self.sha256_b64()}",',
            lambda: f'ETag: "{self.hexs(32)}"',
            lambda: f"x-goog-hash: crc32c={self.sha256_b64()[:8]}, md5={self.sha256_b64()[:24]}",
            lambda: f"X-Request-Id: {self.uuid()}",
            lambda: f"https://www.youtube.com/watch?v={self.youtube_id()}",
            lambda: (
                f"https://www.etsy.com/listing/{r.randint(10**9, 10**10)}/"
                f"handmade-{r.choice(WORDS)}?ref=shop_home"
            ),
            lambda: (
                f"{self.ts()} INFO llm usage input_tokens={r.randint(10, 9000)} "
                f"output_tokens={r.randint(10, 2000)} max_tokens: {r.choice([1024, 4096])}"
            ),
            lambda: json.dumps(
                {
                    "token_type": "Bearer",
                    "expires_in": 3599,
                    "scope": "https://www.googleapis.com/auth/youtube.upload",
                }
            ),
            lambda: json.dumps(
                {"nextPageToken": "CAUQAA", "pageInfo": {"totalResults": r.randint(1, 500)}}
            ),
            lambda: (
                "grant_type=refresh_token&client_id="
                + f"{r.randint(10**11, 10**12)}-{self.hexs(32)}.apps.googleusercontent.com"
            ),
            lambda: (
                f"autopack credentials health --provider {r.choice(['etsy', 'alpaca'])}"
                f" # status=healthy expires_in={r.randint(60, 3600)}"
            ),
            lambda: (
                f'  File "src/autopack/services/{r.choice(WORDS)}.py", '
                f"line {r.randint(1, 900)}, in {r.choice(WORDS)}"
            ),
            lambda: f"git checkout {self.hexs(40)} && pytest -q  # run {self.run_id()}",
            lambda: (
                f"{self.ts()} INFO alpaca order {self.uuid()} client_order_id=ap-{self.hexs(16)}"
                f" filled qty={r.randint(1, 100)}"
            ),
            lambda: (
                f"{self.ts()} INFO credentials refreshed provider=etsy "
                f"account=shop-{r.randint(1, 99)} has_refresh_token=true"
            ),
            # Near misses: secret-sounding names and placeholders with no secret.
            lambda: (
                f"curl -H 'Authorization: Bearer ${r.choice(['ETSY_TOKEN', 'ACCESS_TOKEN'])}'"
                " https://openapi.etsy.com/v3/application/openapi-ping"
            ),
            lambda: "Authorization: Bearer <access_token>",
            lambda: f"      password: ${{{r.choice(['DB_PASSWORD', 'POSTGRES_PASSWORD'])}}}",
            lambda: 'token = os.environ["AUTOPACK_TOKEN"]',
            lambda: json.dumps(
                {
                    "token_uri": "https://oauth2.googleapis.com/token",
                    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                    "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                }
            ),
            lambda: f"POST https://oauth2.googleapis.com/token -> 200 in {r.randint(50, 900)} ms",
            lambda: json.dumps(
                {
                    "sort_key": "created_at",
                    "primary_key": "id",
                    "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"
                    + self.sha256_b64()[:43]
                    + " ops@host",
                }
            ),
            lambda: json.dumps(
                {
                    "password_min_length": 12,
                    "password_changed_at": self.ts(),
                    "token_expires_at": self.ts(),
                }
            ),
            lambda: f"{self.ts()} INFO token refresh ok expires_in=3599 token_type=Bearer",
            lambda: "Refresh the token: run `autopack credentials refresh etsy --account shop-1`.",
        ]
        return r.choice(choices)()


# ---------------------------------------------------------------------------
# Corpus model
# ---------------------------------------------------------------------------


@dataclass
class CorpusFile:
    name: str
    corpus: str  # registered | pattern | benign
    har: bool
    text: str = ""
    planted: list[str] = field(default_factory=list)  # forms as they appear in `text`


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def b64url(s: str) -> str:
    return base64.urlsafe_b64encode(s.encode()).decode()


def json_escaped(s: str) -> str:
    return json.dumps(s)[1:-1]


class Lines:
    """Collects lines and the forms planted in them."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.planted: list[str] = []

    def add(self, line: str, *forms: str) -> None:
        for form in forms:
            assert form in line, (form, line)
        self.lines.append(line)
        self.planted.extend(forms)


def pattern_contexts(s: Secrets, b: Benign, out: Lines) -> None:
    """One realistic occurrence of unregistered provider secrets."""
    r = s.rng
    ts = b.ts()
    pick = r.randrange(38)
    if pick == 0:
        t = s.google_access()
        out.add(f"Authorization: Bearer {t}", t)
    elif pick == 1:
        t = s.shopify_access()
        out.add(f"X-Shopify-Access-Token: {t}", t)
    elif pick == 2:
        k = s.etsy_keystring()
        out.add(f"x-api-key: {k}", k)
    elif pick == 3:
        k, sec = s.alpaca_key_id(), s.alpaca_secret()
        out.add(
            f"curl -s -H 'APCA-API-KEY-ID: {k}' -H 'APCA-API-SECRET-KEY: {sec}' "
            "https://paper-api.alpaca.markets/v2/account",
            k,
            sec,
        )
    elif pick == 4:
        k, sec = s.alpaca_key_id(), s.alpaca_secret()
        out.add(f"APCA_API_KEY_ID={k}", k)
        out.add(f"APCA_API_SECRET_KEY={sec}", sec)
    elif pick == 5:
        out.add(f"GOOGLE_CLIENT_SECRET={(g := s.google_client_secret())}", g)
        out.add(f'export YOUTUBE_REFRESH_TOKEN="{(rt := s.google_refresh())}"', rt)
    elif pick == 6:
        at, rt = s.google_access(), s.google_refresh()
        body = {
            "access_token": at,
            "expires_in": 3599,
            "refresh_token": rt,
            "scope": "https://www.googleapis.com/auth/youtube.upload",
            "token_type": "Bearer",
        }
        out.add(json.dumps(body), at, rt)
    elif pick == 7:
        at, rt = s.etsy_token(), s.etsy_token()
        body = {"access_token": at, "token_type": "Bearer", "expires_in": 3600, "refresh_token": rt}
        out.add(json.dumps(body), at, rt)
    elif pick == 8:
        t = s.google_access()
        out.add(
            f"{ts} INFO autopack.providers.youtube refreshed access token {t} "
            f"for channel UC{b.youtube_id()}",
            t,
        )
    elif pick == 9:
        t = s.etsy_token()
        out.add(f"{ts} WARNING autopack.providers.etsy 401 Unauthorized using {t}", t)
    elif pick == 10:
        k = s.alpaca_key_id()
        out.add(f"{ts} DEBUG autopack.providers.alpaca client ready key_id={k} paper=true", k)
    elif pick == 11:
        t = s.google_access()
        out.add(
            f"GET https://www.googleapis.com/youtube/v3/channels?part=snippet&mine=true&access_token={t}",
            t,
        )
    elif pick == 12:
        k = s.google_api_key()
        out.add(
            f"GET https://www.googleapis.com/youtube/v3/search?part=snippet&q={r.choice(WORDS)}&key={k}",
            k,
        )
    elif pick == 13:
        c = s.google_code()
        out.add(
            f"GET /oauth/callback?state={b.hexs(32)}&code={quote(c, safe='')}&scope=youtube.upload",
            quote(c, safe=""),
        )
    elif pick == 14:
        g, rt = s.google_client_secret(), s.google_refresh()
        out.add(
            f"grant_type=refresh_token&client_id={r.randint(10**11, 10**12)}"
            "-x.apps.googleusercontent.com"
            f"&client_secret={quote_plus(g)}&refresh_token={quote(rt, safe='')}",
            quote_plus(g),
            quote(rt, safe=""),
        )
    elif pick == 15:
        t = s.etsy_token()
        out.add(
            f'curl -H "x-api-key: {(k := s.etsy_keystring())}" -H "Authorization: Bearer {t}" '
            f"https://openapi.etsy.com/v3/application/shops/{r.randint(10**6, 10**8)}/listings",
            k,
            t,
        )
    elif pick == 16:
        t = s.shopify_access()
        out.add(
            f"headers={{'X-Shopify-Access-Token': '{t}', 'Content-Type': 'application/json'}}", t
        )
    elif pick == 17:
        out.add(f"  client_secret: {(g := s.google_client_secret())}", g)
        out.add(f"  refresh_token: {(rt := s.google_refresh())}", rt)
    elif pick == 18:
        pw = s.password()
        out.add(f"  password: {json.dumps(pw)}", json_escaped(pw))
    elif pick == 19:
        pw = s.password()
        out.add(
            f"DATABASE_URL=postgresql://autopack:{quote(pw, safe='')}@db.internal:5432/autopack",
            quote(pw, safe=""),
        )
    elif pick == 20:
        k, sec = s.alpaca_key_id(), s.alpaca_secret()
        enc = b64(f"{k}:{sec}")
        out.add(f"Authorization: Basic {enc}", enc)
    elif pick == 21:
        sec = s.alpaca_secret()
        out.add(f"  APCA_API_SECRET_KEY: {b64(sec)}", b64(sec))
    elif pick == 22:
        at = s.google_access()
        inner = json.dumps({"access_token": at, "expires_in": 3599})
        out.add(f'{ts} ERROR provider response body="{json_escaped(inner)}"', at)
    elif pick == 23:
        pw = s.password()
        inner = json.dumps({"username": "ops", "password": pw})
        out.add(f"{ts} DEBUG request json={json.dumps(inner)}", json_escaped(json_escaped(pw)))
    elif pick == 24:
        p = s.pem()
        pem_body = p.split("\n", 1)[1].rsplit("\n", 1)[0]
        out.add(p, pem_body)
    elif pick == 25:
        p = s.pem()
        esc = json_escaped(p + "\n")
        pem_body = json_escaped(p.split("\n", 1)[1].rsplit("\n", 1)[0])
        out.add(f'  "private_key": "{esc}",', pem_body)
    elif pick == 26:
        j = s.jwt()
        out.add(f"{ts} DEBUG id_token verified: {j}", j)
    elif pick == 27:
        t = s.shopify_secret()
        out.add(f'{{"api_key": "{b.hexs(32)}", "api_secret_key": "{t}"}}', t)
    elif pick == 28:
        t, k = s.etsy_keystring(), s.etsy_shared_secret()
        out.add(f"ETSY_KEYSTRING={t}", t)
        out.add(f"ETSY_SHARED_SECRET={k}", k)
    elif pick == 29:
        sec = s.alpaca_secret()
        out.add(
            f"autopack credentials add-key --provider alpaca --key-id {s.alpaca_key_id()} "
            f"--secret {sec}",
            sec,
        )
    # Places no rule was designed around: positional client arguments, OAuth
    # client ids that are Etsy keystrings, netrc/pgpass files, CLI password flags.
    elif pick == 30:
        k, sec = s.alpaca_key_id(), s.alpaca_secret()
        out.add(f'client = TradingClient("{k}", "{sec}", paper=True)', k, sec)
    elif pick == 31:
        k, rt = s.etsy_keystring(), s.etsy_token()
        out.add(
            json.dumps({"grant_type": "refresh_token", "client_id": k, "refresh_token": rt}), k, rt
        )
    elif pick == 32:
        pw = s.password().replace(" ", "")
        out.add(f"machine api.example.com login ops password {pw}", pw)
    elif pick == 33:
        pw = s.chars(ALNUM, 16)
        out.add(f"db.internal:5432:autopack:autopack:{pw}", pw)
    elif pick == 34:
        pw = s.chars(ALNUM, 16)
        out.add(f"docker login -u ops -p {pw} registry.example.com", pw)
    elif pick == 35:
        t = s.shopify_access()
        out.add(
            f"session = shopify.Session('shop-{r.randint(1, 99)}.myshopify.com', '2024-10', '{t}')",
            t,
        )
    elif pick == 36:
        at = s.google_access()
        out.add(f"youtube:\n  oauth:\n    access: {at}\n    expiry: {b.ts()}", at)
    else:
        k, sec = s.alpaca_key_id(), s.alpaca_secret()
        out.add(f"ALPACA_CREDENTIALS={k}:{sec}", k, sec)


def registered_forms(secret: str, r: random.Random) -> list[tuple[str, str]]:
    """(line, form) for one registered secret in every encoding, no hints."""
    forms = [
        secret,
        b64(secret),
        b64(secret).rstrip("="),
        b64url(secret),
        b64(f"ops:{secret}"),
        b64(f"{r.choice(WORDS)}-user:{secret}"),
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json_escaped(secret),
        json_escaped(json_escaped(secret)),
    ]
    lines: list[tuple[str, str]] = []
    for form in dict.fromkeys(forms):
        template = r.choice(
            [
                "{w} {f} {w}",
                "note: {f}",
                "{w}={f}",
                '"{w}": "{f}"',
                "xx{f}yy",
                "<td>{f}</td>",
                "payload {w} ({f}) sent",
            ]
        )
        lines.append((template.format(w=r.choice(WORDS), f=form), form))
    return lines


# ---------------------------------------------------------------------------
# HAR files
# ---------------------------------------------------------------------------


def har_entry(
    url: str,
    req_headers: Sequence[tuple[str, str]],
    *,
    query: Sequence[tuple[str, str]] = (),
    cookies: Sequence[tuple[str, str]] = (),
    post: str | None = None,
    response: str = "{}",
    started: str = "",
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": "POST" if post is not None else "GET",
        "url": url,
        "httpVersion": "HTTP/2",
        "headers": [{"name": n, "value": v} for n, v in req_headers],
        "queryString": [{"name": n, "value": v} for n, v in query],
        "cookies": [{"name": n, "value": v} for n, v in cookies],
        "headersSize": -1,
        "bodySize": len(post or ""),
    }
    if post is not None:
        request["postData"] = {"mimeType": "application/x-www-form-urlencoded", "text": post}
    return {
        "startedDateTime": started,
        "time": 120,
        "request": request,
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/2",
            "headers": [{"name": "content-type", "value": "application/json"}],
            "cookies": [],
            "content": {"size": len(response), "mimeType": "application/json", "text": response},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(response),
        },
        "cache": {},
        "timings": {"send": 1, "wait": 100, "receive": 19},
    }


def har_document(entries: list[dict[str, Any]]) -> str:
    doc = {
        "log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, "entries": entries}
    }
    return json.dumps(doc, indent=2)


def secret_har_entry(s: Secrets, b: Benign, secret: str | None) -> tuple[dict[str, Any], list[str]]:
    """A HAR entry carrying secrets; with ``secret`` set, that registered
    secret fills every slot, otherwise fresh unregistered provider secrets."""
    r = s.rng
    ua = ("User-Agent", "autopack/0.1 httpx/0.27")
    pick = r.randrange(5)
    if pick == 0:
        t = secret or s.google_access()
        k = secret or s.google_api_key()
        url = f"https://www.googleapis.com/youtube/v3/videos?part=snippet&key={k}"
        return har_entry(
            url,
            [ua, ("Authorization", f"Bearer {t}")],
            query=[("part", "snippet"), ("key", k)],
            started=b.ts(),
            response=json.dumps({"id": b.youtube_id()}),
        ), [t, k]
    if pick == 1:
        t = secret or s.shopify_access()
        return har_entry(
            f"https://shop-{r.randint(1, 99)}.myshopify.com/admin/api/2024-10/graphql.json",
            [ua, ("X-Shopify-Access-Token", t)],
            started=b.ts(),
            response=json.dumps(
                {"data": {"productCreate": {"product": {"id": "gid://shopify/Product/1"}}}}
            ),
        ), [t]
    if pick == 2:
        k, sec = secret or s.alpaca_key_id(), secret or s.alpaca_secret()
        return har_entry(
            "https://paper-api.alpaca.markets/v2/orders",
            [ua, ("APCA-API-KEY-ID", k), ("APCA-API-SECRET-KEY", sec)],
            started=b.ts(),
            response=json.dumps({"id": b.uuid(), "status": "accepted"}),
        ), [k, sec]
    if pick == 3:
        g, rt = secret or s.google_client_secret(), secret or s.google_refresh()
        at = secret or s.google_access()
        post = (
            f"grant_type=refresh_token&client_secret={quote_plus(g)}"
            f"&refresh_token={quote(rt, safe='')}"
        )
        resp = json.dumps({"access_token": at, "expires_in": 3599, "token_type": "Bearer"})
        return har_entry(
            "https://oauth2.googleapis.com/token", [ua], post=post, started=b.ts(), response=resp
        ), [
            quote_plus(g),
            quote(rt, safe=""),
            at,
        ]
    k = secret or s.etsy_keystring()
    t = secret or s.etsy_token()
    sess = secret or s.chars(ALNUM, 32)
    return har_entry(
        f"https://openapi.etsy.com/v3/application/listings/{r.randint(10**9, 10**10)}",
        [ua, ("x-api-key", k), ("Authorization", f"Bearer {t}")],
        cookies=[("session-key-etsy", sess)],
        started=b.ts(),
        response=json.dumps({"listing_id": r.randint(10**9, 10**10)}),
    ), [k, t, sess]


def benign_har_entry(b: Benign) -> dict[str, Any]:
    r = b.rng
    url = f"https://www.googleapis.com/youtube/v3/videos?part=status&id={b.youtube_id()}"
    return har_entry(
        url,
        [
            ("User-Agent", "autopack/0.1"),
            ("Accept", "application/json"),
            ("If-None-Match", f'"{b.hexs(32)}"'),
            ("X-Request-Id", b.uuid()),
        ],
        query=[("part", "status"), ("pageToken", "CAUQAA")],
        started=b.ts(),
        response=json.dumps(
            {
                "etag": b.hexs(40),
                "items": [
                    {
                        "id": b.youtube_id(),
                        "sha256": b.hexs(64),
                        "privacyStatus": r.choice(["private", "public"]),
                    }
                ],
            }
        ),
    )


# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------


def build(scale: int, rng: random.Random) -> tuple[list[CorpusFile], list[str]]:
    s, b = Secrets(rng), Benign(rng)
    files: list[CorpusFile] = []
    registered = [s.any_registered() for _ in range(10 * scale)]

    ext = [".log", ".env", ".txt", ".md", ".yaml", ".json", ".sh"]
    for i in range(4 * scale):
        f = CorpusFile(f"pattern_{i:03d}{rng.choice(ext)}", "pattern", har=False)
        out = Lines()
        for _ in range(40):
            pattern_contexts(s, b, out)
            for _ in range(rng.randint(1, 4)):
                out.add(b.line())
        f.text, f.planted = "\n".join(out.lines) + "\n", out.planted
        files.append(f)

    for i, secret in enumerate(registered):
        f = CorpusFile(f"registered_{i:03d}.log", "registered", har=False)
        out = Lines()
        for line, form in registered_forms(secret, rng):
            out.add(line, form)
            out.add(b.line())
        f.text, f.planted = "\n".join(out.lines) + "\n", out.planted
        files.append(f)

    for i in range(scale):
        for corpus in ("pattern", "registered"):
            entries: list[dict[str, Any]] = []
            planted: list[str] = []
            for _ in range(12):
                entry, forms = secret_har_entry(
                    s, b, rng.choice(registered) if corpus == "registered" else None
                )
                entries.append(entry)
                planted.extend(json_escaped(form) for form in forms)
                entries.append(benign_har_entry(b))
            files.append(
                CorpusFile(
                    f"{corpus}_{i:03d}.har",
                    corpus,
                    har=True,
                    text=har_document(entries),
                    planted=planted,
                )
            )

    for i in range(6 * scale):
        f = CorpusFile(f"benign_{i:03d}{rng.choice(ext)}", "benign", har=False)
        f.text = "\n".join(b.line() for _ in range(300)) + "\n"
        files.append(f)
    for i in range(scale):
        files.append(
            CorpusFile(
                f"benign_{i:03d}.har",
                "benign",
                har=True,
                text=har_document([benign_har_entry(b) for _ in range(30)]),
            )
        )
    return files, registered


# ---------------------------------------------------------------------------
# Measure
# ---------------------------------------------------------------------------


def survives(form: str, output: str) -> bool:
    if len(form) <= WINDOW:
        return form in output
    return any(form[i : i + WINDOW] in output for i in range(len(form) - WINDOW + 1))


def line_span(text: str, form: str, occurrence: int) -> set[int]:
    """1-based line numbers the n-th (0-based) occurrence of ``form`` occupies."""
    start = text.index(form)
    for _ in range(occurrence):
        start = text.index(form, start + 1)
    first = text.count("\n", 0, start) + 1
    return set(range(first, first + form.count("\n") + 1))


def run_ours(
    redactor: Redactor, paths: dict[str, Path], files: list[CorpusFile]
) -> tuple[dict[str, str], float]:
    outputs: dict[str, str] = {}
    started = time.perf_counter()
    for f in files:
        src = paths[f.name]
        text = src.read_text(encoding="utf-8")
        if f.har:
            out = json.dumps(redactor.redact_value(json.loads(text)), indent=2)
        else:
            out = redactor.redact_text(text)
        src.with_suffix(src.suffix + ".redacted").write_text(out, encoding="utf-8")
        outputs[f.name] = out
    return outputs, time.perf_counter() - started


def run_detect_secrets(
    paths: dict[str, Path], files: list[CorpusFile]
) -> tuple[dict[str, set[int]], float]:
    flagged: dict[str, set[int]] = {}
    started = time.perf_counter()
    with default_settings():
        collection = SecretsCollection()
        for f in files:
            collection.scan_file(str(paths[f.name]))
    elapsed = time.perf_counter() - started
    by_path = {str(p): name for name, p in paths.items()}
    for filename, secrets in collection.data.items():
        flagged[by_path[filename]] = {secret.line_number for secret in secrets}
    return flagged, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small corpus (CI smoke run)")
    parser.add_argument("--scale", type=int, default=None, help="corpus size multiplier")
    args = parser.parse_args(argv)
    scale = args.scale or (3 if args.quick else 12)

    rng = random.Random(SEED)
    files, registered = build(scale, rng)
    redactor = Redactor(REDACTION_RULES).with_secrets(registered)

    with tempfile.TemporaryDirectory(prefix="redaction-bench-") as tmp:
        root = Path(tmp)
        paths: dict[str, Path] = {}
        for f in files:
            paths[f.name] = root / f.name
            paths[f.name].write_text(f.text, encoding="utf-8")
        total_bytes = sum(p.stat().st_size for p in paths.values())
        outputs, ours_s = run_ours(redactor, paths, files)
        flagged, ds_s = run_detect_secrets(paths, files)

    def recall_ours(corpus: str) -> tuple[float, int]:
        planted = [(f, form) for f in files if f.corpus == corpus for form in f.planted]
        hits = sum(not survives(form, outputs[f.name]) for f, form in planted)
        return hits / len(planted), len(planted)

    def recall_ds(corpus: str) -> float:
        hits = total = 0
        for f in files:
            if f.corpus != corpus:
                continue
            seen: dict[str, int] = {}
            for form in f.planted:
                # A form planted twice in a file (URL and query list) is judged
                # at each of its own lines.
                nth = seen.get(form, 0)
                seen[form] = nth + 1
                lines = line_span(f.text, form, min(nth, f.text.count(form) - 1))
                hits += bool(lines & flagged.get(f.name, set()))
                total += 1
        return hits / total

    benign = [f for f in files if f.corpus == "benign"]
    benign_lines = sum(len(f.text.splitlines()) for f in benign)
    changed = 0
    for f in benign:
        before, after = f.text.splitlines(), outputs[f.name].splitlines()
        changed += (
            sum(x != y for x, y in zip(before, after, strict=True))
            if len(before) == len(after)
            else len(before)
        )
    ds_flagged = sum(len(flagged.get(f.name, set())) for f in benign)

    registered_recall, n_registered = recall_ours("registered")
    pattern_recall, n_pattern = recall_ours("pattern")
    mb = total_bytes / 1e6
    result = {
        "registered_recall": round(registered_recall, 4),
        "pattern_recall": round(pattern_recall, 4),
        "false_positive_rate": round(changed / benign_lines, 5),
        "mb_per_s": round(mb / ours_s, 2),
        "detect_secrets_recall": round(recall_ds("pattern"), 4),
        "detect_secrets_false_positive_rate": round(ds_flagged / benign_lines, 5),
        "detect_secrets_mb_per_s": round(mb / ds_s, 2),
        "detect_secrets_registered_corpus_recall": round(recall_ds("registered"), 4),
        "registered_secrets": redactor.secret_count,
        "planted_registered": n_registered,
        "planted_pattern": n_pattern,
        "benign_lines": benign_lines,
        "files": len(files),
        "corpus_mb": round(mb, 3),
        "quick": bool(args.quick),
    }
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
