"""The upstream hop: deliver sanitized requests over OTLP/gRPC, OTLP/HTTP, or to a file.

Retries follow the OTLP exporters' discipline: only retryable failures are retried (gRPC
UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, ...; RESOURCE_EXHAUSTED only when the server sends
RetryInfo; HTTP 429/502/503/504), waiting what the server asks or a jittered exponential
backoff, all inside one deadline: the client's, or ``max_elapsed_seconds``. Closing interrupts
a backoff. Logs name the endpoint and the status, never the payload.

Every failure reaches the caller as :class:`UpstreamError` carrying the gRPC status the client
should see.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import random
import sys
import time
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import urlsplit

import aiohttp
import grpc
from google.rpc import error_details_pb2, status_pb2

from otelpriv._otlp_io import dump_json_line
from otelpriv._relay_config import TlsConfig, UpstreamConfig
from otelpriv._signals import SignalInfo

__all__ = ["Upstream", "UpstreamError", "open_upstream"]

_log = logging.getLogger("otelpriv.relay")

_RETRYABLE_GRPC = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_RETRYABLE_HTTP = frozenset({429, 502, 503, 504})
_HTTP_TO_GRPC = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.UNIMPLEMENTED,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
}
_STATUS_DETAILS = "grpc-status-details-bin"


class UpstreamError(Exception):
    """Delivery failed; ``code`` is the gRPC status the client should get."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class Upstream(Protocol):
    """Delivers one serialized, sanitized request; returns the upstream's response bytes."""

    endpoint: str

    async def send(self, info: SignalInfo, payload: bytes, deadline: float) -> bytes: ...

    def interrupt(self) -> None:
        """Stop waiting between retries: a shutdown should not outlast its grace period."""

    async def close(self) -> None: ...


class _Backoff:
    """Jittered exponential backoff bounded by a deadline, interruptible by ``close``."""

    def __init__(self, initial: float, closing: asyncio.Event) -> None:
        self._delay = initial
        self._closing = closing

    async def wait(self, deadline: float, asked: float | None) -> bool:
        """Sleep before the next attempt; False when the deadline or a shutdown forbids it."""
        delay = asked if asked is not None else self._delay * random.uniform(0.8, 1.2)
        self._delay = min(self._delay * 2, 8.0)
        if time.monotonic() + delay >= deadline:
            return False
        try:
            await asyncio.wait_for(self._closing.wait(), timeout=delay)
        except TimeoutError:
            return True
        return False


def _retry_delay(error: grpc.aio.AioRpcError) -> float | None:
    """The delay a server asked for in RetryInfo, if it sent one."""
    for key, value in error.trailing_metadata() or ():
        if key != _STATUS_DETAILS:
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


class GrpcUpstream:
    """OTLP/gRPC to ``grpc://host:port`` or, with TLS, ``grpcs://host:port``."""

    def __init__(self, config: UpstreamConfig, initial_backoff: float) -> None:
        self.endpoint = config.endpoint
        parts = urlsplit(config.endpoint)
        target = f"{parts.hostname}:{parts.port or 4317}"
        if ":" in (parts.hostname or ""):
            target = f"[{parts.hostname}]:{parts.port or 4317}"
        options = [("grpc.max_send_message_length", 64 * 1024 * 1024)]
        compression = grpc.Compression.Gzip if config.compression == "gzip" else None
        if parts.scheme == "grpcs" or config.tls is not None:
            tls = config.tls or TlsConfig()
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(tls.ca_file),
                private_key=_read(tls.key_file),
                certificate_chain=_read(tls.cert_file),
            )
            self._channel = grpc.aio.secure_channel(target, credentials, options, compression)
        else:
            self._channel = grpc.aio.insecure_channel(target, options, compression)
        self._metadata = tuple((key.lower(), value) for key, value in config.headers.items())
        self._timeout = config.timeout_seconds
        self._initial = initial_backoff
        self._closing = asyncio.Event()
        self._calls: dict[str, Any] = {}

    def _call(self, info: SignalInfo) -> Any:
        call = self._calls.get(info.grpc_method)
        if call is None:
            call = self._calls[info.grpc_method] = self._channel.unary_unary(
                info.grpc_method, request_serializer=None, response_deserializer=None
            )
        return call

    async def send(self, info: SignalInfo, payload: bytes, deadline: float) -> bytes:
        backoff = _Backoff(self._initial, self._closing)
        call = self._call(info)
        while True:
            timeout = min(self._timeout, deadline - time.monotonic())
            if timeout <= 0:
                raise UpstreamError(grpc.StatusCode.DEADLINE_EXCEEDED, "upstream deadline passed")
            try:
                return await call(payload, timeout=timeout, metadata=self._metadata)
            except grpc.aio.AioRpcError as error:
                code = error.code()
                asked = _retry_delay(error)
                retryable = code in _RETRYABLE_GRPC or (
                    code is grpc.StatusCode.RESOURCE_EXHAUSTED and asked is not None
                )
                _log.warning("upstream %s answered %s", self.endpoint, code.name)
                if not retryable:
                    raise UpstreamError(code, f"upstream answered {code.name}") from None
                if not await backoff.wait(deadline, asked):
                    raise UpstreamError(
                        grpc.StatusCode.UNAVAILABLE, f"upstream still {code.name} after retries"
                    ) from None

    def interrupt(self) -> None:
        self._closing.set()

    async def close(self) -> None:
        self._closing.set()
        await self._channel.close()


