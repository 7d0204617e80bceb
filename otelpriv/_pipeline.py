"""One request through the relay: admit, decode, sanitize, deliver, answer.

Both receivers call :meth:`Pipeline.export`, so gRPC and HTTP clients get the same treatment.
The client is answered only after the upstream accepted the data: nothing is acknowledged that
was not delivered. Items the engine had to drop are reported back through OTLP partial success,
added to whatever the upstream itself rejected.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from otelpriv._engine import Engine
from otelpriv._otlp import sanitize_request, view_class
from otelpriv._relay_metrics import RelayMetrics
from otelpriv._signals import SignalInfo, count_items
from otelpriv._upstream import Upstream, UpstreamError

__all__ = ["Pipeline", "Refused"]

_log = logging.getLogger("otelpriv.relay")


class Refused(Exception):
    """The request is refused; ``code`` is its gRPC status (the HTTP receiver maps it)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class Pipeline:
    """Sanitize-and-forward, with a bound on the requests in flight."""

    def __init__(
        self, engine: Engine, upstream: Upstream, metrics: RelayMetrics, max_inflight: int
    ) -> None:
        self.engine = engine
        self.upstream = upstream
        self.metrics = metrics
        self._max_inflight = max_inflight
        self._inflight = 0

    @property
    def inflight(self) -> int:
        return self._inflight

    def decode(self, info: SignalInfo, payload: bytes) -> Any:
        """Binary protobuf into the view of the signal's request (see ``_otlp_views``).

        Attributes stay serialized until the walk looks them up; a malformed request is
        INVALID_ARGUMENT, here or when the walk decodes an attribute it has not seen.
        """
        try:
            return view_class(info.request).FromString(payload)
        except DecodeError:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, _malformed(info)) from None

    async def export(self, info: SignalInfo, request: Any, deadline: float) -> Any:
        """Sanitize ``request`` in place, deliver it, and return the response for the client."""
        signal = info.signal.value
        if self._inflight >= self._max_inflight:
            raise Refused(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many requests in flight")
        self._inflight += 1
        started = time.perf_counter()
        try:
            return await self._export(info, request, deadline)
        except Refused:
            raise
        except Exception as error:  # noqa: BLE001 - answer INTERNAL, never forward raw
            _log.error("request failed inside the relay (%s)", type(error).__name__)
            raise Refused(grpc.StatusCode.INTERNAL, "internal error in the relay") from None
        finally:
            self._inflight -= 1
            self.metrics.latency.labels(signal).observe(time.perf_counter() - started)

    async def _export(self, info: SignalInfo, request: Any, deadline: float) -> Any:
        signal = info.signal.value
        received = count_items(info.signal, request)
        self.metrics.received.labels(signal).inc(received)
        try:
            outcome = sanitize_request(request, self.engine)
        except DecodeError:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, _malformed(info)) from None
        self.metrics.count_rules(outcome.rules)
        if outcome.dropped_items:
            self.metrics.dropped.labels(signal, "unsanitizable").inc(outcome.dropped_items)
        try:
            answer = await self.upstream.send(info, request.SerializeToString(), deadline)
        except UpstreamError as error:
            self.metrics.upstream_errors.labels(error.code.name).inc()
            self.metrics.dropped.labels(signal, "upstream").inc(received - outcome.dropped_items)
            raise Refused(error.code, str(error)) from None
        response = info.response.FromString(answer) if answer else info.response()
        rejected = getattr(response.partial_success, info.rejected_field)
        accepted = max(0, received - outcome.dropped_items - rejected)
        self.metrics.exported.labels(signal).inc(accepted)
        if outcome.dropped_items:
            partial = response.partial_success
            setattr(partial, info.rejected_field, rejected + outcome.dropped_items)
            note = f"otelpriv dropped {outcome.dropped_items} item(s) it could not sanitize"
            partial.error_message = "; ".join(filter(None, (partial.error_message, note)))
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug(
                "%s: %d item(s) received, %d value(s) changed, %d dropped, %d rejected upstream",
                signal,
                received,
                outcome.changed,
                outcome.dropped_items,
                rejected,
            )
        return response


def _malformed(info: SignalInfo) -> str:
    return f"the body is not a valid {info.request.DESCRIPTOR.name}"
