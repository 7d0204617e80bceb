"""The SDK processors and exporter wrappers: every field of an item, the contracts, the failures."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry._logs import LogRecord
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import Exemplar
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import (
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)
from test_cases import CASES, _input_of, expected_for

from otelpriv._distro import (
    ConsoleSpanExporter,
    EnvLogExporter,
    OtlpMetricExporter,
    wrapped_exporter,
)
from otelpriv._engine import Engine, Sanitizer
from otelpriv._exporters import PrivacyLogExporter, PrivacyMetricExporter, PrivacySpanExporter
from otelpriv._policy import parse_policy
from otelpriv._processors import PrivacyLogRecordProcessor, PrivacySpanProcessor, SanitizedSpan
from otelpriv._pseudonym import KeyRing, pseudonym_for
from otelpriv._sdk import SdkSanitizer

EMAIL = "jonas.berg@example.org"
CARD = "5555-5555-5555-4444"
RESOURCE = {"service.name": "shop", "team.contact": "ops@example.com"}


def _plain(value: Any) -> Any:
    """Tuples as lists, mappings as dicts: how values compare, whatever the SDK stored."""
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if hasattr(value, "items"):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _tracing(processor_for: Any, limits: SpanLimits | None = None) -> tuple[Any, Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource(RESOURCE), span_limits=limits)
    provider.add_span_processor(processor_for(exporter))
    return provider, exporter


def _full_span(provider: TracerProvider) -> None:
    """A span with personal data in every field an SDK span has."""
    tracer = provider.get_tracer(
        "shop.checkout",
        schema_url=f"https://schemas.example.com/{EMAIL}",
        attributes={"scope.owner": EMAIL},
    )
    with tracer.start_as_current_span("checkout") as other:
        linked = other.get_span_context()
    state = TraceState([("shop", f"customer-{EMAIL.replace('@', '-at-')}"), ("vendor", EMAIL)])
    parent = SpanContext(1, 2, is_remote=True, trace_flags=TraceFlags(1), trace_state=state)
    linked = SpanContext(linked.trace_id, linked.span_id, False, TraceFlags(1), state)
    links = [Link(linked, {"link.reason": f"retry for {EMAIL}"})]
    context = set_span_in_context(NonRecordingSpan(parent))
    with tracer.start_as_current_span(f"charge {EMAIL}", context, links=links) as span:
        span.set_attribute(f"customer {EMAIL}", True)
        span.set_attribute("enduser.id", EMAIL)
        span.set_attribute("http.request.header.authorization", ["Bearer abc.def"])
        span.set_attribute("app.cards", [CARD, "none"])
        span.set_attribute("app.items", 3)
        span.add_event(f"card {CARD} checked", {"customer": EMAIL})
        span.record_exception(ValueError(f"card {CARD} declined for {EMAIL}"))
        span.set_status(StatusCode.ERROR, f"declined for {EMAIL}")


def _exported_span(exporter: InMemorySpanExporter) -> Any:
    return [span for span in exporter.get_finished_spans() if span.name != "checkout"][0]


def _assert_full_span_clean(span: Any, key_ring: KeyRing) -> None:
    assert span.name == "charge [EMAIL]"
    assert _plain(span.attributes) == {
        "customer [EMAIL]": True,
        "enduser.id": pseudonym_for(key_ring.active, EMAIL),
        "http.request.header.authorization": ["[REDACTED]"],
        "app.cards": ["[CREDIT_CARD]", "none"],
        "app.items": 3,
    }
    event, exception = span.events
    assert (event.name, dict(event.attributes)) == (
        "card [CREDIT_CARD] checked",
        {"customer": "[EMAIL]"},
    )
    assert exception.attributes["exception.message"] == "card [CREDIT_CARD] declined for [EMAIL]"
    assert EMAIL not in exception.attributes["exception.stacktrace"]
    assert dict(span.links[0].attributes) == {"link.reason": "retry for [EMAIL]"}
    clean_state = {"shop": "customer-jonas.berg-at-example.org", "vendor": "[EMAIL]"}
    assert dict(span.context.trace_state) == dict(span.links[0].context.trace_state)
    assert dict(span.context.trace_state) == clean_state
    assert span.context.span_id == span.get_span_context().span_id
    assert span.instrumentation_scope.schema_url == "https://schemas.example.com/[EMAIL]"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "declined for [EMAIL]"
    assert span.resource.attributes["team.contact"] == "[EMAIL]"
    assert span.resource.attributes["service.name"] == "shop"
    assert dict(span.instrumentation_scope.attributes) == {"scope.owner": "[EMAIL]"}
    assert span.instrumentation_scope.name == "shop.checkout"


@pytest.mark.parametrize("path", ["processor", "exporter"])
def test_every_field_of_a_span(engine: Engine, key_ring: KeyRing, path: str) -> None:
    def processor_for(exporter: SpanExporter) -> Any:
        if path == "processor":
            return PrivacySpanProcessor(SimpleSpanProcessor(exporter), engine=engine)
        return SimpleSpanProcessor(PrivacySpanExporter(exporter, engine=engine))

    provider, exporter = _tracing(processor_for)
    _full_span(provider)
    span = _exported_span(exporter)
    assert isinstance(span, SanitizedSpan)
    _assert_full_span_clean(span, key_ring)
    assert EMAIL not in span.to_json() and CARD not in span.to_json()


def test_other_processors_still_see_the_raw_span(engine: Engine) -> None:
    raw = InMemorySpanExporter()
    provider, exporter = _tracing(
        lambda exporter: PrivacySpanProcessor(SimpleSpanProcessor(exporter), engine=engine)
    )
    provider.add_span_processor(SimpleSpanProcessor(raw))
    _full_span(provider)
    assert _exported_span(exporter).name == "charge [EMAIL]"
    assert _exported_span(raw).name == f"charge {EMAIL}"
    assert _exported_span(raw).attributes["enduser.id"] == EMAIL


class _Keeper:
    """A span processor that keeps what it is given, and may fail on purpose."""

    def __init__(self, fail: bool = False) -> None:
        self.spans: list[Any] = []
        self.fail = fail
        self.flushed: list[Any] = []

    def on_end(self, span: Any) -> None:
        if self.fail:
            raise RuntimeError(f"exporter down for {EMAIL}")
        self.spans.append(span)

    def shutdown(self) -> None:
        if self.fail:
            raise RuntimeError("cannot stop")

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.flushed.append(timeout_millis)
        return True


def test_on_end_sanitizes_nothing_on_the_application_thread(engine: Engine) -> None:
    keeper = _Keeper()
    provider = TracerProvider(resource=Resource(RESOURCE))
    provider.add_span_processor(PrivacySpanProcessor(keeper, engine=engine))
    _full_span(provider)
    span = keeper.spans[-1]
    assert "_name" not in vars(span) and span.context.trace_flags.sampled
    assert span.name == "charge [EMAIL]" and "_attributes" in vars(span)


def test_attributes_dropped_for_limits_are_still_counted(engine: Engine) -> None:
    provider, exporter = _tracing(
        lambda exporter: PrivacySpanProcessor(SimpleSpanProcessor(exporter), engine=engine),
        SpanLimits(max_span_attributes=2),
    )
    _full_span(provider)
    span = _exported_span(exporter)
    assert span.dropped_attributes == 3 and len(span.attributes) == 2
    assert EMAIL not in str(dict(span.attributes))


SPAN_CASES = [case for case in CASES if case["signal"] == "span"]


@pytest.mark.parametrize("case", SPAN_CASES, ids=[case["id"] for case in SPAN_CASES])
def test_shared_cases_through_the_span_processor(
    engine: Engine, key_ring: KeyRing, case: dict[str, Any]
) -> None:
    raw = InMemorySpanExporter()
    provider, exporter = _tracing(
        lambda exporter: PrivacySpanProcessor(SimpleSpanProcessor(exporter), engine=engine)
    )
    provider.add_span_processor(SimpleSpanProcessor(raw))
    with provider.get_tracer("cases").start_as_current_span("case") as span:
        if case["field"] == "event_attribute":
            span.add_event(case.get("event_name", "exception"), {case["key"]: _input_of(case)})
        else:
            span.set_attribute(case["key"], _input_of(case))
    sent, kept = exporter.get_finished_spans()[0], raw.get_finished_spans()[0]
    if case["field"] == "event_attribute":
        sent, kept = sent.events[0], kept.events[0]
    if case["key"] not in kept.attributes:
        pytest.skip("the SDK itself refuses this value as an attribute")
    assert _plain(sent.attributes.get(case["key"])) == expected_for(case, key_ring)


def _logging(processor_for: Any) -> tuple[LoggerProvider, InMemoryLogRecordExporter]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource(RESOURCE))
    provider.add_log_record_processor(processor_for(exporter))
    return provider, exporter


def _emit(provider: LoggerProvider, **fields: Any) -> None:
    logger = provider.get_logger("shop.orders", attributes={"scope.owner": EMAIL})
    logger.emit(LogRecord(**fields))


@pytest.mark.parametrize("path", ["processor", "exporter"])
def test_every_field_of_a_log_record(engine: Engine, key_ring: KeyRing, path: str) -> None:
    def processor_for(exporter: Any) -> Any:
        if path == "processor":
            return PrivacyLogRecordProcessor(SimpleLogRecordProcessor(exporter), engine=engine)
        return SimpleLogRecordProcessor(PrivacyLogExporter(exporter, engine=engine))

    provider, exporter = _logging(processor_for)
    error = ValueError(f"card {CARD} declined for {EMAIL}")
    _emit(
        provider,
        body={"message": f"order for {EMAIL}", "password": "hunter2", "items": [CARD, 2]},
        attributes={"user.email": EMAIL, "app.note": f"paid with {CARD}"},
        event_name=f"order for {EMAIL}",
        severity_text=f"WARN {EMAIL}",
        exception=error,
    )
    _emit(provider, body=f"plain text for {EMAIL}")
    structured, text = (record.log_record for record in exporter.get_finished_logs())
    assert _plain(structured.body) == {
        "message": "order for [EMAIL]",
        "password": "[REDACTED]",
        "items": ["[CREDIT_CARD]", 2],
    }
    assert structured.attributes["user.email"] == pseudonym_for(key_ring.active, EMAIL)
    assert structured.attributes["app.note"] == "paid with [CREDIT_CARD]"
    assert structured.attributes["exception.message"] == "card [CREDIT_CARD] declined for [EMAIL]"
    assert structured.event_name == "order for [EMAIL]"
    assert structured.severity_text == "WARN [EMAIL]"
    assert structured.exception is None
    assert text.body == "plain text for [EMAIL]"
    record = exporter.get_finished_logs()[0]
    assert record.resource.attributes["team.contact"] == "[EMAIL]"
    assert dict(record.instrumentation_scope.attributes) == {"scope.owner": "[EMAIL]"}
    assert EMAIL not in record.to_json() and CARD not in record.to_json()


class _MetricKeeper(MetricExporter):
    def __init__(self) -> None:
        super().__init__(preferred_temporality={Histogram: AggregationTemporality.DELTA})
        self.batches: list[MetricsData] = []
        self.calls: list[tuple[str, Any]] = []

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any):
        self.batches.append(metrics_data)
        self.calls.append(("export", timeout_millis))
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        self.calls.append(("force_flush", timeout_millis))
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.calls.append(("shutdown", timeout_millis))


def _metrics_data() -> MetricsData:
    exemplar = Exemplar({"client.address": "203.0.113.24", "user.email": EMAIL}, 1.5, 7, 1, 2)
    histogram = HistogramDataPoint(
        {"http.route": "/checkout", "app.customer": EMAIL}, 1, 2, 1, 1.5, [1], [], 1.5, 1.5,
        exemplars=[exemplar],
    )  # fmt: skip
    gauge = NumberDataPoint({"queue": "orders"}, 1, 2, 4)
    metrics = [
        Metric("http.server.duration", None, "ms", Histogram([histogram], 1)),
        Metric("queue.depth", f"orders of {EMAIL}", "1", Gauge([gauge])),
    ]
    scope = ScopeMetrics(InstrumentationScope("shop", attributes={"o": EMAIL}), metrics, "")
    return MetricsData([ResourceMetrics(Resource(RESOURCE), [scope], "")])


def test_metric_points_exemplars_resource_and_scope(engine: Engine, key_ring: KeyRing) -> None:
    keeper = _MetricKeeper()
    exporter = PrivacyMetricExporter(keeper, engine=engine)
    assert exporter._preferred_temporality == keeper._preferred_temporality
    assert exporter.export(_metrics_data(), timeout_millis=1234) is MetricExportResult.SUCCESS
    resource_metrics = keeper.batches[0].resource_metrics[0]
    scope_metrics = resource_metrics.scope_metrics[0]
    histogram, gauge = (metric.data.data_points[0] for metric in scope_metrics.metrics)
    assert scope_metrics.metrics[1].description == "orders of [EMAIL]"
    assert dict(histogram.attributes) == {"http.route": "/checkout", "app.customer": "[EMAIL]"}
    assert dict(histogram.exemplars[0].filtered_attributes) == {
        "client.address": "203.0.113.0",
        "user.email": pseudonym_for(key_ring.active, EMAIL),
    }
    assert dict(gauge.attributes) == {"queue": "orders"}
    assert resource_metrics.resource.attributes["team.contact"] == "[EMAIL]"
    assert dict(scope_metrics.scope.attributes) == {"o": "[EMAIL]"}
    assert keeper.calls == [("export", 1234)]


def test_audit_counts_and_key_names_on_the_span(key_ring: KeyRing) -> None:
    policy = parse_policy({"audit": {"counts": True, "key_names": True}})
    engine = Engine(policy, key_ring)
    provider, exporter = _tracing(
        lambda exporter: PrivacySpanProcessor(SimpleSpanProcessor(exporter), engine=engine)
    )
    _full_span(provider)
    attributes = _exported_span(exporter).attributes
    assert attributes["otelpriv.redacted.email"] == 8
    assert attributes["otelpriv.redacted.user_id"] == attributes["otelpriv.redacted.key"] == 1
    assert "enduser.id" in attributes["otelpriv.redacted_keys"]
    assert not any("@" in key for key in attributes["otelpriv.redacted_keys"])


def test_policy_object_and_environment(
    key_ring: KeyRing, key_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTELPRIV_KEY_FILE", str(key_file))
    keep_emails = parse_policy({"detectors": {"email": "keep"}})
    for processor, expected in [
        (PrivacySpanProcessor(_Keeper()), "charge [EMAIL]"),
        (PrivacySpanProcessor(_Keeper(), keep_emails), f"charge {EMAIL}"),
    ]:
        provider = TracerProvider(resource=Resource(RESOURCE))
        provider.add_span_processor(processor)
        _full_span(provider)
        span = processor._delegate.spans[-1]
        assert span.name == expected
        assert span.attributes["enduser.id"] == pseudonym_for(key_ring.active, EMAIL)


def test_engine_and_policy_together_are_refused(engine: Engine) -> None:
    with pytest.raises(TypeError, match="either engine= or policy="):
        PrivacySpanProcessor(_Keeper(), "policy.yaml", engine=engine)
    with pytest.raises(TypeError, match="must be a span processor"):
        PrivacySpanProcessor(InMemorySpanExporter())  # type: ignore[arg-type]


def _otelpriv_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "otelpriv" and r.levelno >= 40]


def test_a_bad_policy_drops_everything_and_says_so_once(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("detectors:\n  email: scramble\n", encoding="utf-8")
    monkeypatch.setenv("OTELPRIV_POLICY", str(bad))
    keeper = _Keeper()
    processor = PrivacySpanProcessor(keeper)
    exporter = PrivacySpanExporter(InMemorySpanExporter())
    provider = TracerProvider(resource=Resource(RESOURCE))
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for _ in range(3):
        _full_span(provider)
    assert keeper.spans == [] and exporter.delegate.get_finished_spans() == ()
    assert processor.outcome.dropped_items == exporter.outcome.dropped_items == 6
    errors = _otelpriv_errors(caplog)
    assert len(errors) == 2
    assert errors[0].startswith("otelpriv cannot load its policy, so it drops all spans: ")
    assert "detectors.email" in errors[0] and "scramble" in errors[0]


def test_the_default_policy_without_a_key_says_how_to_make_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("OTELPRIV_KEY_FILE", raising=False)
    monkeypatch.delenv("OTELPRIV_POLICY", raising=False)
    PrivacyLogRecordProcessor(SimpleLogRecordProcessor(InMemoryLogRecordExporter()))
    assert "otelpriv keygen" in _otelpriv_errors(caplog)[0]


def test_an_engine_fault_drops_the_item_logs_once_and_never_raises(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError(f"bug near {EMAIL}")

    monkeypatch.setattr(Sanitizer, "safe_text", broken)
    span_exporter = PrivacySpanExporter(InMemorySpanExporter(), engine=engine)
    processor = PrivacySpanProcessor(SimpleSpanProcessor(InMemorySpanExporter()), engine=engine)
    provider = TracerProvider(resource=Resource(RESOURCE))
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    provider.add_span_processor(processor)
    log_processor = PrivacyLogRecordProcessor(_LogKeeper(), engine=engine)
    logs = LoggerProvider(resource=Resource(RESOURCE), shutdown_on_exit=False)
    logs.add_log_record_processor(log_processor)
    for _ in range(3):
        _full_span(provider)
        _emit(logs, body=f"hello {EMAIL}", event_name="x")
    assert span_exporter.delegate.get_finished_spans() == ()
    husks = processor._delegate.span_exporter.get_finished_spans()
    assert {span.name for span in husks} == {"[REDACTED]"}
    assert all(not span.attributes and not span.events for span in husks)
    assert span_exporter.outcome.dropped_items == processor.outcome.dropped_items == 6
    assert log_processor._delegate.records == [] and log_processor.outcome.dropped_items == 3
    assert sorted(_otelpriv_errors(caplog)) == [
        "otelpriv dropped a log record it could not sanitize (RuntimeError); later ones are not "
        "logged",
        "otelpriv dropped a span it could not sanitize (RuntimeError); later ones are not logged",
        "otelpriv dropped a span it could not sanitize (RuntimeError); later ones are not logged",
    ]
    assert all(EMAIL not in record.getMessage() for record in caplog.records)


class _LogKeeper:
    def __init__(self, fail: bool = False) -> None:
        self.records: list[Any] = []
        self.fail = fail

    def on_emit(self, record: Any) -> None:
        if self.fail:
            raise RuntimeError("down")
        self.records.append(record)

    def enabled(self, **kwargs: Any) -> bool:
        raise RuntimeError("no idea")

    def shutdown(self) -> None:
        raise RuntimeError("cannot stop")

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        raise RuntimeError("cannot flush")


def test_a_failing_delegate_never_reaches_the_application(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    spans = PrivacySpanProcessor(_Keeper(fail=True), engine=engine)
    logs = PrivacyLogRecordProcessor(_LogKeeper(fail=True), engine=engine)
    provider = TracerProvider(resource=Resource(RESOURCE), shutdown_on_exit=False)
    provider.add_span_processor(spans)
    logger_provider = LoggerProvider(resource=Resource(RESOURCE), shutdown_on_exit=False)
    logger_provider.add_log_record_processor(logs)
    for _ in range(3):
        _full_span(provider)
        _emit(logger_provider, body="hello")
    assert logs.enabled() is True
    assert logs.force_flush(5) is False
    spans.shutdown()
    logs.shutdown()
    assert len(_otelpriv_errors(caplog)) == 5


def test_timeouts_are_passed_on(engine: Engine) -> None:
    keeper = _Keeper()
    assert PrivacySpanProcessor(keeper, engine=engine).force_flush(1234) is True
    assert keeper.flushed == [1234]
    metrics = _MetricKeeper()
    exporter = PrivacyMetricExporter(metrics, engine=engine)
    exporter.force_flush(55)
    exporter.shutdown(timeout_millis=66)
    assert metrics.calls == [("force_flush", 55), ("shutdown", 66)]

    class TimedSpans(InMemorySpanExporter):
        def shutdown(self, timeout_millis: float = 30_000) -> None:
            self.stopped_within = timeout_millis

    timed = TimedSpans()
    PrivacySpanExporter(timed, engine=engine).shutdown(timeout_millis=77)
    assert timed.stopped_within == 77
    PrivacySpanExporter(InMemorySpanExporter(), engine=engine).shutdown(timeout_millis=1)


def test_exporters_fail_closed_without_a_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTELPRIV_KEY_FILE", raising=False)
    logs = PrivacyLogExporter(InMemoryLogRecordExporter())
    metrics = PrivacyMetricExporter(_MetricKeeper())
    assert logs.export([]) is LogRecordExportResult.FAILURE
    assert metrics.export(_metrics_data()) is MetricExportResult.FAILURE
    assert metrics.outcome.dropped_items == 2 and metrics.delegate.batches == []


def test_sdk_sanitizer_caches_resources_by_identity(engine: Engine) -> None:
    sanitizer = SdkSanitizer(engine)
    resource = Resource({**RESOURCE, "process.command_args": ("shop", "--owner", EMAIL)})
    first, _ = sanitizer.resource(resource)
    again, _ = sanitizer.resource(resource)
    assert first is again and first.attributes["team.contact"] == "[EMAIL]"
    assert first.attributes["process.command_args"] == ("shop", "--owner", "[EMAIL]")
    assert sanitizer.outcome.rules == {"email": 2}


def test_no_code_entry_points_wrap_the_named_exporter(
    key_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTELPRIV_KEY_FILE", str(key_file))
    monkeypatch.setenv("OTELPRIV_LOGS_EXPORTER", "console")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf")
    assert type(ConsoleSpanExporter().delegate).__name__ == "ConsoleSpanExporter"
    assert type(EnvLogExporter().delegate).__name__ == "ConsoleLogRecordExporter"
    otlp = OtlpMetricExporter()
    assert type(otlp.delegate).__module__.startswith("opentelemetry.exporter.otlp.proto.http")
    assert otlp._preferred_temporality == otlp.delegate._preferred_temporality
    with pytest.raises(RuntimeError, match="set OTELPRIV_TRACES_EXPORTER to one of .*console"):
        wrapped_exporter("traces", "zipkin")
    with pytest.raises(RuntimeError, match="no exporter 'otelpriv_otlp'"):
        wrapped_exporter("traces", "otelpriv_otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
    with pytest.raises(RuntimeError, match="unsupported OTLP protocol 'carrier-pigeon'"):
        wrapped_exporter("traces", "otlp")


def test_the_sdk_loads_the_entry_points() -> None:
    from opentelemetry.sdk._configuration import _import_exporters

    spans, metrics, logs = _import_exporters(
        ["otelpriv", "otelpriv_otlp", "otelpriv_console"],
        ["otelpriv", "otelpriv_otlp", "otelpriv_console"],
        ["otelpriv", "otelpriv_otlp", "otelpriv_console"],
    )
    assert all(issubclass(cls, PrivacySpanExporter) for cls in spans.values())
    assert all(issubclass(cls, PrivacyMetricExporter) for cls in metrics.values())
    assert all(issubclass(cls, PrivacyLogExporter) for cls in logs.values())


def test_an_empty_batch_is_not_sent(engine: Engine) -> None:
    exporter = PrivacySpanExporter(InMemorySpanExporter(), engine=engine)
    assert exporter.export([]) is SpanExportResult.SUCCESS


def test_logging_from_a_failure_does_not_loop(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(Sanitizer, "safe_body", broken)
    processor = PrivacyLogRecordProcessor(_LogKeeper(), engine=engine)
    provider = LoggerProvider(resource=Resource(RESOURCE), shutdown_on_exit=False)
    provider.add_log_record_processor(processor)
    handler = LoggingHandler(logger_provider=provider)
    logging.getLogger().addHandler(handler)
    try:
        logging.getLogger("shop").warning("hello %s", EMAIL)
    finally:
        logging.getLogger().removeHandler(handler)
    assert processor.outcome.dropped_items == 1
