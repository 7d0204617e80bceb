"""The engine applied in place to OTLP protobuf requests (traces, logs, metrics).

This is the relay's and the CLI's hot path. It walks the request once, reads each attribute key,
and hands string values straight to the handler the key resolves to; arrays and maps are
converted to plain Python only when present. Nothing is copied unless it changes.

Fields this OTLP version does not know cannot be sanitized, so they are discarded first.
Fail-closed at two depths: a value whose handler fails is replaced by the placeholder, and an
item (span, log record, data point) whose walk fails is removed from the request. Both are
counted in the returned :class:`Outcome`; the log line says how many, never which values.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from otelpriv._actions import DropValue
from otelpriv._engine import Engine, Sanitizer, unique_key

__all__ = [
    "AUDIT_KEYS",
    "AUDIT_PREFIX",
    "Outcome",
    "sanitize_logs",
    "sanitize_metrics",
    "sanitize_request",
    "sanitize_traces",
]

_log = logging.getLogger("otelpriv")
AUDIT_PREFIX = "otelpriv.redacted."
AUDIT_KEYS = "otelpriv.redacted_keys"
_CARD_FLOOR = 10**11


@dataclass
class Outcome:
    """What one request went through: counts only, never values."""

    rules: Counter[str] = field(default_factory=Counter)
    by_key: Counter[tuple[str, str]] = field(default_factory=Counter)
    dropped_items: int = 0
    failed_values: int = 0

    @property
    def changed(self) -> int:
        return sum(self.rules.values())


class _Walk:
    """One pass over one request, with its sanitizer switching per resource."""

    __slots__ = ("audit", "by_key", "changed_keys", "engine", "hits", "outcome", "sanitizer")

    def __init__(self, engine: Engine, outcome: Outcome, by_key: bool) -> None:
        self.engine = engine
        self.outcome = outcome
        self.by_key = by_key
        self.sanitizer: Sanitizer = engine.for_service(None)
        self.audit = False
        self.changed_keys: list[str] | None = None
        self.hits: list[str] = []

    def resource(self, resource: Any) -> None:
        service = None
        for kv in resource.attributes:
            if kv.key == "service.name":
                service = kv.value.string_value
                break
        self.sanitizer = self.engine.for_service(service)
        audit = self.sanitizer.policy.audit
        self.audit = audit.counts
        self.changed_keys = [] if audit.counts and audit.key_names else None
        self.attributes(resource.attributes, self.hits)

    def attributes(self, attributes: Any, hits: list[str]) -> None:
        if self.by_key or self.changed_keys is not None:
            self._tracked_attributes(attributes, hits)
            return
        sanitizer = self.sanitizer
        handlers = sanitizer.string_handlers
        others = sanitizer.handlers
        auto = sanitizer.auto
        renamed = sanitizer.renamed
        doomed: list[int] = []
        index = -1
        for kv in attributes:
            index += 1
            value = kv.value
            text = value.string_value
            try:
                if text:
                    handler = handlers.get(kv.key) or sanitizer.string_handler(kv.key)
                    out = handler(text, hits)
                    if out is not text:
                        if type(out) is str:
                            value.string_value = out
                        else:
                            _assign(value, out)
                else:
                    kind = value.WhichOneof("value")
                    if kind is not None and kind != "string_value":
                        handler = others.get(kv.key) or sanitizer.handler(kv.key)
                        if handler is not auto or not _plain_number(value, kind):
                            self._other(handler, value, hits)
            except DropValue:
                doomed.append(index)
            except Exception as error:  # noqa: BLE001 - fail closed on any engine fault
                self._failed(value, error, hits)
            if renamed and kv.key in renamed:
                kv.key = _renamed(sanitizer, attributes, index, kv.key, hits)
        for index in reversed(doomed):
            del attributes[index]

    def _other(self, handler: Any, value: AnyValue, hits: list[str]) -> None:
        """Values that are not strings go through the handler as plain Python values."""
        plain = _to_python(value)
        out = handler(plain, hits)
        if out is not plain:
            _assign(value, out)

    def _tracked_attributes(self, attributes: Any, hits: list[str]) -> None:
        """The same walk, noting which keys changed (for --report and the audit key names)."""
        sanitizer = self.sanitizer
        doomed: list[int] = []
        for index, kv in enumerate(attributes):
            key = kv.key
            value = kv.value
            before = len(hits)
            try:
                if value.HasField("string_value"):
                    text = value.string_value
                    out = sanitizer.handler(key)(text, hits)
                    if out is not text:
                        _assign(value, out)
                else:
                    self._other(sanitizer.handler(key), value, hits)
            except DropValue:
                doomed.append(index)
            except Exception as error:  # noqa: BLE001 - fail closed on any engine fault
                self._failed(value, error, hits)
            if key in sanitizer.renamed:
                kv.key = _renamed(sanitizer, attributes, index, key, hits)
            if len(hits) > before:
                if self.by_key:
                    self.outcome.by_key.update((rule, key) for rule in hits[before:])
                if self.changed_keys is not None:
                    self.changed_keys.append(key)
        for index in reversed(doomed):
            del attributes[index]

    def any_value(self, value: AnyValue, hits: list[str]) -> None:
        """A log body: strings get the text rules, maps and arrays the key-aware walk."""
        try:
            plain = _to_python(value)
            out = self.sanitizer.auto(plain, hits)
            if out is not plain:
                _assign(value, out)
        except Exception as error:  # noqa: BLE001 - fail closed on any engine fault
            self._failed(value, error, hits)

    def text(self, text: str, hits: list[str]) -> str:
        return self.sanitizer.text(text, hits) if text else text

    def fields(self, message: Any, names: tuple[str, ...], hits: list[str]) -> None:
        """String fields that are not attributes (scope names, trace state, units...)."""
        for name in names:
            value = getattr(message, name)
            if value:
                cleaned = self.sanitizer.text(value, hits)
                if cleaned is not value:
                    setattr(message, name, cleaned)

    def scope(self, container: Any) -> None:
        """A scope and the schema URLs around it: every field that could carry a value."""
        self.fields(container, ("schema_url",), self.hits)
        self.fields(container.scope, ("name", "version"), self.hits)
        self.attributes(container.scope.attributes, self.hits)

    def item_hits(self) -> list[str]:
        """Where an item's hits go: the request's list, or the item's own when auditing."""
        return [] if self.audit else self.hits

    def finish_item(self, attributes: Any, hits: list[str]) -> None:
        """Account for one item's changes and, if the policy asks, write the audit counts."""
        if not self.audit or not hits:
            return
        self.hits.extend(hits)
        for rule, count in sorted(Counter(hits).items()):
            attributes.add(key=AUDIT_PREFIX + rule).value.int_value = count
        if self.changed_keys:
            keys = attributes.add(key=AUDIT_KEYS).value.array_value.values
            for key in sorted(set(self.changed_keys)):
                keys.add(string_value=key)
            self.changed_keys.clear()

    def _failed(self, value: AnyValue, error: Exception, hits: list[str]) -> None:
        self.outcome.failed_values += 1
        hits.append("error")
        _assign(value, self.sanitizer.placeholder)
        if self.outcome.failed_values == 1:
            _log.error(
                "a value could not be sanitized and was redacted whole (%s)",
                type(error).__name__,
            )


