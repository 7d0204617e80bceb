"""What a key's name says: the words the engine reads in attribute and header names.

A key is judged by words, not substrings: ``refresh_token`` names a token, ``input_tokens``
counts them, ``token_count`` describes one, ``password.value`` holds one. These helpers split
names into words and compare them, so the engine can resolve each key once and cache the rule.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "HEADER_SECRET_WORDS",
    "compact",
    "compact_pair",
    "key_words",
    "names_secret",
    "normalized",
    "split_words",
]

_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+")
_NOT_ALNUM = re.compile(r"[\W_]+")

HOLDER_WORDS = frozenset({"", "value", "val", "raw", "plain", "text", "data", "str", "string"})
"""A last segment that only says "the value": the segment before it names the content."""

# fmt: off
METADATA_WORDS = frozenset({
    "count", "counts", "length", "len", "size", "type", "kind", "enabled", "present", "exists",
    "set", "expires", "expiry", "expiration", "expired", "ttl", "age", "required", "valid",
    "version", "format", "algorithm", "alg", "method", "source", "status", "provider", "scheme",
    "hint", "policy", "strength", "changed", "updated", "rotated", "reset", "id", "file", "path",
    "url", "uri", "endpoint", "header", "field", "name", "prefix", "usage", "limit", "max", "min",
})
"""A last word that describes a secret rather than holding it (``token_count``)."""

HEADER_SECRET_WORDS = frozenset({
    "token", "secret", "password", "passwd", "pwd", "auth", "authentication", "authorization",
    "credential", "credentials", "signature", "apikey", "subscriptionkey", "functionskey",
    "accesskey", "secretkey", "privatekey", "accountkey", "masterkey", "hostkey", "clientkey",
})
"""Words that make an HTTP header name a credential (``x-vault-token``, ``x-functions-key``)."""
# fmt: on


def split_words(segment: str) -> list[str]:
    """``refreshToken2`` gives refresh, token: camelCase and separators split, digits dropped."""
    return [word.lower().rstrip("0123456789") for word in _CAMEL.findall(segment)]


def key_words(key: str) -> list[str]:
    """The words that say what a key holds: its last segment's, or, when that segment only
    says "the value" (``app.password.value``, ``app.tokens.0``), the segment before it too."""
    segments = key.split(".")
    found = split_words(segments[-1])
    if len(segments) > 1 and (not found or set(found) <= HOLDER_WORDS):
        found = split_words(segments[-2]) + found
    return found


def names_secret(words: list[str], secret: frozenset[str]) -> bool:
    """A word, or two neighbours joined, is secret, and the last word is not about the secret
    (``token_count``, ``pin_enabled``, ``auth_method`` describe a secret, they do not hold one)."""
    if not words or words[-1] in METADATA_WORDS:
        return False
    if secret.intersection(words):
        return True
    return any(first + second in secret for first, second in zip(words, words[1:], strict=False))


def normalized(key: str) -> str:
    """A whole key compared loosely: ``EndUser.Id``, ``user_id``, ``userId``, ``user id`` and
    ``ｕｓｅｒ.id`` all match. Compatibility forms are folded (full-width letters, no-break
    spaces) and everything but letters and digits is dropped (separators of any kind, zero-width
    characters), so no spelling of a listed key slips past its rule."""
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", key).casefold())


def compact_pair(key: str) -> str:
    """The last two segments run together: ``app.shipping.name`` gives ``shippingname``."""
    return "".join(compact(segment) for segment in key.rsplit(".", 2)[-2:])


def compact(key: str) -> str:
    """A key's last segment, lower-cased without ``_`` and ``-``: ``postal_code`` is
    ``postalcode``."""
    segment = key.rsplit(".", 1)[-1].lower()
    return segment.replace("_", "").replace("-", "")
