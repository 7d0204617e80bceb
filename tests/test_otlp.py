"""The engine on OTLP protobuf requests: the same answers as on plain values, in place."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from test_cases import CASES, _input_of, expected_for

from otelpriv._engine import Engine
from otelpriv._otlp import _to_python, keyvalue, sanitize_request
from otelpriv._policy import parse_policy
from otelpriv._pseudonym import KeyRing, pseudonym_for

SPAN_CASES = [case for case in CASES if case["signal"] == "span"]
LOG_CASES = [case for case in CASES if case["signal"] == "log"]


def _resource(container: Any, service: str = "shop") -> None:
    container.resource.attributes.append(keyvalue("service.name", service))


def _trace_request(cases: list[dict[str, Any]]) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    _resource(resource_spans)
    scope = resource_spans.scope_spans.add()
    for number, case in enumerate(cases):
        span = scope.spans.add(name=f"case {number}", trace_id=bytes(16), span_id=bytes(8))
        target = span.attributes
        if case["field"] == "event_attribute":
            target = span.events.add(name=case.get("event_name", "exception")).attributes
        target.append(keyvalue(case["key"], _input_of(case)))
    return request


def test_span_cases_in_one_request(engine: Engine, key_ring: KeyRing) -> None:
    request = _trace_request(SPAN_CASES)
    sanitize_request(request, engine)
    spans = request.resource_spans[0].scope_spans[0].spans
    assert len(spans) == len(SPAN_CASES)
    for span, case in zip(spans, SPAN_CASES, strict=True):
        attributes = span.events[0].attributes if span.events else span.attributes
        assert _to_python(attributes[0].value) == expected_for(case, key_ring), case["id"]


def test_log_cases_in_one_request(engine: Engine, key_ring: KeyRing) -> None:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    _resource(resource_logs)
    scope = resource_logs.scope_logs.add()
    for case in LOG_CASES:
        record = scope.log_records.add()
        if case["field"] == "log_body":
            record.body.CopyFrom(keyvalue("body", _input_of(case)).value)
        else:
            record.attributes.append(keyvalue(case["key"], _input_of(case)))
    sanitize_request(request, engine)
    for record, case in zip(scope.log_records, LOG_CASES, strict=True):
        value = record.body if case["field"] == "log_body" else record.attributes[0].value
        assert _to_python(value) == expected_for(case, key_ring), case["id"]


def test_span_name_status_links_and_scope(engine: Engine) -> None:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    _resource(resource_spans)
    resource_spans.resource.attributes.append(keyvalue("host.ip", "198.51.100.7"))
    scope = resource_spans.scope_spans.add()
    scope.scope.attributes.append(keyvalue("owner", "ops@example.com"))
    span = scope.spans.add(name="GET /users/ana@example.com")
    span.status.message = "card 4111 1111 1111 1111 declined"
    span.links.add().attributes.append(keyvalue("peer", "mail bo@example.org"))
    span.events.add(name="retry for bo@example.org")
    sanitize_request(request, engine)
    assert span.name == "GET /users/[EMAIL]"
    assert span.status.message == "card [CREDIT_CARD] declined"
    assert _to_python(span.links[0].attributes[0].value) == "mail [EMAIL]"
    assert span.events[0].name == "retry for [EMAIL]"
    assert _to_python(scope.scope.attributes[0].value) == "[EMAIL]"
    assert _to_python(resource_spans.resource.attributes[1].value) == "198.51.100.0"


def test_metric_points_and_exemplars(engine: Engine, key_ring: KeyRing) -> None:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    _resource(resource_metrics)
    metric = resource_metrics.scope_metrics.add().metrics.add(name="http.server.request.duration")
    point = metric.histogram.data_points.add(count=1)
    point.attributes.append(keyvalue("client.address", "203.0.113.54"))
    point.exemplars.add().filtered_attributes.append(keyvalue("enduser.id", "ana@example.com"))
    sanitize_request(request, engine)
    assert _to_python(point.attributes[0].value) == "203.0.113.0"
    pseudonym = _to_python(point.exemplars[0].filtered_attributes[0].value)
    assert pseudonym.startswith(f"psn:{key_ring.active.id}:")


def test_drop_rule_removes_the_attribute_and_audit_counts(key_ring: KeyRing) -> None:
    policy = parse_policy(
        {
            "rules": [{"keys": ["app.debug.*"], "action": "drop"}],
            "audit": {"counts": True, "key_names": True},
        }
    )
    request = _trace_request([])
    span = request.resource_spans[0].scope_spans[0].spans.add(name="checkout")
    span.attributes.extend(
        [
            keyvalue("app.debug.dump", "anything"),
            keyvalue("note", "mail ana@example.com or bo@example.org"),
            keyvalue("http.response.status_code", 500),
        ]
    )
    sanitize_request(request, Engine(policy, key_ring))
    attributes = {kv.key: _to_python(kv.value) for kv in span.attributes}
    assert attributes == {
        "note": "mail [EMAIL] or [EMAIL]",
        "http.response.status_code": 500,
        "otelpriv.redacted.email": 2,
        "otelpriv.redacted.rule": 1,
        "otelpriv.redacted_keys": ["app.debug.dump", "note"],
    }


@pytest.mark.parametrize("service, expected", [("checkout-api", "[REDACTED]"), ("web", "sand")])
def test_per_service_rules(key_ring: KeyRing, service: str, expected: str) -> None:
    policy = parse_policy(
        {"services": {"checkout-api": {"rules": [{"keys": ["app.color"], "action": "redact"}]}}}
    )
    request = _trace_request([])
    request.resource_spans[0].resource.attributes[0].value.string_value = service
    span = request.resource_spans[0].scope_spans[0].spans.add(name="x")
    span.attributes.append(keyvalue("app.color", "sand"))
    sanitize_request(request, Engine(policy, key_ring))
    assert span.attributes[0].value.string_value == expected


def test_engine_fault_redacts_whole_value(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    sanitizer = engine.for_service("shop")

    def broken(value: Any, hits: list[str]) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setitem(sanitizer.handlers, "app.note", broken)
    monkeypatch.setitem(sanitizer.string_handlers, "app.note", broken)
    request = _trace_request([])
    span = request.resource_spans[0].scope_spans[0].spans.add(name="x")
    span.attributes.append(keyvalue("app.note", "ana@example.com"))
    outcome = sanitize_request(request, engine)
    assert span.attributes[0].value.string_value == "[REDACTED]"
    assert outcome.failed_values == 1


def test_unknown_fields_are_discarded(engine: Engine) -> None:
    request = _trace_request([])
    span = request.resource_spans[0].scope_spans[0].spans.add(name="x")
    span.attributes.append(keyvalue("app.note", "ok"))
    unknown_field_99 = b"\x9a\x06\x0fana@example.com"
    payload = request.SerializeToString() + unknown_field_99
    parsed = ExportTraceServiceRequest.FromString(payload)
    assert b"ana@example.com" in parsed.SerializeToString()
    sanitize_request(parsed, engine)
    assert b"ana@example.com" not in parsed.SerializeToString()


def test_fields_beyond_attributes(engine: Engine) -> None:
    request = _trace_request([])
    resource_spans = request.resource_spans[0]
    resource_spans.schema_url = "https://schemas.example/ana@example.com"
    scope_spans = resource_spans.scope_spans[0]
    scope_spans.scope.name = "lib for ana@example.com"
    span = scope_spans.spans.add(name="x", trace_state="vendor=ana@example.com")
    span.attributes.append(keyvalue("visitor:ana@example.com", 1))
    span.links.add(trace_state="v=bo@example.org")
    sanitize_request(request, engine)
    assert b"@example" not in request.SerializeToString()
    assert span.attributes[0].key == "visitor:[EMAIL]"
    assert span.trace_state == "vendor=[EMAIL]"

    logs = ExportLogsServiceRequest()
    record = logs.resource_logs.add().scope_logs.add().log_records.add(severity_text="ana@x.io")
    metrics = ExportMetricsServiceRequest()
    metric = (
        metrics.resource_metrics.add()
        .scope_metrics.add()
        .metrics.add(name="orders", description="orders of ana@example.com", unit="1")
    )
    metric.metadata.append(keyvalue("owner", "ana@example.com"))
    sanitize_request(logs, engine)
    sanitize_request(metrics, engine)
    assert record.severity_text == "[EMAIL]"
    assert metric.description == "orders of [EMAIL]"
    assert _to_python(metric.metadata[0].value) == "[EMAIL]"


def test_keys_renamed_alike_stay_distinct(engine: Engine) -> None:
    request = _trace_request([])
    span = request.resource_spans[0].scope_spans[0].spans.add(name="x")
    span.attributes.extend([keyvalue("by:a@example.com", 1), keyvalue("by:b@example.com", 2)])
    sanitize_request(request, engine)
    assert [kv.key for kv in span.attributes] == ["by:[EMAIL]", "by:[EMAIL]#2"]


def test_numbers_that_are_cards(engine: Engine) -> None:
    request = _trace_request([])
    span = request.resource_spans[0].scope_spans[0].spans.add(name="x")
    span.attributes.extend(
        [
            keyvalue("app.pan", 4111111111111111),
            keyvalue("app.pan_double", 4111111111111111.0),
            keyvalue("app.count", 7),
            keyvalue("app.ratio", 0.5),
        ]
    )
    sanitize_request(request, engine)
    assert [_to_python(kv.value) for kv in span.attributes] == [
        "[CREDIT_CARD]",
        "[CREDIT_CARD]",
        7,
        0.5,
    ]


WALKED_STRINGS = {
    "EntityRef": {"schema_url", "type", "id_keys", "description_keys"},
    "InstrumentationScope": {"name", "version"},
    "Span": {"trace_state", "name"},
    "Event": {"name"},
    "Link": {"trace_state"},
    "Status": {"message"},
    "ScopeSpans": {"schema_url"},
    "ResourceSpans": {"schema_url"},
    "LogRecord": {"severity_text", "event_name"},
    "ScopeLogs": {"schema_url"},
    "ResourceLogs": {"schema_url"},
    "Metric": {"name", "description", "unit"},
    "ScopeMetrics": {"schema_url"},
    "ResourceMetrics": {"schema_url"},
}


def _string_fields(descriptor: Any, seen: set[str]) -> set[tuple[str, str]]:
    """Every string field a request can carry outside its attributes and log bodies."""
    if descriptor.full_name in seen or descriptor.name in ("KeyValue", "AnyValue"):
        return set()
    seen.add(descriptor.full_name)
    found = set()
    for field in descriptor.fields:
        if field.type == field.TYPE_STRING:
            found.add((descriptor.name, field.name))
        elif field.type == field.TYPE_MESSAGE:
            found |= _string_fields(field.message_type, seen)
    return found


@pytest.mark.parametrize(
    "request_type",
    [ExportTraceServiceRequest, ExportLogsServiceRequest, ExportMetricsServiceRequest],
)
def test_every_string_field_of_this_otlp_version_is_walked(request_type: Any) -> None:
    """A new OTLP release may add string fields; this fails until the walk takes them."""
    walked = {(message, name) for message, names in WALKED_STRINGS.items() for name in names}
    assert _string_fields(request_type.DESCRIPTOR, set()) <= walked


def test_entity_refs_are_sanitized(engine: Engine) -> None:
    request = _trace_request([])
    ref = request.resource_spans[0].resource.entity_refs.add(
        type="customer mia.hoffmann@example.com",
        schema_url="https://schemas.example/?email=mia.hoffmann@example.com",
    )
    ref.id_keys.append("mia.hoffmann@example.com")
    ref.description_keys.append("card 4111 1111 1111 1111")
    sanitize_request(request, engine)
    assert b"mia.hoffmann" not in request.SerializeToString()
    assert b"4111 1111" not in request.SerializeToString()
    assert list(ref.id_keys) == ["[EMAIL]"]


def test_twin_keys_in_a_map_are_both_sanitized(engine: Engine) -> None:
    twins = KeyValue(key="payload")
    for text in ("mia.hoffmann@example.com", "ok"):
        twins.value.kvlist_value.values.add(key="note").value.string_value = text
    request = _trace_request([])
    span = request.resource_spans[0].scope_spans[0].spans.add(name="x")
    span.attributes.append(twins)
    record_request = ExportLogsServiceRequest()
    record = record_request.resource_logs.add().scope_logs.add().log_records.add()
    record.body.CopyFrom(twins.value)
    sanitize_request(request, engine)
    sanitize_request(record_request, engine)
    assert _to_python(span.attributes[0].value) == {"note": "[EMAIL]", "note#2": "ok"}
    assert _to_python(record.body) == {"note": "[EMAIL]", "note#2": "ok"}


def test_personal_data_in_key_names_survives_no_cache_flush(
    key_ring: KeyRing, monkeypatch: pytest.MonkeyPatch
) -> None:
    import otelpriv._engine as engine_module

    monkeypatch.setattr(engine_module, "_CACHE_LIMIT", 8)
    engine = Engine(keys=key_ring)
    for round_ in range(3):
        request = _trace_request([])
        span = request.resource_spans[0].scope_spans[0].spans.add(name="x")
        nested = KeyValue(key="contact mia.hoffmann@example.com")
        for number in range(20):
            nested.value.kvlist_value.values.add(key=f"k{round_}-{number}").value.int_value = 1
        span.attributes.append(nested)
        sanitize_request(request, engine)
        assert b"mia.hoffmann" not in request.SerializeToString(), round_


def test_values_nested_too_deep_are_refused(engine: Engine) -> None:
    deep = KeyValue(key="deep")
    value = deep.value
    for _ in range(29):
        value = value.kvlist_value.values.add(key="level").value
    value.string_value = "mia.hoffmann@example.com"
    request = _trace_request([])
    request.resource_spans[0].scope_spans[0].spans.add(name="x").attributes.append(deep)
    with pytest.raises(DecodeError, match="nested more than"):
        sanitize_request(request, engine)


def test_twin_keys_keep_the_rules_of_their_key(engine: Engine, key_ring: KeyRing) -> None:
    """The later twin is stored as ``user.id#2``; it is still a user id, ``street#2`` a street."""
    twins = KeyValue(key="profile")
    for key, text in (("user.id", "u-1"), ("user.id", "u-51077"), ("street", "x")):
        twins.value.kvlist_value.values.add(key=key).value.string_value = text
    twins.value.kvlist_value.values.add(key="street").value.string_value = "27 Harbour Lane"
    request = _trace_request([])
    request.resource_spans[0].scope_spans[0].spans.add(name="x").attributes.append(twins)
    sanitize_request(request, engine)
    values = _to_python(request.resource_spans[0].scope_spans[0].spans[0].attributes[0].value)
    assert values == {
        "user.id": pseudonym_for(key_ring.active, "u-1"),
        "user.id#2": pseudonym_for(key_ring.active, "u-51077"),
        "street": "[REDACTED]",
        "street#2": "[REDACTED]",
    }


