"""Span and log record processors that hand any other processor sanitized copies.

Wrap the processor that exports (batch or simple, with any exporter)::

    provider.add_span_processor(PrivacySpanProcessor(BatchSpanProcessor(exporter)))

The span processor does almost nothing on the application thread: ``on_end`` hands the delegate
a :class:`SanitizedSpan`, a copy that is sanitized the first time any of its data is read —
under a batch processor, by the exporter on the export thread. Only the span context is read
before that (to check sampling); it holds ids and flags, and is copied as it is unless it has a
trace state, which is vendor text and so is sanitized first. The log processor sanitizes at
once: log records are mutable and fewer.

Neither ever raises into the application. An item that cannot be sanitized is dropped and
counted in :attr:`outcome`; when a policy or key cannot be loaded, every item is dropped.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from otelpriv._engine import Engine
from otelpriv._otlp import Outcome
from otelpriv._sdk import SdkSanitizer, call_with_timeout

__all__ = ["PrivacyLogRecordProcessor", "PrivacySpanProcessor", "SanitizedSpan"]

_LAZY = frozenset(
    {
        "_context",
        "_name",
        "_attributes",
        "_events",
        "_links",
        "_status",
        "_resource",
        "_instrumentation_scope",
        "_instrumentation_info",
        "_kind",
        "_parent",
        "_start_time",
        "_end_time",
    }
)


class SanitizedSpan(ReadableSpan):
    """A sanitized copy of an ended span, filled in when first read, on the reading thread.

    ``ReadableSpan``'s properties read private fields; those are missing until the first read,
    which goes through ``__getattr__`` and fills them all at once. Filling twice from two threads
    gives the same result. A span whose walk fails is reduced to a husk (ids, kind, timing,
    status code) because, handed on already, it can no longer be dropped.
    """

    def __init__(self, span: ReadableSpan, sanitizer: SdkSanitizer) -> None:
        self._raw = span
        self._sanitizer = sanitizer
        context = span.context
        if not getattr(context, "trace_state", None):
            self._context = context

    @classmethod
    def filled(cls, span: ReadableSpan, fields: dict[str, Any]) -> SanitizedSpan:
        """A copy whose fields are already sanitized (the exporter wrapper's path)."""
        copy = cls.__new__(cls)
        copy._raw = span
        copy.__dict__.update(fields)
        return copy

    def __getattr__(self, name: str) -> Any:
        if name not in _LAZY:
            raise AttributeError(name)
        sanitizer = self._sanitizer
        try:
            fields = sanitizer.span_fields(self._raw)
        except Exception as error:  # noqa: BLE001 - fail closed: nothing of the raw span passes
            sanitizer.failed("span", error)
            fields = sanitizer.husk_fields(self._raw)
        self.__dict__.update(fields)
        return fields[name]

    @property
    def dropped_attributes(self) -> int:
        return self._raw.dropped_attributes

    @property
    def dropped_events(self) -> int:
        return self._raw.dropped_events

    @property
    def dropped_links(self) -> int:
        return self._raw.dropped_links


class PrivacySpanProcessor(SpanProcessor):
    """Hands ``delegate`` a sanitized copy of every ended span; the delegate never sees the raw
    span, live or ended (its ``on_start`` is not called).

    ``policy`` is a :class:`~otelpriv.Policy` or a policy file; without it, and without
    ``engine``, the policy and key named by ``OTELPRIV_POLICY`` and ``OTELPRIV_KEY_FILE`` apply
    (or the built-in default policy). ``engine`` shares one engine between processors; build it
    with :func:`otelpriv.engine_from_files` to make a bad policy stop the application at start.
    """

    def __init__(
        self,
        delegate: SpanProcessor,
        policy: Any = None,
        *,
        key_file: Any = None,
        engine: Engine | None = None,
    ) -> None:
        if not callable(getattr(delegate, "on_end", None)):
            raise TypeError(f"delegate must be a span processor, not {type(delegate).__name__}")
        self._delegate = delegate
        self._sanitizer = SdkSanitizer.create("spans", policy, key_file, engine)

    @property
    def outcome(self) -> Outcome:
        """What was changed, by rule, and how many spans were dropped, since the start."""
        return self._sanitizer.outcome

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        """Nothing: the delegate is to see sanitized spans only."""

    def on_end(self, span: ReadableSpan) -> None:
        sanitizer = self._sanitizer
        try:
            if sanitizer.engine is None:
                sanitizer.dropped()
                return
            self._delegate.on_end(SanitizedSpan(span, sanitizer))
        except Exception as error:  # noqa: BLE001 - never raise into the application
            sanitizer.log_once("on_end", "the delegate of otelpriv's %s raised %s", "span", error)

    def shutdown(self) -> None:
        try:
            self._delegate.shutdown()
        except Exception as error:  # noqa: BLE001 - never raise into the application
            self._sanitizer.log_once("shutdown", "%s shutdown failed (%s)", "span", error)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return call_with_timeout(self._delegate.force_flush, timeout_millis) is not False
        except Exception as error:  # noqa: BLE001 - never raise into the application
            self._sanitizer.log_once("flush", "%s force_flush failed (%s)", "span", error)
            return False


class PrivacyLogRecordProcessor(LogRecordProcessor):
    """Hands ``delegate`` a sanitized copy of every log record: body, attributes, event name,
    resource and scope. Arguments as for :class:`PrivacySpanProcessor`.
    """

    def __init__(
        self,
        delegate: LogRecordProcessor,
        policy: Any = None,
        *,
        key_file: Any = None,
        engine: Engine | None = None,
    ) -> None:
        if not callable(getattr(delegate, "on_emit", None)):
            raise TypeError(f"delegate must be a log processor, not {type(delegate).__name__}")
        self._delegate = delegate
        self._sanitizer = SdkSanitizer.create("log records", policy, key_file, engine)

    @property
    def outcome(self) -> Outcome:
        """What was changed, by rule, and how many log records were dropped, since the start."""
        return self._sanitizer.outcome

    def on_emit(self, log_record: Any) -> None:
        sanitizer = self._sanitizer
        if sanitizer.engine is None:
            sanitizer.dropped()
            return
        try:
            clean = sanitizer.log_record(log_record)
        except Exception as error:  # noqa: BLE001 - fail closed: drop the record
            sanitizer.failed("log record", error)
            return
        try:
            self._delegate.on_emit(clean)
        except Exception as error:  # noqa: BLE001 - never raise into the application
            sanitizer.log_once("on_emit", "the delegate of otelpriv's %s raised %s", "log", error)

    def enabled(self, **kwargs: Any) -> bool:
        try:
            return bool(self._delegate.enabled(**kwargs))
        except Exception:  # noqa: BLE001 - an unanswerable question means "yes"
            return True

    def shutdown(self) -> None:
        try:
            self._delegate.shutdown()
        except Exception as error:  # noqa: BLE001 - never raise into the application
            self._sanitizer.log_once("shutdown", "%s shutdown failed (%s)", "log", error)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return call_with_timeout(self._delegate.force_flush, timeout_millis) is not False
        except Exception as error:  # noqa: BLE001 - never raise into the application
            self._sanitizer.log_once("flush", "%s force_flush failed (%s)", "log", error)
            return False
