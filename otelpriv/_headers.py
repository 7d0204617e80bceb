"""HTTP header values: cookies keep their names and attributes, credentials go whole.

Cookie lists are split on ``;`` by hand rather than scanned with a pattern, so the work stays
linear however long and odd the header is.
"""

from __future__ import annotations

__all__ = ["scrub_cookie", "scrub_set_cookie"]


def _redact_pair(pair: str, placeholder: str) -> str | None:
    """``name=value`` with its value redacted; None when there is nothing to redact."""
    name, equals, value = pair.partition("=")
    stripped = value.strip()
    if not equals or not name.strip() or not stripped or stripped == placeholder:
        return None
    leading = value[: len(value) - len(value.lstrip())]
    trailing = value[len(value.rstrip()) :]
    return name + "=" + leading + placeholder + trailing


def scrub_cookie(value: str, hits: list[str], placeholder: str) -> str:
    """``Cookie: a=1; b=2`` keeps every name and loses every value."""
    if "=" not in value:
        return value
    pairs = value.split(";")
    changed = 0
    for index, pair in enumerate(pairs):
        redacted = _redact_pair(pair, placeholder)
        if redacted is not None:
            pairs[index] = redacted
            changed += 1
    if not changed:
        return value
    hits.extend(["cookie"] * changed)
    return ";".join(pairs)


def scrub_set_cookie(value: str, hits: list[str], placeholder: str) -> str:
    """``Set-Cookie`` redacts the cookie's value and keeps ``Path``, ``Max-Age`` and the rest."""
    first, separator, attributes = value.partition(";")
    redacted = _redact_pair(first, placeholder)
    if redacted is None:
        return value
    hits.append("cookie")
    return redacted + separator + attributes
