"""The relay end to end with the OpenTelemetry JS SDK for Node.js as the client.

Most applications that send to the relay are not written in Python, and the JS exporters
differ from Python's in ways that matter to a receiver (gRPC library, HTTP client, protobuf
encoder, id and attribute encoding). tests/node/send.mjs uses the real JS providers and OTLP
exporters over gRPC and HTTP/protobuf for traces, logs and metrics; this module runs it once
uncompressed and once with gzip (a common production setting, and a separate decoding path in
both receivers) against a relay in front of a recording gRPC upstream, and checks what arrived.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from relay_harness import FakeUpstream, RelayThread, relay_config, running

from otelpriv import pseudonym_for
from otelpriv._engine import Engine
from otelpriv._otlp import _to_python
from otelpriv._pseudonym import KeyRing

NODE_DIR = Path(__file__).parent / "node"
SCRIPT = NODE_DIR / "send.mjs"
NODE = shutil.which("node")

# The personal data send.mjs plants; none of it may reach the upstream.
EMAIL = "ines.marchetti@example.org"
CARD = "4111 1111 1111 1111"
CLIENT_IP = "203.0.113.54"
TOKEN = "tok-Q7zX2pLm9R"
PLANTED = (EMAIL, CARD, CLIENT_IP, TOKEN)

TRANSPORTS = ("grpc", "http")
SIGNALS = ("traces", "logs", "metrics")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (NODE_DIR / "node_modules").is_dir(),
        reason="tests/node/node_modules is missing: run `npm ci` in tests/node",
    ),
]


@dataclass
class Delivery:
    """What send.mjs reported it sent, and what the upstream received behind the relay."""

    sent: dict[str, Any]
    received: dict[str, list[Any]]
    stderr: str

    def scopes(self, signal: str, transport: str) -> list[tuple[Any, Any]]:
        """(resource, scope) pairs of one signal sent over one transport, told by scope name."""
        resources = {"traces": "resource_spans", "logs": "resource_logs"}
        scopes = {"traces": "scope_spans", "logs": "scope_logs"}
        found = []
        for request in self.received.get(signal, []):
            for resource in getattr(request, resources.get(signal, "resource_metrics")):
                for scope in getattr(resource, scopes.get(signal, "scope_metrics")):
                    if scope.scope.name == f"checkout-{transport}":
                        found.append((resource, scope))
        return found

    def spans(self, transport: str) -> list[Any]:
        return [span for _, scope in self.scopes("traces", transport) for span in scope.spans]


def _node_environment() -> dict[str, str]:
    """This process's environment without OTEL_* settings that would redirect the JS SDK."""
    return {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}


def _send(relay: RelayThread, compression: str) -> subprocess.CompletedProcess[str]:
    command = [str(NODE), str(SCRIPT), "--grpc", relay.grpc_target, "--http", relay.http_base]
    command += ["--compression", compression]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=60,
            env=_node_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"send.mjs did not finish within 60 s; stderr:\n{expired.stderr!r}")
    if done.returncode != 0:
        pytest.fail(f"send.mjs exited {done.returncode}; stderr:\n{done.stderr}")
    return done


@pytest.fixture(scope="module", params=["none", "gzip"])
def delivery(request: pytest.FixtureRequest, engine: Engine) -> Iterator[Delivery]:
    upstream = FakeUpstream().start()
    try:
        with closing(running(relay_config(upstream), engine)) as relays:
            done = _send(next(relays), request.param)
        received = {signal: upstream.items(signal) for signal in SIGNALS}
        yield Delivery(sent=json.loads(done.stdout), received=received, stderr=done.stderr)
    finally:
        upstream.stop()


def _attributes(item: Any) -> dict[str, Any]:
    return {kv.key: _to_python(kv.value) for kv in item.attributes}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("signal", SIGNALS)
def test_every_signal_arrives_over_every_transport(
    delivery: Delivery, signal: str, transport: str
) -> None:
    scopes = delivery.scopes(signal, transport)
    assert scopes, f"no {signal} from the JS {transport} exporter reached the upstream"
    for resource, _ in scopes:
        assert _attributes(resource.resource)["service.name"] == "node-shop"


def test_relay_reports_no_partial_success(delivery: Delivery) -> None:
    # The JS exporters log a partial success (items the relay dropped) as a diag warning.
    assert "Partial Success" not in delivery.stderr


def test_no_planted_value_reaches_the_upstream(delivery: Delivery) -> None:
    requests = [request for signal in SIGNALS for request in delivery.received[signal]]
    assert requests
    for request in requests:
        raw = request.SerializeToString()
        for secret in PLANTED:
            assert secret.encode() not in raw, f"{secret!r} reached the upstream"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_span_ids_and_names_arrive_intact(delivery: Delivery, transport: str) -> None:
    received = {
        span.span_id.hex(): (span.trace_id.hex(), span.parent_span_id.hex(), span.name)
        for span in delivery.spans(transport)
    }
    expected = {
        span["spanId"]: (span["traceId"], span.get("parentSpanId", ""), span["name"])
        for span in delivery.sent[transport]["spans"]
    }
    assert received == expected


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_span_personal_data_is_sanitized(
    delivery: Delivery, key_ring: KeyRing, transport: str
) -> None:
    server, child = sorted(delivery.spans(transport), key=lambda span: span.parent_span_id)
    attributes = _attributes(server)
    assert attributes["enduser.id"] == pseudonym_for(key_ring.active, EMAIL)
    assert attributes["client.address"] == "203.0.113.0"
    assert attributes["url.full"] == "https://shop.example.com/checkout?token=[REDACTED]&step=2"
    assert attributes["http.response.status_code"] == 502
    (event,) = child.events
    assert event.name == "exception"
    exception = _attributes(event)
    assert exception["exception.message"] == "card [CREDIT_CARD] declined for [EMAIL]"
    assert exception["exception.type"] == "Error"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_log_body_is_sanitized_and_keeps_its_trace_context(
    delivery: Delivery, transport: str
) -> None:
    (record,) = [r for _, scope in delivery.scopes("logs", transport) for r in scope.log_records]
    assert _to_python(record.body) == "order failed for [EMAIL]"
    assert _attributes(record) == {"client.address": "203.0.113.0"}
    sent = delivery.sent[transport]["log"]
    assert (record.trace_id.hex(), record.span_id.hex()) == (sent["traceId"], sent["spanId"])


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_metric_attributes_are_sanitized(
    delivery: Delivery, key_ring: KeyRing, transport: str
) -> None:
    points = [
        point
        for _, scope in delivery.scopes("metrics", transport)
        for metric in scope.metrics
        if metric.name == "orders"
        for point in metric.sum.data_points
    ]
    assert points
    for point in points:
        assert getattr(point, point.WhichOneof("value")) == 1
        assert _attributes(point) == {
            "enduser.id": pseudonym_for(key_ring.active, EMAIL),
            "client.address": "203.0.113.0",
        }
