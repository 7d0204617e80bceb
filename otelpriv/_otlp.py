"""The engine applied to OTLP export requests (traces, logs, metrics).

This is the relay's hot path. It walks a *view* of the request (see
:mod:`otelpriv._otlp_views`) in which every attribute and log body is still serialized bytes,
and looks each one up in a cache of what it became the last time. In real traffic almost
every attribute has been seen before (the same routes, agents, status codes, users), so a
clean attribute costs one dictionary lookup and is never decoded. An attribute not seen yet
is decoded, given to the handler its key resolves to, encoded again and remembered. Real
messages (the Python API, the CLI) take the same walk, each attribute serialized on the way.

Fields this OTLP version does not know cannot be sanitized, so they are discarded, inside the
remembered attributes too. Fail-closed at two depths: a value whose handler fails is replaced
by the placeholder, and an item (span, log record, data point) whose walk fails is removed
from the request. Both are counted in the returned :class:`Outcome`; the log line says how
many, never which values. A request that is not valid protobuf (an attribute with invalid
UTF-8, say) raises :class:`~google.protobuf.message.DecodeError` and is not forwarded.
"""

from __future__ import annotations

import logging
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from itertools import compress, count, repeat
from operator import is_not
from typing import Any

from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from otelpriv._actions import DropValue
from otelpriv._engine import Engine, Sanitizer, unique_key
from otelpriv._otlp_views import view_class

__all__ = [
    "AUDIT_KEYS",
    "AUDIT_PREFIX",
    "Outcome",
    "sanitize_logs",
    "sanitize_metrics",
    "sanitize_request",
    "sanitize_traces",
    "sanitize_view",
    "view_class",
]

_log = logging.getLogger("otelpriv")
AUDIT_PREFIX = "otelpriv.redacted."
AUDIT_KEYS = "otelpriv.redacted_keys"
_CARD_FLOOR = 10**11
_KNOWN_LIMIT = 1 << 16
_KNOWN_MAX_BYTES = 1024
_KNOWN_BUDGET = 8 << 20
_CLEAN = object()
_MAX_NESTING = 28


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


class _Edit:
    """What a serialized attribute becomes: new bytes (None: dropped), the rules that hit,
    and its key as it may be shown (sanitized: audit lists and reports print it)."""

    __slots__ = ("key", "raw", "renamed", "rules")

    def __init__(self, raw: bytes | None, rules: tuple[str, ...], key: str, renamed: bool):
        self.raw = raw
        self.rules = rules
        self.key = key
        self.renamed = renamed


class _Memory:
    """Serialized values one sanitizer has met, with what they became.

    New values go on probation; a value met again there is promoted to the table the walk
    looks in. Ids, timestamps and messages met once stay on probation and leave with it,
    instead of flushing the values that do repeat (routes, agents, users). Each part is
    cleared when full (by count, or by the bytes it holds) rather than evicted entry by
    entry: bounded, and cheaper on the hot path. Long values are not kept; they rarely
    repeat. Failures are not kept either, so each one is counted.
    """

    __slots__ = ("get", "held", "probation", "table")

    def __init__(self) -> None:
        self.table: dict[bytes, Any] = {}
        self.get = self.table.get
        self.probation: dict[bytes, Any] = {}
        self.held = [0, 0]

    def recall(self, raw: bytes) -> Any:
        """A value on probation, now promoted; None if it was never met."""
        result = self.probation.pop(raw, None)
        if result is not None:
            self._put(self.table, 0, raw, result)
        return result

    def remember(self, raw: bytes, result: Any) -> Any:
        if len(raw) <= _KNOWN_MAX_BYTES:
            self._put(self.probation, 1, raw, result)
        return result

    def _put(self, table: dict[bytes, Any], part: int, raw: bytes, result: Any) -> None:
        size = 2 * len(raw)
        if len(table) >= _KNOWN_LIMIT or self.held[part] + size > _KNOWN_BUDGET:
            table.clear()
            self.held[part] = 0
        table[raw] = result
        self.held[part] += size


class _Known:
    """What the walk remembers for one sanitizer: its attributes and its log bodies."""

    __slots__ = ("attributes", "bodies")

    def __init__(self) -> None:
        self.attributes = _Memory()
        self.bodies = _Memory()


_KNOWN: weakref.WeakKeyDictionary[Sanitizer, _Known] = weakref.WeakKeyDictionary()
_SERVICES: dict[bytes, str | None] = {}


def _known(sanitizer: Sanitizer) -> _Known:
    found = _KNOWN.get(sanitizer)
    if found is None:
        found = _KNOWN[sanitizer] = _Known()
    return found


