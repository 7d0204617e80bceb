"""What a key's name decides: which values are secrets, user ids, headers or plain data."""

from __future__ import annotations

from typing import Any

import pytest

from otelpriv._actions import DropValue
from otelpriv._engine import Engine
from otelpriv._pseudonym import KeyRing, pseudonym_for

REDACTED = [
    ("app.cvv2", "123"),
    ("app.password.value", "hunter2"),
    ("app.password1", "hunter2"),
    ("app.pass", "hunter2"),
    ("app.auth", "Basic dXNlcjpwYXNz"),
    ("db.connection.apiKey", "k-123"),
    ("http.request.header.x-access-token", ["t-1"]),
    ("http.request.header.private-token", ["t-1"]),
    ("http.request.header.ocp-apim-subscription-key", ["k-1"]),
    ("http.request.header.x-functions-key", ["k-1"]),
    ("http.request.header.x_api_key", ["k-1"]),
    ("http.request.header.authentication", ["k-1"]),
    ("http.request.header.x-password", ["hunter2"]),
    ("http.request.header.Authorization", ["Bearer abc"]),
]

KEPT = [
    ("app.token_count", 12),
    ("app.token_type", "Bearer"),
    ("app.pin_code_enabled", True),
    ("app.auth_method", "Basic authentication"),
    ("app.auth.provider", "google"),
    ("gen_ai.usage.input_tokens", 1532),
    ("http.request.header.x-request-id", ["r-77"]),
    ("http.request.header.x-idempotency-key", ["i-77"]),
    ("app.tokenizer", "bpe"),
]


def _value(engine: Engine, key: str, value: Any) -> Any:
    return engine.for_service(None).value(key, value, [])


@pytest.mark.parametrize("key, value", REDACTED, ids=[key for key, _ in REDACTED])
def test_secret_keys(engine: Engine, key: str, value: Any) -> None:
    expected = ["[REDACTED]"] * len(value) if isinstance(value, list) else "[REDACTED]"
    assert _value(engine, key, value) == expected


@pytest.mark.parametrize("key, value", KEPT, ids=[key for key, _ in KEPT])
def test_not_secret_keys(engine: Engine, key: str, value: Any) -> None:
    assert _value(engine, key, value) == value


@pytest.mark.parametrize("key", ["userId", "user_id", "EndUser.Id", "user.full_name"])
def test_user_id_spellings(engine: Engine, key_ring: KeyRing, key: str) -> None:
    assert _value(engine, key, "Ana@Example.com ") == pseudonym_for(
        key_ring.active, "ana@example.com"
    )


def test_personal_data_in_key_names(engine: Engine) -> None:
    sanitizer = engine.for_service(None)
    hits: list[str] = []
    cleaned = sanitizer.attributes({"visitor:ana@example.com": 1, "plain": 2}, hits)
    assert cleaned == {"visitor:[EMAIL]": 1, "plain": 2}
    assert sanitizer.body({"ana@example.com": {"ok": True}}, hits) == {"[EMAIL]": {"ok": True}}
    assert "key" in hits


@pytest.mark.parametrize(
    "value, expected",
    [
        (4111111111111111.0, "[CREDIT_CARD]"),
        (-4111111111111111, "[CREDIT_CARD]"),
        (19.99, 19.99),
        (1741806762157, 1741806762157),
    ],
    ids=["card-double", "card-negative", "price", "epoch-ms"],
)
def test_numbers(engine: Engine, value: Any, expected: Any) -> None:
    assert _value(engine, "app.value", value) == expected


@pytest.mark.parametrize(
    "key, value, expected",
    [
        (
            "url.full",
            "https://admin:s3cr3t@10.0.0.5:badport/",
            "https://REDACTED:REDACTED@10.0.0.0:badport/",
        ),
        (
            "url.full",
            "https://admin:pa/ss@host.example.com/",
            "https://REDACTED:REDACTED@host.example.com/",
        ),
        (
            "url.original",
            "https://x.example/r?user%5Bpassword%5D=hunter2&user[token]=abc",
            "https://x.example/r?user%5Bpassword%5D=[REDACTED]&user[token]=[REDACTED]",
        ),
        (
            "app.note",
            "see https://x.example/a?token=abc, then",
            "see https://x.example/a?token=[REDACTED], then",
        ),
        (
            "app.request_line",
            "GET /cb?code=abc123&state=x HTTP/1.1",
            "GET /cb?code=[REDACTED]&state=x HTTP/1.1",
        ),
        (
            "http.request.header.x-original-url",
            ["/reset?sid=abc&key=k123&page=2"],
            ["/reset?sid=[REDACTED]&key=[REDACTED]&page=2"],
        ),
    ],
    ids=["bad-port", "slash-in-password", "nested-names", "trailing-comma", "request-line", "hdr"],
)
def test_urls(engine: Engine, key: str, value: Any, expected: Any) -> None:
    assert _value(engine, key, value) == expected


