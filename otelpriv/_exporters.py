"""Exporter wrappers: the same sanitizing as the processors, on the export thread.

Under a batch processor or a periodic metric reader the application thread does nothing extra:
the wrapper sanitizes each batch just before handing it to the real exporter::

    provider.add_span_processor(BatchSpanProcessor(PrivacySpanExporter(OTLPSpanExporter())))

An item that cannot be sanitized is left out of the batch and counted in :attr:`outcome`; when
the policy or key cannot be loaded, nothing is exported. The real exporter's own errors and
results pass through unchanged, for the processor or reader that called it to handle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelpriv._engine import Engine
from otelpriv._otlp import Outcome
from otelpriv._processors import SanitizedSpan
from otelpriv._sdk import SdkSanitizer, call_with_timeout

__all__ = ["PrivacyLogExporter", "PrivacyMetricExporter", "PrivacySpanExporter"]


def _data_points(data: MetricsData) -> Any:
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                yield from metric.data.data_points


def _check(delegate: Any, kind: str) -> None:
    if not callable(getattr(delegate, "export", None)):
        raise TypeError(f"delegate must be a {kind} exporter, not {type(delegate).__name__}")


class PrivacySpanExporter(SpanExporter):
    """Exports through ``delegate`` a sanitized copy of every span.

    ``policy`` is a :class:`~otelpriv.Policy` or a policy file; without it, and without
    ``engine``, the policy and key named by ``OTELPRIV_POLICY`` and ``OTELPRIV_KEY_FILE`` apply
    (or the built-in default policy).
    """

    def __init__(
        self,
        delegate: SpanExporter,
        policy: Any = None,
        *,
        key_file: Any = None,
        engine: Engine | None = None,
    ) -> None:
        _check(delegate, "span")
        self.delegate = delegate
        self._sanitizer = SdkSanitizer.create("spans", policy, key_file, engine)

    @property
    def outcome(self) -> Outcome:
        """What was changed, by rule, and how many spans were dropped, since the start."""
        return self._sanitizer.outcome

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        sanitizer = self._sanitizer
        if sanitizer.engine is None:
            for _ in spans:
                sanitizer.dropped()
            return SpanExportResult.FAILURE
        clean = []
        for span in spans:
            try:
                clean.append(SanitizedSpan.filled(span, sanitizer.span_fields(span)))
            except Exception as error:  # noqa: BLE001 - fail closed: leave the span out
                sanitizer.failed("span", error)
        if not clean:
            return SpanExportResult.SUCCESS
        return self.delegate.export(clean)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        call_with_timeout(self.delegate.shutdown, timeout_millis)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return call_with_timeout(self.delegate.force_flush, timeout_millis) is not False


class PrivacyLogExporter(LogRecordExporter):
    """Exports through ``delegate`` a sanitized copy of every log record."""

    def __init__(
        self,
        delegate: LogRecordExporter,
        policy: Any = None,
        *,
        key_file: Any = None,
        engine: Engine | None = None,
    ) -> None:
        _check(delegate, "log")
        self.delegate = delegate
        self._sanitizer = SdkSanitizer.create("log records", policy, key_file, engine)

    @property
    def outcome(self) -> Outcome:
        """What was changed, by rule, and how many log records were dropped, since the start."""
        return self._sanitizer.outcome

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        sanitizer = self._sanitizer
        if sanitizer.engine is None:
            for _ in batch:
                sanitizer.dropped()
            return LogRecordExportResult.FAILURE
        clean = []
        for record in batch:
            try:
                clean.append(sanitizer.log_record(record))
            except Exception as error:  # noqa: BLE001 - fail closed: leave the record out
                sanitizer.failed("log record", error)
        if not clean:
            return LogRecordExportResult.SUCCESS
        return self.delegate.export(clean)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        call_with_timeout(self.delegate.shutdown, timeout_millis)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return call_with_timeout(self.delegate.force_flush, timeout_millis) is not False


class PrivacyMetricExporter(MetricExporter):
    """Exports through ``delegate`` metrics whose data-point and exemplar attributes, resources
    and scopes are sanitized. Takes the delegate's preferred temporality and aggregation.
    """

    def __init__(
        self,
        delegate: MetricExporter,
        policy: Any = None,
        *,
        key_file: Any = None,
        engine: Engine | None = None,
    ) -> None:
        _check(delegate, "metric")
        super().__init__(
            preferred_temporality=getattr(delegate, "_preferred_temporality", None),
            preferred_aggregation=getattr(delegate, "_preferred_aggregation", None),
        )
        self.delegate = delegate
        self._sanitizer = SdkSanitizer.create("metrics", policy, key_file, engine)

    @property
    def outcome(self) -> Outcome:
        """What was changed, by rule, and how many data points were dropped, since the start."""
        return self._sanitizer.outcome

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        sanitizer = self._sanitizer
        if sanitizer.engine is None:
            for _ in _data_points(metrics_data):
                sanitizer.dropped()
            return MetricExportResult.FAILURE
        try:
            clean = sanitizer.metrics(metrics_data)
        except Exception as error:  # noqa: BLE001 - fail closed: leave the batch out
            sanitizer.failed("metrics batch", error)
            return MetricExportResult.FAILURE
        return self.delegate.export(clean, timeout_millis=timeout_millis, **kwargs)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        call_with_timeout(self.delegate.shutdown, timeout_millis)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return call_with_timeout(self.delegate.force_flush, timeout_millis) is not False
