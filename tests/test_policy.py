"""Policy loading: good files load, bad ones are refused with errors that say what to fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from otelpriv import (
    Action,
    Engine,
    KeyFileError,
    PolicyError,
    generate_key_file,
    load_key_file,
    load_policy,
    parse_policy,
)
from otelpriv._actions import DropValue
from otelpriv._pseudonym import pseudonym_for

EXAMPLE = Path(__file__).parent.parent / "examples" / "policy.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_cover_every_detector() -> None:
    policy = parse_policy({})
    assert policy.detectors["ipv4"] is Action.MASK
    assert policy.detectors["email"] is Action.REDACT
    assert policy.user_ids.action is Action.HASH


def test_example_policy_loads() -> None:
    policy = load_policy(EXAMPLE)
    assert "checkout-api" in policy.services


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "detectors:\n  email: scramble\n",
            "detectors.email: Input should be 'keep', 'redact', 'mask', 'hash', 'encrypt' or "
            "'drop' (got 'scramble')",
        ),
        ("detectors:\n  phone_number: redact\n", "detectors: Value error, unknown detector"),
        ("colour: red\n", "colour: unknown field (got 'red')"),
        (
            "patterns:\n  - id: order\n    regex: 'ORD-(['\n",
            "patterns.0.regex: Value error, does not compile",
        ),
        ("rules:\n  - keys: []\n    action: drop\n", "rules.0.keys: List should have at least 1"),
        ("- a\n- b\n", "expected a mapping of fields"),
        ("detectors: [\n", "is not valid YAML at line 2"),
        ("placeholder: ${env:OTELPRIV_TEST_UNSET}\n", "environment variable OTELPRIV_TEST_UNSET"),
        (
            "services:\n  web:\n    ips:\n      action: blur\n",
            "services.web: ips.action: Input should be",
        ),
    ],
    ids=[
        "bad-action",
        "unknown-detector",
        "unknown-field",
        "bad-regex",
        "empty-rule",
        "not-a-mapping",
        "bad-yaml",
        "missing-env",
        "bad-service",
    ],
)
def test_bad_policy_is_refused(tmp_path: Path, text: str, message: str) -> None:
    os.environ.pop("OTELPRIV_TEST_UNSET", None)
    path = _write(tmp_path, text)
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def test_env_substitution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELPRIV_TEST_PLACEHOLDER", "<gone>")
    policy = load_policy(_write(tmp_path, "placeholder: ${env:OTELPRIV_TEST_PLACEHOLDER}\n"))
    assert policy.placeholder == "<gone>"


def test_service_override_merges_onto_shared_fields(tmp_path: Path, key_file: Path) -> None:
    policy = load_policy(
        _write(
            tmp_path,
            "detectors:\n  ipv4: redact\n"
            "rules:\n  - keys: [app.shared]\n    action: drop\n"
            "services:\n  web:\n    detectors:\n      email: hash\n"
            "    rules:\n      - keys: [app.web]\n        action: redact\n",
        )
    )
    engine = Engine(policy, load_key_file(key_file))
    web = engine.for_service("web")
    assert web.policy.detectors["ipv4"] is Action.REDACT
    assert web.policy.detectors["email"] is Action.HASH
    assert [rule.keys for rule in web.policy.rules] == [["app.web"], ["app.shared"]]
    hits: list[str] = []
    ring = load_key_file(key_file)
    assert web.text("mail ana@example.com", hits) == "mail " + pseudonym_for(
        ring.active, "ana@example.com"
    )
    assert engine.for_service("other").text("ana@example.com", hits) == "[EMAIL]"


def test_hashing_without_a_key_says_how_to_make_one() -> None:
    with pytest.raises(PolicyError, match="otelpriv keygen"):
        Engine(parse_policy({}))


def test_policy_without_hashing_needs_no_key() -> None:
    engine = Engine(parse_policy({"user_ids": {"action": "redact"}}))
    assert engine.for_service(None).value("enduser.id", "ana@example.com", []) == "[REDACTED]"


def test_allow_list_drops_everything_else(key_file: Path) -> None:
    engine = Engine(parse_policy({"allow_keys": ["http.*", "url.full"]}), load_key_file(key_file))
    sanitizer = engine.for_service(None)
    assert sanitizer.value("http.route", "/p/{id}", []) == "/p/{id}"
    with pytest.raises(DropValue):
        sanitizer.value("app.note", "hello", [])


def test_key_file_round_trip_and_rotation(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = generate_key_file(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(KeyFileError, match="--add"):
        generate_key_file(path)
    second = generate_key_file(path, add=True)
    ring = load_key_file(path)
    assert [key.id for key in ring.keys] == [first.id, second.id]
    assert ring.active.id == second.id


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist; create one with: otelpriv keygen"),
        ("not json", "is not JSON"),
        ('{"keys": [{"secret": "@@@", "created": ""}]}', "is malformed"),
        ('{"keys": []}', "holds no keys"),
        ('{"keys": [{"secret": "YWJj", "created": ""}]}', "shorter than 128 bits"),
    ],
    ids=["missing", "not-json", "bad-base64", "empty", "short"],
)
def test_bad_key_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "keys.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(KeyFileError, match=message):
        load_key_file(path)


def test_key_material_never_in_repr(key_file: Path) -> None:
    ring = load_key_file(key_file)
    secret = ring.active.secret
    engine = Engine(keys=ring)
    for shown in (repr(ring), str(ring), repr(ring.active), repr(engine)):
        assert secret.hex() not in shown
        assert repr(secret) not in shown
