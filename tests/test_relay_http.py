"""OTLP/HTTP bodies the relay must refuse cleanly: too deep to parse, or in an unread encoding.

Every refusal is a ``google.rpc.Status`` in the request's content type, counted in
``otelpriv_rejected_requests_total`` and never a traceback in the log: a client that can make
the relay log a traceback on every request can flood the log.
"""

from __future__ import annotations

import gzip
import logging
import socket
import time
import urllib.error
import urllib.request
import zlib
from typing import Any

import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from relay_harness import FakeUpstream, RelayThread, relay_config, running

from otelpriv import _receiver_http
from otelpriv._engine import Engine

INVALID_ARGUMENT = 3
RESOURCE_EXHAUSTED = 8
INTERNAL = 13
MARKER = "freya.lind@example.com"


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


@pytest.mark.parametrize(
    "encoding, named",
    [
        ("br", "br"),
        ("zstd", "zstd"),
        ("foo", "foo"),
        ("x-gzip", "x-gzip"),
        ("gzip, br", "br"),
        ("gzip, gzip", "gzip, gzip"),
    ],
)
@pytest.mark.parametrize("content_type", ["application/x-protobuf", "application/json"])
def test_unsupported_content_encoding_is_415(
    relay: RelayThread,
    upstream: FakeUpstream,
    caplog: pytest.LogCaptureFixture,
    encoding: str,
    named: str,
    content_type: str,
) -> None:
    with caplog.at_level(logging.INFO):
        status, answered_type, answer = _post(relay, _span_request(), content_type, encoding)
    assert status == 415
    assert answered_type.startswith(content_type)
    message = _status(answered_type, answer)
    assert message.code == INVALID_ARGUMENT
    assert f"Content-Encoding '{named}' is not supported" in message.message
    assert MARKER not in message.message
    assert _rejected(relay, "INVALID_ARGUMENT") == 1
    assert upstream.items("traces") == []
    _assert_quiet(caplog)


def test_an_overlong_encoding_name_is_cut_short(relay: RelayThread) -> None:
    status, content_type, answer = _post(relay, _span_request(), "application/json", "z" * 5000)
    assert status == 415
    assert len(_status(content_type, answer).message) < 200


@pytest.mark.parametrize(
    "encoding, compress",
    [
        (None, lambda body: body),
        ("identity", lambda body: body),
        ("gzip", gzip.compress),
        ("GZip", gzip.compress),
        ("gzip, identity", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda body: zlib.compress(body)[2:-4]),
        ("gzip", lambda body: gzip.compress(body[:7]) + gzip.compress(body[7:])),
    ],
    ids=["none", "identity", "gzip", "case", "list", "deflate", "raw-deflate", "gzip-members"],
)
def test_supported_encodings_are_read(
    relay: RelayThread, upstream: FakeUpstream, encoding: str | None, compress: Any
) -> None:
    status, _, _ = _post(relay, compress(_span_request()), "application/x-protobuf", encoding)
    assert status == 200
    (request,) = upstream.items("traces")
    assert request.resource_spans[0].scope_spans[0].spans[0].name == "ok"


@pytest.mark.parametrize(
    "body, encoding, status",
    [
        (gzip.compress(_span_request())[:-6], "gzip", 400),
        (gzip.compress(_span_request()) + b"junk", "gzip", 400),
        (zlib.compress(_span_request())[:-3], "deflate", 400),
        (zlib.compress(_span_request()) + b"junk", "deflate", 400),
        (gzip.compress(b"\0" * (4 * 1024 * 1024 + 1)), "gzip", 413),
        (zlib.compress(b"\0" * (4 * 1024 * 1024 + 1)), "deflate", 413),
    ],
    ids=["gzip-cut", "gzip-trailing", "deflate-cut", "deflate-trailing", "gzip-big", "zlib-big"],
)
def test_broken_or_oversized_compressed_bodies(
    relay: RelayThread,
    upstream: FakeUpstream,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    encoding: str,
    status: int,
) -> None:
    with caplog.at_level(logging.INFO):
        answered, content_type, answer = _post(relay, body, "application/x-protobuf", encoding)
    assert answered == status
    assert _status(content_type, answer).code in (INVALID_ARGUMENT, RESOURCE_EXHAUSTED)
    assert upstream.items("traces") == []
    _assert_quiet(caplog)


def test_exactly_the_limit_inflated_is_accepted(upstream: FakeUpstream, engine: Engine) -> None:
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add(name="x" * 10_000)
    body = request.SerializeToString()
    config = relay_config(upstream, http={"max_body_bytes": len(body)})
    for relay in running(config, engine):
        assert _post(relay, gzip.compress(body), "application/x-protobuf", "gzip")[0] == 200
        assert _post(relay, gzip.compress(body + b"\0"), "application/x-protobuf", "gzip")[0] == (
            413
        )


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


@pytest.mark.parametrize(
    "head, body",
    [
        (b"Transfer-Encoding: chunked\r\n", b"ZZ\r\nabc\r\n0\r\n\r\n"),
        (b"Authorization: Bearer s3cr3t\x01token\r\nContent-Length: 0\r\n", b""),
    ],
    ids=["bad-chunk-size", "control-byte-in-a-header"],
)
def test_requests_aiohttp_cannot_read_leave_no_trace_in_the_log(
    relay: RelayThread, caplog: pytest.LogCaptureFixture, head: bytes, body: bytes
) -> None:
    """aiohttp answers these itself, and its log line would quote the request's bytes."""
    request = (
        b"POST /v1/traces HTTP/1.1\r\nHost: relay\r\n"
        b"Content-Type: application/x-protobuf\r\n" + head + b"\r\n" + body
    )
    with caplog.at_level(logging.INFO):
        with socket.create_connection(("127.0.0.1", relay.relay.http_port), timeout=10) as client:
            client.sendall(request)
            answer = client.recv(4096)
        time.sleep(0.2)
    assert answer.split(b" ", 2)[1] == b"400"
    _assert_quiet(caplog)
    assert "s3cr3t" not in caplog.text