@pytest.mark.parametrize(
    "value",
    [
        {"name": "Jonas Berg", "city": "Bergen"},
        [{"name": "Jonas Berg"}, {"name": "Mia Hoffmann"}],
    ],
    ids=["map", "array-of-maps"],
)
def test_a_map_under_an_attribute_key_is_read_with_that_key(engine: Engine, value: Any) -> None:
    """``shipping = {name: …}`` is ``shipping.name`` as in a log body, in every adapter."""
    request = _trace_request([])
    span = request.resource_spans[0].scope_spans[0].spans.add(name="x")
    span.attributes.append(keyvalue("shipping", value))
    sanitize_request(request, engine)
    assert b"Jonas" not in request.SerializeToString()
    assert b"Mia" not in request.SerializeToString()
    plain = engine.for_service("shop").attributes({"shipping": value}, [])
    assert "Jonas" not in repr(plain) and "Mia" not in repr(plain)


def test_audit_and_report_show_key_names_sanitized(key_ring: KeyRing) -> None:
    policy = parse_policy(
        {
            "allow_keys": ["note", "contact*"],
            "audit": {"counts": True, "key_names": True},
        }
    )
    request = _trace_request([])
    span = request.resource_spans[0].scope_spans[0].spans.add(name="x")
    span.attributes.extend(
        [
            keyvalue("contact mia.hoffmann@example.com", "yes"),
            keyvalue("debug for bo@example.org", "dropped"),
        ]
    )
    outcome = sanitize_request(request, Engine(policy, key_ring), by_key=True)
    assert b"mia.hoffmann" not in request.SerializeToString()
    assert b"bo@example" not in request.SerializeToString()
    assert not any("@" in key for _, key in outcome.by_key)


