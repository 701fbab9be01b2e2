"""The output contract of a sub-agent: its JSON Schema and the guardrail checks.

``OUTPUT_SCHEMA`` is the one definition; the published file
``src/autopack/schemas/handoff-output.schema.json`` is its rendering (a test
keeps them equal). ``check_output`` runs every check that needs no file system
and returns the problems found, each with a code, a JSON pointer and a message
that never contains the offending secret. The service adds the checks that read
files (brief hash, evidence paths and hashes, symlinks).

Secrets are searched in every encoding a helper could hide one in: the text as
is (which for the known secrets already covers their base64, base64url,
URL-encoded and JSON-escaped forms), and the decoded text of every base64,
base64url, hex and percent-encoded token, scanned with the same redactor (the
pattern rules and every stored secret) the rest of Autopack uses.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from jsonschema import Draft202012Validator

from autopack.domain.redaction import Redactor, mask

OUTPUT_SCHEMA_ID: Final = "autopack.handoff-output/1"
SCHEMA_FILE: Final = "src/autopack/schemas/handoff-output.schema.json"
MAX_OUTPUT_BYTES: Final = 256 * 1024
_HEX64 = "^[0-9a-f]{64}$"


def _text(max_length: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length}


OUTPUT_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:autopack:handoff-output:1",
    "title": "Autopack sub-agent handoff output",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "schema",
        "brief_id",
        "brief_sha256",
        "summary",
        "findings",
        "proposed_actions",
        "open_questions",
        "confidence",
    ],
    "properties": {
        "schema": {"const": OUTPUT_SCHEMA_ID},
        "brief_id": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
        "brief_sha256": {"type": "string", "pattern": _HEX64},
        "summary": _text(4000),
        "findings": {
            "type": "array",
            "maxItems": 200,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["claim", "evidence"],
                "properties": {
                    "claim": _text(4000),
                    "evidence": {
                        "type": "array",
                        "maxItems": 50,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["path", "sha256"],
                            "properties": {
                                "path": _text(512),
                                "sha256": {"type": "string", "pattern": _HEX64},
                            },
                        },
                    },
                },
            },
        },
        "proposed_actions": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["provider", "action", "payload", "rationale"],
                "properties": {
                    "provider": _text(64),
                    "action": _text(64),
                    "account": _text(64),
                    "payload": {"type": "object"},
                    "rationale": _text(4000),
                },
            },
        },
        "open_questions": {"type": "array", "maxItems": 100, "items": _text(1000)},
        "confidence": {"enum": ["low", "medium", "high"]},
    },
}

_VALIDATOR: Final = Draft202012Validator(OUTPUT_SCHEMA)


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason an output is refused. Never carries secret material."""

    code: str
    pointer: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "pointer": self.pointer, "message": self.message}


