"""The OTLP/HTTP receiver on aiohttp: /v1/traces, /v1/logs, /v1/metrics, health and metrics.

Bodies are binary protobuf or JSON (the OTLP JSON mapping, hex ids), optionally gzip-encoded
(aiohttp inflates them, bounded by the body limit); the answer uses the request's content type.
Errors carry a ``google.rpc.Status`` body and the status codes the OTLP/HTTP spec gives: 400
malformed, 413 too large, 415 unsupported type, 429 too busy, 503 upstream unavailable. CORS
lets browser RUM agents post from allowed origins.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import grpc
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from google.protobuf import json_format
from google.rpc import status_pb2

from otelpriv._otlp_io import OtlpDecodeError, Signal, read_json_lines
from otelpriv._pipeline import Pipeline, Refused
from otelpriv._relay_config import HttpReceiver
from otelpriv._relay_metrics import RelayMetrics
from otelpriv._signals import SIGNALS, SignalInfo

__all__ = ["http_app"]

_log = logging.getLogger("otelpriv.relay")

_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"
_GRPC_TO_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNIMPLEMENTED: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
_CORS_HEADERS = "Content-Type, Content-Encoding, Authorization"


class _AnsweredPayloadErrors(logging.Filter):
    """aiohttp logs a traceback for a body it could not decode even after the handler answered
    400; those lines would let any client flood the log, so they are left out."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, RequestPayloadError)


logging.getLogger("aiohttp.server").addFilter(_AnsweredPayloadErrors())


class _HttpRefused(Refused):
    """A refusal with an HTTP status of its own (413, 415) beside the gRPC code."""

    def __init__(self, code: grpc.StatusCode, status: int, message: str) -> None:
        super().__init__(code, message)
        self.status = status


def _decode_json(info: SignalInfo, body: bytes) -> Any:
    """The JSON body as the signal's request.

    JSON nested deeper than the interpreter's recursion limit raises ``RecursionError`` in the
    json module; it is the client's malformed input like any other, so it is INVALID_ARGUMENT.
    """
    try:
        text = body.decode("utf-8")
        if json.loads(text) == {}:
            return info.request()
        ((signal, request),) = list(read_json_lines([text.replace("\n", " ")]))
    except RecursionError:
        raise Refused(
            grpc.StatusCode.INVALID_ARGUMENT,
            "the body is not OTLP/JSON: invalid JSON (nested too deeply)",
        ) from None
    except (UnicodeDecodeError, ValueError, OtlpDecodeError) as error:
        reason = error.reason if isinstance(error, OtlpDecodeError) else "invalid JSON"
        raise Refused(
            grpc.StatusCode.INVALID_ARGUMENT, f"the body is not OTLP/JSON: {reason}"
        ) from None
    if signal is not info.signal:
        raise Refused(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"the body holds {signal.value}, but was posted to {info.http_path}",
        )
    return request