@pytest.mark.parametrize(
    "prefix",
    ["y" * 117, "a.b" * 150, "0af7651916cd43dd8448eb211c80319c-" * 5 + "x"],
    ids=["letters", "dotted", "hex-tokens"],
)
def test_a_long_run_glued_before_an_email_goes_with_it(engine: Engine, prefix: str) -> None:
    sanitizer = engine.for_service("shop")
    text = prefix + "mia.hoffmann@example.com"
    assert sanitizer.text(f"note {text} end", []) == "note [EMAIL] end"
    assert sanitizer.rename(text, []) == "[EMAIL]"


@pytest.mark.parametrize(
    "key",
    [
        "user id",
        "user:id",
        "user/id",
        "user\tid",
        " user.id",
        "user.id ",
        "user.id\u200b",
        "\uff55\uff53\uff45\uff52.id",
        "user\u00a0id",
        "user\u2010id",
        "app.user.id",
        "x.customer.id",
        "app.userId",
        "users.id",
        "http.request.header.x-user-id",
    ],
)
def test_user_id_keys_however_spelled(engine: Engine, key_ring: KeyRing, key: str) -> None:
    sanitizer = engine.for_service("shop")
    assert sanitizer.value(key, "u-51077", []) == pseudonym_for(key_ring.active, "u-51077")


@pytest.mark.parametrize(
    "key, value",
    [
        ("customers", [{"name": "Jonas Berg"}]),
        ("customers", {"name": "Jonas Berg"}),
        ("users", [{"id": "u-51077"}]),
    ],
)
def test_plural_parents_read_as_their_singular(engine: Engine, key: str, value: Any) -> None:
    cleaned = engine.for_service("shop").attributes({key: value}, [])
    assert "Jonas" not in repr(cleaned) and "u-51077" not in repr(cleaned)


@pytest.mark.parametrize("key", ["session.id", "app.users_count", "process.pid", "status"])
def test_keys_near_user_ids_are_left_alone(engine: Engine, key: str) -> None:
    assert engine.for_service("shop").value(key, "u-51077", []) == "u-51077"