def _pointer(parts: Sequence[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def schema_problems(document: Any) -> list[Problem]:
    """Every place ``document`` breaks the schema, in a stable order."""
    errors = sorted(
        _VALIDATOR.iter_errors(document), key=lambda e: (list(map(str, e.path)), e.message)
    )
    # The schema's messages quote the offending value; a value may be a secret.
    return [
        Problem("schema", _pointer(list(e.path)), f"breaks the schema rule {e.validator!r}")
        for e in errors
    ]


# -- paths -------------------------------------------------------------------------


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a safe run-relative POSIX path, or None."""
    if "\\" in path or "\x00" in path or ":" in path:
        return "use a run-relative POSIX path (no backslash, colon or NUL)"
    pure = PurePosixPath(path)
    if pure.is_absolute():
        return "absolute paths are refused: use a path relative to the run directory"
    if any(part in ("..", ".") for part in path.split("/")) or "" in path.split("/"):
        return "'..', '.' and empty segments are refused"
    return None


# -- strings, URLs and secrets -----------------------------------------------------


def strings(value: Any, parts: tuple[Any, ...] = ()) -> Iterator[tuple[str, str]]:
    """(pointer, text) for every string in ``value``, keys included."""
    if isinstance(value, str):
        yield _pointer(parts), value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield _pointer((*parts, key)), str(key)
            yield from strings(item, (*parts, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, (*parts, i))


_URL = re.compile(r"(?i)\b(?:https?|ftp|wss?)://[^\s\"'<>()\[\]{}|\\^`]+")


def url_hosts(text: str) -> list[str]:
    hosts = []
    for match in _URL.findall(text):
        try:
            host = urlsplit(match).hostname or ""
        except ValueError:
            host = ""
        hosts.append(host.lower())
    return hosts


def host_allowed(host: str, allowlist: Sequence[str]) -> bool:
    """``host`` is an allowlisted host or one of its subdomains."""
    return bool(host) and any(host == a or host.endswith("." + a) for a in allowlist)


_BASE64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")
_HEX_TOKEN = re.compile(r"(?:[0-9a-fA-F]{2}){8,}")
_MAX_DECODE_DEPTH: Final = 2


def _printable(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text or sum(ch.isprintable() or ch.isspace() for ch in text) < 0.9 * len(text):
        return None
    return text


def _b64(token: str) -> str | None:
    core = token.rstrip("=")
    padded = core + "=" * (-len(core) % 4)
    for altchars in (b"+/", b"-_"):
        try:
            decoded = base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        text = _printable(decoded)
        if text is not None:
            return text
    return None


def decoded_forms(text: str) -> Iterator[tuple[str, str]]:
    """(encoding, decoded text) for every encoded token in ``text`` that decodes to text."""
    if "%" in text:
        unquoted = unquote(text)
        if unquoted != text:
            yield "url", unquoted
    for match in _HEX_TOKEN.findall(text):
        decoded = _printable(bytes.fromhex(match))
        if decoded is not None:
            yield "hex", decoded
    for match in _BASE64_TOKEN.findall(text):
        decoded = _b64(match)
        if decoded is not None:
            yield ("base64url" if ("-" in match or "_" in match) else "base64"), decoded


def secret_encodings(text: str, redactor: Redactor, depth: int = 0) -> list[tuple[str, str]]:
    """(encoding, rule id) of each secret in ``text``: plain or inside an encoded token."""
    found = [("plain", f.rule_id) for f in redactor.scan(text)]
    if depth < _MAX_DECODE_DEPTH:
        for encoding, decoded in decoded_forms(text):
            found += [
                (encoding if inner == "plain" else f"{encoding}+{inner}", rule)
                for inner, rule in secret_encodings(decoded, redactor, depth + 1)
            ]
    return found


def content_problems(
    document: Any, redactor: Redactor, url_allowlist: Sequence[str]
) -> list[Problem]:
    """Secrets (any encoding) and URLs off the allowlist, anywhere in ``document``."""
    problems: list[Problem] = []
    for pointer, text in strings(document):
        for encoding, rule in sorted(set(secret_encodings(text, redactor))):
            problems.append(
                Problem("secret", pointer, f"holds a secret ({encoding}, {mask(rule)})")
            )
        for host in sorted(set(url_hosts(text))):
            if not host_allowed(host, url_allowlist):
                shown = host[:80] if host else "(no host)"
                problems.append(
                    Problem("url_not_allowed", pointer, f"links to {shown}, not on the allowlist")
                )
    return problems


def mask_secrets(text: str, redactor: Redactor) -> str:
    """``text`` with every token that hides a secret (in any encoding) masked whole:
    what a rejected output is kept as."""
    text = redactor.redact_text(text)

    def token(match: re.Match[str]) -> str:
        return (
            mask("encoded-secret") if secret_encodings(match.group(), redactor) else match.group()
        )

    text = _HEX_TOKEN.sub(token, text)
    text = _BASE64_TOKEN.sub(token, text)
    return re.sub(r"\S*%[0-9A-Fa-f]{2}\S*", token, text)
