"""The relay: receivers, pipeline and upstream assembled, started and stopped as one.

:func:`start_relay` binds every listener (port 0 picks a free one) and returns a :class:`Relay`
that knows its ports; :meth:`Relay.stop` stops accepting, drains the requests in flight within
a grace period, then closes the upstream. :func:`serve` is the long-running form behind
``otelpriv relay``: it stops gracefully on SIGTERM or SIGINT.

Listening ports are shared (SO_REUSEPORT) only when asked, for the workers of one
``otelpriv relay --workers N``. Otherwise a port already taken, even by another relay, fails the
start with :class:`ConfigError` naming the address, instead of silently splitting the traffic.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket
import ssl
from dataclasses import dataclass

import grpc
from aiohttp import web
from grpc_health.v1 import health

from otelpriv._engine import Engine
from otelpriv._environment import engine_from_files
from otelpriv._errors import ConfigError
from otelpriv._pipeline import Pipeline
from otelpriv._receiver_grpc import start_grpc
from otelpriv._receiver_http import http_app, http_runner, metrics_handler
from otelpriv._relay_config import RelayConfig, TlsConfig, parse_endpoint
from otelpriv._relay_metrics import RelayMetrics
from otelpriv._upstream import Upstream, open_upstream

__all__ = ["Relay", "serve", "start_relay"]

_log = logging.getLogger("otelpriv.relay")


@dataclass
class Relay:
    """A running relay and the ports it listens on (None where a receiver is off)."""

    grpc_port: int | None
    http_port: int | None
    metrics_port: int | None
    metrics: RelayMetrics
    pipeline: Pipeline
    _grpc: grpc.aio.Server | None
    _health: health.aio.HealthServicer | None
    _runners: list[web.AppRunner]
    _upstream: Upstream

    async def stop(self, grace: float = 5.0) -> None:
        """Refuse new requests, let those in flight finish within ``grace``, close upstream.

        Requests waiting to retry an unavailable upstream stop waiting at once and are answered
        UNAVAILABLE, so the client retries elsewhere instead of outliving the grace period.
        """
        self._upstream.interrupt()
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        waits = []
        if self._grpc is not None:
            waits.append(self._grpc.stop(grace))
        waits.extend(runner.cleanup() for runner in self._runners)
        await asyncio.gather(*waits)
        await self._upstream.close()


def _server_ssl(tls: TlsConfig | None) -> ssl.SSLContext | None:
    if tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file or "", tls.key_file)
    if tls.ca_file:
        context.load_verify_locations(tls.ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


async def _start_site(
    app: web.Application,
    endpoint: str,
    tls: TlsConfig | None,
    grace: float,
    reuse_port: bool,
    what: str,
) -> tuple[web.AppRunner, int]:
    runner = http_runner(app, grace)
    await runner.setup()
    try:
        host, port = parse_endpoint(endpoint)
        site = web.TCPSite(runner, host, port, ssl_context=_server_ssl(tls), reuse_port=reuse_port)
        try:
            await site.start()
        except OSError as error:
            raise ConfigError(_cannot_listen(endpoint, what, error)) from None
    except BaseException:
        await runner.cleanup()
        raise
    server = site._server
    assert server is not None and server.sockets
    return runner, server.sockets[0].getsockname()[1]


def _cannot_listen(endpoint: str, what: str, error: OSError) -> str:
    """One line with the reason alone, e.g. "address already in use": asyncio's message wraps
    it in the resolved address tuple, which says nothing the endpoint does not."""
    if isinstance(error, socket.gaierror):
        reason = (error.strerror or "unknown host").lower()
    elif error.errno is not None and error.errno in errno.errorcode:
        reason = os.strerror(error.errno).lower()
    else:
        reason = "address in use or unavailable"
    return f"cannot listen on {endpoint} for {what}: {reason}"


async def start_relay(
    config: RelayConfig,
    engine: Engine | None = None,
    *,
    initial_backoff: float = 0.5,
    grace: float = 5.0,
    reuse_port: bool = False,
) -> Relay:
    """Start every configured listener; the engine comes from the config's files if not given.

    ``reuse_port`` lets other processes listen on the same ports (for ``--workers``). A
    listener that cannot bind raises :class:`ConfigError` naming its address, after whatever
    had already started is stopped again.
    """
    if engine is None:
        engine = engine_from_files(config.policy, config.key_file)
    upstream = open_upstream(config.upstream, initial_backoff)
    metrics = RelayMetrics()
    pipeline = Pipeline(engine, upstream, metrics, config.limits.max_inflight_requests)
    tokens = config.auth.bearer_tokens
    server = checker = None
    grpc_port = http_port = metrics_port = None
    runners: list[web.AppRunner] = []
    try:
        if config.grpc.enabled:
            server, grpc_port, checker = await start_grpc(config.grpc, pipeline, tokens, reuse_port)
        if config.http.enabled:
            app = http_app(config.http, pipeline, metrics, tokens, config.metrics_endpoint is None)
            runner, http_port = await _start_site(
                app, config.http.endpoint, config.http.tls, grace, reuse_port, "OTLP/HTTP"
            )
            runners.append(runner)
        if config.metrics_endpoint is not None:
            metrics_app = web.Application()
            metrics_app.router.add_get("/metrics", metrics_handler(metrics))
            runner, metrics_port = await _start_site(
                metrics_app, config.metrics_endpoint, None, grace, reuse_port, "metrics"
            )
            runners.append(runner)
    except BaseException:
        if server is not None:
            await server.stop(None)
        for runner in runners:
            await runner.cleanup()
        await upstream.close()
        raise
    return Relay(
        grpc_port, http_port, metrics_port, metrics, pipeline, server, checker, runners, upstream
    )


async def serve(
    config: RelayConfig, engine: Engine, grace: float = 10.0, *, reuse_port: bool = False
) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully; ``reuse_port`` as for
    :func:`start_relay`."""
    relay = await start_relay(config, engine, grace=grace, reuse_port=reuse_port)
    grpc_host = config.grpc.endpoint.rsplit(":", 1)[0]
    http_host = config.http.endpoint.rsplit(":", 1)[0]
    _log.info(
        "otelpriv relay ready: OTLP/gRPC %s, OTLP/HTTP %s, upstream %s, key %s",
        f"{grpc_host}:{relay.grpc_port}" if relay.grpc_port is not None else "off",
        f"{http_host}:{relay.http_port}" if relay.http_port is not None else "off",
        relay._upstream.endpoint,
        engine.key_id or "none",
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopping.set)
    await stopping.wait()
    _log.info("otelpriv relay stopping: draining %d request(s) in flight", relay.pipeline.inflight)
    await relay.stop(grace)
    _log.info("otelpriv relay stopped")
