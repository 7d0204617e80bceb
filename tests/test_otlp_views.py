"""Views of the OTLP requests: the relay's fast path gives what the message API gives.

The relay parses into a view whose attributes stay serialized and remembers what each one
became; these tests hold that to the real messages, byte for byte, on first sight and on the
remembered path, and check what the cache must not hide: unknown fields, failures, bad UTF-8.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from otelpriv._engine import Engine
from otelpriv._otlp import keyvalue, sanitize_request, sanitize_view, view_class
from otelpriv._otlp_io import read_json_lines
from otelpriv._pseudonym import KeyRing

EXAMPLES = Path(__file__).parent.parent / "examples"
SAMPLES = [
    request
    for name in ("shop-traces.jsonl", "shop-logs.jsonl", "shop-metrics.jsonl")
    for _, request in read_json_lines((EXAMPLES / name).read_text().splitlines())
]


def _span_request(*attributes: KeyValue, kind: int = 2) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    resource.resource.attributes.append(keyvalue("service.name", "shop"))
    span = resource.scope_spans.add().spans.add(name="GET /cart", span_id=b"\1" * 8, kind=kind)
    span.attributes.extend(attributes)
    return request


def _through_view(request: Any, engine: Engine) -> tuple[bytes, Any]:
    view = view_class(type(request)).FromString(request.SerializeToString())
    outcome = sanitize_view(view, engine)
    return view.SerializeToString(), outcome


@pytest.mark.parametrize("request_", SAMPLES, ids=lambda r: type(r).__name__)
def test_a_view_serializes_to_the_very_same_bytes(request_: Any) -> None:
    payload = request_.SerializeToString()
    assert view_class(type(request_)).FromString(payload).SerializeToString() == payload


@pytest.mark.parametrize("request_", SAMPLES, ids=lambda r: type(r).__name__)
def test_view_and_message_give_the_same_request(request_: Any, key_ring: KeyRing) -> None:
    fresh = Engine(keys=key_ring)
    first, first_outcome = _through_view(request_, fresh)
    again, again_outcome = _through_view(request_, fresh)
    message = type(request_).FromString(request_.SerializeToString())
    outcome = sanitize_request(message, Engine(keys=key_ring))

    assert first == again == message.SerializeToString()
    assert first_outcome.rules == again_outcome.rules == outcome.rules


def test_remembered_attributes_still_count_their_rules(engine: Engine) -> None:
    request = _span_request(keyvalue("client.address", "198.51.100.23"))
    outcomes = [_through_view(request, engine)[1] for _ in range(3)]
    assert [dict(outcome.rules) for outcome in outcomes] == [{"ip": 1}] * 3


def test_unknown_fields_inside_an_attribute_are_discarded(engine: Engine) -> None:
    known = keyvalue("app.note", "ok")
    _through_view(_span_request(known), engine)
    unknown_field_9 = b"\x4a\x0fana@example.com"
    request = _span_request(KeyValue.FromString(known.SerializeToString() + unknown_field_9))
    sanitized, _ = _through_view(request, engine)
    assert b"ana@example.com" not in sanitized
    assert b"ok" in sanitized


def test_unknown_enum_values_pass_as_they_are(engine: Engine) -> None:
    sanitized, _ = _through_view(_span_request(kind=42), engine)
    assert (
        ExportTraceServiceRequest.FromString(sanitized)
        .resource_spans[0]
        .scope_spans[0]
        .spans[0]
        .kind
        == 42
    )


def test_invalid_utf8_in_an_attribute_refuses_the_request(engine: Engine) -> None:
    bad = b"\x0a\x08app.note\x12\x04\x0a\x02\xc3\x28"
    payload = _span_request().SerializeToString()
    view = view_class(ExportTraceServiceRequest).FromString(payload)
    view.resource_spans[0].scope_spans[0].spans[0].attributes.append(bad)
    with pytest.raises(DecodeError):
        sanitize_view(view, engine)


def test_failures_are_not_remembered(key_ring: KeyRing, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine(keys=key_ring)
    sanitizer = engine.for_service("shop")

    def broken(value: Any, hits: list[str]) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setitem(sanitizer.handlers, "app.note", broken)
    monkeypatch.setitem(sanitizer.string_handlers, "app.note", broken)
    request = _span_request(keyvalue("app.note", "ana@example.com"))
    for _ in range(2):
        sanitized, outcome = _through_view(request, engine)
        assert outcome.failed_values == 1
        assert b"ana@example.com" not in sanitized


def test_the_cache_is_bounded(key_ring: KeyRing, monkeypatch: pytest.MonkeyPatch) -> None:
    import otelpriv._otlp as otlp

    monkeypatch.setattr(otlp, "_KNOWN_LIMIT", 8)
    engine = Engine(keys=key_ring)
    addresses = [keyvalue("client.address", f"198.51.100.{number}") for number in range(1, 41)]
    sanitized, outcome = _through_view(_span_request(*addresses), engine)
    assert outcome.rules["ip"] == 40
    assert b"198.51.100.39" not in sanitized
    memory = otlp._known(engine.for_service("shop")).attributes
    assert len(memory.table) <= 8
    assert len(memory.probation) <= 8


def test_views_reject_what_is_not_a_view(engine: Engine) -> None:
    with pytest.raises(TypeError, match="not a view"):
        sanitize_view(ExportTraceServiceRequest(), engine)


def test_a_failing_value_still_loses_the_personal_data_in_its_key(
    key_ring: KeyRing, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine(keys=key_ring)
    sanitizer = engine.for_service("shop")
    key = "note for mia.hoffmann@example.com"

    def broken(value: Any, hits: list[str]) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setitem(sanitizer.handlers, key, broken)
    monkeypatch.setitem(sanitizer.string_handlers, key, broken)
    sanitized, outcome = _through_view(_span_request(keyvalue(key, "x")), engine)
    assert b"mia.hoffmann" not in sanitized
    assert outcome.failed_values == 1