class _Walk:
    """One pass over one request view, with its sanitizer switching per resource."""

    __slots__ = (
        "attributes",
        "audit",
        "by_key",
        "changed_keys",
        "engine",
        "hits",
        "known",
        "lookup",
        "outcome",
        "real",
        "sanitizer",
    )

    def __init__(self, engine: Engine, outcome: Outcome, by_key: bool, real: bool) -> None:
        self.engine = engine
        self.real = real
        self.attributes = self._messages if real else self._serialized
        self.outcome = outcome
        self.by_key = by_key
        self.hits: list[str] = []
        self.switch(engine.for_service(None))

    def switch(self, sanitizer: Sanitizer) -> None:
        self.sanitizer = sanitizer
        self.known = _known(sanitizer)
        self.lookup = self.known.attributes.get
        audit = sanitizer.policy.audit
        self.audit = audit.counts
        self.changed_keys: list[str] | None = [] if audit.counts and audit.key_names else None

    def resource(self, resource: Any) -> None:
        self.switch(self.engine.for_service(self._service(resource.attributes)))
        self.attributes(resource.attributes, self.hits)
        for ref in getattr(resource, "entity_refs", ()):
            self.fields(ref, ("schema_url", "type"), self.hits)
            for names in (ref.id_keys, ref.description_keys):
                for index, name in enumerate(names):
                    cleaned = self.sanitizer.rename(name, self.hits)
                    if cleaned is not name:
                        names[index] = cleaned

    def _service(self, attributes: Any) -> str | None:
        """The resource's ``service.name``, which picks the per-service rules."""
        if self.real:
            attributes = [kv.SerializeToString() for kv in attributes]
        for raw in attributes:
            name = _SERVICES.get(raw, _CLEAN)
            if name is _CLEAN:
                kv = KeyValue.FromString(raw)
                name = kv.value.string_value if kv.key == "service.name" else None
                if len(_SERVICES) >= _KNOWN_LIMIT:
                    _SERVICES.clear()
                _SERVICES[raw] = name
            if name is not None:
                return name
        return None

    def _serialized(self, attributes: Any, hits: list[str]) -> None:
        """Serialized attributes in place: the known clean ones cost one lookup each."""
        found = list(map(self.lookup, attributes))
        if found.count(_CLEAN) == len(found):
            return
        doomed: list[int] = []
        renamed: list[int] = []
        for index in compress(count(), map(is_not, found, repeat(_CLEAN))):
            edit = found[index]
            if edit is None:
                raw = attributes[index]
                edit = self.known.attributes.recall(raw) or self._resolve(raw)
                if edit is _CLEAN:
                    continue
            hits.extend(edit.rules)
            if edit.raw is None:
                doomed.append(index)
            else:
                attributes[index] = edit.raw
                if edit.renamed:
                    renamed.append(index)
            if edit.rules:
                if self.by_key:
                    self.outcome.by_key.update((rule, edit.key) for rule in edit.rules)
                if self.changed_keys is not None:
                    self.changed_keys.append(edit.key)
        if renamed:
            _distinct_keys(attributes, renamed, doomed)
        for index in reversed(doomed):
            del attributes[index]

    def _messages(self, attributes: Any, hits: list[str]) -> None:
        """``KeyValue`` messages (a real request, not a view): the same rules, written back.

        Each ``KeyValue`` that changes is rewritten where it is, so a reference to a span or
        a log record taken before the call sees the sanitized values.
        """
        before = [kv.SerializeToString() for kv in attributes]
        after = list(before)
        self._serialized(after, hits)
        if len(after) == len(before):
            for kv, old, new in zip(attributes, before, after, strict=True):
                if new is not old:
                    kv.ParseFromString(new)
            return
        del attributes[:]
        for raw in after:
            attributes.add().ParseFromString(raw)

    def _resolve(self, raw: bytes) -> Any:
        """An attribute not seen yet: decode, sanitize, encode, remember."""
        kv = KeyValue.FromString(raw)
        kv.DiscardUnknownFields()
        key = kv.key
        local: list[str] = []
        failed = False
        try:
            self._value(key, kv.value, local)
        except DecodeError:
            raise
        except DropValue:
            dropped = _Edit(None, tuple(local), self.sanitizer.rename(key, []), False)
            return self.known.attributes.remember(raw, dropped)
        except Exception as error:  # noqa: BLE001 - fail closed on any engine fault
            self._failed(kv.value, error, local)
            failed = True

        name = self.sanitizer.rename(key, local)
        renamed = name != key
        if renamed:
            kv.key = name
        out = kv.SerializeToString()
        if failed:
            return _Edit(out, tuple(local), name, renamed)
        result = _Edit(out, tuple(local), name, renamed) if local or out != raw else _CLEAN
        return self.known.attributes.remember(raw, result)

    def _value(self, key: str, value: AnyValue, hits: list[str]) -> None:
        sanitizer = self.sanitizer
        text = value.string_value
        if text:
            out = sanitizer.string_handler(key)(text, hits)
            if out is not text:
                _assign(value, out)
            return
        kind = value.WhichOneof("value")
        if kind is None or kind == "string_value":
            return
        handler = sanitizer.handler(key)
        if handler is sanitizer.auto and _plain_number(value, kind):
            return
        plain = _to_python(value)
        out = sanitizer.value(key, plain, hits)
        if out is not plain:
            _assign(value, out)

    def body(self, raw: bytes, hits: list[str]) -> bytes:
        """A log body: strings get the text rules, maps and arrays the key-aware walk."""
        bodies = self.known.bodies
        edit = bodies.get(raw) or bodies.recall(raw)
        if edit is None:
            value = AnyValue.FromString(raw)
            value.DiscardUnknownFields()
            local: list[str] = []
            try:
                plain = _to_python(value)
                out = self.sanitizer.auto(plain, local)
                if out is not plain:
                    _assign(value, out)
            except DecodeError:
                raise
            except Exception as error:  # noqa: BLE001 - fail closed on any engine fault
                self._failed(value, error, hits)
                return value.SerializeToString()
            cleaned = value.SerializeToString()
            edit: Any = _CLEAN
            if cleaned != raw or local:
                edit = _Edit(cleaned, tuple(local), "", False)
            bodies.remember(raw, edit)
        if edit is _CLEAN:
            return raw
        hits.extend(edit.rules)
        return edit.raw

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
        for rule, times in sorted(Counter(hits).items()):
            audit = KeyValue(key=AUDIT_PREFIX + rule, value=AnyValue(int_value=times))
            self._append(attributes, audit)
        if self.changed_keys:
            audit = KeyValue(key=AUDIT_KEYS)
            for key in sorted(set(self.changed_keys)):
                audit.value.array_value.values.add(string_value=key)
            self._append(attributes, audit)
            self.changed_keys.clear()

    def _append(self, attributes: Any, kv: KeyValue) -> None:
        if self.real:
            attributes.append(kv)
        else:
            attributes.append(kv.SerializeToString())

    def _failed(self, value: AnyValue, error: Exception, hits: list[str]) -> None:
        self.outcome.failed_values += 1
        hits.append("error")
        _assign(value, self.sanitizer.placeholder)
        if self.outcome.failed_values == 1:
            _log.error(
                "a value could not be sanitized and was redacted whole (%s)",
                type(error).__name__,
            )