def _plain_number(value: AnyValue, kind: str) -> bool:
    """A number no rule needs to see: too short to be a card, or a flag."""
    if kind == "int_value":
        return -_CARD_FLOOR < value.int_value < _CARD_FLOOR
    if kind == "double_value":
        return -_CARD_FLOOR < value.double_value < _CARD_FLOOR
    return kind == "bool_value"


def _renamed(sanitizer: Sanitizer, attributes: Any, index: int, key: str, hits: list[str]) -> str:
    """The sanitized key, kept distinct from the item's other keys (OTLP allows no twins)."""
    taken = {other.key for number, other in enumerate(attributes) if number != index}
    return unique_key(sanitizer.rename(key, hits), taken)


def _to_python(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_to_python(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _to_python(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def _assign(target: AnyValue, value: Any) -> None:
    if isinstance(value, str):
        target.string_value = value
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, bytes):
        target.bytes_value = value
    elif isinstance(value, list):
        target.array_value.Clear()
        for item in value:
            _assign(target.array_value.values.add(), item)
    elif isinstance(value, dict):
        target.kvlist_value.Clear()
        for key, item in value.items():
            _assign(target.kvlist_value.values.add(key=str(key)).value, item)
    elif value is None:
        target.Clear()
    else:
        raise TypeError(f"cannot store a value of type {type(value).__name__}")


def _each_item(items: Any, sanitize: Callable[[Any], None], outcome: Outcome, what: str) -> None:
    """Sanitize every item of a repeated field; one whose walk fails is dropped (fail-closed)."""
    failed = []
    for index, item in enumerate(items):
        try:
            sanitize(item)
        except Exception as error:  # noqa: BLE001 - fail closed: drop the item
            outcome.dropped_items += 1
            failed.append(index)
            if outcome.dropped_items == 1:
                _log.error(
                    "a %s could not be sanitized and was dropped (%s)", what, type(error).__name__
                )
    for index in reversed(failed):
        del items[index]


def _sanitize(
    request: Any,
    engine: Engine,
    by_key: bool,
    path: tuple[str, str, str],
    item: Callable[[_Walk, Any], None],
    what: str,
) -> Outcome:
    """The walk every signal shares: resources, their scopes, the scopes' items."""
    request.DiscardUnknownFields()
    outcome = Outcome()
    walk = _Walk(engine, outcome, by_key)
    resources, scopes, items = path
    for resource in getattr(request, resources):
        walk.resource(resource.resource)
        walk.fields(resource, ("schema_url",), walk.hits)
        for scope in getattr(resource, scopes):
            walk.scope(scope)
            _each_item(getattr(scope, items), partial(item, walk), outcome, what)
    outcome.rules.update(walk.hits)
    return outcome


def _span(walk: _Walk, span: Any) -> None:
    """Every field of a span that can carry a value; the empty ones cost one check each."""
    hits = walk.item_hits()
    walk.fields(span, ("name",), hits)
    walk.attributes(span.attributes, hits)
    if span.events:
        for event in span.events:
            walk.fields(event, ("name",), hits)
            walk.attributes(event.attributes, hits)
    if span.links:
        for link in span.links:
            walk.attributes(link.attributes, hits)
            walk.fields(link, ("trace_state",), hits)
    if span.trace_state:
        walk.fields(span, ("trace_state",), hits)
    status = span.status
    if status.message:
        walk.fields(status, ("message",), hits)
    walk.finish_item(span.attributes, hits)


def _record(walk: _Walk, record: Any) -> None:
    hits = walk.item_hits()
    if record.HasField("body"):
        walk.any_value(record.body, hits)
    walk.attributes(record.attributes, hits)
    walk.fields(record, ("event_name", "severity_text"), hits)
    walk.finish_item(record.attributes, hits)


def _metric(walk: _Walk, metric: Any) -> None:
    walk.fields(metric, ("name", "description", "unit"), walk.hits)
    walk.attributes(metric.metadata, walk.hits)
    kind = metric.WhichOneof("data")
    if kind is not None:
        points = getattr(metric, kind).data_points
        _each_item(points, partial(_point, walk), walk.outcome, "data point")


def _point(walk: _Walk, point: Any) -> None:
    hits = walk.item_hits()
    walk.attributes(point.attributes, hits)
    for exemplar in getattr(point, "exemplars", ()):
        walk.attributes(exemplar.filtered_attributes, hits)
    walk.finish_item(point.attributes, hits)


def sanitize_traces(
    request: ExportTraceServiceRequest, engine: Engine, *, by_key: bool = False
) -> Outcome:
    """Sanitize every span of a request in place."""
    path = ("resource_spans", "scope_spans", "spans")
    return _sanitize(request, engine, by_key, path, _span, "span")


def sanitize_logs(
    request: ExportLogsServiceRequest, engine: Engine, *, by_key: bool = False
) -> Outcome:
    """Sanitize every log record of a request in place."""
    path = ("resource_logs", "scope_logs", "log_records")
    return _sanitize(request, engine, by_key, path, _record, "log record")


def sanitize_metrics(
    request: ExportMetricsServiceRequest, engine: Engine, *, by_key: bool = False
) -> Outcome:
    """Sanitize every data point, exemplar and metric description in place."""
    path = ("resource_metrics", "scope_metrics", "metrics")
    return _sanitize(request, engine, by_key, path, _metric, "metric")


def sanitize_request(request: Any, engine: Engine, *, by_key: bool = False) -> Outcome:
    """Sanitize any of the three OTLP export requests in place."""
    if isinstance(request, ExportTraceServiceRequest):
        return sanitize_traces(request, engine, by_key=by_key)
    if isinstance(request, ExportLogsServiceRequest):
        return sanitize_logs(request, engine, by_key=by_key)
    if isinstance(request, ExportMetricsServiceRequest):
        return sanitize_metrics(request, engine, by_key=by_key)
    raise TypeError(f"not an OTLP export request: {type(request).__name__}")


def keyvalue(key: str, value: Any) -> KeyValue:
    """A KeyValue holding a plain Python value (tests and examples build requests with it)."""
    kv = KeyValue(key=key)
    _assign(kv.value, value)
    return kv
