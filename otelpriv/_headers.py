"""HTTP header values: cookies keep their names and attributes, credentials go whole."""

from __future__ import annotations

import re

__all__ = ["scrub_cookie", "scrub_set_cookie"]

_PAIR = re.compile(r"(?P<name>[^=;,\s][^=;]*?)\s*=\s*(?P<value>[^;]*)")


def _redact_value(match: re.Match[str], placeholder: str) -> str:
    value = match.group("value")
    if not value.strip() or value.strip() == placeholder:
        return match.group(0)
    start, end = match.span("value")
    trailing = len(value) - len(value.rstrip())
    return match.string[match.start() : start] + placeholder + match.string[end - trailing : end]


def scrub_cookie(value: str, hits: list[str], placeholder: str) -> str:
    """``Cookie: a=1; b=2`` keeps every name and loses every value."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        out = _redact_value(match, placeholder)
        count += out != match.group(0)
        return out

    result = _PAIR.sub(replace, value)
    hits.extend(["cookie"] * count)
    return result


def scrub_set_cookie(value: str, hits: list[str], placeholder: str) -> str:
    """``Set-Cookie`` redacts the cookie's value and keeps ``Path``, ``Max-Age`` and the rest."""
    match = _PAIR.match(value, len(value) - len(value.lstrip()))
    if match is None:
        return value
    out = _redact_value(match, placeholder)
    if out == match.group(0):
        return value
    hits.append("cookie")
    return value[: match.start()] + out + value[match.end() :]
