"""The relay's configuration: a YAML file validated like the policy, overridden by flags.

Defaults make ``otelpriv relay`` run out of the box: receivers on 127.0.0.1:4317 (gRPC) and
127.0.0.1:4318 (HTTP), and with no upstream the sanitized telemetry goes to stdout as OTLP/JSON
lines. Every field is documented where it is defined, with its default.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from otelpriv._config_files import read_yaml_mapping, validate

__all__ = ["RelayConfig", "UpstreamConfig", "load_relay_config", "parse_endpoint"]

_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\[\]]+):(?P<port>\d{1,5})")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_endpoint(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:4317`` for IPv6) into its parts; port 0 picks a free port."""
    match = _HOST_PORT.fullmatch(value.strip())
    if match is None or int(match.group("port")) > 65535:
        raise ValueError(f"expected host:port, got {value!r}")
    return match.group("host").strip("[]"), int(match.group("port"))


class TlsConfig(_Section):
    """TLS for a receiver (server side) or the upstream (client side)."""

    cert_file: str | None = Field(None, description="PEM certificate (server: required).")
    key_file: str | None = Field(None, description="PEM private key of cert_file.")
    ca_file: str | None = Field(
        None, description="PEM CA bundle: server side, clients must present a cert it signed."
    )


class _Listener(_Section):
    """A receiver: its ``endpoint`` must parse as host:port."""

    endpoint: str

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        parse_endpoint(value)
        return value


class GrpcReceiver(_Listener):
    """OTLP/gRPC receiver."""

    enabled: bool = Field(True, description="Serve OTLP/gRPC.")
    endpoint: str = Field("127.0.0.1:4317", description="host:port to listen on.")
    max_message_bytes: int = Field(
        4 * 1024 * 1024, gt=0, description="Larger requests get RESOURCE_EXHAUSTED."
    )
    tls: TlsConfig | None = Field(None, description="Serve TLS with this certificate.")


class HttpReceiver(_Listener):
    """OTLP/HTTP receiver: /v1/traces, /v1/logs, /v1/metrics."""

    enabled: bool = Field(True, description="Serve OTLP/HTTP.")
    endpoint: str = Field("127.0.0.1:4318", description="host:port to listen on.")
    max_body_bytes: int = Field(
        4 * 1024 * 1024, gt=0, description="Larger bodies (after gunzip) get HTTP 413."
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins browsers may post from (RUM agents); '*' allows any.",
    )
    tls: TlsConfig | None = Field(None, description="Serve HTTPS with this certificate.")


class UpstreamConfig(_Section):
    """Where sanitized telemetry goes.

    ``endpoint`` is ``grpc://host:port`` (``grpcs://`` for TLS), ``http(s)://host:port`` (the
    signal path /v1/... is appended), or ``file:PATH`` / ``stdout`` for OTLP/JSON lines.
    """

    endpoint: str = Field("stdout", description="See above; the default writes to stdout.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra request headers, e.g. an API token: ${env:BACKEND_TOKEN}.",
    )
    compression: Literal["none", "gzip"] = Field("none", description="Request compression.")
    timeout_seconds: float = Field(10.0, gt=0, le=300, description="Per attempt.")
    max_elapsed_seconds: float = Field(
        30.0, gt=0, le=3600, description="Retries stop after this long (or the client's deadline)."
    )
    tls: TlsConfig | None = Field(None, description="CA and client certificate for the upstream.")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if value == "stdout" or value.startswith("file:"):
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("grpc", "grpcs", "http", "https") or not parts.hostname:
            raise ValueError(
                "expected grpc://host:port, grpcs://host:port, http(s)://host[:port][/path], "
                f"file:PATH or stdout, got {value!r}"
            )
        return value


class Limits(_Section):
    """Back-pressure: what the relay accepts at once."""

    max_inflight_requests: int = Field(
        32, gt=0, description="More at once get RESOURCE_EXHAUSTED / HTTP 429."
    )


class Auth(_Section):
    """Optional bearer-token authentication of clients."""

    bearer_tokens: list[str] = Field(
        default_factory=list,
        description="Accepted tokens (use ${env:NAME}); empty: no authentication.",
    )


class RelayConfig(_Section):
    """The whole relay configuration."""

    grpc: GrpcReceiver = Field(default_factory=GrpcReceiver)
    http: HttpReceiver = Field(default_factory=HttpReceiver)
    upstream: UpstreamConfig = Field(default_factory=UpstreamConfig)
    limits: Limits = Field(default_factory=Limits)
    auth: Auth = Field(default_factory=Auth)
    policy: str | None = Field(
        None, description="Policy file (else OTELPRIV_POLICY, else built-in)."
    )
    key_file: str | None = Field(None, description="Key file (else OTELPRIV_KEY_FILE).")
    metrics_endpoint: str | None = Field(
        None, description="host:port for Prometheus /metrics; unset: served on the HTTP receiver."
    )


def load_relay_config(
    path: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> RelayConfig:
    """Read the YAML file (if any), apply flag overrides (dotted keys), and validate."""
    document = read_yaml_mapping(path) if path is not None else {}
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = document
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    source = str(path) if path is not None else "relay configuration"
    return validate(RelayConfig, document, source)
