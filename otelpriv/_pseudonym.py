"""Keyed, stable pseudonyms for user identifiers, and the key file that holds the keys.

A pseudonym is ``psn:<key id>:<26 base32 characters>``: HMAC-SHA256 under a secret key over the
normalized identity (surrounding blanks trimmed, e-mails lower-cased), cut to 128 bits. The
same identity gives the same pseudonym in every process that holds the key, so a help desk can
compute it from the e-mail a customer gives and search for it; without the key it cannot be
reversed or confirmed by guessing. The key id lets keys rotate: a key file holds several keys,
the newest writes, all of them still answer lookups.

Key material lives only in the key file (JSON, mode 0600) and in :class:`Key` objects whose
``repr`` shows the id alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from otelpriv._errors import KeyFileError

__all__ = [
    "PSEUDONYM",
    "Key",
    "KeyRing",
    "Pseudonymizer",
    "generate_key_file",
    "load_key_file",
    "normalize_identity",
    "pseudonym_for",
]

_log = logging.getLogger("otelpriv")
PSEUDONYM = re.compile(r"psn:[0-9a-f]{8}:[a-z2-7]{26}")
_KEY_BYTES = 32
_CACHE_LIMIT = 65536


@dataclass(frozen=True)
class Key:
    """One HMAC key; ``secret`` never appears in ``repr`` or ``str``."""

    id: str
    secret: bytes = field(repr=False)
    created: str = ""

    @classmethod
    def from_secret(cls, secret: bytes, created: str = "") -> Key:
        key_id = hashlib.sha256(b"otelpriv-key-id:" + secret).hexdigest()[:8]
        return cls(key_id, secret, created)


@dataclass(frozen=True)
class KeyRing:
    """The keys of one key file; the last one is used for writing."""

    keys: tuple[Key, ...]

    @property
    def active(self) -> Key:
        return self.keys[-1]


def normalize_identity(value: object) -> str:
    """Trim surrounding blanks; lower-case e-mails, whose domain and mailbox ignore case."""
    text = value if isinstance(value, str) else str(value)
    text = text.strip()
    if "@" in text:
        text = text.lower()
    return text


def pseudonym_for(key: Key, value: object) -> str:
    """The pseudonym of ``value`` under ``key``."""
    identity = normalize_identity(value).encode("utf-8", "surrogatepass")
    digest = hmac.new(key.secret, identity, hashlib.sha256).digest()[:16]
    code = base64.b32encode(digest).decode("ascii").rstrip("=").lower()
    return f"psn:{key.id}:{code}"


class Pseudonymizer:
    """Computes pseudonyms with the active key and remembers the recent ones.

    Real telemetry repeats the same few thousand identities; the cache keeps HMAC off the hot
    path. It is cleared, not evicted one by one, when full: cheaper and still bounded.
    """

    def __init__(self, ring: KeyRing) -> None:
        self._key = ring.active
        self._cache: dict[str, str] = {}

    @property
    def key_id(self) -> str:
        return self._key.id

    def __call__(self, value: object) -> str:
        text = value if isinstance(value, str) else str(value)
        found = self._cache.get(text)
        if found is None:
            if PSEUDONYM.fullmatch(text):
                return text
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            found = self._cache[text] = pseudonym_for(self._key, text)
        return found

    def __repr__(self) -> str:
        return f"Pseudonymizer(key_id={self._key.id!r})"


def load_key_file(path: str | os.PathLike[str]) -> KeyRing:
    """Read a key file written by ``otelpriv keygen``."""
    location = Path(path)
    try:
        document = json.loads(location.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeyFileError(
            f"key file {location} does not exist; create one with: otelpriv keygen {location}"
        ) from None
    except OSError as error:
        raise KeyFileError(f"key file {location} cannot be read: {error.strerror}") from None
    except ValueError:
        raise KeyFileError(
            f"key file {location} is not JSON; it must be a file written by otelpriv keygen"
        ) from None
    try:
        keys = tuple(
            Key.from_secret(base64.b64decode(entry["secret"], validate=True), entry["created"])
            for entry in document["keys"]
        )
    except (KeyError, TypeError, ValueError):
        raise KeyFileError(
            f"key file {location} is malformed: expected "
            '{"keys": [{"secret": <base64>, "created": <time>}, ...]}'
        ) from None
    if not keys:
        raise KeyFileError(f"key file {location} holds no keys; add one with otelpriv keygen")
    if any(len(key.secret) < 16 for key in keys):
        raise KeyFileError(f"key file {location} holds a key shorter than 128 bits")
    mode = location.stat().st_mode & 0o777
    if mode & 0o077:
        _log.warning(
            "key file %s can be read by other users (mode %o); run: chmod 600 %s",
            location,
            mode,
            location,
        )
    return KeyRing(keys)


def generate_key_file(path: str | os.PathLike[str], *, add: bool = False) -> Key:
    """Write a new random key; with ``add`` it joins the existing keys and becomes active."""
    location = Path(path)
    entries: list[dict[str, str]] = []
    if location.exists():
        if not add:
            raise KeyFileError(
                f"key file {location} already exists; use --add to rotate in a new key"
            )
        ring = load_key_file(location)
        entries = [
            {"secret": base64.b64encode(key.secret).decode(), "created": key.created}
            for key in ring.keys
        ]
    secret = secrets.token_bytes(_KEY_BYTES)
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries.append({"secret": base64.b64encode(secret).decode(), "created": created})
    location.parent.mkdir(parents=True, exist_ok=True)
    temporary = location.with_name(location.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"keys": entries}, handle, indent=2)
        handle.write("\n")
    os.replace(temporary, location)
    return Key.from_secret(secret, created)
