"""No-code setup: otelpriv's exporter wrappers as the SDK's own exporter entry points.

``opentelemetry-instrument`` (through the SDK configurator, ``_initialize_components``) reads
``OTEL_TRACES_EXPORTER``, ``OTEL_LOGS_EXPORTER`` and ``OTEL_METRICS_EXPORTER``, loads each named
exporter class from the entry-point groups ``opentelemetry_traces_exporter``,
``opentelemetry_logs_exporter`` and ``opentelemetry_metrics_exporter``, and builds it with no
arguments under a batch processor (spans, logs) or a periodic reader (metrics). otelpriv
registers three names in each group:

=====================  ==================================================================
``otelpriv_otlp``      the OTLP exporter, gRPC or HTTP as ``OTEL_EXPORTER_OTLP_PROTOCOL``
                       (or its per-signal form) says, the way the SDK picks for ``otlp``
``otelpriv_console``   the SDK's console exporter (to see the effect locally)
``otelpriv``           the exporter named by ``OTELPRIV_TRACES_EXPORTER``,
                       ``OTELPRIV_LOGS_EXPORTER`` or ``OTELPRIV_METRICS_EXPORTER`` (any name
                       of that signal's entry-point group; default ``otlp``)
=====================  ==================================================================

Each wraps the real exporter in :class:`~otelpriv._exporters.PrivacySpanExporter` (and the log
and metric counterparts), with the policy and key from ``OTELPRIV_POLICY`` and
``OTELPRIV_KEY_FILE``. A policy that cannot load makes them drop everything, logged once.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points
from typing import Any

from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_LOGS_PROTOCOL,
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
)

from otelpriv._environment import (
    OTELPRIV_LOGS_EXPORTER,
    OTELPRIV_METRICS_EXPORTER,
    OTELPRIV_TRACES_EXPORTER,
)
from otelpriv._exporters import PrivacyLogExporter, PrivacyMetricExporter, PrivacySpanExporter

__all__ = [
    "OTELPRIV_LOGS_EXPORTER",
    "OTELPRIV_METRICS_EXPORTER",
    "OTELPRIV_TRACES_EXPORTER",
    "ConsoleLogExporter",
    "ConsoleMetricExporter",
    "ConsoleSpanExporter",
    "EnvLogExporter",
    "EnvMetricExporter",
    "EnvSpanExporter",
    "OtlpLogExporter",
    "OtlpMetricExporter",
    "OtlpSpanExporter",
    "wrapped_exporter",
]

_NAME_VARIABLE = {
    "traces": OTELPRIV_TRACES_EXPORTER,
    "logs": OTELPRIV_LOGS_EXPORTER,
    "metrics": OTELPRIV_METRICS_EXPORTER,
}
_PROTOCOL_VARIABLE = {
    "traces": OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    "logs": OTEL_EXPORTER_OTLP_LOGS_PROTOCOL,
    "metrics": OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
}
_OTLP_BY_PROTOCOL = {"grpc": "otlp_proto_grpc", "http/protobuf": "otlp_proto_http"}


def wrapped_exporter(signal: str, name: str | None) -> Any:
    """Build the exporter named ``name`` (None: from the environment) of one signal's group.

    ``otlp`` resolves by protocol as the SDK resolves it; an unknown name or protocol raises
    ``RuntimeError``, as the SDK does for its own exporter names.
    """
    variable = _NAME_VARIABLE[signal]
    if name is None:
        name = os.environ.get(variable, "").strip() or "otlp"
    if name == "otlp":
        protocol = os.environ.get(_PROTOCOL_VARIABLE[signal]) or os.environ.get(
            OTEL_EXPORTER_OTLP_PROTOCOL
        )
        protocol = (protocol or "grpc").strip()
        if protocol not in _OTLP_BY_PROTOCOL:
            raise RuntimeError(f"otelpriv: unsupported OTLP protocol {protocol!r} for {signal}")
        name = _OTLP_BY_PROTOCOL[protocol]
    group = f"opentelemetry_{signal}_exporter"
    found = entry_points(group=group, name=name)
    if not found or name.startswith("otelpriv"):
        names = sorted(point.name for point in entry_points(group=group))
        raise RuntimeError(
            f"otelpriv: no exporter {name!r} to wrap in entry-point group {group} (set "
            f"{variable} to one of {', '.join(n for n in names if not n.startswith('otelpriv'))})"
        )
    return next(iter(found)).load()()


class EnvSpanExporter(PrivacySpanExporter):
    """``OTEL_TRACES_EXPORTER=otelpriv``: wraps the exporter ``OTELPRIV_TRACES_EXPORTER`` names."""

    wraps: str | None = None

    def __init__(self) -> None:
        super().__init__(wrapped_exporter("traces", self.wraps))


class OtlpSpanExporter(EnvSpanExporter):
    """``OTEL_TRACES_EXPORTER=otelpriv_otlp``."""

    wraps = "otlp"


class ConsoleSpanExporter(EnvSpanExporter):
    """``OTEL_TRACES_EXPORTER=otelpriv_console``."""

    wraps = "console"


class EnvLogExporter(PrivacyLogExporter):
    """``OTEL_LOGS_EXPORTER=otelpriv``: wraps the exporter ``OTELPRIV_LOGS_EXPORTER`` names."""

    wraps: str | None = None

    def __init__(self) -> None:
        super().__init__(wrapped_exporter("logs", self.wraps))


class OtlpLogExporter(EnvLogExporter):
    """``OTEL_LOGS_EXPORTER=otelpriv_otlp``."""

    wraps = "otlp"


class ConsoleLogExporter(EnvLogExporter):
    """``OTEL_LOGS_EXPORTER=otelpriv_console``."""

    wraps = "console"


class EnvMetricExporter(PrivacyMetricExporter):
    """``OTEL_METRICS_EXPORTER=otelpriv``: wraps the exporter ``OTELPRIV_METRICS_EXPORTER``
    names."""

    wraps: str | None = None

    def __init__(self) -> None:
        super().__init__(wrapped_exporter("metrics", self.wraps))


class OtlpMetricExporter(EnvMetricExporter):
    """``OTEL_METRICS_EXPORTER=otelpriv_otlp``."""

    wraps = "otlp"


class ConsoleMetricExporter(EnvMetricExporter):
    """``OTEL_METRICS_EXPORTER=otelpriv_console``."""

    wraps = "console"
