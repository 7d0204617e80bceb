"""The engine applied to the OpenTelemetry Python SDK's own objects: spans, log records, metrics.

The processors and exporter wrappers in :mod:`otelpriv._processors` and :mod:`otelpriv._exporters`
are thin: each owns one :class:`SdkSanitizer`, which turns an SDK item into a sanitized copy.
Nothing is changed in place, for two reasons: the SDK freezes a span's attributes before
``on_end`` runs, and the same item may also go to processors that are not ours.

A copy shares every part that did not change (attribute maps, events, links, contexts).
Resources and instrumentation scopes are the same few objects for every item; their sanitized
copies are cached by identity. Failures are handled at two depths, as in the OTLP adapter: the
engine redacts a value whole when its rule fails, and an item whose walk fails is dropped by the
caller (:meth:`SdkSanitizer.failed`). Counts go to :attr:`SdkSanitizer.outcome`; the log says
once that something failed, with the exception's type, never a value.
"""

from __future__ import annotations

import copy
import inspect
import logging
import os
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.metrics.export import MetricsData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, Status, TraceState

from otelpriv._engine import Engine, Sanitizer
from otelpriv._environment import OTELPRIV_KEY_FILE, engine_from_files
from otelpriv._errors import OtelprivError
from otelpriv._otlp import AUDIT_KEYS, AUDIT_PREFIX, Outcome
from otelpriv._policy import Policy
from otelpriv._pseudonym import load_key_file

__all__ = ["SdkSanitizer", "call_with_timeout"]

_log = logging.getLogger("otelpriv")
_CACHE_LIMIT = 256
_SCALARS = frozenset({str, int, float, bool})


