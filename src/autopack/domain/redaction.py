"""Redaction: the one library that masks secrets before anything is written.

The ledger, the logs, run artifacts, API responses and handoff files all pass
their text and structured data through a :class:`Redactor`. It combines three
kinds of rules:

- **known secrets** (:meth:`Redactor.with_secrets`): every secret the credential
  store holds is masked exactly, in its raw form and in the forms it takes on the
  way out: base64 (standard and URL-safe, padded or not, at any alignment inside a
  longer base64 payload such as ``user:secret``), URL-encoded (``quote`` and
  ``quote_plus``, upper or lower hex) and JSON-escaped (once and twice, with or
  without ``\\/``). All forms go into one compiled regex factored as a trie, so
  a scan walks the text once and its cost grows slowly with the number of
  secrets;
- **pattern rules** (:func:`compose_rules`): token formats (PEM keys, JWT, AWS,
  GitHub, ...; each provider unit declares its own, such as Google's or
  Shopify's, and the provider registry composes the full list) and
  ``key=value`` / ``key: value`` / JSON ``"key": "value"`` assignments whose key
  names a secret;
- **field-name rules** (:func:`is_secret_field`): in structured data the value
  under a secret-named key (``Authorization``, ``X-Shopify-Access-Token``,
  ``client_secret``, ...) is masked whole; HAR files follow from the same rule
  applied to ``{"name": ..., "value": ...}`` pairs and to ``cookies`` lists.

A masked span becomes ``[REDACTED:<rule-id>]``. The marker never carries a hash or
a prefix of the secret: a hash of a low-entropy secret can be brute-forced, so it
would itself be a leak. Redaction is idempotent: redacting redacted output changes
nothing.

This module is pure (no I/O); a :class:`Redactor` is immutable and safe to share
between threads.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, quote_plus, unquote_plus

MASK_PREFIX: Final = "[REDACTED:"
KNOWN_SECRET_RULE_ID: Final = "known-secret"  # noqa: S105 - a rule name, not a secret
SECRET_FIELD_RULE_ID: Final = "secret-field"  # noqa: S105 - a rule name, not a secret
COOKIE_RULE_ID: Final = "cookie"

# Shorter secrets are not registered: masking every occurrence of a 4-character
# string would mangle ordinary text (numbers, words), and their base64 cores
# would be too short to be specific. The credential store should refuse them.
MIN_SECRET_LENGTH: Final = 8


def mask(rule_id: str) -> str:
    """The marker that replaces a secret matched by ``rule_id``."""
    return f"{MASK_PREFIX}{rule_id}]"


@dataclass(frozen=True, slots=True)
class Finding:
    """Where a rule matched: positions only, never the secret itself."""

    rule_id: str
    start: int
    end: int


# ---------------------------------------------------------------------------
# Field-name rules
# ---------------------------------------------------------------------------

# Compared against the name lowercased with every non-alphanumeric removed, so
# "X-Shopify-Access-Token", "x_shopify_access_token" and "XShopifyAccessToken"
# are one name.
SECRET_FIELD_SUFFIXES: Final[tuple[str, ...]] = (
    "password",
    "passwd",
    "passphrase",
    "secret",  # client_secret, webhook_secret, alpaca_secret
    "secretkey",  # APCA-API-SECRET-KEY, aws_secret_access_key ends in accesskey
    "apikey",  # x-api-key, x-goog-api-key, etsy_api_key
    "apikeyid",  # APCA-API-KEY-ID
    "keystring",  # Etsy's name for its API key
    "accesskey",
    "accesskeyid",
    "privatekey",
    "token",  # access_token, refresh_token, id_token, X-Shopify-Access-Token
    "authorization",  # Authorization, Proxy-Authorization
    "cookie",  # Cookie, Set-Cookie
    "credential",
    "credentials",
    "signature",
    "sessionid",
)
SECRET_FIELD_NAMES: Final[frozenset[str]] = frozenset({"pwd", "pass", "auth", "jwt", "bearer"})
# Names that end like a secret but hold none: pagination and sync cursors.
NON_SECRET_FIELD_SUFFIXES: Final[tuple[str, ...]] = ("pagetoken", "synctoken")
# Query and form parameters that carry credentials under short generic names
# (OAuth codes, Google's ?key=, signed-URL signatures). Only applied to
# name/value pairs (query strings, HAR params), where "key" and "code" are precise.
SECRET_PARAM_NAMES: Final[frozenset[str]] = frozenset(
    {"code", "key", "sig", "codeverifier", "oauthverifier", "xamzsignature", "xgoogsignature"}
)

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalize_field_name(name: str) -> str:
    return _NON_ALNUM.sub("", name.lower())


# Flags, counts and messages about a secret are not the secret: has_refresh_token,
# is_secret, no_refresh_token (an error code), max_token, hasRefreshToken.
_NON_SECRET_PREFIX = re.compile(r"(?:has|is|no|num|max|min)(?:[-_.]|(?=[A-Z]))")


def is_secret_field(name: str) -> bool:
    """True when a value stored under ``name`` is a secret by its name alone."""
    norm = normalize_field_name(name)
    if not norm or norm.endswith(NON_SECRET_FIELD_SUFFIXES) or _NON_SECRET_PREFIX.match(name):
        return False
    return norm in SECRET_FIELD_NAMES or norm.endswith(SECRET_FIELD_SUFFIXES)


def is_secret_param(name: str) -> bool:
    """Field rule for query/form parameters and HAR name/value pairs."""
    return is_secret_field(name) or normalize_field_name(name) in SECRET_PARAM_NAMES


# ---------------------------------------------------------------------------
# Pattern rules
# ---------------------------------------------------------------------------

Validator = Callable[["re.Match[str]"], bool]


@dataclass(frozen=True, slots=True)
class PatternRule:
    """One text rule, as data.

    ``groups`` name the capture holding the secret (the first that took part in
    the match). ``triggers`` are lowercase literals of which one must occur in the
    text for the rule to run at all. With ``anchors`` the regex is not run over
    the whole text: each anchor occurrence (found in the lowercased text by a
    plain substring search) is widened back over ``word_chars`` and the regex is
    matched there only, which keeps rules that start with a key name fast.
    ``not_after`` lists characters that must not precede a match, checked in code
    because a leading lookbehind would stop the engine's literal-prefix search.
    ``validate`` rejects matches the regex alone cannot rule out. ``gate`` is a
    cheap regex (run on the lowercased text) for rules no literal can gate.
    """

    id: str
    reason: str
    regex: re.Pattern[str]
    groups: tuple[str, ...] = ("secret",)
    triggers: tuple[str, ...] = ()
    validate: Validator | None = None
    anchors: tuple[str, ...] = ()
    word_chars: str = ""
    not_after: str = ""
    gate: re.Pattern[str] | None = None

    def applies(self, lowered: str) -> bool:
        if self.gate is not None and self.gate.search(lowered) is None:
            return False
        return not self.triggers or any(t in lowered for t in self.triggers)

    def _anchor_starts(self, text: str, lowered: str) -> list[int]:
        positions: list[int] = []
        for anchor in self.anchors:
            pos = lowered.find(anchor)
            while pos >= 0:
                positions.append(pos)
                pos = lowered.find(anchor, pos + 1)
        starts: set[int] = set()
        # Anchors in one word share its start: walk back only to the previous
        # anchor's word, so a long word full of anchors costs linear time.
        prev_pos = prev_start = -1
        for pos in sorted(positions):
            start = pos
            while start > 0 and text[start - 1] in self.word_chars:
                start -= 1
                if start == prev_pos:
                    start = prev_start
                    break
            prev_pos, prev_start = pos, start
            starts.add(start)
        return sorted(starts)

    def _accept(self, text: str, match: re.Match[str]) -> Finding | None:
        if self.not_after and match.start() > 0 and text[match.start() - 1] in self.not_after:
            return None
        if self.validate is not None and not self.validate(match):
            return None
        for name in self.groups:
            start, end = match.span(name)
            if start >= 0 and end > start:
                return Finding(self.id, start, end)
        return None

    def findings(self, text: str, lowered: str | None = None) -> Iterator[Finding]:
        if not self.anchors:
            for match in self.regex.finditer(text):
                finding = self._accept(text, match)
                if finding is not None:
                    yield finding
            return
        covered = -1
        for start in self._anchor_starts(text, _lower(text) if lowered is None else lowered):
            if start < covered:
                continue  # inside a value already masked: nothing more to find there
            anchored = self.regex.match(text, start)
            if anchored is None:
                continue
            finding = self._accept(text, anchored)
            if finding is not None:
                covered = finding.end
                yield finding


_ASCII_LOWER: Final = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _lower(text: str) -> str:
    """Lowercase with positions kept: anchors found in it index the original.
    str.lower() can change the length ("\u0130" becomes two code points)."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


