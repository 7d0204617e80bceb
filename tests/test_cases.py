"""Every case from real-world reports (tests/data/cases.json) through the default policy.

The cases name their placeholders nominally; ``expected_for`` maps them onto otelpriv's
defaults: ``<HMAC>`` is the keyed pseudonym of the input, and URL credentials become
``REDACTED:REDACTED`` as the semantic conventions ask.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from otelpriv._engine import Engine
from otelpriv._pseudonym import KeyRing, pseudonym_for

CASES = json.loads((Path(__file__).parent / "data" / "cases.json").read_text(encoding="utf-8"))


def _input_of(case: dict[str, Any]) -> Any:
    value = case["input"]
    if case.get("input_type") == "bytes":
        return value.encode("utf-8", "surrogateescape")
    return value


def expected_for(case: dict[str, Any], ring: KeyRing) -> Any:
    expected = case["expected"]
    if expected == "<HMAC>":
        return pseudonym_for(ring.active, case["input"])
    if isinstance(expected, str):
        return expected.replace("[REDACTED]:[REDACTED]@", "REDACTED:REDACTED@")
    return expected


def sanitize(engine: Engine, case: dict[str, Any]) -> Any:
    sanitizer = engine.for_service("shop")
    hits: list[str] = []
    if case["field"] == "log_body":
        return sanitizer.body(_input_of(case), hits)
    return sanitizer.value(case["key"], _input_of(case), hits)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case(engine: Engine, key_ring: KeyRing, case: dict[str, Any]) -> None:
    assert sanitize(engine, case) == expected_for(case, key_ring)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case_is_idempotent(engine: Engine, key_ring: KeyRing, case: dict[str, Any]) -> None:
    once = sanitize(engine, case)
    again = dict(case, input=once, input_type=None)
    assert sanitize(engine, again) == once
