"""Show what otelpriv changed: each changed value of the sample telemetry, before and after.

Usage: python examples/compare.py BEFORE_DIR AFTER_DIR
       python examples/compare.py --pairs BEFORE.jsonl AFTER.jsonl

Both folders hold shop-traces.jsonl, shop-logs.jsonl and shop-metrics.jsonl (or the two files
are given); the lines are paired in order. The sample data is invented, so printing it here is
harmless; otelpriv itself never prints telemetry values.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SIGNALS = ("traces", "logs", "metrics")
WIDTH = 58


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("\n", "\\n")


def _window(text: str, start: int) -> str:
    """At most WIDTH characters of ``text``, starting a little before ``start``."""
    begin = max(0, min(start - 10, len(text) - WIDTH))
    shown = text[begin : begin + WIDTH]
    return ("…" if begin else "") + shown + ("…" if begin + WIDTH < len(text) else "")


def _pair(before: Any, after: Any) -> tuple[str, str]:
    """Both values, cut to the region where they first differ."""
    old, new = _text(before), _text(after)
    start = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), 0)
    return _window(old, start), _window(new, start)


def _walk(before: Any, after: Any, where: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        label = where
        if "key" in before and "value" in before:
            label = f"{where} {before['key']}"
        elif isinstance(before.get("name"), str):
            label = f"{before['name']}"
        for field in before:
            if field in after:
                _walk(before[field], after[field], label, out)
        return
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for old, new in zip(before, after, strict=True):
            _walk(old, new, where, out)
        return
    if before != after:
        out.append((where, before, after))


def _compare(name: str, befores: list[str], afters: list[str]) -> None:
    changes: list[tuple[str, Any, Any]] = []
    for old, new in zip(befores, afters, strict=True):
        _walk(json.loads(old), json.loads(new), "", changes)
    print(f"\n== {name}: {len(changes)} value(s) changed")
    for where, old, new in changes:
        shown_old, shown_new = _pair(old, new)
        print(f"  {where.strip()}\n      before: {shown_old}\n      after:  {shown_new}")


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def main() -> None:
    if len(sys.argv) != 3 and not (len(sys.argv) == 4 and sys.argv[1] == "--pairs"):
        sys.exit(__doc__)
    if sys.argv[1] == "--pairs":
        before, after = Path(sys.argv[2]), Path(sys.argv[3])
        _compare(after.name, _lines(before), _lines(after))
        return
    before_dir, after_dir = Path(sys.argv[1]), Path(sys.argv[2])
    for signal in SIGNALS:
        name = f"shop-{signal}.jsonl"
        _compare(name, _lines(before_dir / name), _lines(after_dir / name))


if __name__ == "__main__":
    main()
