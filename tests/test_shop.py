"""End to end: the demo shop, instrumented by the real OpenTelemetry packages, through otelpriv.

The shop and its payment gateway run on real servers on 127.0.0.1; one customer walks through
them with ``requests`` (instrumented too). What reaches the exporters is encoded as OTLP, the
bytes that would go on the wire, and searched for every personal value the journey planted.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otelpriv._engine import Sanitizer
from otelpriv._pseudonym import KeyRing, load_key_file, pseudonym_for

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CAPTURE_ALL_HEADERS = {
    f"OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_{side}": ".*"
    for side in ("SERVER_REQUEST", "SERVER_RESPONSE", "CLIENT_REQUEST", "CLIENT_RESPONSE")
}
SESSION_COOKIE = "eyJjdXN0b21lciI6"
"""How Flask's signed session cookie starts when it holds ``{"customer": ...}``."""


@pytest.fixture(scope="module")
def shop() -> Iterator[SimpleNamespace]:
    """The demo's modules, imported from ``examples/``."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        names = ("app", "journey", "serving", "telemetry")
        yield SimpleNamespace(**{n: importlib.import_module(f"shop.{n}") for n in names})
    finally:
        sys.path.remove(str(EXAMPLES))


class _Metrics(MetricExporter):
    """Keeps every metrics batch it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[MetricsData] = []

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any):
        self.batches.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Nothing to release."""


@dataclass
class Run:
    statuses: list[int]
    spans: tuple[Any, ...]
    raw_spans: tuple[Any, ...]
    logs: tuple[Any, ...]
    raw_logs: tuple[Any, ...]
    metrics: list[MetricsData]


@pytest.fixture(scope="module")
def run(shop: SimpleNamespace, key_file: Path) -> Run:
    """One journey through the shop, sanitized by otelpriv and, beside it, raw."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in CAPTURE_ALL_HEADERS.items():
            env.setenv(name, value)
        env.setenv("OTELPRIV_KEY_FILE", str(key_file))
        env.delenv("OTELPRIV_POLICY", raising=False)
        spans, logs, metrics = InMemorySpanExporter(), InMemoryLogRecordExporter(), _Metrics()
        raw_spans, raw_logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
        telemetry = shop.telemetry.set_up(spans, logs, metrics)
        telemetry.tracer_provider.add_span_processor(SimpleSpanProcessor(raw_spans))
        telemetry.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(raw_logs))
        payments = shop.app.create_payments()
        try:
            with shop.serving.serving(payments) as payments_url:
                shop_app = shop.app.create_shop(payments_url)
                telemetry.instrument(shop_app, payments)
                with shop.serving.serving(shop_app) as shop_url:
                    statuses = shop.journey.walk(shop_url)
        finally:
            telemetry.close()
    return Run(
        statuses,
        spans.get_finished_spans(),
        raw_spans.get_finished_spans(),
        logs.get_finished_logs(),
        raw_logs.get_finished_logs(),
        metrics.batches,
    )


def _forms(value: str) -> set[str]:
    """A value as typed, and as it travels in URLs and forms."""
    forms = {value, quote_plus(value), quote(value, safe="")}
    digits = value.replace(" ", "").replace("-", "")
    if digits.isdigit():
        forms.add(digits)
    return forms


def _leaks(shop: SimpleNamespace, wire: bytes) -> set[str]:
    """Which forms of the planted values, the gateway token and the session cookie are in it."""
    secrets = {*shop.journey.PLANTED, "mia.hoffmann", shop.app.GATEWAY_TOKEN, SESSION_COOKIE}
    return {form for value in secrets for form in _forms(value) if form.encode() in wire}


def _wire(spans: Any = (), logs: Any = (), metrics: Any = ()) -> bytes:
    """What an OTLP exporter would send for these items."""
    parts = [encode_spans(spans).SerializeToString(), encode_logs(logs).SerializeToString()]
    parts.extend(encode_metrics(batch).SerializeToString() for batch in metrics)
    return b"".join(parts)


def _access_log(record: Any) -> bool:
    return record.instrumentation_scope.name == "werkzeug"


