"""Checks on the sample telemetry in examples/: it decodes, covers every signal, and is stable."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from otelpriv._otlp_io import Signal, read_json_lines

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FILES = {
    Signal.TRACES: EXAMPLES / "shop-traces.jsonl",
    Signal.LOGS: EXAMPLES / "shop-logs.jsonl",
    Signal.METRICS: EXAMPLES / "shop-metrics.jsonl",
}


def _decode(path: Path) -> list[tuple[Signal, Any]]:
    with path.open(encoding="utf-8") as stream:
        return list(read_json_lines(stream))


@pytest.mark.parametrize("signal", list(FILES), ids=lambda signal: signal.value)
def test_every_line_decodes_as_its_signal(signal: Signal) -> None:
    decoded = _decode(FILES[signal])
    assert len(decoded) >= 3
    assert {decoded_signal for decoded_signal, _ in decoded} == {signal}


def test_the_examples_cover_all_three_signals() -> None:
    signals = {signal for path in EXAMPLES.glob("*.jsonl") for signal, _ in _decode(path)}
    assert signals == set(Signal)


def test_the_examples_stay_small() -> None:
    assert sum(path.stat().st_size for path in FILES.values()) < 300_000


def _spans(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for resource_spans in doc["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            yield from scope_spans["spans"]


def _log_records(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for resource_logs in doc["resourceLogs"]:
        for scope_logs in resource_logs["scopeLogs"]:
            yield from scope_logs["logRecords"]


def _lines(signal: Signal) -> list[dict[str, Any]]:
    return [json.loads(line) for line in FILES[signal].read_text(encoding="utf-8").splitlines()]


def test_the_error_log_points_at_the_failed_checkout_span() -> None:
    spans = {
        (span["traceId"], span["spanId"]): span
        for doc in _lines(Signal.TRACES)
        for span in _spans(doc)
    }
    (error,) = [
        record
        for doc in _lines(Signal.LOGS)
        for record in _log_records(doc)
        if record["severityText"] == "ERROR"
    ]
    assert "kvlistValue" in error["body"]
    span = spans[(error["traceId"], error["spanId"])]
    assert span["name"] == "POST /api/checkout"
    assert span["status"]["code"] == 2
    assert [event["name"] for event in span["events"]] == ["exception"]


@pytest.fixture
def generator(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    for name in [name for name in os.environ if name.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    spec = importlib.util.spec_from_file_location(
        "generate_samples", EXAMPLES / "generate_samples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # The script's dataclasses look their module up while it runs.
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    state = random.getstate()
    yield module
    random.setstate(state)


def test_the_generator_is_deterministic(generator: ModuleType, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    generator.generate(first)
    generator.generate(second)
    names = sorted(path.name for path in first.iterdir())
    assert names == sorted(path.name for path in FILES.values())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
