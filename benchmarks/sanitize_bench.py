"""Throughput of the engine on OTLP trace requests, against protobuf parse + serialize.

Run: python benchmarks/sanitize_bench.py [--requests N] [--spans N] [--rounds N]

The relay's path is measured from bytes to bytes: parse into the view, sanitize, serialize.
The baseline is a plain protobuf parse + serialize of the same bytes. Both come from the same
run on the same requests, so their ratio holds on a noisy machine even when the absolute
numbers move. Three kinds of traffic, each a set of 512-span requests:

- cold: the very first requests a fresh engine sees;
- steady: requests never seen before, after the engine has had ``--warmup`` others from the
  same shop (about a second of a busy relay's traffic): new sessions, users, URLs and messages,
  among routes, agents and products it knows;
- repeat: requests whose every value has been seen before (the best case).
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
from otelpriv._otlp import sanitize_traces, sanitize_view, view_class  # noqa: E402
from otelpriv._pseudonym import generate_key_file, load_key_file  # noqa: E402

View = view_class(ExportTraceServiceRequest)


def _relay_path(payloads: list[bytes], engine: Engine) -> float:
    """Seconds to take each request from the client's bytes to the upstream's."""
    started = time.perf_counter()
    for payload in payloads:
        view = View.FromString(payload)
        sanitize_view(view, engine)
        view.SerializeToString()
    return time.perf_counter() - started


def _codec(payloads: list[bytes]) -> float:
    started = time.perf_counter()
    for payload in payloads:
        ExportTraceServiceRequest.FromString(payload).SerializeToString()
    return time.perf_counter() - started


def _message_api(payloads: list[bytes], engine: Engine) -> float:
    """Seconds for ``sanitize_traces`` on parsed messages (the Python API, not the relay)."""
    parsed = [ExportTraceServiceRequest.FromString(payload) for payload in payloads]
    started = time.perf_counter()
    for request in parsed:
        sanitize_traces(request, engine)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="distinct requests (30)")
    parser.add_argument("--spans", type=int, default=512, help="spans per request (512)")
    parser.add_argument("--rounds", type=int, default=5, help="repeated passes, best kept (5)")
    parser.add_argument("--warmup", type=int, default=200, help="requests before steady (200)")
    args = parser.parse_args()

    rng = random.Random(7)
    payloads = [build_request(rng, args.spans).SerializeToString() for _ in range(args.requests)]
    warmup = [build_request(rng, args.spans).SerializeToString() for _ in range(args.warmup)]
    fresh = [build_request(rng, args.spans).SerializeToString() for _ in range(args.requests)]
    with tempfile.TemporaryDirectory() as directory:
        key_file = Path(directory) / "bench.key"
        generate_key_file(key_file)
        keys = load_key_file(key_file)
    engine = Engine(keys=keys)
    spans = args.requests * args.spans

    cold = _relay_path(payloads, engine)
    codec = min(_codec(payloads) for _ in range(args.rounds))
    repeat = min(_relay_path(payloads, engine) for _ in range(args.rounds))
    _relay_path(warmup, engine)
    steady = _relay_path(fresh, engine)
    api = min(_message_api(payloads, engine) for _ in range(args.rounds))

    print(
        f"{args.requests} requests x {args.spans} spans; steady after {args.warmup} requests; "
        f"best of {args.rounds} where repeated"
    )
    rows = [
        ("parse+serialize", codec),
        ("relay path, cold", cold),
        ("relay path, steady", steady),
        ("relay path, repeat", repeat),
        ("message API, repeat", api),
    ]
    for name, seconds in rows:
        print(
            f"{name:>19}: {seconds / spans * 1e6:6.2f} us/span {spans / seconds:>10,.0f} spans/s"
            f"  {seconds / codec:5.1f}x parse+serialize"
        )


if __name__ == "__main__":
    main()
