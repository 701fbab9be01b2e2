"""The output contract's pure parts: the published schema file, paths, URLs, secrets."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jsonschema
import pytest

from autopack.domain.handoff_contract import (
    OUTPUT_SCHEMA,
    SCHEMA_FILE,
    content_problems,
    host_allowed,
    mask_secrets,
    path_problem,
    schema_problems,
    secret_encodings,
)
from autopack.providers.registry import DEFAULT_REDACTOR

REPO = Path(__file__).resolve().parents[2]
SECRET = "Zq8-stored-token-4471"
REDACTOR = DEFAULT_REDACTOR.with_secrets([SECRET])

VALID = {
    "schema": "autopack.handoff-output/1",
    "brief_id": "0" * 24,
    "brief_sha256": "1" * 64,
    "summary": "s",
    "findings": [{"claim": "c", "evidence": [{"path": "handoff/context.md", "sha256": "2" * 64}]}],
    "proposed_actions": [
        {"provider": "sandbox", "action": "video.upload", "payload": {}, "rationale": "r"}
    ],
    "open_questions": ["q"],
    "confidence": "high",
}


def test_the_published_schema_file_is_the_schema_in_code() -> None:
    published = json.loads((REPO / SCHEMA_FILE).read_text(encoding="utf-8"))
    assert published == OUTPUT_SCHEMA
    assert (REPO / SCHEMA_FILE).read_text(encoding="utf-8") == json.dumps(
        OUTPUT_SCHEMA, indent=2
    ) + "\n"
    jsonschema.Draft202012Validator.check_schema(published)


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"extra": 1},
        {"confidence": "certain"},
        {"brief_id": "x"},
        {"findings": [{"claim": "c"}]},
        {"proposed_actions": [{"provider": "p"}]},
        {"summary": ""},
    ],
)
def test_the_validator_in_code_agrees_with_the_published_file(change: dict[str, object]) -> None:
    document = {**VALID, **change}
    published = jsonschema.Draft202012Validator(
        json.loads((REPO / SCHEMA_FILE).read_text(encoding="utf-8"))
    )
    assert (not schema_problems(document)) == published.is_valid(document)
    assert bool(change) == bool(schema_problems(document))


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("handoff/context.md", True),
        ("run.json", True),
        ("../x", False),
        ("handoff/../../x", False),
        ("/etc/passwd", False),
        ("C:/x", False),
        ("handoff\\x", False),
        ("handoff//x", False),
        ("./handoff/x", False),
    ],
)
def test_path_rules(path: str, ok: bool) -> None:
    assert (path_problem(path) is None) is ok


def test_hosts_match_the_allowlist_and_its_subdomains() -> None:
    assert host_allowed("docs.example.org", ["example.org"])
    assert not host_allowed("badexample.org", ["example.org"])
    assert not host_allowed("", ["example.org"])
    problems = content_problems(
        {"a": "see https://x.example.org/p and http://evil.test"}, REDACTOR, ["example.org"]
    )
    assert [(p.code, p.pointer) for p in problems] == [("url_not_allowed", "/a")]


@pytest.mark.parametrize(
    ("hidden", "encoding"),
    [
        (SECRET, "plain"),
        (base64.b64encode(SECRET.encode()).decode(), "plain"),  # a known form of the secret
        (base64.b64encode(b"ghp_" + b"x1" * 18).decode(), "base64"),
        (base64.urlsafe_b64encode(b"ghp_" + b"x1" * 18 + b" ???>>>").decode(), "base64url"),
        ((b"ghp_" + b"x1" * 18).hex(), "hex"),
        (SECRET.encode().hex(), "hex"),
        ("ghp_" + "x1" * 18, "plain"),
    ],
)
def test_secrets_are_found_in_every_encoding(hidden: str, encoding: str) -> None:
    found = secret_encodings(f"text {hidden} more", REDACTOR)
    assert found, hidden
    assert encoding in {e for e, _ in found}
    masked = mask_secrets(f"text {hidden} more", REDACTOR)
    assert hidden not in masked
    assert SECRET not in masked


def test_ordinary_text_hashes_and_paths_hold_no_secret() -> None:
    for text in (
        "The spring video goes out on Monday.",
        "a" * 64,
        "3ed0a89b597b39e8f2707961717ec2795e670879f81952069eb8d07820b2d613",
        "handoff/briefs/ef6277a3a9e45e33c337e9e8.json",
        "%20 spaces %41",
    ):
        assert secret_encodings(text, REDACTOR) == [], text