# A value that is already a marker is never masked again (idempotence).
_NOT_MASKED = r"(?!\[REDACTED:)"

_PLACEHOLDER = re.compile(
    r"(?i:null|none|nil|true|false|undefined|n/a|redacted"
    # Words docs put where a secret goes ("user:password@host", "?code=...").
    r"|password|passwd|pass|secret|token|changeme|example|placeholder)"
    r"|-+|\*+|[xX]{3,}|\.{3,}"
    r"|\$[A-Z_][A-Z0-9_]*|\$\{[^}]*\}|\$\([^)]*\)|\{\{[^}]*\}\}|<[^<>]*>|%\([^)]*\)s"
    r"|\[REDACTED:.*|(?:os\.environ|process\.env|os\.getenv|getenv)\b.*"
)


def _is_placeholder(value: str) -> bool:
    return not value.strip() or _PLACEHOLDER.fullmatch(value.strip()) is not None


def _secretish(value: str) -> bool:
    """Looks like generated material rather than a word: used where the key
    alone ("token", "secret") is too common in prose to decide."""
    return (len(value) >= 8 and any(c.isdigit() for c in value)) or len(value) >= 20


_PASSWORD_KEYS: Final = frozenset({"password", "passwd", "passphrase", "pwd"})
_BARE_KEYS: Final = frozenset(
    {"token", "secret", "credential", "credentials", "signature", "cookie", "sessionid"}
)

