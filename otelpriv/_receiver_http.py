"""The OTLP/HTTP receiver on aiohttp: /v1/traces, /v1/logs, /v1/metrics, health and metrics.

Bodies are binary protobuf or JSON (the OTLP JSON mapping, hex ids), optionally gzip- or
deflate-encoded (inflated here, bounded by the body limit); the answer uses the request's content
type. Errors carry a ``google.rpc.Status`` body and the status codes the OTLP/HTTP spec gives: 400
malformed, 413 too large, 415 unsupported type or encoding, 429 too busy, 503 upstream
unavailable. CORS lets browser RUM agents post from allowed origins.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import zlib
from collections.abc import Sequence
from typing import Any

import grpc
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from google.protobuf import json_format
from google.rpc import status_pb2

from otelpriv._otlp_io import OtlpDecodeError, Signal, read_json_lines
from otelpriv._pipeline import Pipeline, Refused
from otelpriv._relay_config import HttpReceiver
from otelpriv._relay_metrics import RelayMetrics
from otelpriv._signals import SIGNALS, SignalInfo

__all__ = ["http_app", "http_runner"]

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
_ENCODINGS = ("gzip", "deflate")
_SHOWN_NAME = 32


class _AnsweredPayloadErrors(logging.Filter):
    """aiohttp logs a traceback for a request it could not read (broken chunked framing, a bad
    header line) even after answering 400. Those lines quote the request's own bytes, which
    may be a header's secret, and would let any client flood the log, so they are left out."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, (RequestPayloadError, HttpProcessingError))


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


def _content_encoding(request: web.Request) -> str | None:
    """The body's one compression (gzip or deflate), or None when it has none.

    Anything else is refused with 415 rather than read as plain bytes or left to aiohttp, which
    answers an encoding it cannot read with a plain-text 400 and a logged traceback. The gRPC
    code is INVALID_ARGUMENT, as for an unsupported Content-Type, which is also 415: both say
    the client sent a body in a form the relay does not read. UNIMPLEMENTED is kept for what
    this receiver answers 404 (no such method), and OTLP clients go by the HTTP status anyway.
    The name is quoted short and ASCII-escaped: the header is client input.
    """
    codings = [
        coding.strip().lower()
        for header in request.headers.getall("Content-Encoding", ())
        for coding in header.split(",")
    ]
    codings = [coding for coding in codings if coding not in ("", "identity")]
    if not codings:
        return None
    if len(codings) == 1 and codings[0] in _ENCODINGS:
        return codings[0]
    unknown = [coding for coding in codings if coding not in _ENCODINGS]
    name = unknown[0] if unknown else ", ".join(codings)
    shown = name if len(name) <= _SHOWN_NAME else name[:_SHOWN_NAME] + "..."
    raise _HttpRefused(
        grpc.StatusCode.INVALID_ARGUMENT,
        415,
        f"Content-Encoding {ascii(shown)} is not supported; send gzip, deflate or identity",
    )


def _inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """Decompress ``body``, producing at most ``limit`` bytes.

    The bound holds while inflating, so a small body that would expand to gigabytes costs no
    more than ``limit``. A gzip body may hold several members, as RFC 1952 allows; a truncated
    stream or bytes after the end are malformed. ``deflate`` is the zlib format (RFC 9110);
    raw deflate, which some clients send instead, is told apart by the zlib header (method 8
    and a check sum of the first two bytes), as aiohttp does.
    """
    if not body:
        return body
    if encoding == "gzip":
        wbits = 16 + zlib.MAX_WBITS
    elif body[0] & 0x0F == 8 and int.from_bytes(body[:2], "big") % 31 == 0:
        wbits = zlib.MAX_WBITS
    else:
        wbits = -zlib.MAX_WBITS
    parts = []
    size = 0
    rest = body
    while rest:
        inflater = zlib.decompressobj(wbits)
        try:
            part = inflater.decompress(rest, limit + 1 - size)
        except zlib.error:
            raise _malformed_encoding(encoding) from None
        size += len(part)
        if size > limit:
            raise _too_large(limit)
        if not inflater.eof or (encoding != "gzip" and inflater.unused_data):
            raise _malformed_encoding(encoding)
        parts.append(part)
        rest = inflater.unused_data
    return b"".join(parts)


def _malformed_encoding(encoding: str) -> _HttpRefused:
    return _HttpRefused(
        grpc.StatusCode.INVALID_ARGUMENT, 400, f"the body is not valid {encoding} data"
    )


def _too_large(limit: int) -> _HttpRefused:
    return _HttpRefused(
        grpc.StatusCode.RESOURCE_EXHAUSTED, 413, f"the body is larger than {limit} bytes"
    )


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
        encoding = _content_encoding(request)
        limit = self.config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise _too_large(limit)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _too_large(limit) from None
        except RequestPayloadError:
            raise _HttpRefused(
                grpc.StatusCode.INVALID_ARGUMENT, 400, "the body could not be read"
            ) from None
        except ConnectionResetError:
            # The client left mid-body: nobody reads the answer and the relay did nothing wrong.
            raise _HttpRefused(
                grpc.StatusCode.CANCELLED, 400, "the connection closed before the body ended"
            ) from None
        if encoding is not None:
            body = _inflate(body, encoding, limit)
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


def http_runner(app: web.Application, grace: float) -> web.AppRunner:
    """The runner to serve a receiver's app with.

    aiohttp's own decompression is off: the receiver inflates the body itself (see
    :func:`_content_encoding`), so that an encoding it does not read is answered 415 with a
    Status body instead of aiohttp's plain-text 400 and a logged traceback.
    """
    return web.AppRunner(app, access_log=None, shutdown_timeout=grace, auto_decompress=False)


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