def _distinct_keys(attributes: Any, renamed: list[int], doomed: list[int]) -> None:
    """Renamed keys stay distinct from the item's other keys (OTLP allows no twins).

    A key that was not renamed keeps its name; renamed ones that collide get ``#2``, ``#3``…
    in the order they come.
    """
    keys = [KeyValue.FromString(raw).key for raw in attributes]
    skip = set(renamed) | set(doomed)
    taken = {key for index, key in enumerate(keys) if index not in skip}
    for index in renamed:
        key = unique_key(keys[index], taken)
        taken.add(key)
        if key != keys[index]:
            kv = KeyValue.FromString(attributes[index])
            kv.key = key
            attributes[index] = kv.SerializeToString()


def _plain_number(value: AnyValue, kind: str) -> bool:
    """A number no rule needs to see: too short to be a card, or a flag."""
    if kind == "int_value":
        return -_CARD_FLOOR < value.int_value < _CARD_FLOOR
    if kind == "double_value":
        return -_CARD_FLOOR < value.double_value < _CARD_FLOOR
    return kind == "bool_value"


def _to_python(value: AnyValue, depth: int = 0) -> Any:
    """A value as plain Python; twin keys in a map both stay (the later one as ``key#2``).

    A map cannot hold the same key twice, and keeping only one would forward the other
    unseen whenever nothing else in the value changes.
    """
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        _check_depth(depth)
        return [_to_python(item, depth + 1) for item in value.array_value.values]
    if kind == "kvlist_value":
        _check_depth(depth)
        out: dict[str, Any] = {}
        for kv in value.kvlist_value.values:
            out[unique_key(kv.key, out)] = _to_python(kv.value, depth + 1)
        return out
    return getattr(value, kind)


def _check_depth(depth: int) -> None:
    """Refuse values nested deeper than any position in a request can hold.

    Protobuf parsers refuse messages nested more than 100 deep. An attribute is remembered
    by its bytes wherever it sits, and sits at most 8 messages down (an exemplar's), with
    up to 3 messages per level of a map: past 28 levels it could be refused downstream.
    """
    if depth >= _MAX_NESTING:
        raise DecodeError(f"a value is nested more than {_MAX_NESTING} levels deep")


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
    """Sanitize every item of a repeated field; one whose walk fails is dropped (fail-closed).

    A decode error is not the item's fault but the request's: it goes up, and the whole
    request is refused as malformed.
    """
    failed = []
    for index, item in enumerate(items):
        try:
            sanitize(item)
        except DecodeError:
            raise
        except Exception as error:  # noqa: BLE001 - fail closed: drop the item
            outcome.dropped_items += 1
            failed.append(index)
            if outcome.dropped_items == 1:
                _log.error(
                    "a %s could not be sanitized and was dropped (%s)", what, type(error).__name__
                )
    for index in reversed(failed):
        del items[index]