class HttpUpstream:
    """OTLP/HTTP (binary protobuf) to ``http(s)://host:port``; /v1/<signal> is appended."""

    def __init__(self, config: UpstreamConfig, initial_backoff: float) -> None:
        self.endpoint = config.endpoint
        self._base = config.endpoint.rstrip("/")
        self._headers = {"Content-Type": "application/x-protobuf", **config.headers}
        self._gzip = config.compression == "gzip"
        if self._gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._timeout = config.timeout_seconds
        self._initial = initial_backoff
        self._closing = asyncio.Event()
        self._ssl: Any = None
        if config.tls is not None:
            import ssl

            context = ssl.create_default_context(cafile=config.tls.ca_file)
            if config.tls.cert_file:
                context.load_cert_chain(config.tls.cert_file, config.tls.key_file)
            self._ssl = context
        self._session: aiohttp.ClientSession | None = None

    async def send(self, info: SignalInfo, payload: bytes, deadline: float) -> bytes:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        body = gzip.compress(payload, compresslevel=5) if self._gzip else payload
        backoff = _Backoff(self._initial, self._closing)
        url = self._base + info.http_path
        while True:
            timeout = min(self._timeout, deadline - time.monotonic())
            if timeout <= 0:
                raise UpstreamError(grpc.StatusCode.DEADLINE_EXCEEDED, "upstream deadline passed")
            asked: float | None = None
            try:
                async with self._session.post(
                    url,
                    data=body,
                    headers=self._headers,
                    ssl=self._ssl,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                ) as response:
                    if response.status == 200:
                        return await response.read()
                    status = response.status
                    asked = _retry_after(response.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError) as error:
                status = 503
                _log.warning("upstream %s unreachable (%s)", self.endpoint, type(error).__name__)
            else:
                _log.warning("upstream %s answered HTTP %d", self.endpoint, status)
            if status not in _RETRYABLE_HTTP:
                code = _HTTP_TO_GRPC.get(status, grpc.StatusCode.UNAVAILABLE)
                if 500 <= status < 600:
                    code = grpc.StatusCode.UNAVAILABLE
                raise UpstreamError(code, f"upstream answered HTTP {status}")
            if not await backoff.wait(deadline, asked):
                raise UpstreamError(
                    grpc.StatusCode.UNAVAILABLE, f"upstream still HTTP {status} after retries"
                )

    def interrupt(self) -> None:
        self._closing.set()

    async def close(self) -> None:
        self._closing.set()
        if self._session is not None:
            await self._session.close()


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class FileUpstream:
    """OTLP/JSON lines to stdout or a file: the embedded default, so the relay runs alone."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.endpoint = config.endpoint
        self._owned: TextIO | None = None
        if config.endpoint == "stdout":
            self._stream: TextIO = sys.stdout
        else:
            path = Path(config.endpoint.removeprefix("file:"))
            path.parent.mkdir(parents=True, exist_ok=True)
            self._owned = self._stream = path.open("a", encoding="utf-8")

    async def send(self, info: SignalInfo, payload: bytes, deadline: float) -> bytes:
        message = info.request.FromString(payload)
        self._stream.write(dump_json_line(info.signal, message) + "\n")
        self._stream.flush()
        return b""

    def interrupt(self) -> None:
        """Writing a line never waits: nothing to interrupt."""

    async def close(self) -> None:
        if self._owned is not None:
            self._owned.close()


def open_upstream(config: UpstreamConfig, initial_backoff: float = 0.5) -> Upstream:
    """The upstream the configuration names."""
    if config.endpoint == "stdout" or config.endpoint.startswith("file:"):
        return FileUpstream(config)
    if config.endpoint.startswith(("grpc://", "grpcs://")):
        return GrpcUpstream(config, initial_backoff)
    return HttpUpstream(config, initial_backoff)
