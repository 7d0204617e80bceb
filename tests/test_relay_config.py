"""Relay configuration: defaults that run out of the box, errors that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from otelpriv import ConfigError
from otelpriv._relay_config import load_relay_config, parse_endpoint


def test_defaults() -> None:
    config = load_relay_config(None, {})
    assert (config.grpc.endpoint, config.http.endpoint) == ("127.0.0.1:4317", "127.0.0.1:4318")
    assert config.upstream.endpoint == "stdout"


@pytest.mark.parametrize(
    "text, message",
    [
        ("grpc:\n  endpoint: localhost\n", "grpc.endpoint: Value error, expected host:port"),
        ("upstream:\n  endpoint: ftp://x\n", "upstream.endpoint: Value error, expected grpc://"),
        ("upstream:\n  compression: br\n", "upstream.compression: Input should be 'none' or"),
        ("limits:\n  max_inflight_requests: 0\n", "limits.max_inflight_requests: Input should be"),
        ("recievers: {}\n", "recievers: unknown field"),
        ("- a\n", "expected a mapping of fields"),
        ("auth:\n  bearer_tokens: ['${env:OTELPRIV_TEST_NO_TOKEN}']\n", "OTELPRIV_TEST_NO_TOKEN"),
    ],
    ids=["endpoint", "scheme", "compression", "inflight", "typo", "list", "env"],
)
def test_bad_config(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "relay.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_relay_config(path, {})
    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "relay.yaml"
    path.write_text("upstream:\n  endpoint: grpc://a:4317\n  compression: gzip\n")
    config = load_relay_config(path, {"upstream.endpoint": "https://b.example", "policy": None})
    assert config.upstream.endpoint == "https://b.example"
    assert config.upstream.compression == "gzip"


@pytest.mark.parametrize(
    "endpoint, parsed",
    [("127.0.0.1:4317", ("127.0.0.1", 4317)), ("[::1]:0", ("::1", 0)), ("otel:80", ("otel", 80))],
)
def test_parse_endpoint(endpoint: str, parsed: tuple[str, int]) -> None:
    assert parse_endpoint(endpoint) == parsed