def test_process_args_keep_their_shape(engine: Engine) -> None:
    line = "mysqld --password hunter2 --port 3306"
    assert (
        _value(engine, "process.command_line", line) == "mysqld --password [REDACTED] --port 3306"
    )


def test_drop_under_allow_list_is_drop(key_ring: KeyRing) -> None:
    from otelpriv._policy import parse_policy

    engine = Engine(parse_policy({"allow_keys": ["http.*"]}), key_ring)
    with pytest.raises(DropValue):
        engine.for_service(None).value("app.x", 1, [])


def test_tuples_are_arrays(engine: Engine, key_ring: KeyRing) -> None:
    sanitizer = engine.for_service(None)
    hits: list[str] = []
    cleaned = sanitizer.attributes(
        {"http.request.header.cookie": ("session=abc",), "enduser.id": ("mia@example.com",)},
        hits,
    )
    assert cleaned == {
        "http.request.header.cookie": ["session=[REDACTED]"],
        "enduser.id": [pseudonym_for(key_ring.active, "mia@example.com")],
    }
    assert "error" not in hits


def test_keys_that_sanitize_alike_both_stay(engine: Engine) -> None:
    cleaned = engine.for_service(None).attributes({"a@example.com": 1, "b@example.com": 2}, [])
    assert cleaned == {"[EMAIL]": 1, "[EMAIL]#2": 2}


@pytest.mark.parametrize("key", ["app.note", "url.full", "http.request.header.referer"])
def test_lone_surrogates_become_replacement_characters(engine: Engine, key: str) -> None:
    out = engine.for_service(None).value(key, "x\ud812y", [])
    assert out == "x\ufffdy"
    out.encode("utf-8")


def test_cookie_header_prose_gets_text_rules(engine: Engine) -> None:
    value = ["sid=abc; hello ana@example.com"]
    assert _value(engine, "http.request.header.cookie", value) == ["sid=[REDACTED]; hello [EMAIL]"]
    assert _value(engine, "http.request.header.cookie", ["ana@example.com"]) == ["[EMAIL]"]


def test_floats_beyond_exact_integers_are_not_cards(engine: Engine) -> None:
    assert _value(engine, "app.value", 6.451337566683289e16) == 6.451337566683289e16


@pytest.mark.parametrize(
    "key, value, expected",
    [
        (
            "app.note",
            "pw=hunter2 pass=x credentials=abc",
            "pw=[REDACTED] pass=[REDACTED] credentials=[REDACTED]",
        ),
        (
            "db.statement",
            "UPDATE users SET pw='hunter2' WHERE id=1",
            "UPDATE users SET pw='[REDACTED]' WHERE id=1",
        ),
        (
            "process.command_line",
            "curl -u admin:hunter2 https://x.example",
            "curl -u [REDACTED] https://x.example",
        ),
        ("app.note", "4111-111111-111111", "[CREDIT_CARD]"),
        ("app.note", "user.4111111111111111 ip.192.168.1.55", "user.[CREDIT_CARD] ip.192.168.1.0"),
        ("app.note", "mail anna%2Bshop%40example.com", "mail [EMAIL]"),
        (
            "url.full",
            "https://h.example/?redirect=https%3A%2F%2Fx.example%2F%3Ftoken%3Dabc",
            "https://h.example/?redirect=https%3A%2F%2Fx.example%2F%3Ftoken%3D[REDACTED]",
        ),
        (
            "url.full",
            "https://h.example/?next=%2Fcb%3Fcode%3Dabc123",
            "https://h.example/?next=%2Fcb%3Fcode%3D[REDACTED]",
        ),
        ("url.full", "https://h.example/?next=%2Fcart%3Fpage%3D2", None),
        ("app.note", "0.4716420022329848 order 1234-5678-9012", None),
    ],
    ids=[
        "short-labels",
        "sql-pw",
        "curl-user",
        "card-4-6-6",
        "dotted-neighbours",
        "encoded-plus-email",
        "encoded-redirect",
        "encoded-next",
        "encoded-clean",
        "decimals",
    ],
)
def test_second_trial_findings(engine: Engine, key: str, value: str, expected: str | None) -> None:
    out = _value(engine, key, value)
    assert out == (value if expected is None else expected)
    assert _value(engine, key, out) == out
