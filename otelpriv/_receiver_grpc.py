"""The OTLP/gRPC receiver: the three Export services and gRPC health, on grpc.aio.

Requests arrive as raw bytes (no deserializer), so a malformed message is answered with
INVALID_ARGUMENT by the pipeline instead of failing inside gRPC, and the call beside it goes
on. Oversized messages are refused by gRPC itself with RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from otelpriv._errors import ConfigError
from otelpriv._pipeline import Pipeline, Refused
from otelpriv._relay_config import GrpcReceiver, parse_endpoint
from otelpriv._signals import SIGNALS, SignalInfo

__all__ = ["start_grpc"]


def _authorized(context: grpc.aio.ServicerContext, tokens: Sequence[str]) -> bool:
    if not tokens:
        return True
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and value[:7].lower() == "bearer ":
            offered = value[7:].strip().encode()
            return any(hmac.compare_digest(offered, token.encode()) for token in tokens)
    return False


def _handler(pipeline: Pipeline, info: SignalInfo, tokens: Sequence[str]) -> Any:
    async def export(payload: bytes, context: grpc.aio.ServicerContext) -> Any:
        if not _authorized(context, tokens):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer token is needed")
        remaining = context.time_remaining()
        deadline = time.monotonic() + (remaining if remaining is not None else 3600.0)
        try:
            request = pipeline.decode(info, payload)
            return await pipeline.export(info, request, deadline)
        except Refused as refused:
            pipeline.metrics.rejected_requests.labels(info.signal.value, refused.code.name).inc()
            await context.abort(refused.code, str(refused))

    return grpc.unary_unary_rpc_method_handler(
        export,
        request_deserializer=None,
        response_serializer=lambda message: message.SerializeToString(),
    )


async def start_grpc(
    config: GrpcReceiver, pipeline: Pipeline, tokens: Sequence[str], reuse_port: bool = False
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """Start serving; returns the server, the bound port and the health servicer.

    gRPC sets SO_REUSEPORT unless told not to, which would let a second relay share the port
    unnoticed, so the option is always given: on only for ``--workers``. A port that cannot be
    bound raises :class:`ConfigError` naming the address (gRPC does not say why).
    """
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.so_reuseport", int(reuse_port)),
        ]
    )
    for info in SIGNALS.values():
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    info.service, {"Export": _handler(pipeline, info, tokens)}
                ),
            )
        )
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    host, port = parse_endpoint(config.endpoint)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    credentials = None
    if config.tls is not None:
        credentials = grpc.ssl_server_credentials(
            [(_read(config.tls.key_file), _read(config.tls.cert_file))],
            root_certificates=_read(config.tls.ca_file) if config.tls.ca_file else None,
            require_client_auth=config.tls.ca_file is not None,
        )
    try:
        if credentials is not None:
            bound = server.add_secure_port(address, credentials)
        else:
            bound = server.add_insecure_port(address)
    except RuntimeError:
        raise ConfigError(
            f"cannot listen on {config.endpoint} for OTLP/gRPC: address in use or unavailable"
        ) from None
    await server.start()
    for info in SIGNALS.values():
        await checker.set(info.service, health_pb2.HealthCheckResponse.SERVING)
    await checker.set("", health_pb2.HealthCheckResponse.SERVING)
    return server, bound, checker


def _read(path: str | None) -> bytes:
    if path is None:
        raise ValueError("a TLS receiver needs cert_file and key_file")
    with open(path, "rb") as handle:
        return handle.read()
