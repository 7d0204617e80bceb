"""What the relay needs to know of each OTLP signal: messages, gRPC method, HTTP path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from otelpriv._otlp_io import Signal

__all__ = ["SIGNALS", "SignalInfo", "count_items"]


@dataclass(frozen=True)
class SignalInfo:
    """One signal's protobuf types and addresses."""

    signal: Signal
    request: type[Any]
    response: type[Any]
    service: str
    http_path: str
    rejected_field: str

    @property
    def grpc_method(self) -> str:
        return f"/{self.service}/Export"


SIGNALS: dict[Signal, SignalInfo] = {
    Signal.TRACES: SignalInfo(
        Signal.TRACES,
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
        "opentelemetry.proto.collector.trace.v1.TraceService",
        "/v1/traces",
        "rejected_spans",
    ),
    Signal.LOGS: SignalInfo(
        Signal.LOGS,
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
        "opentelemetry.proto.collector.logs.v1.LogsService",
        "/v1/logs",
        "rejected_log_records",
    ),
    Signal.METRICS: SignalInfo(
        Signal.METRICS,
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
        "opentelemetry.proto.collector.metrics.v1.MetricsService",
        "/v1/metrics",
        "rejected_data_points",
    ),
}


def count_items(signal: Signal, request: Any) -> int:
    """Spans, log records or data points in a request (for metrics and partial success)."""
    total = 0
    if signal is Signal.TRACES:
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                total += len(scope.spans)
    elif signal is Signal.LOGS:
        for resource in request.resource_logs:
            for scope in resource.scope_logs:
                total += len(scope.log_records)
    else:
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    kind = metric.WhichOneof("data")
                    if kind is not None:
                        total += len(getattr(metric, kind).data_points)
    return total
