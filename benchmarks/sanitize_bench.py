"""Throughput of the engine on OTLP trace requests, against protobuf parse + serialize.

Run: python benchmarks/sanitize_bench.py [--requests N] [--spans N]

Both figures come from the same run on the same requests, so their ratio holds on a noisy
machine even when the absolute numbers move.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

sys.path.insert(0, str(Path(__file__).parent))

from shop_requests import build_request  # noqa: E402

from otelpriv._engine import Engine  # noqa: E402
from otelpriv._otlp import sanitize_traces  # noqa: E402
from otelpriv._pseudonym import generate_key_file, load_key_file  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="distinct requests (30)")
    parser.add_argument("--spans", type=int, default=512, help="spans per request (512)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the requests (3)")
    args = parser.parse_args()

    rng = random.Random(7)
    payloads = [build_request(rng, args.spans).SerializeToString() for _ in range(args.requests)]
    with tempfile.TemporaryDirectory() as directory:
        key_file = Path(directory) / "bench.key"
        generate_key_file(key_file)
        engine = Engine(keys=load_key_file(key_file))
    spans = args.requests * args.spans

    codec = []
    clean = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        for payload in payloads:
            ExportTraceServiceRequest.FromString(payload).SerializeToString()
        codec.append(time.perf_counter() - started)

        parsed = [ExportTraceServiceRequest.FromString(payload) for payload in payloads]
        started = time.perf_counter()
        for request in parsed:
            sanitize_traces(request, engine)
        clean.append(time.perf_counter() - started)

    fresh = [build_request(rng, args.spans) for _ in range(args.requests)]
    started = time.perf_counter()
    for request in fresh:
        sanitize_traces(request, engine)
    production = time.perf_counter() - started

    print(f"{args.requests} requests x {args.spans} spans, {args.rounds} rounds (first is cold)")
    for name, times in (("parse+serialize", codec), ("sanitize", clean)):
        per_span = [seconds / spans * 1e6 for seconds in times]
        shown = ", ".join(f"{value:.2f}" for value in per_span)
        print(f"{name:>16}: {shown} us/span; best {spans / min(times):,.0f} spans/s")
    print(
        f"{'sanitize, new':>16}: {production / spans * 1e6:.2f} us/span, "
        f"{spans / production:,.0f} spans/s (new requests, caches warmed by the rounds above)"
    )
    print(f"sanitize / parse+serialize (best of each): {min(clean) / min(codec):.1f}x")
    print(f"sanitize new / parse+serialize (best): {production / min(codec):.1f}x")


if __name__ == "__main__":
    main()
