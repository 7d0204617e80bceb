"""What otelpriv costs inside an OpenTelemetry Python SDK pipeline, per span.

Run: python benchmarks/sdk_bench.py [--spans N] [--trials N]

1. Application thread: creating and ending a span with 10 attributes under a BatchSpanProcessor,
   without and with PrivacySpanProcessor, side by side in alternating blocks, with an exporter
   that never reads the spans, so nothing is sanitized and only the application thread's work
   differs; and a processor's ``on_end`` alone. PrivacySpanExporter adds nothing here: it is
   not on this thread.
2. Whole pipeline: the same loop with an exporter that reads every span, timed until every span
   is exported, so the time the export thread spends sanitizing (under the GIL, the process's
   time) is counted too.
3. Export thread: sanitizing a batch, on values never seen before and on values seen before,
   beside the OTLP encoding that every OTLP exporter does anyway.

The queue is large enough that nothing is dropped. In 2, variants alternate trial by trial, so
a noisy machine moves them together; the best and the median trial are shown.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from otelpriv._engine import Engine
from otelpriv._exporters import PrivacySpanExporter
from otelpriv._processors import PrivacySpanProcessor, SanitizedSpan
from otelpriv._pseudonym import KeyRing, generate_key_file, load_key_file
from otelpriv._sdk import SdkSanitizer

AGENTS = [f"Mozilla/5.0 (X11; Linux x86_64) Chrome/{major}.0 Safari/537.36" for major in (120, 131)]
ROUTES = ["/p/{id}", "/search", "/cart", "/checkout", "/account"]


class Null(SpanExporter):
    """Takes every batch and does nothing with it."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class Reader(SpanExporter):
    """Reads what an OTLP exporter reads of every span, then drops it."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.last = [(span.name, span.attributes, span.events, span.resource) for span in spans]
        return SpanExportResult.SUCCESS


def attributes(rng: random.Random) -> dict[str, Any]:
    """Ten attributes of an HTTP server span of a shop, with thousands of users and addresses."""
    user = rng.randrange(5000)
    product = rng.randrange(400)
    return {
        "http.request.method": rng.choice(["GET", "GET", "POST"]),
        "url.full": f"https://shop.example.com/p/{product}?color=sand&email=u{user}%40example.com",
        "http.route": rng.choice(ROUTES),
        "http.response.status_code": rng.choice([200, 200, 302, 404]),
        "client.address": f"203.0.{rng.randrange(113, 120)}.{rng.randrange(256)}",
        "user_agent.original": rng.choice(AGENTS),
        "enduser.id": f"customer{user}@example.com",
        "server.address": "shop.example.com",
        "network.protocol.version": "1.1",
        "app.cart.items": rng.randrange(10),
    }


def pipeline(
    variant: str, engine: Engine, exporter: SpanExporter, spans: int
) -> tuple[TracerProvider, Any]:
    """A provider for one variant, exporting through a BatchSpanProcessor that drops nothing."""
    if variant == "exporter wrapper":
        exporter = PrivacySpanExporter(exporter, engine=engine)
    batch = BatchSpanProcessor(exporter, max_queue_size=spans + 1)
    processor = PrivacySpanProcessor(batch, engine=engine) if variant == "processor" else batch
    provider = TracerProvider(resource=Resource({"service.name": "shop"}), shutdown_on_exit=False)
    provider.add_span_processor(processor)
    return provider, processor


def app_thread(variant: str, keys: KeyRing, batch: list[dict[str, Any]], read: bool) -> float:
    """Microseconds per span to create and end it; with ``read``, until all are exported too.

    Each trial has an engine of its own: its caches start cold, as in a new process.
    """
    exporter = Reader() if read else Null()
    provider, _ = pipeline(variant, Engine(keys=keys), exporter, len(batch))
    tracer = provider.get_tracer("bench")
    gc.collect()
    started = time.perf_counter()
    for values in batch:
        tracer.start_span("GET /p/{id}", attributes=values).end()
    if read:
        provider.force_flush()
    elapsed = time.perf_counter() - started
    provider.shutdown()
    return elapsed / len(batch) * 1e6


def paired(keys: KeyRing, batch: list[dict[str, Any]], block: int = 500) -> tuple[float, float]:
    """Microseconds per span without and with the processor, timed in alternating blocks.

    Both pipelines live side by side and take turns every ``block`` spans, so both see the
    same machine; the exporter never reads a span, so nothing is sanitized.
    """
    variants = ("none", "processor")
    providers = [pipeline(v, Engine(keys=keys), Null(), len(batch))[0] for v in variants]
    tracers = [provider.get_tracer("bench") for provider in providers]
    totals = [0.0, 0.0]
    gc.collect()
    for number, start in enumerate(range(0, len(batch), block)):
        chunk = batch[start : start + block]
        for index in (0, 1) if number % 2 == 0 else (1, 0):
            tracer = tracers[index]
            started = time.perf_counter()
            for values in chunk:
                tracer.start_span("GET /p/{id}", attributes=values).end()
            totals[index] += time.perf_counter() - started
    for provider in providers:
        provider.shutdown()
    return totals[0] / len(batch) * 1e6, totals[1] / len(batch) * 1e6


def on_end_only(engine: Engine, span: ReadableSpan, calls: int) -> tuple[float, float]:
    """Microseconds per ``on_end`` call: the batch processor alone, and wrapped by otelpriv."""
    results = []
    for variant in ("none", "processor"):
        provider, processor = pipeline(variant, engine, Null(), calls)
        on_end = processor.on_end
        gc.collect()
        started = time.perf_counter()
        for _ in range(calls):
            on_end(span)
        results.append((time.perf_counter() - started) / calls * 1e6)
        provider.shutdown()
    return results[0], results[1]


def compare(
    variants: Sequence[str], keys: KeyRing, batch: list[dict[str, Any]], trials: int, read: bool
) -> None:
    """Alternate the variants trial by trial; print the best and median trial of each."""
    times: dict[str, list[float]] = {variant: [] for variant in variants}
    for _ in range(trials):
        for variant in variants:
            times[variant].append(app_thread(variant, keys, batch, read))
    best, median = min(times["none"]), statistics.median(times["none"])
    print(f"  {'':<30} {'best':>6} {'added':>6}   {'median':>6} {'added':>6}")
    for variant in variants:
        label = "BatchSpanProcessor" if variant == "none" else f"+ otelpriv {variant}"
        low, mid = min(times[variant]), statistics.median(times[variant])
        print(f"  {label:<30} {low:6.2f} {low - best:+6.2f}   {mid:6.2f} {mid - median:+6.2f}")


def export_thread(keys: KeyRing, spans: list[ReadableSpan]) -> dict[str, float]:
    """Microseconds per span of the work done on the export thread, cold caches then warm."""

    def per_span(work: Callable[[], object]) -> float:
        started = time.perf_counter()
        work()
        return (time.perf_counter() - started) / len(spans) * 1e6

    def lazy(sanitizer: SdkSanitizer) -> None:
        for span in spans:
            SanitizedSpan(span, sanitizer).name  # noqa: B018 - the first read fills the copy

    wrapper = PrivacySpanExporter(Null(), engine=Engine(keys=keys))
    processor = SdkSanitizer(Engine(keys=keys))
    return {
        "exporter wrapper, new values": per_span(lambda: wrapper.export(spans)),
        "exporter wrapper, values seen before": per_span(lambda: wrapper.export(spans)),
        "processor's lazy copies, new values": per_span(lambda: lazy(processor)),
        "processor's lazy copies, values seen before": per_span(lambda: lazy(processor)),
        "OTLP protobuf encoding (for reference)": per_span(lambda: encode_spans(spans)),
    }


def ended_spans(batch: list[dict[str, Any]]) -> list[ReadableSpan]:
    """Real ended SDK spans, as a processor's ``on_end`` receives them."""
    kept: list[ReadableSpan] = []

    class Keep:
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            """Nothing."""

        def _on_ending(self, span: Any) -> None:
            """Nothing."""

        def on_end(self, span: ReadableSpan) -> None:
            kept.append(span)

        def shutdown(self) -> None:
            """Nothing."""

    provider = TracerProvider(resource=Resource({"service.name": "shop"}), shutdown_on_exit=False)
    provider.add_span_processor(Keep())  # type: ignore[arg-type]
    tracer = provider.get_tracer("bench")
    for values in batch:
        tracer.start_span("GET /p/{id}", attributes=values).end()
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=20_000, help="spans per trial (20000)")
    parser.add_argument("--trials", type=int, default=7, help="trials per variant (7)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        generate_key_file(Path(directory) / "bench.key")
        keys = load_key_file(Path(directory) / "bench.key")
    rng = random.Random(7)
    batch = [attributes(rng) for _ in range(args.spans)]
    print(f"Python {sys.version.split()[0]}, {args.spans} spans x {args.trials} trials")
    paired(keys, batch[:2000])
    pairs = [paired(keys, batch) for _ in range(args.trials)]
    bare = statistics.median(pair[0] for pair in pairs)
    added = statistics.median(pair[1] - pair[0] for pair in pairs)
    spread = ", ".join(f"{pair[1] - pair[0]:+.2f}" for pair in pairs)
    print("1. application thread, create + end a span with 10 attributes, us/span:")
    print(f"  BatchSpanProcessor {bare:.2f}; PrivacySpanProcessor adds {added:+.2f} (median)")
    print(f"  added, trial by trial: {spread}")
    spans = ended_spans(batch[:5000])
    alone, wrapped = on_end_only(Engine(keys=keys), spans[0], 200_000)
    print(f"  on_end alone: batch {alone:.2f}, wrapped {wrapped:.2f}, added {wrapped - alone:+.2f}")
    print("2. whole pipeline: create + end, export thread sanitizing, flush; wall time, us/span:")
    compare(("none", "processor", "exporter wrapper"), keys, batch, args.trials, read=True)
    print("3. export thread, us/span:")
    for label, value in export_thread(keys, spans[:4096]).items():
        print(f"  {label:<44} {value:6.2f}")


if __name__ == "__main__":
    main()