_KEY_CORE = (
    r"(?:pass(?:word|wd|phrase)|pwd|secret(?:[-_]?(?:access[-_]?)?key)?"
    r"|api[-_]?key(?:[-_]?id)?|keystring|access[-_]?key(?:[-_]?id)?|private[-_]?key"
    r"|token|authorization|cookie|credentials?|signature|session[-_]?id)"
)
# Unquoted values stop at separators; a %XX escape continues the value unless
# it encodes a separator (& " space , ;), so URL-encoded secrets are covered.
# Bounded so text made of repeated keys ("token:token:...") cannot make every
# anchor rescan the rest of the line; no real unquoted secret is that long.
_UNQUOTED_VALUE = r"(?:[^\s\"'&;,<>{}()\[\]\\%]|%(?!2[026Cc]|3[Bb])[0-9A-Fa-f]{2}){1,4096}"
# Template references are read whole so the placeholder check sees all of them.
_TEMPLATE_REF = (
    r"(?:\$\{[^}\r\n]{0,256}\}|\$\([^)\r\n]{0,256}\)|\{\{[^}\r\n]{0,256}\}\}|<[^<>\r\n]{0,256}>)"
)

_ASSIGNMENT = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?P<key>[A-Za-z0-9_.\-]*" + _KEY_CORE + r")(?![A-Za-z0-9_\-])"
    # Cursor names fail here, before the value is read (see NON_SECRET_FIELD_SUFFIXES).
    r"(?<!pagetoken)(?<!page_token)(?<!synctoken)(?<!sync_token)"
    r"(?P<kq>\\?[\"'])?[ \t]*(?P<sep>:=|=>|=(?!=)|:|%3[Dd]|%3[Aa])[ \t]*"
    r"(?:\"(?P<dq>" + _NOT_MASKED + r"(?:[^\"\\\r\n]|\\.)*)\""
    r"|\\\"(?P<eq>" + _NOT_MASKED + r"(?:[^\"\\\r\n]|\\[^\"\r\n])*)\\\""
    r"|'(?P<sq>" + _NOT_MASKED + r"[^'\r\n]*)'"
    r"|(?P<uq>" + _NOT_MASKED + r"(?:" + _TEMPLATE_REF + r"|" + _UNQUOTED_VALUE + r")))",
    re.IGNORECASE,
)


_AUTH_SCHEMES: Final = frozenset({"bearer", "basic", "token", "oauth", "digest"})


def _validate_assignment(match: re.Match[str]) -> bool:
    key = normalize_field_name(match["key"])
    if key.endswith(NON_SECRET_FIELD_SUFFIXES) or _NON_SECRET_PREFIX.match(match["key"]):
        return False
    value = next(v for v in (match["dq"], match["eq"], match["sq"], match["uq"]) if v is not None)
    if _is_placeholder(value):
        return False
    if match["uq"] is not None and match["sep"] == ":" and match["kq"] is None:
        # "token: run the refresh command" is prose; "password: x" never is.
        if key in _PASSWORD_KEYS:
            return True
        if key.endswith(("authorization", "cookie")):
            # "Authorization: Bearer x": the scheme word is no secret (the
            # header and bearer rules take the value); "the authorization:
            # access_denied" is prose.
            return value.lower() not in _AUTH_SCHEMES and _secretish(value)
        if key in _BARE_KEYS:
            return _secretish(value)
    return True


_HEADER_LINE = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?P<key>[A-Za-z0-9\-]*(?:authorization|cookie))[ \t]*:[ \t]*"
    r"(?P<secret>" + _NOT_MASKED + r"[^\s\"'](?:[^\r\n\"']{0,4096}[^\r\n\"'\s])?)",
    re.IGNORECASE,
)
# What may precede a header name on its line: nothing, a quote (curl -H "..."),
# curl -v's "> " and "< ", or a list or label ("headers: Cookie: ...").
_HEADER_LEAD: Final = ('"', "'", "-H", "--header", ",", "{", "[", "(", ";", "|", ">", "<", ":")

_AUTH_SCHEME = re.compile(r"(?i)(?:bearer|basic|token|oauth|digest)[ \t]+")