class _Receiver:
    def __init__(
        self,
        config: HttpReceiver,
        pipeline: Pipeline,
        metrics: RelayMetrics,
        tokens: Sequence[str],
    ) -> None:
        self.config = config
        self.pipeline = pipeline
        self.metrics = metrics
        self.tokens = [token.encode() for token in tokens]
        self.origins = frozenset(config.cors_origins)

    def _cors(self, request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if origin and ("*" in self.origins or origin in self.origins):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"

    async def preflight(self, request: web.Request) -> web.Response:
        response = web.Response(status=204)
        self._cors(request, response)
        if "Access-Control-Allow-Origin" in response.headers:
            response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = _CORS_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"
        return response

    def _authorized(self, request: web.Request) -> bool:
        if not self.tokens:
            return True
        header = request.headers.get("Authorization", "")
        if header[:7].lower() != "bearer ":
            return False
        offered = header[7:].strip().encode()
        return any(hmac.compare_digest(offered, token) for token in self.tokens)

    def handler(self, info: SignalInfo) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            kind = request.content_type
            as_json = kind == _JSON
            try:
                response = await self._handle(info, request, kind)
            except Refused as refused:
                out = self._refusal(info, refused, as_json)
            except Exception as error:  # noqa: BLE001 - a Status answer, never aiohttp's bare 500
                # Only the type is logged: the text and traceback can quote the payload.
                _log.error("request failed inside the relay (%s)", type(error).__name__)
                internal = Refused(grpc.StatusCode.INTERNAL, "internal error in the relay")
                out = self._refusal(info, internal, as_json)
            else:
                out = _message_response(response, as_json)
            self._cors(request, out)
            return out

        return handle

    def _refusal(self, info: SignalInfo, refused: Refused, as_json: bool) -> web.Response:
        status = getattr(refused, "status", _GRPC_TO_HTTP.get(refused.code, 500))
        self.metrics.rejected_requests.labels(info.signal.value, refused.code.name).inc()
        return _status_response(refused, status, as_json)

    async def _handle(self, info: SignalInfo, request: web.Request, kind: str) -> Any:
        if not self._authorized(request):
            raise _HttpRefused(
                grpc.StatusCode.UNAUTHENTICATED, 401, "a valid bearer token is needed"
            )
        if kind not in (_PROTOBUF, _JSON):
            raise _HttpRefused(
                grpc.StatusCode.INVALID_ARGUMENT,
                415,
                f"Content-Type must be {_PROTOBUF} or {_JSON}",
            )
        limit = self.config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise _HttpRefused(
                grpc.StatusCode.RESOURCE_EXHAUSTED, 413, f"the body is larger than {limit} bytes"
            )
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _HttpRefused(
                grpc.StatusCode.RESOURCE_EXHAUSTED, 413, f"the body is larger than {limit} bytes"
            ) from None
        except RequestPayloadError:
            raise _HttpRefused(
                grpc.StatusCode.INVALID_ARGUMENT, 400, "the body cannot be decoded (bad gzip?)"
            ) from None
        except ConnectionResetError:
            # The client left mid-body: nobody reads the answer and the relay did nothing wrong.
            raise _HttpRefused(
                grpc.StatusCode.CANCELLED, 400, "the connection closed before the body ended"
            ) from None
        decoded = _decode_json(info, body) if kind == _JSON else self.pipeline.decode(info, body)
        deadline = time.monotonic() + 3600.0
        return await self.pipeline.export(info, decoded, deadline)


def _status_response(refused: Refused, status: int, as_json: bool) -> web.Response:
    message = status_pb2.Status(code=refused.code.value[0], message=str(refused))
    response = _message_response(message, as_json, status)
    if status in (429, 503):
        response.headers["Retry-After"] = "1"
    return response


def _message_response(message: Any, as_json: bool, status: int = 200) -> web.Response:
    if as_json:
        return web.Response(
            status=status, body=json_format.MessageToJson(message).encode(), content_type=_JSON
        )
    return web.Response(status=status, body=message.SerializeToString(), content_type=_PROTOBUF)


def http_app(
    config: HttpReceiver,
    pipeline: Pipeline,
    metrics: RelayMetrics,
    tokens: Sequence[str],
    serve_metrics: bool,
) -> web.Application:
    """The aiohttp application of the receiver."""
    receiver = _Receiver(config, pipeline, metrics, tokens)
    app = web.Application(client_max_size=config.max_body_bytes)
    for signal in Signal:
        info = SIGNALS[signal]
        app.router.add_post(info.http_path, receiver.handler(info))
        app.router.add_route("OPTIONS", info.http_path, receiver.preflight)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "inflight": pipeline.inflight})

    app.router.add_get("/healthz", healthz)
    if serve_metrics:
        app.router.add_get("/metrics", metrics_handler(metrics))
    return app


def metrics_handler(metrics: RelayMetrics) -> Any:
    async def render(request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    return render
