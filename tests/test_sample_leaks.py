"""The sample shop telemetry, sanitized with the default policy, keeps none of its customers'
personal data: every planted value of the generator is looked for in the output bytes."""

from __future__ import annotations

import importlib.util
import random
import re
import sys
from pathlib import Path

import pytest

from otelpriv._engine import Engine
from otelpriv._otlp import sanitize_request
from otelpriv._otlp_io import dump_json_line, read_json_lines

EXAMPLES = Path(__file__).parent.parent / "examples"
PERSONAL = ("name", "email", "password", "phone", "street", "zip", "city", "card", "ip")


def _customers() -> tuple:
    spec = importlib.util.spec_from_file_location("samples", EXAMPLES / "generate_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("samples", module)
    spec.loader.exec_module(module)
    return module._customers(random.Random(0))


def _sanitized(engine: Engine) -> str:
    lines = []
    for name in ("shop-traces.jsonl", "shop-logs.jsonl", "shop-metrics.jsonl"):
        text = (EXAMPLES / name).read_text(encoding="utf-8")
        for signal, message in read_json_lines(text.split("\n")):
            sanitize_request(message, engine)
            lines.append(dump_json_line(signal, message))
    return "\n".join(lines)


@pytest.mark.parametrize("field", PERSONAL)
def test_no_planted_value_survives(engine: Engine, field: str) -> None:
    output = _sanitized(engine)
    for customer in _customers():
        value = getattr(customer, field)
        forms = {
            value,
            value.replace(" ", "+"),
            re.sub(r"\D", "", value) if field == "card" else "",
        }
        for form in filter(None, forms):
            assert form not in output, f"{field} of a sample customer survived"
