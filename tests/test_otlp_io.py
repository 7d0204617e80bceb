"""Tests for the OTLP file codecs: OTLP/JSON lines and length-prefixed protobuf."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs, SeverityNumber
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    Exemplar,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from otelpriv._otlp_io import (
    OtlpDecodeError,
    Signal,
    dump_json_line,
    dump_proto,
    read_json_lines,
    read_proto_stream,
)

TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"
PARENT_SPAN_ID = "0102040810204080"
LINKED_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
LINKED_SPAN_ID = "00f067aa0ba902b7"
LOG_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
LOG_SPAN_ID = "b7ad6b7169203331"
EXEMPLAR_TRACE_ID = "a3ce929d0e0e47364bf92f3577b34da6"
EXEMPLAR_SPAN_ID = "53995c3f42cd8ad8"

# Above 2**53, so a lossy float conversion anywhere would show.
T0 = 1_767_225_600_123_456_789
SECRET_EMAIL = "mia.hoffmann@example.com"


def _any(value: object) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[_any(item) for item in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=_attrs(value)))
    raise TypeError(type(value))


def _attrs(values: dict[str, object]) -> list[KeyValue]:
    return [KeyValue(key=key, value=_any(value)) for key, value in values.items()]


# One attribute of every AnyValue kind, nested ones included.
EVERY_KIND = {
    "enduser.id": SECRET_EMAIL,
    "http.response.status_code": 402,
    "retry": False,
    "cart.total": 129.95,
    "session.blob": b"\x00\xffsid\x10",
    "http.request.header.cookie": ["sid=8f2b1c", "theme=dark"],
    "order": {
        "id": "ORD-5521",
        "items": [{"sku": "LD-1042-38", "qty": 2}, {"sku": "TS-0007-M", "qty": 1}],
        "shipping": {"zip": "10115", "express": True, "fee": 4.9},
        "raw": b"\x01\x02",
    },
}


def _scope() -> InstrumentationScope:
    return InstrumentationScope(
        name="shop.checkout", version="2.4.1", attributes=_attrs({"team": "payments"})
    )


def build_traces() -> ExportTraceServiceRequest:
    span = Span(
        trace_id=bytes.fromhex(TRACE_ID),
        span_id=bytes.fromhex(SPAN_ID),
        parent_span_id=bytes.fromhex(PARENT_SPAN_ID),
        trace_state="shop=checkout",
        flags=0x301,
        name="POST /api/checkout",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=T0,
        end_time_unix_nano=T0 + 84_000_000,
        attributes=_attrs(EVERY_KIND),
        dropped_attributes_count=1,
        events=[
            Span.Event(
                time_unix_nano=T0 + 80_000_000,
                name="exception",
                attributes=_attrs(
                    {
                        "exception.type": "PaymentDeclined",
                        "exception.message": f"card declined for {SECRET_EMAIL}",
                    }
                ),
            )
        ],
        links=[
            Span.Link(
                trace_id=bytes.fromhex(LINKED_TRACE_ID),
                span_id=bytes.fromhex(LINKED_SPAN_ID),
                trace_state="rum=1",
                attributes=_attrs({"link.reason": "retry"}),
                flags=0x100,
            )
        ],
        status=Status(code=Status.STATUS_CODE_ERROR, message="payment declined"),
    )
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=_attrs({"service.name": "checkout-api"})),
                scope_spans=[
                    ScopeSpans(
                        scope=_scope(), spans=[span], schema_url="https://opentelemetry.io/s/1"
                    )
                ],
            )
        ]
    )


def build_logs() -> ExportLogsServiceRequest:
    record = LogRecord(
        time_unix_nano=T0,
        observed_time_unix_nano=T0 + 1_000,
        severity_number=SeverityNumber.SEVERITY_NUMBER_ERROR,
        severity_text="ERROR",
        body=_any({"msg": "checkout failed", "customer": {"email": SECRET_EMAIL}}),
        attributes=_attrs(EVERY_KIND),
        flags=1,
        trace_id=bytes.fromhex(LOG_TRACE_ID),
        span_id=bytes.fromhex(LOG_SPAN_ID),
        event_name="checkout.failed",
    )
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(attributes=_attrs({"service.name": "checkout-api"})),
                scope_logs=[ScopeLogs(scope=_scope(), log_records=[record])],
            )
        ]
    )


def build_metrics() -> ExportMetricsServiceRequest:
    exemplar = Exemplar(
        filtered_attributes=_attrs({"client.address": "203.0.113.7"}),
        time_unix_nano=T0 + 5,
        as_double=0.412,
        trace_id=bytes.fromhex(EXEMPLAR_TRACE_ID),
        span_id=bytes.fromhex(EXEMPLAR_SPAN_ID),
    )
    histogram = Metric(
        name="http.server.request.duration",
        unit="s",
        description="Duration of HTTP server requests.",
        histogram=Histogram(
            aggregation_temporality=AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE,
            data_points=[
                HistogramDataPoint(
                    attributes=_attrs({"http.route": "/api/checkout"}),
                    start_time_unix_nano=T0,
                    time_unix_nano=T0 + 60_000_000_000,
                    count=3,
                    sum=0.9,
                    bucket_counts=[0, 2, 1, 0],
                    explicit_bounds=[0.1, 0.25, 0.5],
                    exemplars=[exemplar],
                    min=0.12,
                    max=0.412,
                )
            ],
        ),
    )
    counter = Metric(
        name="shop.orders",
        unit="{order}",
        sum=Sum(
            aggregation_temporality=AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA,
            is_monotonic=True,
            data_points=[
                NumberDataPoint(
                    attributes=_attrs({"enduser.id": SECRET_EMAIL}),
                    start_time_unix_nano=T0,
                    time_unix_nano=T0 + 60_000_000_000,
                    as_int=9_007_199_254_740_993,
                )
            ],
        ),
    )
    gauge = Metric(
        name="shop.cart.open",
        gauge=Gauge(data_points=[NumberDataPoint(time_unix_nano=T0, as_double=17.0)]),
    )
    return ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                resource=Resource(attributes=_attrs({"service.name": "checkout-api"})),
                scope_metrics=[ScopeMetrics(scope=_scope(), metrics=[histogram, counter, gauge])],
            )
        ]
    )


BUILDERS: dict[Signal, Callable[[], Message]] = {
    Signal.TRACES: build_traces,
    Signal.LOGS: build_logs,
    Signal.METRICS: build_metrics,
}

SIGNALS = pytest.mark.parametrize("signal", list(Signal), ids=lambda signal: signal.value)


def _decode_one(line: str) -> tuple[Signal, Message]:
    (decoded,) = read_json_lines([line])
    return decoded


# --- Signal -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signal", "request_type"),
    [
        (Signal.TRACES, ExportTraceServiceRequest),
        (Signal.LOGS, ExportLogsServiceRequest),
        (Signal.METRICS, ExportMetricsServiceRequest),
    ],
    ids=["traces", "logs", "metrics"],
)
def test_signal_request_type(signal: Signal, request_type: type[Message]) -> None:
    assert signal.request_type is request_type


# --- JSON lines: round trip and output form -------------------------------------------------


@SIGNALS
def test_json_round_trip(signal: Signal) -> None:
    message = BUILDERS[signal]()
    line = dump_json_line(signal, message)
    assert _decode_one(line) == (signal, message)


@SIGNALS
def test_json_round_trip_of_several_lines(signal: Signal) -> None:
    message = BUILDERS[signal]()
    text = (dump_json_line(signal, message) + "\n") * 3
    decoded = list(read_json_lines(text.splitlines(keepends=True)))
    assert decoded == [(signal, message)] * 3


@SIGNALS
def test_dump_json_line_is_one_compact_line(signal: Signal) -> None:
    line = dump_json_line(signal, BUILDERS[signal]())
    assert "\n" not in line
    assert line == json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))


def _span(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]


def _log(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]


def _exemplar(doc: dict[str, Any]) -> dict[str, Any]:
    metric = doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]
    return metric["histogram"]["dataPoints"][0]["exemplars"][0]


@pytest.mark.parametrize(
    ("signal", "locate", "key", "expected"),
    [
        (Signal.TRACES, _span, "traceId", TRACE_ID),
        (Signal.TRACES, _span, "spanId", SPAN_ID),
        (Signal.TRACES, _span, "parentSpanId", PARENT_SPAN_ID),
        (Signal.TRACES, lambda doc: _span(doc)["links"][0], "traceId", LINKED_TRACE_ID),
        (Signal.TRACES, lambda doc: _span(doc)["links"][0], "spanId", LINKED_SPAN_ID),
        (Signal.LOGS, _log, "traceId", LOG_TRACE_ID),
        (Signal.LOGS, _log, "spanId", LOG_SPAN_ID),
        (Signal.METRICS, _exemplar, "traceId", EXEMPLAR_TRACE_ID),
        (Signal.METRICS, _exemplar, "spanId", EXEMPLAR_SPAN_ID),
    ],
    ids=[
        "span-trace-id",
        "span-span-id",
        "span-parent-span-id",
        "link-trace-id",
        "link-span-id",
        "log-trace-id",
        "log-span-id",
        "exemplar-trace-id",
        "exemplar-span-id",
    ],
)
def test_ids_are_written_as_hex(
    signal: Signal, locate: Callable[[dict[str, Any]], dict[str, Any]], key: str, expected: str
) -> None:
    doc = json.loads(dump_json_line(signal, BUILDERS[signal]()))
    assert locate(doc)[key] == expected


def test_other_bytes_stay_base64() -> None:
    doc = json.loads(dump_json_line(Signal.TRACES, build_traces()))
    attributes = {kv["key"]: kv["value"] for kv in _span(doc)["attributes"]}
    assert attributes["session.blob"] == {"bytesValue": "AP9zaWQQ"}


def test_json_form_follows_the_otlp_mapping() -> None:
    doc = json.loads(dump_json_line(Signal.TRACES, build_traces()))
    span = _span(doc)
    assert span["kind"] == 2
    assert span["status"] == {"message": "payment declined", "code": 2}
    assert span["startTimeUnixNano"] == str(T0)
    assert span["endTimeUnixNano"] == str(T0 + 84_000_000)
    assert span["droppedAttributesCount"] == 1
    assert span["events"][0]["timeUnixNano"] == str(T0 + 80_000_000)
    assert doc["resourceSpans"][0]["scopeSpans"][0]["schemaUrl"] == "https://opentelemetry.io/s/1"
    attributes = {kv["key"]: kv["value"] for kv in span["attributes"]}
    assert attributes["http.response.status_code"] == {"intValue": "402"}
    assert attributes["order"]["kvlistValue"]["values"][1]["value"]["arrayValue"]["values"][0] == {
        "kvlistValue": {
            "values": [
                {"key": "sku", "value": {"stringValue": "LD-1042-38"}},
                {"key": "qty", "value": {"intValue": "2"}},
            ]
        }
    }


def test_metric_json_form() -> None:
    doc = json.loads(dump_json_line(Signal.METRICS, build_metrics()))
    metrics = doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
    point = metrics[0]["histogram"]["dataPoints"][0]
    assert metrics[0]["histogram"]["aggregationTemporality"] == 2
    assert point["count"] == "3"
    assert point["bucketCounts"] == ["0", "2", "1", "0"]
    assert point["explicitBounds"] == [0.1, 0.25, 0.5]
    assert metrics[1]["sum"]["isMonotonic"] is True
    assert metrics[1]["sum"]["dataPoints"][0]["asInt"] == "9007199254740993"


def test_dump_json_line_rejects_a_message_of_another_signal() -> None:
    with pytest.raises(TypeError, match="Signal.LOGS is carried by ExportLogsServiceRequest"):
        dump_json_line(Signal.LOGS, build_traces())


# --- JSON lines: accepted input ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "signal"),
    [
        ("resourceSpans", Signal.TRACES),
        ("resource_spans", Signal.TRACES),
        ("resourceLogs", Signal.LOGS),
        ("resource_logs", Signal.LOGS),
        ("resourceMetrics", Signal.METRICS),
        ("resource_metrics", Signal.METRICS),
    ],
    ids=lambda value: value if isinstance(value, str) else value.value,
)
def test_signal_is_detected_from_the_top_level_key(key: str, signal: Signal) -> None:
    decoded_signal, message = _decode_one(json.dumps({key: []}))
    assert decoded_signal is signal
    assert message == signal.request_type()


# Written by hand the way the Collector's file exporter lays out a span: hex ids, int64 values
# as strings, enums as numbers, an empty parentSpanId for a root span.
COLLECTOR_STYLE_LINE = (
    '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":'
    '{"stringValue":"checkout-api"}}]},"scopeSpans":[{"scope":{"name":"shop.checkout"},'
    '"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174",'
    '"parentSpanId":"","name":"GET /p/{slug}","kind":2,"startTimeUnixNano":"1767225600123456789",'
    '"endTimeUnixNano":1767225600223456789,"status":{"code":1}}]}]}]}\n'
)


def test_reads_a_collector_style_line() -> None:
    signal, message = _decode_one(COLLECTOR_STYLE_LINE)
    assert signal is Signal.TRACES
    assert isinstance(message, ExportTraceServiceRequest)
    span = message.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == bytes.fromhex(TRACE_ID)
    assert span.span_id == bytes.fromhex(SPAN_ID)
    assert span.parent_span_id == b""
    assert span.kind == Span.SPAN_KIND_SERVER
    assert span.start_time_unix_nano == T0
    assert span.end_time_unix_nano == T0 + 100_000_000
    assert span.status.code == Status.STATUS_CODE_OK


def _to_snake_case(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            "".join(f"_{c.lower()}" if c.isupper() else c for c in key): _to_snake_case(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_to_snake_case(item) for item in value]
    return value


@SIGNALS
def test_reads_proto_field_names(signal: Signal) -> None:
    message = BUILDERS[signal]()
    snake = _to_snake_case(json.loads(dump_json_line(signal, message)))
    assert "resource_" + signal.value.replace("traces", "spans") in snake
    assert _decode_one(json.dumps(snake)) == (signal, message)


def test_empty_ids_read_as_unset() -> None:
    line = json.dumps(
        {
            "resourceLogs": [
                {"scopeLogs": [{"logRecords": [{"traceId": "", "spanId": "", "body": {}}]}]}
            ]
        }
    )
    _, message = _decode_one(line)
    assert isinstance(message, ExportLogsServiceRequest)
    record = message.resource_logs[0].scope_logs[0].log_records[0]
    assert record.trace_id == b""
    assert record.span_id == b""


def test_unknown_fields_are_ignored() -> None:
    line = json.dumps(
        {"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x", "futureField": [1]}]}]}]}
    )
    _, message = _decode_one(line)
    assert isinstance(message, ExportTraceServiceRequest)
    assert message.resource_spans[0].scope_spans[0].spans[0].name == "x"


def test_blank_lines_are_skipped_but_counted() -> None:
    good = dump_json_line(Signal.LOGS, build_logs())
    lines = ["\n", good + "\n", "   \n", "\r\n", "[]\n"]
    decoded = read_json_lines(lines)
    assert next(decoded) == (Signal.LOGS, build_logs())
    with pytest.raises(OtlpDecodeError) as caught:
        next(decoded)
    assert caught.value.line == 5
    assert str(caught.value) == "line 5: expected a JSON object, found an array"


# --- JSON lines: errors -----------------------------------------------------------------------


def _span_line(**fields: Any) -> str:
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [fields]}]}]})


def _attribute_line(value: Any) -> str:
    attribute = {"key": "enduser.id", "value": value}
    return json.dumps({"resourceSpans": [{"resource": {"attributes": [attribute]}}]})


SPAN_PATH = "resourceSpans[0].scopeSpans[0].spans[0]"
ATTRIBUTE_PATH = "resourceSpans[0].resource.attributes[0]"

BAD_LINES = [
    pytest.param(
        '{"resourceSpans": [{"note": "' + SECRET_EMAIL + '"',
        "invalid JSON (Expecting ',' delimiter at column 55)",
        id="truncated-json",
    ),
    pytest.param(
        '{"note": "\\q' + SECRET_EMAIL + '"}',
        "invalid JSON (Invalid \\escape at column 11)",
        id="bad-escape",
    ),
    pytest.param(
        json.dumps([SECRET_EMAIL]),
        "expected a JSON object, found an array",
        id="not-an-object",
    ),
    pytest.param(
        json.dumps({"email": SECRET_EMAIL}),
        "not an OTLP export request: "
        "expected a top-level resourceSpans, resourceLogs, resourceMetrics key",
        id="no-signal-key",
    ),
    pytest.param(
        json.dumps({"resourceSpans": [], "resourceLogs": []}),
        "not an OTLP export request: it mixes keys of several signals",
        id="mixed-signals",
    ),
    pytest.param(
        _span_line(traceId=SECRET_EMAIL),
        f"{SPAN_PATH}.traceId: expected 32 hex digits (16 bytes) or an empty string",
        id="trace-id-not-hex",
    ),
    pytest.param(
        _span_line(spanId="AAECAwQFBgc="),
        f"{SPAN_PATH}.spanId: expected 16 hex digits (8 bytes) or an empty string",
        id="span-id-base64",
    ),
    pytest.param(
        _span_line(parentSpanId="eee19b7ec3c1b1"),
        f"{SPAN_PATH}.parentSpanId: expected 16 hex digits (8 bytes) or an empty string",
        id="parent-span-id-too-short",
    ),
    pytest.param(
        _span_line(links=[{"spanId": 12345}]),
        f"{SPAN_PATH}.links[0].spanId: expected 16 hex digits (8 bytes) or an empty string",
        id="link-span-id-number",
    ),
    pytest.param(
        json.dumps(
            {
                "resourceMetrics": [
                    {
                        "scopeMetrics": [
                            {
                                "metrics": [
                                    {"gauge": {"dataPoints": [{"exemplars": [{"traceId": "zz"}]}]}}
                                ]
                            }
                        ]
                    }
                ]
            }
        ),
        "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].exemplars[0].traceId: "
        "expected 32 hex digits (16 bytes) or an empty string",
        id="exemplar-trace-id",
    ),
    pytest.param(
        json.dumps({"resourceSpans": [{"scopeSpans": {"spans": SECRET_EMAIL}}]}),
        "resourceSpans[0].scopeSpans: expected an array, found an object",
        id="scope-spans-not-array",
    ),
    pytest.param(
        json.dumps({"resourceLogs": [{"scopeLogs": [SECRET_EMAIL]}]}),
        "resourceLogs[0].scopeLogs[0]: expected an object, found a string",
        id="scope-logs-item-not-object",
    ),
    pytest.param(
        _attribute_line({"intValue": SECRET_EMAIL}),
        f"{ATTRIBUTE_PATH}.value.intValue: invalid value",
        id="int-value-not-a-number",
    ),
    pytest.param(
        _attribute_line({"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": "x"}}]}}),
        f"{ATTRIBUTE_PATH}.value.kvlistValue.values[0].value.boolValue: invalid value",
        id="nested-kvlist-bool",
    ),
    pytest.param(
        _attribute_line({"bytesValue": SECRET_EMAIL}),
        f"{ATTRIBUTE_PATH}.value.bytesValue: invalid value",
        id="bytes-value-not-base64",
    ),
    pytest.param(
        _attribute_line({"stringValue": SECRET_EMAIL, "intValue": "5"}),
        f"{ATTRIBUTE_PATH}.value: invalid value",
        id="two-oneof-members",
    ),
    pytest.param(
        _span_line(name="x", endTimeUnixNano=SECRET_EMAIL),
        f"{SPAN_PATH}.endTimeUnixNano: invalid value",
        id="timestamp-not-a-number",
    ),
]


@pytest.mark.parametrize(("line", "reason"), BAD_LINES)
def test_bad_line_is_reported_by_number(line: str, reason: str) -> None:
    lines = [dump_json_line(Signal.TRACES, build_traces()), "", line]
    with pytest.raises(OtlpDecodeError) as caught:
        list(read_json_lines(lines))
    assert caught.value.line == 3
    assert caught.value.frame is None
    assert caught.value.reason == reason
    assert str(caught.value) == f"line 3: {reason}"


@pytest.mark.parametrize(("line", "reason"), BAD_LINES)
def test_bad_line_error_does_not_leak_the_payload(line: str, reason: str) -> None:
    with pytest.raises(OtlpDecodeError) as caught:
        list(read_json_lines([line]))
    rendered = "".join(traceback.format_exception(caught.value))
    assert SECRET_EMAIL not in rendered
    assert "mia.hoffmann" not in rendered


def test_otlp_decode_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^line 1: "):
        list(read_json_lines(["{}"]))


# --- length-prefixed protobuf -----------------------------------------------------------------


@SIGNALS
def test_proto_round_trip(signal: Signal) -> None:
    first = BUILDERS[signal]()
    second = signal.request_type()
    data = dump_proto(first) + dump_proto(second) + dump_proto(first)
    assert list(read_proto_stream(data, signal)) == [first, second, first]


def test_proto_frame_is_big_endian_length_then_payload() -> None:
    message = build_logs()
    payload = message.SerializeToString()
    assert len(payload) > 255
    assert dump_proto(message) == len(payload).to_bytes(4, "big") + payload


def test_empty_proto_stream_has_no_messages() -> None:
    assert list(read_proto_stream(b"", Signal.TRACES)) == []


def _two_frames() -> bytes:
    return dump_proto(build_traces()) + dump_proto(build_traces())


@pytest.mark.parametrize(
    ("cut", "reason"),
    [
        pytest.param(2, "truncated length prefix (2 of 4 bytes)", id="in-length-prefix"),
        pytest.param(4, "truncated message (0 of {size} bytes)", id="after-length-prefix"),
        pytest.param(104, "truncated message (100 of {size} bytes)", id="in-payload"),
    ],
)
def test_truncated_proto_frame_is_reported_by_number(cut: int, reason: str) -> None:
    first = dump_proto(build_traces())
    size = len(first) - 4
    data = _two_frames()[: len(first) + cut]
    messages = read_proto_stream(data, Signal.TRACES)
    assert next(messages) == build_traces()
    with pytest.raises(OtlpDecodeError) as caught:
        next(messages)
    assert caught.value.frame == 2
    assert caught.value.line is None
    assert str(caught.value) == "frame 2: " + reason.format(size=size)


def test_undecodable_proto_frame_is_reported_by_number() -> None:
    garbage = b"\x0a\xff\xff\xff\xff\x0f"
    data = dump_proto(build_metrics()) + len(garbage).to_bytes(4, "big") + garbage
    with pytest.raises(OtlpDecodeError) as caught:
        list(read_proto_stream(data, Signal.METRICS))
    assert caught.value.frame == 2
    assert str(caught.value) == "frame 2: not a valid ExportMetricsServiceRequest"