def _build_engine(policy: Any, key_file: Any, engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    if isinstance(policy, Policy):
        key_path = key_file or os.environ.get(OTELPRIV_KEY_FILE) or None
        return Engine(policy, load_key_file(key_path) if key_path else None)
    return engine_from_files(
        os.fspath(policy) if policy else None, os.fspath(key_file) if key_file else None
    )


class SdkSanitizer:
    """One engine, caches for the resources and scopes it has seen, and a running tally.

    Built with ``engine`` None when the policy or key could not be loaded: the owner then drops
    every item (fail-closed) instead of raising into the application.
    """

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self.outcome = Outcome()
        self._lock = threading.Lock()
        self._logged: set[str] = set()
        self._resources: dict[int, tuple[Resource, Resource, Sanitizer]] = {}
        self._scopes: dict[tuple[int, int], tuple[InstrumentationScope, InstrumentationScope]] = {}

    @classmethod
    def create(
        cls, signal: str, policy: Any = None, key_file: Any = None, engine: Engine | None = None
    ) -> SdkSanitizer:
        """From the owner's arguments: an engine, a policy object or path, or the environment."""
        if engine is not None and (policy is not None or key_file is not None):
            raise TypeError("pass either engine= or policy= and key_file=, not both")
        if policy is not None and not isinstance(policy, Policy | str | os.PathLike):
            raise TypeError(f"policy must be a Policy or a path, not {type(policy).__name__}")
        try:
            return cls(_build_engine(policy, key_file, engine))
        except Exception as error:  # noqa: BLE001 - a bad policy must not stop the application
            reason = str(error) if isinstance(error, OtelprivError) else type(error).__name__
            _log.error("otelpriv cannot load its policy, so it drops all %s: %s", signal, reason)
            return cls(None)

    def dropped(self) -> None:
        """Count an item dropped without a word: the missing policy was logged at the start."""
        with self._lock:
            self.outcome.dropped_items += 1

    def failed(self, what: str, error: Exception) -> None:
        """An item could not be sanitized and is dropped: counted always, logged once."""
        self.dropped()
        self.log_once(what, "otelpriv dropped a %s it could not sanitize (%s)", what, error)

    def log_once(self, kind: str, message: str, subject: str, error: Exception) -> None:
        """Log one kind of fault the first time only, with the exception's type, never values."""
        if kind in self._logged:
            return
        self._logged.add(kind)
        _log.error(message + "; later ones are not logged", subject, type(error).__name__)

    def _count(self, hits: list[str]) -> None:
        if hits:
            with self._lock:
                self.outcome.rules.update(hits)
                self.outcome.failed_values += hits.count("error")

    def resource(self, resource: Resource) -> tuple[Resource, Sanitizer]:
        """The sanitized copy of a resource and the sanitizer for its ``service.name``."""
        found = self._resources.get(id(resource))
        if found is not None and found[0] is resource:
            return found[1], found[2]
        assert self.engine is not None
        attributes = resource.attributes
        service = attributes.get("service.name")
        sanitizer = self.engine.for_service(service if isinstance(service, str) else None)
        hits: list[str] = []
        cleaned = _attributes(sanitizer, attributes, hits, None)
        schema_url = sanitizer.safe_text(resource.schema_url, hits)
        clean = resource
        if cleaned is not attributes or schema_url is not resource.schema_url:
            clean = Resource(cleaned, schema_url)
        self._count(hits)
        if len(self._resources) >= _CACHE_LIMIT:
            self._resources.clear()
        self._resources[id(resource)] = (resource, clean, sanitizer)
        return clean, sanitizer

    def scope(
        self, scope: InstrumentationScope | None, sanitizer: Sanitizer
    ) -> InstrumentationScope | None:
        """The sanitized copy of an instrumentation scope: name, version, schema URL, attributes."""
        if scope is None:
            return scope
        key = (id(scope), id(sanitizer))
        found = self._scopes.get(key)
        if found is not None and found[0] is scope:
            return found[1]
        hits: list[str] = []
        texts = [sanitizer.safe_text(text, hits) for text in _scope_texts(scope)]
        cleaned = _attributes(sanitizer, scope.attributes, hits, None)
        clean = scope
        if cleaned is not scope.attributes or texts != list(_scope_texts(scope)):
            clean = InstrumentationScope(*texts, cleaned)
        self._count(hits)
        if len(self._scopes) >= _CACHE_LIMIT:
            self._scopes.clear()
        self._scopes[key] = (scope, clean)
        return clean

    def span_fields(self, span: ReadableSpan) -> dict[str, Any]:
        """The private fields of a sanitized copy of ``span``; raises when the walk fails."""
        resource, sanitizer = self.resource(span.resource)
        hits: list[str] = []
        keys: list[str] | None = [] if sanitizer.policy.audit.key_names else None
        name = sanitizer.safe_text(span.name, hits)
        attributes = _attributes(sanitizer, span._attributes, hits, keys)
        events = span._events
        if events:
            events = tuple(_event(sanitizer, event, hits, keys) for event in events)
        links = span._links
        if links:
            links = tuple(_link(sanitizer, link, hits, keys) for link in links)
        context = _context(sanitizer, span.context, hits)
        status = span.status
        if status.description:
            description = sanitizer.safe_text(status.description, hits)
            if description is not status.description:
                status = Status(status.status_code, description)
        fields = {
            "_context": context,
            "_name": name,
            "_attributes": _audit(sanitizer, attributes, hits, keys),
            "_events": events,
            "_links": links,
            "_status": status,
            "_resource": resource,
            "_instrumentation_scope": self.scope(span.instrumentation_scope, sanitizer),
            "_instrumentation_info": getattr(span, "_instrumentation_info", None),
            "_kind": span.kind,
            "_parent": span.parent,
            "_start_time": span.start_time,
            "_end_time": span.end_time,
        }
        self._count(hits)
        return fields

    def husk_fields(self, span: ReadableSpan) -> dict[str, Any]:
        """What is left of a span whose walk failed: ids, kind, timing, status code, resource.

        Used where the span was already handed on and cannot be dropped any more.
        """
        found = self._resources.get(id(span.resource))
        resource = found[1] if found is not None and found[0] is span.resource else None
        placeholder = self.engine.policy.placeholder if self.engine is not None else "[REDACTED]"
        return {
            "_context": _context_without_state(span.context),
            "_name": placeholder,
            "_attributes": {},
            "_events": (),
            "_links": (),
            "_status": Status(span.status.status_code),
            "_resource": resource if resource is not None else Resource.get_empty(),
            "_instrumentation_scope": None,
            "_instrumentation_info": None,
            "_kind": span.kind,
            "_parent": span.parent,
            "_start_time": span.start_time,
            "_end_time": span.end_time,
        }

    def log_record(self, record: Any) -> Any:
        """A sanitized copy of a ``ReadWriteLogRecord`` or ``ReadableLogRecord``; may raise.

        The copy is made with ``copy.copy`` so that ``__post_init__`` does not rebuild (and
        re-limit) the attributes; the exception object goes, its attributes stay sanitized.
        """
        resource, sanitizer = self.resource(record.resource or Resource.get_empty())
        original = record.log_record
        hits: list[str] = []
        keys: list[str] | None = [] if sanitizer.policy.audit.key_names else None
        body = sanitizer.safe_body(_plain(original.body), hits)
        attributes = _attributes(sanitizer, original.attributes, hits, keys)
        event_name = sanitizer.safe_text(original.event_name, hits)
        severity_text = sanitizer.safe_text(original.severity_text, hits)
        inner = copy.copy(original)
        inner.body = body
        inner.attributes = _audit(sanitizer, attributes, hits, keys)
        inner.event_name = event_name
        inner.severity_text = severity_text
        inner.exception = None
        clean = copy.copy(record)
        object.__setattr__(clean, "log_record", inner)
        object.__setattr__(clean, "resource", resource)
        scope = self.scope(record.instrumentation_scope, sanitizer)
        object.__setattr__(clean, "instrumentation_scope", scope)
        self._count(hits)
        return clean

    def metrics(self, data: MetricsData) -> MetricsData:
        """A sanitized copy of a metrics batch; a data point whose walk fails is dropped."""
        resource_metrics = []
        for item in data.resource_metrics:
            resource, sanitizer = self.resource(item.resource)
            hits: list[str] = []
            scopes = [
                replace(
                    scope_metrics,
                    scope=self.scope(scope_metrics.scope, sanitizer),
                    metrics=[
                        self._metric(sanitizer, metric, hits) for metric in scope_metrics.metrics
                    ],
                    schema_url=sanitizer.safe_text(scope_metrics.schema_url, hits),
                )
                for scope_metrics in item.scope_metrics
            ]
            schema_url = sanitizer.safe_text(item.schema_url, hits)
            self._count(hits)
            resource_metrics.append(
                replace(item, resource=resource, scope_metrics=scopes, schema_url=schema_url)
            )
        return replace(data, resource_metrics=resource_metrics)

    def _metric(self, sanitizer: Sanitizer, metric: Any, hits: list[str]) -> Any:
        points = []
        for point in metric.data.data_points:
            try:
                points.append(self._point(sanitizer, point))
            except Exception as error:  # noqa: BLE001 - fail closed: drop the data point
                self.failed("data point", error)
        return replace(
            metric,
            name=sanitizer.safe_text(metric.name, hits),
            description=sanitizer.safe_text(metric.description, hits),
            unit=sanitizer.safe_text(metric.unit, hits),
            data=replace(metric.data, data_points=points),
        )

    def _point(self, sanitizer: Sanitizer, point: Any) -> Any:
        hits: list[str] = []
        keys: list[str] | None = [] if sanitizer.policy.audit.key_names else None
        attributes = _attributes(sanitizer, point.attributes, hits, keys)
        exemplars = [
            replace(exemplar, filtered_attributes=cleaned)
            if (cleaned := _attributes(sanitizer, exemplar.filtered_attributes, hits, keys))
            is not exemplar.filtered_attributes
            else exemplar
            for exemplar in point.exemplars
        ]
        self._count(hits)
        changed = attributes is not point.attributes or any(
            new is not old for new, old in zip(exemplars, point.exemplars, strict=True)
        )
        if not changed and not hits:
            return point
        attributes = _audit(sanitizer, attributes, hits, keys)
        return replace(point, attributes=attributes, exemplars=exemplars)


def _plain(value: Any) -> Any:
    """The SDK keeps arrays as tuples and maps as mappings; the engine reads lists and dicts."""
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _attributes(
    sanitizer: Sanitizer, attributes: Any, hits: list[str], keys: list[str] | None
) -> Any:
    """Sanitized attributes, keeping the SDK's count of attributes dropped for limits.

    The engine gets a plain dict (``BoundedAttributes.copy``): iterating one is several times
    faster than iterating the SDK's mapping.
    """
    if not attributes:
        return attributes
    plain = attributes.copy() if isinstance(attributes, BoundedAttributes) else attributes
    if any(type(value) not in _SCALARS for value in plain.values()):
        plain = {key: _plain(value) for key, value in plain.items()}
    cleaned = sanitizer.attributes(plain, hits)
    if cleaned is plain:
        return attributes
    if keys is not None:
        keys.extend(
            sanitizer.rename(key, [])
            for key, value in plain.items()
            if cleaned.get(key) is not value
        )
    if isinstance(attributes, BoundedAttributes) and attributes.dropped:
        bounded = BoundedAttributes(maxlen=None, attributes=cleaned, immutable=False)
        bounded.dropped = attributes.dropped
        return bounded
    return cleaned


def _audit(sanitizer: Sanitizer, attributes: Any, hits: list[str], keys: list[str] | None) -> Any:
    """Write the counts (and, in debug mode, the key names) onto the item if the policy asks."""
    if not hits or not sanitizer.policy.audit.counts:
        return attributes
    audited = dict(attributes or {})
    for rule, count in sorted(Counter(hits).items()):
        audited[AUDIT_PREFIX + rule] = count
    if keys:
        audited[AUDIT_KEYS] = tuple(sorted(set(keys)))
    return audited


def _event(sanitizer: Sanitizer, event: Event, hits: list[str], keys: list[str] | None) -> Event:
    name = sanitizer.safe_text(event.name, hits)
    attributes = _attributes(sanitizer, event.attributes, hits, keys)
    if name is event.name and attributes is event.attributes:
        return event
    return Event(name, attributes, event.timestamp)


def _link(sanitizer: Sanitizer, link: Link, hits: list[str], keys: list[str] | None) -> Link:
    attributes = _attributes(sanitizer, link.attributes, hits, keys)
    context = _context(sanitizer, link.context, hits)
    if attributes is link.attributes and context is link.context:
        return link
    return Link(context, attributes)


def _context(sanitizer: Sanitizer, context: Any, hits: list[str]) -> Any:
    """A span context whose trace state (vendor keys and values) is sanitized."""
    state = getattr(context, "trace_state", None)
    if not state:
        return context
    pairs = [
        (sanitizer.safe_text(key, hits), sanitizer.safe_text(value, hits))
        for key, value in state.items()
    ]
    if pairs == list(state.items()):
        return context
    return SpanContext(
        context.trace_id,
        context.span_id,
        context.is_remote,
        context.trace_flags,
        TraceState(pairs),
    )


def _context_without_state(context: Any) -> Any:
    if not getattr(context, "trace_state", None):
        return context
    return SpanContext(context.trace_id, context.span_id, context.is_remote, context.trace_flags)


def _scope_texts(scope: InstrumentationScope) -> tuple[str, str | None, str]:
    return scope.name, scope.version, scope.schema_url


def call_with_timeout(method: Any, timeout_millis: float | None) -> Any:
    """Call ``shutdown`` or ``force_flush`` with the timeout if its signature takes one."""
    try:
        takes = "timeout_millis" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        takes = False
    if takes and timeout_millis is not None:
        return method(timeout_millis=timeout_millis)
    return method()
