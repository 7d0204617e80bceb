"""The relay end to end: the SDK's real OTLP exporters -> relay -> a real gRPC upstream."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import grpc
import pytest
from click.testing import CliRunner
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetrics,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpMetrics,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from relay_harness import FakeUpstream, RelayThread, relay_config, running

from otelpriv._cli import main
from otelpriv._engine import Engine
from otelpriv._errors import ConfigError
from otelpriv._otlp import _to_python
from otelpriv._pseudonym import KeyRing, pseudonym_for
from otelpriv._relay import start_relay

RESOURCE = Resource.create({"service.name": "checkout-api"})
EMAIL = "freya.lind@example.com"
CARD = "4111 1111 1111 1111"


def _spans(count: int = 3) -> list[Any]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("shop")
    for number in range(count):
        with tracer.start_as_current_span(f"POST /checkout {number}") as span:
            span.set_attribute("url.full", f"https://shop.example.com/pay?token=abc{number}&x=1")
            span.set_attribute("enduser.id", EMAIL)
            span.set_attribute("client.address", "203.0.113.54")
            span.set_attribute("app.note", f"card {CARD} for {EMAIL}")
            span.set_attribute("http.response.status_code", 500)
    provider.shutdown()
    return list(memory.get_finished_spans())


def _logs() -> list[Any]:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("shop")
    logger.emit(body=f"order failed for {EMAIL}", attributes={"client.address": "198.51.100.7"})
    logger.emit(body={"customer": {"email": EMAIL, "password": "Blue-Otter-42"}})
    provider.shutdown()
    return list(memory.get_finished_logs())


def _metrics() -> Any:
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    counter = provider.get_meter("shop").create_counter("orders")
    counter.add(1, {"enduser.id": EMAIL, "client.address": "203.0.113.9"})
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


def _span_attributes(request: ExportTraceServiceRequest) -> list[dict[str, Any]]:
    return [
        {kv.key: _to_python(kv.value) for kv in span.attributes}
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]


def _assert_clean(request: Any) -> None:
    raw = request.SerializeToString()
    for secret in (EMAIL.encode(), CARD.encode(), b"203.0.113.54", b"Blue-Otter-42", b"abc0"):
        assert secret not in raw


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_sdk_spans_arrive_sanitized_with_ids_intact(
    relay: RelayThread, upstream: FakeUpstream, key_ring: KeyRing, transport: str
) -> None:
    spans = _spans()
    if transport == "grpc":
        exporter: Any = GrpcSpans(endpoint=relay.grpc_target, insecure=True)
    else:
        exporter = HttpSpans(endpoint=relay.http_base + "/v1/traces")
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    exporter.shutdown()

    (request,) = upstream.items("traces")
    _assert_clean(request)
    sent = request.resource_spans[0].scope_spans[0].spans
    assert [span.name for span in sent] == [span.name for span in spans]
    assert [span.span_id for span in sent] == [
        span.context.span_id.to_bytes(8, "big") for span in spans
    ]
    assert [span.start_time_unix_nano for span in sent] == [span.start_time for span in spans]
    first = _span_attributes(request)[0]
    assert first == {
        "url.full": "https://shop.example.com/pay?token=[REDACTED]&x=1",
        "enduser.id": pseudonym_for(key_ring.active, EMAIL),
        "client.address": "203.0.113.0",
        "app.note": "card [CREDIT_CARD] for [EMAIL]",
        "http.response.status_code": 500,
    }


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_sdk_logs_and_metrics(
    relay: RelayThread, upstream: FakeUpstream, key_ring: KeyRing, transport: str
) -> None:
    if transport == "grpc":
        logs: Any = GrpcLogs(endpoint=relay.grpc_target, insecure=True)
        metrics: Any = GrpcMetrics(endpoint=relay.grpc_target, insecure=True)
    else:
        logs = HttpLogs(endpoint=relay.http_base + "/v1/logs")
        metrics = HttpMetrics(endpoint=relay.http_base + "/v1/metrics")
    assert logs.export(_logs()) is LogRecordExportResult.SUCCESS
    assert metrics.export(_metrics()) is MetricExportResult.SUCCESS

    (log_request,) = upstream.items("logs")
    _assert_clean(log_request)
    records = log_request.resource_logs[0].scope_logs[0].log_records
    assert _to_python(records[0].body) == "order failed for [EMAIL]"
    assert _to_python(records[1].body) == {
        "customer": {"email": "[EMAIL]", "password": "[REDACTED]"}
    }
    (metric_request,) = upstream.items("metrics")
    _assert_clean(metric_request)
    point = metric_request.resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0]
    assert {kv.key: _to_python(kv.value) for kv in point.attributes} == {
        "enduser.id": pseudonym_for(key_ring.active, EMAIL),
        "client.address": "203.0.113.0",
    }
    assert point.as_int == 1


def test_upstream_unavailable_then_recovers_loses_nothing(
    relay: RelayThread, upstream: FakeUpstream
) -> None:
    upstream.script = [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE]
    exporter = GrpcSpans(endpoint=relay.grpc_target, insecure=True)
    assert exporter.export(_spans(5)) is SpanExportResult.SUCCESS
    assert upstream.calls == 3
    (request,) = upstream.items("traces")
    assert len(request.resource_spans[0].scope_spans[0].spans) == 5


def _raw_call(target: str, payload: bytes, metadata: Any = None) -> Any:
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=None,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )
        return call(payload, timeout=10, metadata=metadata)


def _wait_inflight(relay: RelayThread, seconds: float = 10.0) -> None:
    """Until a request is inside the relay; a test that never gets there fails, not hangs."""
    deadline = time.monotonic() + seconds
    while relay.relay.pipeline.inflight < 1:
        assert time.monotonic() < deadline, "no request reached the relay"
        threading.Event().wait(0.01)


def test_malformed_request_is_rejected_while_valid_stream_passes(
    relay: RelayThread, upstream: FakeUpstream
) -> None:
    valid = ExportTraceServiceRequest()
    valid.resource_spans.add().scope_spans.add().spans.add(name="ok", span_id=b"\1" * 8)
    payload = valid.SerializeToString()
    errors: list[Any] = []

    def stream() -> None:
        for _ in range(20):
            try:
                _raw_call(relay.grpc_target, payload)
            except grpc.RpcError as error:
                errors.append(error.code())

    worker = threading.Thread(target=stream)
    worker.start()
    for _ in range(10):
        with pytest.raises(grpc.RpcError) as raised:
            _raw_call(relay.grpc_target, b"\x0a\xff\xff\xff\xff\x0f")
        assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid ExportTraceServiceRequest" in raised.value.details()
    worker.join(30)
    assert errors == []
    assert len(upstream.items("traces")) == 20


def test_bad_utf8_deep_in_an_attribute_is_rejected(
    relay: RelayThread, upstream: FakeUpstream
) -> None:
    """The view leaves attributes serialized; the walk still refuses one that is not UTF-8."""
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add(name="ok", span_id=b"\1" * 8)
    bad_attribute = b"\x0a\x08app.note\x12\x04\x0a\x02\xc3\x28"
    span_bytes = span.SerializeToString() + b"\x4a" + bytes([len(bad_attribute)]) + bad_attribute
    scope_bytes = b"\x12" + bytes([len(span_bytes)]) + span_bytes
    payload = b"\x0a" + bytes([len(scope_bytes) + 2]) + b"\x12" + bytes([len(scope_bytes)])
    payload += scope_bytes
    with pytest.raises(grpc.RpcError) as raised:
        _raw_call(relay.grpc_target, payload)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid ExportTraceServiceRequest" in raised.value.details()
    assert upstream.items("traces") == []


def test_permanent_upstream_error_reaches_client(
    relay: RelayThread, upstream: FakeUpstream
) -> None:
    upstream.script = [grpc.StatusCode.PERMISSION_DENIED]
    with pytest.raises(grpc.RpcError) as raised:
        _raw_call(relay.grpc_target, ExportTraceServiceRequest().SerializeToString())
    assert raised.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert upstream.calls == 1


def test_partial_success_is_passed_back(relay: RelayThread, upstream: FakeUpstream) -> None:
    upstream.partial = 2
    response = _raw_call(relay.grpc_target, ExportTraceServiceRequest().SerializeToString())
    assert response.partial_success.rejected_spans == 2
    assert response.partial_success.error_message == "upstream rejected some"


def test_oversized_message_is_resource_exhausted(upstream: FakeUpstream, engine: Engine) -> None:
    config = relay_config(upstream, grpc={"max_message_bytes": 1024})
    for relay in running(config, engine):
        request = ExportTraceServiceRequest()
        request.resource_spans.add().scope_spans.add().spans.add(name="x" * 4096)
        with pytest.raises(grpc.RpcError) as raised:
            _raw_call(relay.grpc_target, request.SerializeToString())
        assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_too_many_in_flight_is_resource_exhausted(upstream: FakeUpstream, engine: Engine) -> None:
    upstream.block = threading.Event()
    config = relay_config(upstream, limits={"max_inflight_requests": 1})
    for relay in running(config, engine):
        first = threading.Thread(
            target=_raw_call,
            args=(relay.grpc_target, ExportTraceServiceRequest().SerializeToString()),
        )
        first.start()
        _wait_inflight(relay)
        with pytest.raises(grpc.RpcError) as raised:
            _raw_call(relay.grpc_target, ExportTraceServiceRequest().SerializeToString())
        assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        upstream.block.set()
        first.join(10)


def test_bearer_token_auth(upstream: FakeUpstream, engine: Engine) -> None:
    config = relay_config(upstream, auth={"bearer_tokens": ["s3cret-token"]})
    empty = ExportTraceServiceRequest().SerializeToString()
    for relay in running(config, engine):
        with pytest.raises(grpc.RpcError) as raised:
            _raw_call(relay.grpc_target, empty)
        assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError):
            _raw_call(relay.grpc_target, empty, [("authorization", "Bearer wrong")])
        _raw_call(relay.grpc_target, empty, [("authorization", "Bearer s3cret-token")])
        status, _, _ = _post(relay.http_base + "/v1/traces", empty)
        assert status == 401


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/x-protobuf")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.parametrize(
    "body, headers, status",
    [
        (b"\x0a\xff\xff\xff\xff\x0f", {}, 400),
        (b"not gzip", {"Content-Encoding": "gzip"}, 400),
        (gzip.compress(b"\0" * (5 * 1024 * 1024)), {"Content-Encoding": "gzip"}, 413),
        (b"{}", {"Content-Type": "text/plain"}, 415),
        (b'{"resourceLogs": []}', {"Content-Type": "application/json"}, 400),
        (b"{not json", {"Content-Type": "application/json"}, 400),
    ],
    ids=["bad-protobuf", "bad-gzip", "gzip-bomb", "bad-type", "wrong-signal", "bad-json"],
)
def test_http_bad_input(
    relay: RelayThread, body: bytes, headers: dict[str, str], status: int
) -> None:
    code, _, _ = _post(relay.http_base + "/v1/traces", body, headers)
    assert code == status


def test_http_json_round_trip_and_cors(upstream: FakeUpstream, engine: Engine) -> None:
    config = relay_config(upstream, http={"cors_origins": ["https://shop.example.com"]})
    line = json.dumps(
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": "5b8efff798038103d269b633813fc60c",
                                    "spanId": "eee19b7ec3c1b174",
                                    "name": f"GET /users/{EMAIL}",
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    ).encode()
    for relay in running(config, engine):
        status, headers, body = _post(
            relay.http_base + "/v1/traces",
            line,
            {"Content-Type": "application/json", "Origin": "https://shop.example.com"},
        )
        assert status == 200
        assert headers["Content-Type"].startswith("application/json")
        assert headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
        assert json.loads(body) == {}
        (request,) = upstream.items("traces")
        span = request.resource_spans[0].scope_spans[0].spans[0]
        assert span.name == "GET /users/[EMAIL]"
        assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c"
        preflight = urllib.request.Request(relay.http_base + "/v1/traces", method="OPTIONS")
        preflight.add_header("Origin", "https://evil.example.net")
        with urllib.request.urlopen(preflight, timeout=10) as response:
            assert "Access-Control-Allow-Origin" not in response.headers


def test_health_and_metrics(relay: RelayThread, upstream: FakeUpstream) -> None:
    with grpc.insecure_channel(relay.grpc_target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        answer = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    GrpcSpans(endpoint=relay.grpc_target, insecure=True).export(_spans(2))
    with urllib.request.urlopen(relay.http_base + "/healthz", timeout=5) as response:
        assert json.loads(response.read())["status"] == "ok"
    with urllib.request.urlopen(relay.http_base + "/metrics", timeout=5) as response:
        text = response.read().decode()
    assert 'otelpriv_received_items_total{signal="traces"} 2.0' in text
    assert 'otelpriv_exported_items_total{signal="traces"} 2.0' in text
    assert 'otelpriv_redactions_total{rule="user_id"} 2.0' in text
    assert EMAIL not in text


def test_embedded_file_output(tmp_path: Any, engine: Engine) -> None:
    output = tmp_path / "out.jsonl"
    for relay in running(relay_config(f"file:{output}"), engine):
        assert GrpcSpans(endpoint=relay.grpc_target, insecure=True).export(_spans(1)) is (
            SpanExportResult.SUCCESS
        )
    (line,) = output.read_text().splitlines()
    assert EMAIL not in line
    assert json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] == (
        "POST /checkout 0"
    )


def test_example_relay_config_loads() -> None:
    from pathlib import Path

    from otelpriv._relay_config import load_relay_config

    config = load_relay_config(
        Path(__file__).parent.parent / "examples" / "relay.yaml", {"grpc.endpoint": "[::1]:0"}
    )
    assert config.http.cors_origins == ["https://shop.example.com"]
    assert config.grpc.endpoint == "[::1]:0"
    assert config.upstream.endpoint == "stdout"


def test_stop_interrupts_retries_within_grace(upstream: FakeUpstream, engine: Engine) -> None:
    upstream.script = [grpc.StatusCode.UNAVAILABLE] * 1000
    config = relay_config(upstream, upstream={"max_elapsed_seconds": 60})
    relay = RelayThread(config, engine)
    codes: list[Any] = []

    def call() -> None:
        try:
            _raw_call(relay.grpc_target, ExportTraceServiceRequest().SerializeToString())
        except grpc.RpcError as error:
            codes.append(error.code())

    client = threading.Thread(target=call)
    client.start()
    _wait_inflight(relay)
    started = time.monotonic()
    relay.stop()
    client.join(10)
    assert time.monotonic() - started < 5
    assert codes == [grpc.StatusCode.UNAVAILABLE]


def test_http_details(relay: RelayThread, caplog: pytest.LogCaptureFixture) -> None:
    empty = ExportTraceServiceRequest().SerializeToString()
    assert (
        _post(relay.http_base + "/v1/traces", b"[]", {"Content-Type": "application/json"})[0] == 400
    )
    with caplog.at_level(logging.INFO):
        assert _post(relay.http_base + "/v1/traces", b"junk", {"Content-Encoding": "gzip"})[0] == (
            400
        )
    assert "Traceback" not in caplog.text and "Unhandled exception" not in caplog.text
    assert _post(relay.http_base + "/v1/traces", empty)[0] == 200


def test_bearer_scheme_is_case_insensitive(upstream: FakeUpstream, engine: Engine) -> None:
    config = relay_config(upstream, auth={"bearer_tokens": ["s3cret-token"]})
    empty = ExportTraceServiceRequest().SerializeToString()
    for relay in running(config, engine):
        _raw_call(relay.grpc_target, empty, [("authorization", "bearer s3cret-token")])
        assert (
            _post(relay.http_base + "/v1/traces", empty, {"Authorization": "BEARER s3cret-token"})[
                0
            ]
            == 200
        )


async def _start_and_stop(config: Any, engine: Engine) -> None:
    relay = await start_relay(config, engine, grace=0)
    await relay.stop(grace=0)


@pytest.mark.parametrize("receiver", ["grpc", "http"])
def test_second_relay_on_a_busy_port_fails_with_one_worker(
    relay: RelayThread, upstream: FakeUpstream, engine: Engine, receiver: str
) -> None:
    """One worker does not share its ports: a second relay started on them by mistake must
    fail, not quietly take half of the connections."""
    port = relay.relay.grpc_port if receiver == "grpc" else relay.relay.http_port
    config = relay_config(upstream, **{receiver: {"endpoint": f"127.0.0.1:{port}"}})
    with pytest.raises(ConfigError, match=f"^cannot listen on 127.0.0.1:{port} for OTLP/"):
        asyncio.run(_start_and_stop(config, engine))
    empty = ExportTraceServiceRequest().SerializeToString()
    assert _post(relay.http_base + "/v1/traces", empty)[0] == 200


def test_workers_share_ports(upstream: FakeUpstream, engine: Engine) -> None:
    """``--workers`` relays bind the same ports, each with SO_REUSEPORT."""

    async def two() -> None:
        first = await start_relay(relay_config(upstream), engine, grace=0, reuse_port=True)
        try:
            config = relay_config(
                upstream,
                grpc={"endpoint": f"127.0.0.1:{first.grpc_port}"},
                http={"endpoint": f"127.0.0.1:{first.http_port}"},
            )
            second = await start_relay(config, engine, grace=0, reuse_port=True)
            assert (second.grpc_port, second.http_port) == (first.grpc_port, first.http_port)
            await second.stop(grace=0)
        finally:
            await first.stop(grace=0)

    asyncio.run(two())


def test_cli_names_a_busy_port_in_one_line(key_file: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for flag, other in (
            ("--grpc-endpoint", "--http-endpoint"),
            ("--http-endpoint", "--grpc-endpoint"),
        ):
            result = CliRunner().invoke(
                main,
                [
                    "relay",
                    "--key-file",
                    str(key_file),
                    flag,
                    f"127.0.0.1:{port}",
                    other,
                    "127.0.0.1:0",
                ],
            )
            assert result.exit_code == 2, result.output
            assert result.output.startswith(f"Error: cannot listen on 127.0.0.1:{port} for OTLP/")
            assert "Traceback" not in result.output