def _validate_header(match: re.Match[str]) -> bool:
    text, start = match.string, match.start()
    before = text[text.rfind("\n", 0, start) + 1 : start].rstrip()
    if before and not before.endswith(_HEADER_LEAD):
        return False  # "the provider refused the authorization: access_denied"
    # Docs and curl examples carry "Bearer $TOKEN" or "Bearer <access_token>".
    value = match["secret"]
    if value.lower() in _AUTH_SCHEMES:
        return False
    scheme = _AUTH_SCHEME.match(value)
    return not _is_placeholder(value[scheme.end() :] if scheme else value)


def _validate_not_placeholder(match: re.Match[str]) -> bool:
    return not _is_placeholder(match["secret"])


_CLI_FLAG = re.compile(
    # The lookbehind sits after the first "-" so the engine keeps its fast
    # literal search and only the first dash of a run starts a match.
    r"-(?<![A-Za-z0-9_\-]-)-[A-Za-z0-9\-]*" + _KEY_CORE + r"[ \t]+"
    r"(?P<secret>" + _NOT_MASKED + r"(?!-)[^\s\"']+)",
    re.IGNORECASE,
)

_URL_QUERY_SECRET = re.compile(
    r"[?&#;](?P<key>code|key|sig|code_verifier|oauth_verifier|x-amz-signature|x-goog-signature)"
    r"=(?P<secret>" + _NOT_MASKED + r"[^&#\s\"'<>]+)",
    re.IGNORECASE,
)

_BASIC = re.compile(
    r"(?<![A-Za-z0-9])basic[ \t]+(?P<secret>[A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])",
    re.IGNORECASE,
)


def _validate_basic(match: re.Match[str]) -> bool:
    # "Basic understanding" is prose; real credentials decode to "user:password".
    raw = match["secret"].rstrip("=")
    try:
        decoded = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


_BEARER = re.compile(
    r"(?<![A-Za-z0-9])bearer[ \t]+(?P<secret>(?=[A-Za-z0-9\-._~+/]*\d)[A-Za-z0-9\-._~+/]{8,}=*)",
    re.IGNORECASE,
)

_PEM = re.compile(
    r"(?P<secret>-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----"
    r"(?:[A-Za-z0-9+/=\s\\:,.]|-(?!----))*"
    r"(?:-----END[A-Z0-9 ]*PRIVATE KEY-----)?)"
)


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


# Boundaries (not_after and TOKEN_END): a token glued to more token characters on
# either side is part of a longer identifier or hash, not a token. Public: the
# providers' token-format rules use them too.
TOKEN_CHARS = string.ascii_letters + string.digits + "_-"
KEY_CHARS = TOKEN_CHARS + "."
_SCHEME_CHARS = string.ascii_letters + string.digits + "+.-"
TOKEN_END = r"(?![A-Za-z0-9_\-])"  # noqa: S105 - a regex lookahead, not a password
_ASSIGNMENT_ANCHORS = (
    "pass",
    "pwd",
    "secret",
    "key",
    "token",
    "authorization",
    "cookie",
    "credential",
    "signature",
    "session",
)

# Rules come in priority order: when two rules mask the same span, the first
# names the marker. Whole blobs first (a PEM block, a JWT), then the providers'
# token formats (declared by each provider unit, see :func:`compose_rules`), then
# other vendors' token formats, then rules that recognize a secret by its context.
BLOB_RULES: Final[tuple[PatternRule, ...]] = (
    PatternRule(
        "pem-private-key",
        "PEM private key block (RSA, EC, OpenSSH, PKCS#8), also JSON-escaped",
        _PEM,
        triggers=("private key",),
    ),
    PatternRule(
        "jwt",
        "JSON Web Token: base64url header starting eyJ, payload and signature",
        # Lookbehind after the literal: inside a long run of token characters
        # only the first "eyJ" may start a match (no quadratic rescans).
        _rx(
            r"(?P<secret>eyJ(?<![A-Za-z0-9_\-]eyJ)[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\."
            r"[A-Za-z0-9_\-]*)"
        ),
        triggers=("eyj",),
        not_after=TOKEN_CHARS,
    ),
)