def test_the_raw_telemetry_does_carry_the_planted_values(shop: SimpleNamespace, run: Run) -> None:
    journey = shop.journey
    leaks = _leaks(shop, _wire(run.raw_spans, run.raw_logs))
    for value in (journey.EMAIL, journey.CARD, journey.DECLINED_CARD, shop.app.GATEWAY_TOKEN):
        assert value in leaks
    assert {quote_plus(journey.STREET), quote_plus(journey.ZIP), SESSION_COOKIE} <= leaks


def test_no_planted_value_reaches_the_exporters(shop: SimpleNamespace, run: Run) -> None:
    assert _leaks(shop, _wire(run.spans, run.logs, run.metrics)) == set()
    access_lines = [record.log_record.body for record in run.logs if _access_log(record)]
    assert any("/shipping/quote?street=[REDACTED]&zip=[REDACTED]" in b for b in access_lines)


def test_the_journey_is_intact(shop: SimpleNamespace, run: Run) -> None:
    assert run.statuses == [status for _, _, status in shop.journey.STEPS]
    raw = {span.context.span_id: span for span in run.raw_spans}
    assert sorted(raw) == sorted(span.context.span_id for span in run.spans)
    for span in run.spans:
        before = raw[span.context.span_id]
        assert span.name == before.name
        assert (span.kind, span.parent, span.status.status_code) == (
            before.kind,
            before.parent,
            before.status.status_code,
        )
        assert (span.start_time, span.end_time) == (before.start_time, before.end_time)
        assert span.end_time > span.start_time
        for key in ("http.route", "http.method", "http.status_code", "shop.product.sku"):
            assert span.attributes.get(key) == before.attributes.get(key)
    served = [
        (span.attributes["http.method"], span.attributes["http.route"])
        for span in sorted(run.spans, key=lambda span: span.start_time)
        if span.attributes.get("http.route")
        and span.resource.attributes.get("service.name")
        and span.instrumentation_scope.name.endswith("flask")
        and span.attributes.get("http.route") != "/charge"
    ]
    assert served == [(method, route) for method, route, _ in shop.journey.STEPS]
    assert {s.attributes.get("shop.product.sku") for s in run.spans} >= {"linen-dress-1042"}


def test_request_durations_reach_the_metrics(run: Run) -> None:
    points = [
        point
        for batch in run.metrics
        for resource_metrics in batch.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
        if metric.name == "http.server.duration"
        for point in metric.data.data_points
    ]
    assert sum(point.count for point in points) == 11
    assert {point.attributes.get("http.status_code") for point in points} >= {200, 404, 500}


def test_the_customer_gets_the_engine_s_pseudonym(
    shop: SimpleNamespace, run: Run, key_ring: KeyRing
) -> None:
    customers = [
        span.attributes["enduser.id"] for span in run.spans if "enduser.id" in span.attributes
    ]
    raw = [
        span.attributes["enduser.id"] for span in run.raw_spans if "enduser.id" in span.attributes
    ]
    assert raw == [shop.journey.EMAIL] * 4
    assert customers == [pseudonym_for(key_ring.active, shop.journey.EMAIL)] * 4


def test_logs_keep_their_story(run: Run) -> None:
    bodies = [record.log_record.body for record in run.logs]
    assert any(
        body.startswith("order ch_") and body.endswith("placed for [EMAIL]") for body in bodies
    )
    assert "charging card [CREDIT_CARD] for [EMAIL]" in bodies
    failure = next(r.log_record for r in run.logs if r.log_record.body.startswith("Exception on"))
    assert failure.attributes["exception.type"] == "PaymentDeclined"
    assert failure.attributes["exception.message"] == "card [CREDIT_CARD] declined for [EMAIL]"


def _visit(shop: SimpleNamespace, telemetry: Any) -> list[int]:
    """Pages that need no gateway, through Flask's test client, and one warning logged."""
    app = shop.app.create_shop("http://127.0.0.1:9")
    telemetry.instrument(app)
    try:
        client = app.test_client()
        journey = shop.journey
        answers = [
            client.get("/"),
            client.get("/products/linen-dress-1042"),
            client.get("/search", query_string={"q": "dress", "email": journey.EMAIL}),
            client.post("/login", data={"email": journey.EMAIL, "password": journey.PASSWORD}),
            client.get("/account"),
        ]
        app.logger.warning("customer %s complained", journey.EMAIL)
    finally:
        telemetry.close()
    return [answer.status_code for answer in answers]