def _walk(request: Any, engine: Engine, by_key: bool, real: bool) -> Outcome:
    """The walk every signal shares: resources, their scopes, the scopes' items."""
    request.DiscardUnknownFields()
    outcome = Outcome()
    walk = _Walk(engine, outcome, by_key, real)
    (resources, scopes, items), item, what = _PATHS[type(request)]
    for resource in getattr(request, resources):
        walk.resource(resource.resource)
        walk.fields(resource, ("schema_url",), walk.hits)
        for scope in getattr(resource, scopes):
            walk.scope(scope)
            _each_item(getattr(scope, items), partial(item, walk), outcome, what)
    outcome.rules.update(walk.hits)
    return outcome


def _span(walk: _Walk, span: Any) -> None:
    """Every field of a span that can carry a value; the empty ones cost one check each.

    The name and the attributes, which every span has, are read inline: a method call per
    span is a measurable share of the walk.
    """
    hits = walk.hits if not walk.audit else []
    name = span.name
    if name:
        cleaned = walk.sanitizer.text(name, hits)
        if cleaned is not name:
            span.name = cleaned
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
    if span.status.message:
        walk.fields(span.status, ("message",), hits)
    if walk.audit:
        walk.finish_item(span.attributes, hits)


def _record(walk: _Walk, record: Any) -> None:
    hits = walk.item_hits()
    if not walk.real:
        if record.body:
            record.body = walk.body(record.body, hits)
    elif record.HasField("body"):
        raw = record.body.SerializeToString()
        cleaned = walk.body(raw, hits)
        if cleaned is not raw:
            record.body.ParseFromString(cleaned)
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


_Path = tuple[tuple[str, str, str], Callable[[_Walk, Any], None], str]
_REAL_PATHS: dict[type[Message], _Path] = {
    ExportTraceServiceRequest: (("resource_spans", "scope_spans", "spans"), _span, "span"),
    ExportLogsServiceRequest: (
        ("resource_logs", "scope_logs", "log_records"),
        _record,
        "log record",
    ),
    ExportMetricsServiceRequest: (
        ("resource_metrics", "scope_metrics", "metrics"),
        _metric,
        "metric",
    ),
}
_REQUESTS = tuple(_REAL_PATHS)
_VIEWS = tuple(view_class(request) for request in _REQUESTS)
_PATHS = {**_REAL_PATHS, **{view_class(real): path for real, path in _REAL_PATHS.items()}}


def sanitize_view(view: Message, engine: Engine, *, by_key: bool = False) -> Outcome:
    """Sanitize, in place, the view of an export request: the relay's fast path.

    ``view`` is a ``view_class(ExportTraceServiceRequest)`` (or logs, metrics) parsed from the
    bytes the client sent; serialize it to get the sanitized request.
    """
    if not isinstance(view, _VIEWS):
        raise TypeError(f"not a view of an OTLP export request: {type(view).__name__}")
    return _walk(view, engine, by_key, real=False)


def sanitize_request(request: Message, engine: Engine, *, by_key: bool = False) -> Outcome:
    """Sanitize any of the three OTLP export requests, or their views, in place."""
    if isinstance(request, _VIEWS):
        return _walk(request, engine, by_key, real=False)
    if not isinstance(request, _REQUESTS):
        raise TypeError(f"not an OTLP export request: {type(request).__name__}")
    return _walk(request, engine, by_key, real=True)


def sanitize_traces(
    request: ExportTraceServiceRequest, engine: Engine, *, by_key: bool = False
) -> Outcome:
    """Sanitize every span of a request in place."""
    return sanitize_request(request, engine, by_key=by_key)


def sanitize_logs(
    request: ExportLogsServiceRequest, engine: Engine, *, by_key: bool = False
) -> Outcome:
    """Sanitize every log record of a request in place."""
    return sanitize_request(request, engine, by_key=by_key)


def sanitize_metrics(
    request: ExportMetricsServiceRequest, engine: Engine, *, by_key: bool = False
) -> Outcome:
    """Sanitize every data point, exemplar and metric description in place."""
    return sanitize_request(request, engine, by_key=by_key)


def keyvalue(key: str, value: Any) -> KeyValue:
    """A KeyValue holding a plain Python value (tests and examples build requests with it)."""
    kv = KeyValue(key=key)
    _assign(kv.value, value)
    return kv