VENDOR_TOKEN_RULES: Final[tuple[PatternRule, ...]] = (
    PatternRule(
        "aws-access-key-id",
        "AWS access key id: AKIA or ASIA and 16 upper-case characters",
        _rx(r"(?P<secret>(?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Za-z0-9])"),
        triggers=("akia", "asia"),
        not_after=string.ascii_letters + string.digits,
    ),
    PatternRule(
        "github-token",
        "GitHub token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)",
        _rx(r"(?P<secret>(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}))"),
        triggers=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        not_after=TOKEN_CHARS,
    ),
    PatternRule(
        "autopack-api-key",
        "Autopack principal API key: apk_, 12 hex characters, _ and a 43-character secret",
        _rx(r"(?P<secret>apk_[0-9a-f]{12}_[A-Za-z0-9_\-]{43})"),
        triggers=("apk_",),
        not_after=TOKEN_CHARS,
    ),
    PatternRule(
        "stripe-key",
        "Stripe secret or restricted key",
        _rx(r"(?P<secret>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,})"),
        triggers=("sk_live", "sk_test", "rk_live", "rk_test"),
        not_after=TOKEN_CHARS,
    ),
    PatternRule(
        "slack-token",
        "Slack token (xoxb-, xoxp-, ...)",
        _rx(r"(?P<secret>xox[abposr]-[A-Za-z0-9\-]{10,})"),
        triggers=("xox",),
        not_after=TOKEN_CHARS,
    ),
)

CONTEXT_RULES: Final[tuple[PatternRule, ...]] = (
    PatternRule(
        "bearer-token",
        "credential after the Bearer scheme (must contain a digit, so prose is left alone)",
        _BEARER,
        anchors=("bearer",),
    ),
    PatternRule(
        "basic-auth",
        "HTTP Basic credentials: base64 that decodes to user:password",
        _BASIC,
        anchors=("basic",),
        validate=_validate_basic,
    ),
    PatternRule(
        "url-password",
        "password in the userinfo part of a URL (scheme://user:password@host)",
        _rx(
            r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@'\"]*:(?P<secret>" + _NOT_MASKED + r"[^\s/@'\"]+)@"
        ),
        anchors=("://",),
        word_chars=_SCHEME_CHARS,
        validate=_validate_not_placeholder,
    ),
    PatternRule(
        "secret-header",
        "Authorization and Cookie header values up to the end of the line",
        _HEADER_LINE,
        anchors=("authorization", "cookie"),
        word_chars=KEY_CHARS,
        validate=_validate_header,
    ),
    PatternRule(
        "secret-query-param",
        "query parameter that carries a credential under a short name (code, key, sig)",
        _URL_QUERY_SECRET,
        triggers=("code=", "key=", "sig=", "verifier=", "signature="),
        validate=_validate_not_placeholder,
    ),
    PatternRule(
        "secret-cli-flag",
        "command-line flag naming a secret followed by its value (--secret-key X)",
        _CLI_FLAG,
        triggers=("--",),
        not_after=TOKEN_CHARS,
    ),
    PatternRule(
        "netrc-password",
        "password entry of a .netrc file (machine H login U password P)",
        _rx(
            r"(?:machine\s+\S+|default)\s+login\s+\S+\s+password\s+(?P<secret>"
            + _NOT_MASKED
            + r"\S+)"
        ),
        triggers=("password",),
        not_after=TOKEN_CHARS,
    ),
    PatternRule(
        "pgpass-password",
        "password field of a .pgpass line (host:port:database:user:password)",
        _rx(
            r"^(?:[A-Za-z0-9.\-]+|\*):(?:[0-9]{1,5}|\*):[^:\s]+:[^:\s]+:(?P<secret>"
            + _NOT_MASKED
            + r"\S+)$",
            re.MULTILINE,
        ),
        gate=re.compile(r":(?:[0-9]{1,5}|\*):"),
    ),
    PatternRule(
        "registry-login-password",
        "password given to docker/podman/helm login with -p",
        _rx(
            r"(?:docker|podman|helm|buildah|skopeo)(?:[ \t]+registry)?[ \t]+login\b"
            r"[^\r\n]{0,200}?[ \t]"
            r"(?:-p|--password)[ \t]+(?P<secret>" + _NOT_MASKED + r"[^\s'\"]+)"
        ),
        triggers=("login",),
        not_after=TOKEN_CHARS,
    ),
    PatternRule(
        "secret-assignment",
        'key=value, key: value or JSON "key": "value" where the key names a secret',
        _ASSIGNMENT,
        groups=("dq", "eq", "sq", "uq"),
        anchors=_ASSIGNMENT_ANCHORS,
        word_chars=KEY_CHARS,
        validate=_validate_assignment,
    ),
)


def compose_rules(provider_rules: Iterable[PatternRule]) -> tuple[PatternRule, ...]:
    """The full rule list, in priority order, with the providers' token formats.

    Each provider unit declares the rules for its own token formats; the provider
    registry passes all of them here (this module knows no provider). Rule ids
    must be unique: a marker names exactly one rule.
    """
    rules = (*BLOB_RULES, *provider_rules, *VENDOR_TOKEN_RULES, *CONTEXT_RULES)
    ids = [rule.id for rule in rules]
    reserved = {KNOWN_SECRET_RULE_ID, SECRET_FIELD_RULE_ID, COOKIE_RULE_ID}
    clashes = sorted({i for i in ids if ids.count(i) > 1} | (set(ids) & reserved))
    if clashes:
        raise ValueError(f"redaction rule ids must be unique: {', '.join(clashes)}")
    return rules


