"""The code path: OpenTelemetry set up by hand, with otelpriv's processors in three lines.

Used by ``python -m shop --in-code`` and by the tests, which pass their own exporters. Under
``opentelemetry-instrument`` none of this runs: the SDK's configurator builds the pipeline from
environment variables instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otelpriv._exporters import PrivacyMetricExporter
from otelpriv._processors import PrivacyLogRecordProcessor, PrivacySpanProcessor


@dataclass
class Telemetry:
    """The providers of one process and what was instrumented, to undo it."""

    tracer_provider: TracerProvider
    logger_provider: LoggerProvider
    meter_provider: MeterProvider
    apps: list[Flask] = field(default_factory=list)
    handler: logging.Handler | None = None

    def instrument(self, *apps: Flask) -> None:
        """Instrument Flask apps, outgoing requests and the logging bridge."""
        for app in apps:
            FlaskInstrumentor().instrument_app(
                app, tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
            )
            self.apps.append(app)
        RequestsInstrumentor().instrument(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )
        self.handler = LoggingHandler(logger_provider=self.logger_provider)
        logging.getLogger().addHandler(self.handler)

    def close(self) -> None:
        """Undo the instrumentation, then flush and shut the pipelines down."""
        for app in self.apps:
            FlaskInstrumentor().uninstrument_app(app)
        RequestsInstrumentor().uninstrument()
        if self.handler is not None:
            logging.getLogger().removeHandler(self.handler)
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()
        self.meter_provider.shutdown()


def set_up(
    span_exporter: Any, log_exporter: Any, metric_exporter: Any, *, private: bool = True
) -> Telemetry:
    """Pipelines to the given exporters; with ``private``, otelpriv sanitizes everything first.

    The policy and key come from ``OTELPRIV_POLICY`` and ``OTELPRIV_KEY_FILE``.
    """
    resource = Resource.create({"service.name": "shop"})
    spans: Any = BatchSpanProcessor(span_exporter)
    logs: Any = BatchLogRecordProcessor(log_exporter)
    if private:
        spans = PrivacySpanProcessor(spans)
        logs = PrivacyLogRecordProcessor(logs)
        metric_exporter = PrivacyMetricExporter(metric_exporter)
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(spans)
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(logs)
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=60_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    return Telemetry(tracer_provider, logger_provider, meter_provider)