def _otelpriv_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "otelpriv" and r.levelno >= 40]


def test_an_engine_error_never_breaks_the_shop(
    shop: SimpleNamespace,
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("engine bug")

    for method in ("attributes", "safe_text", "safe_body"):
        monkeypatch.setattr(Sanitizer, method, broken)
    monkeypatch.setenv("OTELPRIV_KEY_FILE", str(key_file))
    spans, logs, metrics = InMemorySpanExporter(), InMemoryLogRecordExporter(), _Metrics()
    assert _visit(shop, shop.telemetry.set_up(spans, logs, metrics)) == [200, 200, 200, 302, 200]
    husks = spans.get_finished_spans()
    assert len(husks) == 5
    assert all(span.name == "[REDACTED]" and not span.attributes for span in husks)
    assert logs.get_finished_logs() == ()
    assert _leaks(shop, _wire(husks)) == set()
    assert metrics.batches == []
    assert sorted(_otelpriv_errors(caplog)) == [
        f"otelpriv dropped a {item} it could not sanitize (RuntimeError); later ones are not logged"
        for item in ("log record", "metrics batch", "span")
    ]


def test_a_policy_error_never_breaks_the_shop(
    shop: SimpleNamespace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("audit: {counts: maybe}\n", encoding="utf-8")
    monkeypatch.setenv("OTELPRIV_POLICY", str(policy))
    spans, logs, metrics = InMemorySpanExporter(), InMemoryLogRecordExporter(), _Metrics()
    assert _visit(shop, shop.telemetry.set_up(spans, logs, metrics)) == [200, 200, 200, 302, 200]
    assert spans.get_finished_spans() == () and logs.get_finished_logs() == ()
    assert metrics.batches == []
    errors = _otelpriv_errors(caplog)
    assert [error.split(":")[0] for error in errors] == [
        f"otelpriv cannot load its policy, so it drops all {signal}"
        for signal in ("spans", "log records", "metrics")
    ]
    assert all("audit.counts" in error for error in errors)


def test_no_code_setup_with_opentelemetry_instrument(shop: SimpleNamespace, key_file: Path) -> None:
    """``opentelemetry-instrument`` with environment variables alone, in a subprocess."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL")}
    env.update(CAPTURE_ALL_HEADERS)
    env.update(
        OTEL_SERVICE_NAME="shop",
        OTEL_TRACES_EXPORTER="otelpriv",
        OTELPRIV_TRACES_EXPORTER="console",
        OTEL_LOGS_EXPORTER="otelpriv_console",
        OTEL_METRICS_EXPORTER="otelpriv_console",
        OTELPRIV_KEY_FILE=str(key_file),
    )
    command = [str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable]
    started = time.monotonic()
    result = subprocess.run(
        [*command, "-m", "shop"], cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert time.monotonic() - started < 20
    assert "journey done: [200, 200, 404, 200, 200, 302, 200, 201, 500]" in result.stderr
    exported = result.stdout
    assert _leaks(shop, exported.encode()) == set()
    items = _json_objects(exported)
    assert sum(1 for item in items if item.get("kind") == "SpanKind.SERVER") == 11
    assert any("placed for [EMAIL]" in str(item.get("body")) for item in items)
    customers = {item["attributes"].get("enduser.id") for item in items if "kind" in item}
    assert customers == {None, pseudonym_for(load_key_file(key_file).active, shop.journey.EMAIL)}


def _json_objects(text: str) -> list[dict[str, Any]]:
    """The console exporters print indented JSON objects one after the other."""
    decoder = json.JSONDecoder()
    objects, index = [], 0
    while True:
        index = len(text) - len(text[index:].lstrip())
        if index >= len(text):
            return objects
        found, index = decoder.raw_decode(text, index)
        objects.append(found)