GENERIC_RULES: Final[tuple[PatternRule, ...]] = compose_rules(())
"""Every rule except the providers' token formats (the registry adds those)."""


# ---------------------------------------------------------------------------
# Known secrets
# ---------------------------------------------------------------------------

_B64_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")
_PERCENT_HEX = re.compile(r"%[0-9A-F]{2}")


def _base64_cores(raw: bytes) -> set[str]:
    """Substrings every base64 encoding of a text containing ``raw`` carries.

    At byte offset k (mod 3) inside a longer payload, only the characters whose
    6 bits all come from ``raw`` are fixed by it; those are the core. Three
    alignments cover every position, so ``base64("user:" + secret)`` is caught.
    """
    cores: set[str] = set()
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + raw).decode("ascii")
        start = -(-8 * k // 6)
        end = (8 * (k + len(raw))) // 6
        core = encoded[start:end]
        cores.add(core)
        cores.add(core.replace("+", "-").replace("/", "_"))
    return cores


def _url_forms(value: str) -> set[str]:
    forms = {quote(value, safe=""), quote(value), quote_plus(value), quote_plus(value, safe="/")}
    return forms | {_PERCENT_HEX.sub(lambda m: m.group(0).lower(), f) for f in forms}


def _json_forms(value: str) -> set[str]:
    once = {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    once |= {f.replace("/", "\\/") for f in once}
    twice = {json.dumps(f)[1:-1] for f in once}
    return once | twice


def secret_forms(secret: str) -> tuple[set[str], set[str]]:
    """(literal forms, base64 cores) under which ``secret`` can appear."""
    literal = {secret} | _url_forms(secret) | _json_forms(secret)
    cores = _base64_cores(secret.encode("utf-8"))
    for core in list(cores):
        cores |= _url_forms(core)
    return literal, cores


def _trie_regex(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, factored by common prefixes so the
    engine does one walk per text position instead of one try per word."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        # Chains of single children become one literal, keeping the nesting
        # depth at the number of branch points (long PEM secrets stay shallow).
        prefix: list[str] = []
        while len(node) == 1 and "" not in node:
            ch, node = next(iter(node.items()))
            prefix.append(ch)
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            body = ""
        elif len(branches) == 1:
            body = branches[0]
        else:
            body = "(?:" + "|".join(branches) + ")"
        if ends and body:
            body = "(?:" + body + ")?"
        return re.escape("".join(prefix)) + body

    return build(trie)


def _never_a_marker_substring(secret: str, rule_ids: Iterable[str]) -> bool:
    # A secret inside a marker would be re-masked forever; none is that silly,
    # but registering one must not break idempotence.
    return not any(secret in mask(rule) for rule in rule_ids)


_FIXED_RULE_IDS: Final = (KNOWN_SECRET_RULE_ID, SECRET_FIELD_RULE_ID, COOKIE_RULE_ID)


class _KnownSecrets:
    __slots__ = ("b64_forms", "count", "ignored", "regex", "secrets")

    def __init__(self, secrets: frozenset[str], ignored: int) -> None:
        self.secrets = secrets
        self.ignored = ignored
        self.count = len(secrets)
        literal: set[str] = set()
        cores: set[str] = set()
        for secret in secrets:
            lit, b64 = secret_forms(secret)
            literal |= lit
            cores |= b64
        forms = {f for f in literal | cores if f}
        self.b64_forms = frozenset(cores - literal)
        self.regex = re.compile(_trie_regex(forms)) if forms else None

    def findings(self, text: str) -> list[Finding]:
        if self.regex is None:
            return []
        found: list[Finding] = []
        n = len(text)
        pos = 0
        # Each search restarts one character after the previous match's start
        # (not after its end), so overlapping occurrences of two secrets are
        # both found; matches are rare, so this costs no more than one scan.
        while (match := self.regex.search(text, pos)) is not None:
            start, end = match.span()
            pos = start + 1
            if match.group() in self.b64_forms:
                # Widen to the whole base64 token so no edge character keeps
                # a few bits of the secret, and skip the rest of that token.
                while start > 0 and text[start - 1] in _B64_CHARS:
                    start -= 1
                while end < n and text[end] in _B64_CHARS:
                    end += 1
                while end < n and text[end] == "=":
                    end += 1
                pos = end
            found.append(Finding(KNOWN_SECRET_RULE_ID, start, end))
        return found


_MAX_PASSES: Final = 4


def _apply(text: str, findings: list[Finding]) -> str:
    out: list[str] = []
    pos = 0
    for f in findings:
        out.append(text[pos : f.start])
        out.append(mask(f.rule_id))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def _merge(findings: list[Finding], order: Mapping[str, int]) -> list[Finding]:
    """Union of overlapping or touching spans; each union keeps the id of its
    earliest (then longest, then highest-priority) member, so output is stable."""
    if not findings:
        return []
    findings.sort(key=lambda f: (f.start, -f.end, order.get(f.rule_id, len(order))))
    merged = [findings[0]]
    for f in findings[1:]:
        last = merged[-1]
        if f.start <= last.end:
            if f.end > last.end:
                merged[-1] = Finding(last.rule_id, last.start, f.end)
        else:
            merged.append(f)
    return merged


# ---------------------------------------------------------------------------
# The redactor
# ---------------------------------------------------------------------------


class Redactor:
    """Masks secrets in text and structured data. Immutable; share freely."""

    __slots__ = ("_always", "_known", "_order", "_prefilter", "_rules")

    def __init__(
        self,
        rules: Sequence[PatternRule],
        *,
        secrets: Iterable[str] = (),
    ) -> None:
        # No default: the full list includes the providers' token formats, which
        # only the provider registry knows (``autopack.providers.registry``).
        self._rules = tuple(rules)
        # One search for any trigger or anchor decides, for most short strings
        # (dict keys, header names), that no gated rule can match at all.
        literals = {t for rule in self._rules for t in (*rule.triggers, *rule.anchors)}
        self._prefilter = re.compile(_trie_regex(literals)) if literals else None
        self._always = tuple(r for r in self._rules if not r.triggers and not r.anchors)
        self._order = {
            KNOWN_SECRET_RULE_ID: 0,
            **{rule.id: i + 1 for i, rule in enumerate(self._rules)},
        }
        rule_ids = (*_FIXED_RULE_IDS, *self._order)
        accepted: set[str] = set()
        ignored = 0
        for secret in secrets:
            # The stripped form too: a token read from a file or stdin often
            # keeps its newline, while the text it leaks into does not.
            usable = {
                c
                for c in (secret, secret.strip())
                if len(c) >= MIN_SECRET_LENGTH and _never_a_marker_substring(c, rule_ids)
            }
            accepted |= usable
            ignored += not usable
        self._known = _KnownSecrets(frozenset(accepted), ignored)

    def __repr__(self) -> str:
        # Counts only: a redactor holds every secret it masks.
        return f"Redactor(rules={len(self._rules)}, secrets={self._known.count})"

    # -- configuration -----------------------------------------------------

    @property
    def rules(self) -> tuple[PatternRule, ...]:
        return self._rules

    @property
    def secret_count(self) -> int:
        """How many distinct secrets are masked exactly."""
        return self._known.count

    @property
    def ignored_secret_count(self) -> int:
        """Secrets refused: shorter than :data:`MIN_SECRET_LENGTH` (even after
        stripping whitespace) or part of a mask marker."""
        return self._known.ignored

    def with_secrets(self, secrets: Iterable[str]) -> Redactor:
        """A new redactor that also masks ``secrets`` (this one is unchanged).

        Old secrets stay registered: a rotated token may still sit in older text.
        """
        new = list(secrets)
        combined = Redactor(self._rules, secrets=[*self._known.secrets, *new])
        combined._known.ignored += self._known.ignored
        return combined

    # -- text --------------------------------------------------------------

    def scan(self, text: str) -> list[Finding]:
        """Merged spans to mask, in order. Never contains secret material."""
        found = self._known.findings(text)
        lowered = _lower(text)
        rules = self._rules
        if self._prefilter is not None and self._prefilter.search(lowered) is None:
            rules = self._always
        for rule in rules:
            if not rule.applies(lowered):
                continue
            found.extend(rule.findings(text, lowered))
        return _merge(found, self._order)

    def redact_text(self, text: str) -> str:
        # Masking can expose a token: one glued to a private key block is not a
        # token until the block becomes a marker. Rescanning until nothing more
        # is found makes redaction idempotent; a marker never matches a rule, so
        # this ends, and the bound only guards against a rule that breaks that.
        for _ in range(_MAX_PASSES):
            findings = self.scan(text)
            if not findings:
                return text
            text = _apply(text, findings)
        return text

    def redact_bytes(self, data: bytes) -> bytes:
        """Redact UTF-8 bytes; undecodable bytes pass through unchanged."""
        text = data.decode("utf-8", errors="surrogateescape")
        return self.redact_text(text).encode("utf-8", errors="surrogateescape")

    # -- URLs and query strings ------------------------------------------

    def redact_query(self, query: str) -> str:
        """Mask values of secret-named parameters; the rest keeps its encoding."""
        parts = re.split(r"([&;])", query)
        for i in range(0, len(parts), 2):
            name, eq, value = parts[i].partition("=")
            masked = not value or value.startswith(MASK_PREFIX)
            if eq and not masked and is_secret_param(unquote_plus(name)):
                parts[i] = f"{name}={mask(SECRET_FIELD_RULE_ID)}"
        return self.redact_text("".join(parts))

    def redact_url(self, url: str) -> str:
        """Mask the userinfo password, secret query and fragment parameters
        (OAuth implicit flow puts the token in the fragment), then text rules."""
        head, hash_sign, fragment = url.partition("#")
        base, qmark, query = head.partition("?")
        base = self.redact_text(base)
        out = base
        if qmark:
            out += "?" + self.redact_query(query)
        if hash_sign:
            out += "#" + (
                self.redact_query(fragment) if "=" in fragment else self.redact_text(fragment)
            )
        return out

    # -- structured data ---------------------------------------------------

    def redact_headers(
        self, headers: Mapping[str, str] | Iterable[tuple[str, str]]
    ) -> dict[str, str] | list[tuple[str, str]]:
        """Mask secret-named headers whole; other values go through text rules.

        A mapping gives a dict; pairs (repeated headers) give a list of pairs.
        """
        if isinstance(headers, Mapping):
            return {k: self._redact_header(k, v) for k, v in headers.items()}
        return [(k, self._redact_header(k, v)) for k, v in headers]

    def _redact_header(self, name: str, value: str) -> str:
        if is_secret_field(name) and value and not value.startswith(MASK_PREFIX):
            return mask(SECRET_FIELD_RULE_ID)
        return self.redact_text(value)

    def redact_value(self, value: Any) -> Any:
        """Redact JSON-like data: dicts, lists, tuples, strings (and bytes).

        Values under secret-named keys are masked whole (containers keep their
        shape, every leaf is masked); ``{"name": N, "value": V}`` pairs mask V
        when N names a secret (HAR headers, queryString, postData.params);
        ``cookies`` keep their names and lose their values. Keys are redacted
        too, since a secret used as a key would otherwise be written verbatim.
        """
        return self._value(value)

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, Mapping):
            return self._mapping(value)
        if isinstance(value, list | tuple):
            items = [self._value(v) for v in value]
            return items if isinstance(value, list) else tuple(items)
        if isinstance(value, bytes | bytearray):
            return self.redact_bytes(bytes(value))
        return value

    def _mapping(self, value: Mapping[Any, Any]) -> dict[Any, Any]:
        name = value.get("name")
        pair_is_secret = isinstance(name, str) and "value" in value and is_secret_param(name)
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str):
                if (pair_is_secret and key == "value") or is_secret_field(key):
                    redacted: Any = _mask_leaves(item, SECRET_FIELD_RULE_ID)
                elif normalize_field_name(key) == "cookies":
                    redacted = self._cookies(item)
                elif key == "text" and value.get("encoding") == "base64" and isinstance(item, str):
                    redacted = self._base64_text(item)
                else:
                    redacted = self._value(item)
                new_key: Any = self.redact_text(key)
            else:
                redacted = self._value(item)
                new_key = key
            out[_unique_key(out, new_key)] = redacted
        return out

    def _base64_text(self, text: str) -> str:
        """HAR bodies with ``"encoding": "base64"``: redact the decoded bytes,
        where pattern rules can see them, and encode the result again."""
        try:
            decoded = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return self.redact_text(text)
        redacted = self.redact_bytes(decoded)
        if redacted == decoded:
            return self.redact_text(text)
        return base64.b64encode(redacted).decode("ascii")

    def _cookies(self, cookies: Any) -> Any:
        if isinstance(cookies, list | tuple):
            items = [
                {
                    k: (_mask_leaves(v, COOKIE_RULE_ID) if k == "value" else self._value(v))
                    for k, v in c.items()
                }
                if isinstance(c, Mapping)
                else _mask_leaves(c, COOKIE_RULE_ID)
                for c in cookies
            ]
            return items if isinstance(cookies, list) else tuple(items)
        if isinstance(cookies, Mapping):
            return {
                self.redact_text(str(k)): _mask_leaves(v, COOKIE_RULE_ID)
                for k, v in cookies.items()
            }
        return _mask_leaves(cookies, COOKIE_RULE_ID)


def _mask_leaves(value: Any, rule_id: str) -> Any:
    """Mask every scalar leaf, keeping keys and shape; None, booleans and empty
    strings say nothing secret and stay, as do values that are already masked."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value if not value or value.startswith(MASK_PREFIX) else mask(rule_id)
    if isinstance(value, Mapping):
        return {k: _mask_leaves(v, rule_id) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_mask_leaves(v, rule_id) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return mask(rule_id)


def _unique_key(out: Mapping[Any, Any], key: Any) -> Any:
    # Two keys that differed only inside a secret would collide after masking;
    # keep both values rather than silently dropping one.
    if key not in out:
        return key
    n = 2
    while f"{key}#{n}" in out:
        n += 1
    return f"{key}#{n}"
