"""Keyed, stable pseudonyms for user identifiers, and the key file that holds the keys.

A pseudonym is ``psn:<key id>:<26 base32 characters>``: HMAC-SHA256 under a secret key over the
normalized identity (surrounding blanks trimmed, e-mails lower-cased), cut to 128 bits. The
same identity gives the same pseudonym in every process that holds the key, so a help desk can
compute it from the e-mail a customer gives and search for it; without the key it cannot be
reversed or confirmed by guessing. The key id lets keys rotate: a key file holds several keys,
the newest writes, all of them still answer lookups.

The ``encrypt`` action writes ``enc:<key id>:<token>`` instead: AES-SIV, deterministic
authenticated encryption under a key derived from the same secret, so the token is as stable
and searchable as a pseudonym, and the key holder alone can reveal it.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from otelpriv._errors import KeyFileError

__all__ = [
    "ENCRYPTED",
    "PSEUDONYM",
    "Key",
    "KeyRing",
    "Pseudonymizer",
    "generate_key_file",
    "load_key_file",
    "encrypt_for",
    "normalize_identity",
    "pseudonym_for",
    "reveal",
]

_log = logging.getLogger("otelpriv")
PSEUDONYM = re.compile(r"psn:[0-9a-f]{8}:[a-z2-7]{26}")
ENCRYPTED = re.compile(r"enc:([0-9a-f]{8}):([A-Za-z0-9_-]{22,})")
_KEY_BYTES = 32
_ENCODED_AT = re.compile(r"%(?:25)?40|\uff20|\ufe6b|&#0*64;|&#[xX]0*40;|&commat;|\\u0040|\\x40")
_CACHE_LIMIT = 16384


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
    """Trim surrounding blanks; lower-case e-mails, whose domain and mailbox ignore case.

    An e-mail written with an encoded ``@`` (``%40``, ``＠``, ``&#64;``) is the same person as
    the plain one, so the encodings are undone first.
    """
    text = value if isinstance(value, str) else str(value)
    text = text.strip()
    if "@" not in text and _ENCODED_AT.search(text):
        text = _ENCODED_AT.sub("@", text).replace("%2E", ".").replace("%2e", ".")
    if "@" in text:
        text = text.lower()
    return text


def pseudonym_for(key: Key, value: object) -> str:
    """The pseudonym of ``value`` under ``key``."""
    identity = normalize_identity(value).encode("utf-8", "surrogatepass")
    digest = hmac.digest(key.secret, identity, "sha256")[:16]
    return f"psn:{key.id}:{_base32(digest)}"


_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_BASE32_PAIRS = [first + second for first in _BASE32 for second in _BASE32]


def _base32(digest: bytes) -> str:
    """RFC 4648 base32 of 16 bytes, lower-cased, unpadded: 26 characters.

    The same text ``base64.b32encode`` gives, made ten bits at a time: that function is
    written in Python and was the costliest step of a new pseudonym.
    """
    number = int.from_bytes(digest, "big") << 2
    return "".join([_BASE32_PAIRS[(number >> shift) & 1023] for shift in range(120, -1, -10)])


def _cipher(key: Key) -> AESSIV:
    """AES-256-SIV under a key derived from the HMAC key: the two uses never share a key."""
    derived = HKDF(
        algorithm=hashes.SHA256(), length=64, salt=None, info=b"otelpriv encrypt v1"
    ).derive(key.secret)
    return AESSIV(derived)


def encrypt_for(key: Key, value: object) -> str:
    """The reversible token of ``value``: deterministic, so it is stable and searchable."""
    identity = normalize_identity(value).encode("utf-8", "surrogatepass")
    sealed = _cipher(key).encrypt(identity, None)
    return f"enc:{key.id}:" + base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")


def reveal(ring: KeyRing, token: str) -> str:
    """The identity behind an ``enc:`` token; any key of the ring that wrote it can open it.

    Raises :class:`KeyFileError` when no key of the ring wrote it, and ``ValueError`` when the
    token was altered (authenticated encryption refuses it).
    """
    match = ENCRYPTED.fullmatch(token.strip())
    if match is None:
        raise ValueError("not an otelpriv enc: token")
    key = next((key for key in ring.keys if key.id == match.group(1)), None)
    if key is None:
        raise KeyFileError(f"no key with id {match.group(1)} in the key file")
    sealed = base64.urlsafe_b64decode(match.group(2) + "=" * (-len(match.group(2)) % 4))
    try:
        return _cipher(key).decrypt(sealed, None).decode("utf-8", "surrogatepass")
    except InvalidTag:
        raise ValueError("the token was altered or is not from this key") from None


class Pseudonymizer:
    """Computes pseudonyms (and ``enc:`` tokens) with the active key, remembering recent ones.

    Real telemetry repeats the same few thousand identities; the caches keep HMAC and AES off
    the hot path. They are cleared, not evicted one by one, when full: cheaper and still
    bounded.
    """

    def __init__(self, ring: KeyRing) -> None:
        self._key = ring.active
        self._cache: dict[str, str] = {}
        self._sealed: dict[str, str] = {}

    @property
    def key_id(self) -> str:
        return self._key.id

    def __call__(self, value: object) -> str:
        return self._write(self._cache, pseudonym_for, value)

    def encrypt(self, value: object) -> str:
        """The reversible, deterministic token for ``value`` (the policy's ``encrypt``)."""
        return self._write(self._sealed, encrypt_for, value)

    def _write(
        self, cache: dict[str, str], write: Callable[[Key, object], str], value: object
    ) -> str:
        """A value already written (``psn:`` or ``enc:``) stays as it is: idempotent."""
        text = value if isinstance(value, str) else str(value)
        found = cache.get(text)
        if found is None:
            if PSEUDONYM.fullmatch(text) or ENCRYPTED.fullmatch(text):
                return text
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            found = cache[text] = write(self._key, text)
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
