"""OTLP/HTTP requests the relay must refuse cleanly: too deep to parse, or cut short.

Every refusal is a ``google.rpc.Status`` in the request's content type, counted in
``otelpriv_rejected_requests_total`` and never a traceback in the log: a client that can make
the relay log a traceback on every request can flood the log.
"""

from __future__ import annotations

import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from relay_harness import FakeUpstream, RelayThread, relay_config, running

from otelpriv import _receiver_http
from otelpriv._engine import Engine

INVALID_ARGUMENT = 3
INTERNAL = 13
MARKER = "freya.lind@example.com"


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def relay(upstream: FakeUpstream, engine: Engine) -> Iterator[RelayThread]:
    yield from running(relay_config(upstream), engine)


def _post(
    relay: RelayThread, body: bytes, content_type: str, encoding: str | None = None
) -> tuple[int, str, bytes]:
    request = urllib.request.Request(relay.http_base + "/v1/traces", data=body, method="POST")
    request.add_header("Content-Type", content_type)
    if encoding is not None:
        request.add_header("Content-Encoding", encoding)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def _status(content_type: str, body: bytes) -> status_pb2.Status:
    if content_type.startswith("application/json"):
        return json_format.Parse(body, status_pb2.Status())
    assert content_type.startswith("application/x-protobuf")
    return status_pb2.Status.FromString(body)


def _rejected(relay: RelayThread, code: str) -> float:
    text = relay.relay.metrics.render().decode()
    line = f'otelpriv_rejected_requests_total{{code="{code}",signal="traces"}} '
    found = [row for row in text.splitlines() if row.startswith(line)]
    return float(found[0][len(line) :]) if found else 0.0


def _assert_quiet(caplog: pytest.LogCaptureFixture) -> None:
    assert "Traceback" not in caplog.text
    assert "Error handling request" not in caplog.text
    assert all(record.exc_info is None for record in caplog.records)


def _span_request() -> bytes:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add(name="ok", span_id=b"\1" * 8)
    span.attributes.add(key="enduser.id").value.string_value = MARKER
    return request.SerializeToString()


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"resourceSpans": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"resourceSpans": [{"x": ' + b'{"y": ' * 5000 + b"1" + b"}" * 5001 + b"]}",
    ],
    ids=["arrays", "inside-resource-spans", "objects"],
)
def test_json_nested_too_deep_is_a_clean_400(
    relay: RelayThread, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    with caplog.at_level(logging.INFO):
        status, content_type, answer = _post(relay, body, "application/json")
    assert status == 400
    message = _status(content_type, answer)
    assert message.code == INVALID_ARGUMENT
    assert message.message == "the body is not OTLP/JSON: invalid JSON (nested too deeply)"
    assert _rejected(relay, "INVALID_ARGUMENT") == 1
    _assert_quiet(caplog)


@pytest.mark.parametrize("content_type", ["application/json", "application/x-protobuf"])
def test_unexpected_decode_failure_is_a_status_500_without_traceback(
    relay: RelayThread,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    content_type: str,
) -> None:
    """A bug in decoding still answers with a Status body and logs one line without the
    exception text, which could quote the payload."""

    def broken(*args: Any) -> Any:
        raise TypeError(f"cannot handle {MARKER}")

    monkeypatch.setattr(_receiver_http, "_decode_json", broken)
    monkeypatch.setattr(relay.relay.pipeline, "decode", broken)
    with caplog.at_level(logging.INFO):
        status, answered_type, answer = _post(relay, b'{"resourceSpans": []}', content_type)
    assert status == 500
    message = _status(answered_type, answer)
    assert message.code == INTERNAL
    assert MARKER not in message.message
    assert _rejected(relay, "INTERNAL") == 1
    _assert_quiet(caplog)
    assert "TypeError" in caplog.text
    assert MARKER not in caplog.text


def test_client_leaving_mid_body_is_counted_quietly(
    relay: RelayThread, caplog: pytest.LogCaptureFixture
) -> None:
    """Not the relay's failure: no error line, no traceback, counted as CANCELLED."""
    head = (
        b"POST /v1/traces HTTP/1.1\r\nHost: relay\r\nContent-Type: application/x-protobuf\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    with caplog.at_level(logging.INFO):
        with socket.create_connection(("127.0.0.1", relay.relay.http_port), timeout=10) as client:
            client.sendall(head + b"\x0a\x05")
        deadline = time.monotonic() + 10
        while _rejected(relay, "CANCELLED") < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert _rejected(relay, "CANCELLED") == 1
    assert _rejected(relay, "INTERNAL") == 0
    _assert_quiet(caplog)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
