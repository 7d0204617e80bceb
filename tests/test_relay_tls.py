"""TLS on the relay's receivers: a certificate made in the test, clients that verify it."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from relay_harness import FakeUpstream, RelayThread, relay_config, running

from otelpriv._engine import Engine


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "otelpriv test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "relay.crt", directory / "relay.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_relay(tmp_path: Path, engine: Engine) -> Iterator[tuple[RelayThread, Path]]:
    upstream = FakeUpstream().start()
    cert_file, key_file = _certificate(tmp_path)
    tls = {"tls": {"cert_file": str(cert_file), "key_file": str(key_file)}}
    try:
        for relay in running(relay_config(upstream, grpc=tls, http=tls), engine):
            yield relay, cert_file
    finally:
        upstream.stop()


def test_grpc_and_https_receivers_serve_tls(tls_relay: tuple[RelayThread, Path]) -> None:
    relay, cert_file = tls_relay
    payload = ExportTraceServiceRequest().SerializeToString()
    credentials = grpc.ssl_channel_credentials(root_certificates=cert_file.read_bytes())
    with grpc.secure_channel(relay.grpc_target, credentials) as channel:
        call = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=None,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )
        call(payload, timeout=10)
    context = ssl.create_default_context(cafile=str(cert_file))
    request = urllib.request.Request(
        f"https://127.0.0.1:{relay.relay.http_port}/v1/traces",
        data=payload,
        headers={"Content-Type": "application/x-protobuf"},
    )
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        assert response.status == 200
    with grpc.insecure_channel(relay.grpc_target) as plain, pytest.raises(grpc.RpcError):
        plain.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")(
            payload, timeout=3
        )
