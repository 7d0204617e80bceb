"""End-to-end relay throughput: a loopback load generator -> relay -> a discarding sink.

Run: python benchmarks/relay_bench.py [--seconds 10] [--concurrency 8] [--workers 1] [--pool 200]

The relay runs as its own process (``otelpriv relay``), started twice in one run: with the
default policy, then with a policy that turns every rule off, so the difference is the cost
of sanitizing. The load generator and the sink share this process and its event loop. Reports
spans/s, p50 and p99 request latency, and the relay's peak resident memory (VmHWM).

The load cycles through ``--pool`` distinct requests of the demo shop (200 by default: about
100,000 spans, more than the relay sees in its first second), each with its own trace ids,
sessions, users, URLs and exception messages.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).parent))

from shop_requests import build_request  # noqa: E402

METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
POLICY_OFF = """\
detectors: {email: keep, credit_card: keep, ipv4: keep, ipv6: keep, iban: keep, us_ssn: keep,
  jwt: keep, bearer: keep, api_key: keep, private_key: keep, labelled_secret: keep,
  redis_auth: keep, cookie: keep, url: keep}
user_ids: {action: keep}
secrets: {action: keep}
addresses: {action: keep}
ips: {action: keep}
headers: {redact: []}
urls: {full: [], query: [], fragment: [], secret_params: []}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _sink() -> tuple[grpc.aio.Server, int]:
    async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return b""

    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 64 << 20)])
    handler = grpc.unary_unary_rpc_method_handler(export)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {"Export": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


def _peak_rss_mib(pid: int) -> float:
    total = 0.0
    pids = [pid] + [
        int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    ]
    for one in pids:
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


async def _wait_ready(target: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            async with grpc.aio.insecure_channel(target) as channel:
                await asyncio.wait_for(channel.channel_ready(), 1)
                return
        except (TimeoutError, grpc.aio.AioRpcError):
            await asyncio.sleep(0.2)
    raise RuntimeError("relay did not start")


async def _load(target: str, payloads: list[bytes], seconds: float, concurrency: int) -> list:
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    async with grpc.aio.insecure_channel(
        target, options=[("grpc.max_send_message_length", 64 << 20)]
    ) as channel:
        call = channel.unary_unary(METHOD)

        async def client(number: int) -> None:
            index = number
            while time.monotonic() < stop:
                started = time.perf_counter()
                await call(payloads[index % len(payloads)], timeout=30)
                latencies.append(time.perf_counter() - started)
                index += concurrency

        await asyncio.gather(*(client(number) for number in range(concurrency)))
    return latencies


async def _run(label: str, args: argparse.Namespace, payloads: list[bytes], extra: list[str]):
    sink, sink_port = await _sink()
    port = _free_port()
    relay = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "otelpriv._cli",
            "relay",
            "--grpc-endpoint",
            f"127.0.0.1:{port}",
            "--http-endpoint",
            f"127.0.0.1:{_free_port()}",
            "--upstream",
            f"grpc://127.0.0.1:{sink_port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            *extra,
        ]
    )
    try:
        await _wait_ready(f"127.0.0.1:{port}")
        await _load(f"127.0.0.1:{port}", payloads, 2.0, args.concurrency)
        started = time.perf_counter()
        latencies = await _load(f"127.0.0.1:{port}", payloads, args.seconds, args.concurrency)
        elapsed = time.perf_counter() - started
        memory = _peak_rss_mib(relay.pid)
    finally:
        relay.terminate()
        relay.wait(30)
        await sink.stop(None)
    spans = len(latencies) * args.spans
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    p50 = statistics.median(ordered)
    print(
        f"{label:>22}: {spans / elapsed:>9,.0f} spans/s  p50 {p50 * 1e3:6.1f} ms"
        f"  p99 {p99 * 1e3:6.1f} ms  relay peak RSS {memory:6.1f} MiB"
    )
    return spans / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="load per mode (10)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (8)")
    parser.add_argument("--workers", type=int, default=1, help="relay worker processes (1)")
    parser.add_argument("--spans", type=int, default=512, help="spans per request (512)")
    parser.add_argument("--pool", type=int, default=200, help="distinct requests cycled (200)")
    args = parser.parse_args()

    rng = random.Random(11)
    payloads = [build_request(rng, args.spans).SerializeToString() for _ in range(args.pool)]
    with tempfile.TemporaryDirectory() as directory:
        key = Path(directory) / "bench.key"
        subprocess.run([sys.executable, "-m", "otelpriv._cli", "keygen", str(key)], check=True)
        off = Path(directory) / "off.yaml"
        off.write_text(POLICY_OFF, encoding="utf-8")
        print(
            f"{args.spans}-span requests, {args.concurrency} in flight, {args.workers} relay "
            f"worker(s), {args.seconds:.0f} s each, {os.cpu_count()} cores shared with the load, "
            f"{args.pool} distinct requests cycled"
        )
        sanitized = await _run("default policy", args, payloads, ["--key-file", str(key)])
        passthrough = await _run("policy off", args, payloads, ["--policy", str(off)])
    print(f"sanitizing keeps {sanitized / passthrough:.0%} of the policy-off throughput")


if __name__ == "__main__":
    asyncio.run(main())
