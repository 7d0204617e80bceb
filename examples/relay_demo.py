"""The main job on one machine: telemetry in through the relay, sanitized telemetry out.

Usage: python examples/relay_demo.py [WORKDIR]   (default: .demo)

1. makes a pseudonym key (once) and starts ``otelpriv relay`` on free loopback ports, writing
   what it exports to WORKDIR/relay-out.jsonl (the embedded file upstream);
2. sends the sample shop telemetry through it: traces over OTLP/gRPC, logs over OTLP/HTTP
   (protobuf), metrics over OTLP/HTTP (JSON); then spans made live by the OpenTelemetry SDK
   and its own OTLP exporter;
3. stops the relay with SIGTERM (it drains and exits) and shows, value by value, what came in
   beside what went out.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otelpriv._otlp_io import Signal, dump_json_line, read_json_lines

EXAMPLES = Path(__file__).parent
TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(http: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{http}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("the relay did not start; see its log above")


def _post(url: str, body: bytes, content_type: str) -> None:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _send_samples(grpc_target: str, http: str) -> list[str]:
    """Every sample request, each signal over another transport; returns the lines sent."""
    sent = []
    with grpc.insecure_channel(grpc_target) as channel:
        export = channel.unary_unary(TRACES)
        for name, signal in (("traces", Signal.TRACES), ("logs", Signal.LOGS)):
            text = (EXAMPLES / f"shop-{name}.jsonl").read_text(encoding="utf-8")
            for kind, message in read_json_lines(text.split("\n")):
                sent.append(dump_json_line(kind, message))
                if signal is Signal.TRACES:
                    export(message.SerializeToString(), timeout=10)
                else:
                    body = message.SerializeToString()
                    _post(f"{http}/v1/logs", body, "application/x-protobuf")
    text = (EXAMPLES / "shop-metrics.jsonl").read_text(encoding="utf-8")
    for kind, message in read_json_lines(text.split("\n")):
        line = dump_json_line(kind, message)
        sent.append(line)
        _post(f"{http}/v1/metrics", line.encode(), "application/json")
    return sent


def _send_sdk_spans(grpc_target: str) -> str:
    """Spans from the OpenTelemetry SDK and its OTLP exporter, leaking what real apps leak.

    Returns the same spans as an OTLP/JSON line, for the before/after comparison.
    """
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout-api"}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=grpc_target, insecure=True))
    )
    tracer = provider.get_tracer("relay-demo")
    with tracer.start_as_current_span("POST /api/account/email") as span:
        span.set_attribute("enduser.id", "mia.hoffmann@example.com")
        span.set_attribute("url.full", "https://shop.example.com/api/account?token=9f2c41d0e8b7")
        span.set_attribute("client.address", "203.0.113.24")
        span.set_attribute("app.note", "new e-mail mia.h@example.org, card 4111 1111 1111 1111")
    provider.shutdown()
    return dump_json_line(Signal.TRACES, encode_spans(memory.get_finished_spans()))


def main() -> None:
    workdir = Path(sys.argv[1] if len(sys.argv) > 1 else ".demo")
    workdir.mkdir(parents=True, exist_ok=True)
    key = workdir / "demo.key"
    output = workdir / "relay-out.jsonl"
    output.unlink(missing_ok=True)
    otelpriv = [sys.executable, "-m", "otelpriv._cli"]
    if not key.exists():
        subprocess.run([*otelpriv, "keygen", str(key)], check=True)
    grpc_target = f"127.0.0.1:{_free_port()}"
    http = f"http://127.0.0.1:{_free_port()}"
    relay = subprocess.Popen(
        [
            *otelpriv,
            "relay",
            "--key-file",
            str(key),
            "--grpc-endpoint",
            grpc_target,
            "--http-endpoint",
            http.removeprefix("http://"),
            "--upstream",
            f"file:{output}",
        ]
    )
    try:
        _wait_healthy(http)
        sent = _send_samples(grpc_target, http)
        sent.append(_send_sdk_spans(grpc_target))
    finally:
        relay.terminate()
        relay.wait(30)
    received = output.read_text(encoding="utf-8").splitlines()
    print(f"\nsent {len(sent)} request(s) through the relay; it exported {len(received)}")
    (workdir / "relay-in.jsonl").write_text("\n".join(sent) + "\n", encoding="utf-8")
    subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "compare.py"),
            "--pairs",
            str(workdir / "relay-in.jsonl"),
            str(output),
        ],
        check=True,
    )


if __name__ == "__main__":
    main()
