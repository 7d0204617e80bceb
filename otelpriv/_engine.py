"""The compiled policy: one engine that every adapter (SDK, relay, CLI) calls.

:class:`Engine` turns a :class:`~otelpriv._policy.Policy` into a :class:`Sanitizer` per service,
built once and cached. A sanitizer resolves each attribute key to a handler the first time it
sees the key — dispatch by key instead of scanning every value with every rule — and caches the
result of free-text scans, because telemetry repeats the same strings endlessly.

Handlers work on plain Python values (str, int, float, bool, bytes, list, dict) and follow one
convention: they return the very object they were given when nothing changed, so adapters can
skip the write-back with an ``is`` test. A handler may raise :class:`DropValue`; any other
exception is the adapter's to turn into a full redaction (fail-closed).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import logging
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from otelpriv._actions import Action, DropValue
from otelpriv._detectors import Detector, card_number, mask_ipv4, mask_ipv6
from otelpriv._errors import PolicyError
from otelpriv._headers import scrub_cookie, scrub_set_cookie
from otelpriv._keys import (
    HEADER_SECRET_WORDS,
    compact,
    compact_pair,
    key_words,
    names_secret,
    normalized,
    split_words,
)
from otelpriv._policy import Policy, merge_service
from otelpriv._pseudonym import KeyRing, Pseudonymizer
from otelpriv._text import TextRules
from otelpriv._url import normalize_param

__all__ = ["Engine", "Handler", "Sanitizer", "unique_key"]

Handler = Callable[[Any, list[str]], Any]

_REQUEST_HEADER = "http.request.header."
_RESPONSE_HEADER = "http.response.header."
_FORM = re.compile(r"[\w.%\[\]-]+=[^&\s]*(?:&[\w.%\[\]-]+=[^&\s]*)+")
_URL_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{1,15}://\S+")
_SPACE = re.compile(r"\s")
_FLOAT_EXACT = 2**53
_SURROGATE = re.compile("[\ud800-\udfff]")
_CACHE_LIMIT = 16384
_log = logging.getLogger("otelpriv")
_failure_logged = False
_CACHE_MAX_LENGTH = 1024
_CACHE_BUDGET = 2 << 20
_TWIN_SUFFIX = re.compile(r"#\d+(?=\.|$)")


class Engine:
    """A policy compiled for use, with the key ring its ``hash`` actions need."""

    def __init__(self, policy: Policy | None = None, keys: KeyRing | None = None) -> None:
        self.policy = policy if policy is not None else Policy()
        self._pseudonymizer = Pseudonymizer(keys) if keys is not None else None
        self._sanitizers: dict[str | None, Sanitizer] = {}
        self._default = Sanitizer(self.policy, self._pseudonymizer)
        for name in self.policy.services:
            self._sanitizers[name] = Sanitizer(
                merge_service(self.policy, name), self._pseudonymizer
            )

    @property
    def key_id(self) -> str | None:
        """The id of the key pseudonyms are written with, or None without a key."""
        return self._pseudonymizer.key_id if self._pseudonymizer is not None else None

    def for_service(self, service: str | None) -> Sanitizer:
        """The sanitizer for a resource's ``service.name`` (the shared one if it has none)."""
        return self._sanitizers.get(service, self._default)

    def __repr__(self) -> str:
        return f"Engine(services={sorted(self._sanitizers)!r}, key_id={self.key_id!r})"


def _uses_key(policy: Policy) -> bool:
    """Whether any rule of the policy pseudonymizes or encrypts, and so needs the key."""
    keyed = (Action.HASH, Action.ENCRYPT)
    actions = [
        *policy.detectors.values(),
        policy.user_ids.action,
        policy.secrets.action,
        policy.addresses.action,
        policy.ips.action,
        *(rule.action for rule in policy.rules),
        *(pattern.action for pattern in policy.patterns),
    ]
    return any(action in keyed for action in actions)


class Sanitizer:
    """The rules of one policy for one service, ready to run."""

    def __init__(self, policy: Policy, pseudonymizer: Pseudonymizer | None) -> None:
        if pseudonymizer is None and _uses_key(policy):
            raise PolicyError(
                "the policy pseudonymizes values (action: hash or encrypt) but no key was given; "
                "create "
                "one with `otelpriv keygen KEYFILE` and pass --key-file KEYFILE or set "
                "OTELPRIV_KEY_FILE"
            )
        self.policy = policy
        self.placeholder = policy.placeholder
        self._pseudonym = pseudonymizer
        extra = tuple(
            Detector(
                id=pattern.id,
                pattern=re.compile(pattern.regex),
                placeholder=pattern.placeholder,
            )
            for pattern in policy.patterns
        )
        actions = {**policy.detectors, **{p.id: p.action for p in policy.patterns}}
        secret_params = frozenset(normalize_param(name) for name in policy.urls.secret_params)
        userinfo = policy.urls.userinfo_placeholder
        self.text_rules = TextRules(
            actions, policy.placeholder, secret_params, userinfo, pseudonymizer, extra
        )
        self._versions = TextRules(
            actions,
            policy.placeholder,
            secret_params,
            userinfo,
            pseudonymizer,
            extra,
            skip=frozenset({"ipv4", "ipv6"}),
        )
        self.handlers: dict[str, Handler] = {}
        self.string_handlers: dict[str, Handler] = {}
        self._names: dict[str, str] = {}
        self._string_forms: dict[Handler, Handler] = {}
        urls = self.text_rules.urls
        self.text = _memo(self._text)
        self.url = _memo(self.text_rules.url)
        self._query = _memo(partial(self._url_part, urls.params))
        self._fragment = _memo(partial(self._url_part, urls.fragment))
        self._version_text = _memo(self._versions.scrub)
        self._cookie = _memo(partial(self._header_text, scrub_cookie))
        self._set_cookie = _memo(partial(self._header_text, scrub_set_cookie))
        self.auto: Handler = self.auto  # one bound object, so handlers compare with ``is``
        self._string_forms[self.auto] = self.text
        self._rules = [
            (re.compile("|".join(fnmatch.translate(glob) for glob in rule.keys)), rule.action)
            for rule in policy.rules
        ]
        allow = policy.allow_keys
        self._allow = (
            re.compile("|".join(fnmatch.translate(glob) for glob in allow))
            if allow is not None
            else None
        )
        self._user_ids = frozenset(normalized(key) for key in policy.user_ids.keys)
        self._secret_words = frozenset(policy.secrets.words)
        self._address_names = frozenset(policy.addresses.names)
        self._ip_keys = frozenset(policy.ips.keys)
        self._ip_names = frozenset(policy.ips.names)
        self._url_full = frozenset(policy.urls.full)
        self._url_query = frozenset(policy.urls.query)
        self._url_fragment = frozenset(policy.urls.fragment)
        self._redact_headers = frozenset(policy.headers.redact)
        self._version_words = frozenset(policy.version_keys)

    def handler(self, key: str) -> Handler:
        """The handler for values under ``key``; resolved once per key, then cached."""
        found = self.handlers.get(key)
        if found is None:
            if len(self.handlers) >= _CACHE_LIMIT:
                self.handlers.clear()
                self.string_handlers.clear()
            found = self.handlers[key] = self._resolve(key)
            self.string_handlers[key] = self._string_forms.get(found, found)
        return found

    def string_handler(self, key: str) -> Handler:
        """The handler for a string under ``key``: the same rule, one call shorter.

        Adapters look it up in :attr:`string_handlers` first, falling back to this method.
        """
        found = self.string_handlers.get(key)
        if found is None:
            self.handler(key)
            found = self.string_handlers[key]
        return found

    def _resolve(self, key: str) -> Handler:
        base = _TWIN_SUFFIX.sub("", key)
        if base != key:
            return self.handler(base)
        found = self._resolve_exact(key)
        if found is not self.auto:
            return found
        segments = key.split(".")
        if len(segments) > 1 and len(segments[-2]) > 3 and segments[-2].endswith("s"):
            segments[-2] = segments[-2][:-1]
            return self.handler(".".join(segments))
        return found

    def _user_id(self, key: str) -> bool:
        """A listed user-id key, loosely spelled, alone or at the end of a longer key:
        ``app.user.id``, ``x.customerId`` and the header ``x-user-id`` hold user ids as
        ``user.id`` does."""
        names = self._user_ids
        if normalized(key) in names:
            return True
        segments = key.split(".")
        last = segments[-1]
        if last[:2].lower() == "x-":
            last = last[2:]
        return len(segments) > 1 and (
            normalized(last) in names or normalized(".".join(segments[-2:])) in names
        )

    def _resolve_exact(self, key: str) -> Handler:
        """The rule for ``key`` as it is written (``_resolve`` adds twins and plurals)."""
        if self._allow is not None and not self._allow.fullmatch(key):
            return self._named_action(Action.DROP, "not_allowed")
        for pattern, action in self._rules:
            if pattern.fullmatch(key):
                return self._named_action(action, "rule")
        if self._user_id(key):
            return self._named_action(self.policy.user_ids.action, "user_id")
        if key.startswith(_REQUEST_HEADER) or key.startswith(_RESPONSE_HEADER):
            header = key[len(_REQUEST_HEADER) :].lower()
            if key.startswith(_RESPONSE_HEADER):
                header = key[len(_RESPONSE_HEADER) :].lower()
            return self._header(header, key)
        if key in self._url_full:
            return self._each(self.url)
        if key in self._url_query:
            return self._each(self._query)
        if key in self._url_fragment:
            return self._each(self._fragment)
        short = compact(key)
        if key in self._ip_keys or short in self._ip_names:
            return self._named_action(self.policy.ips.action, "ip")
        found = key_words(key)
        if names_secret(found, self._secret_words):
            return self._named_action(self.policy.secrets.action, "secret_key")
        if short in self._address_names or compact_pair(key) in self._address_names:
            return self._named_action(self.policy.addresses.action, "address_key")
        if self._version_words.intersection(found):
            return self._each(self._version_text)
        return self.auto

    def _header(self, header: str, key: str) -> Handler:
        if header in self._redact_headers or names_secret(
            split_words(header.replace("-", "_")), HEADER_SECRET_WORDS
        ):
            return self._named_action(Action.REDACT, "header")
        if header == "cookie":
            return self._each(self._cookie)
        if header == "set-cookie":
            return self._each(self._set_cookie)
        if key in self._url_full:
            return self._each(self.url)
        return self.auto

    def _named_action(self, action: Action, rule: str) -> Handler:
        if action is Action.KEEP:
            return _keep
        if action is Action.DROP:

            def drop(value: Any, hits: list[str]) -> Any:
                hits.append(rule)
                raise DropValue

            return drop
        if action is Action.HASH or action is Action.ENCRYPT:
            assert self._pseudonym is not None
            pseudonym = self._pseudonym if action is Action.HASH else self._pseudonym.encrypt

            def hash_(value: Any, hits: list[str]) -> Any:
                if isinstance(value, list | tuple):
                    return [hash_(item, hits) for item in value]
                if isinstance(value, dict | bytes) or value is None:
                    return redact(value, hits)
                out = pseudonym(value)
                if out != value:
                    hits.append(rule)
                return out

            redact = self._redactor(rule)
            return hash_
        if action is Action.MASK and rule == "ip":
            return self._each(_memo(self._mask_ip))
        return self._redactor(rule)

    def _redactor(self, rule: str) -> Handler:
        placeholder = self.placeholder

        def redact(value: Any, hits: list[str]) -> Any:
            if isinstance(value, list | tuple):
                out = [redact(item, hits) for item in value]
                return value if _same(out, value) else out
            if value == placeholder or value in ("", None) or isinstance(value, bool):
                return value
            hits.append(rule)
            return placeholder

        return redact

    def _each(self, scrub: Callable[[str, list[str]], str]) -> Handler:
        """Apply a string rule to a string, each string of an array; other types go ``auto``."""

        def handle(value: Any, hits: list[str]) -> Any:
            if isinstance(value, str):
                return scrub(value, hits)
            if isinstance(value, list | tuple):
                out = [handle(item, hits) for item in value]
                return value if _same(out, value) else out
            return self.auto(value, hits)

        self._string_forms[handle] = scrub
        return handle

    def auto(self, value: Any, hits: list[str]) -> Any:
        """A value under a key no rule names: scanned by type."""
        if isinstance(value, str):
            return self.text(value, hits)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, float):
            exact = 10**11 < abs(value) <= _FLOAT_EXACT and value.is_integer()
            if exact and card_number(int(value)):
                hits.append("credit_card")
                return self.placeholder_for("credit_card")
            return value
        if isinstance(value, int):
            if abs(value) > 10**11 and card_number(value):
                hits.append("credit_card")
                return self.placeholder_for("credit_card")
            return value
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", "replace"), hits)
        if isinstance(value, list | tuple):
            out = [self.auto(item, hits) for item in value]
            return value if _same(out, value) else out
        if isinstance(value, dict):
            return self.body(value, hits)
        raise TypeError(f"cannot sanitize a value of type {type(value).__name__}")

    def body(self, value: Any, hits: list[str], parent: str = "") -> Any:
        """A log body or a map value: each key gets its own rules, at any depth.

        A key that means little alone is read with its parent: ``name`` under ``shipping``
        is ``shipping.name``, an address part.
        """
        if not isinstance(value, dict):
            return self.auto(value, hits)
        out: dict[str, Any] = {}
        changed = False
        for key, item in value.items():
            name = str(key)
            handler = self.handler(name)
            if handler is self.auto and parent:
                handler = self.handler(f"{parent}.{name}")
            try:
                if handler is self.auto and isinstance(item, dict | list | tuple):
                    cleaned = self.value(name, item, hits)
                else:
                    cleaned = handler(item, hits)
            except DropValue:
                changed = True
                continue
            renamed = unique_key(self.rename(name, hits), out)
            changed = changed or cleaned is not item or renamed is not name
            out[renamed] = cleaned
        return out if changed else value

    def rename(self, key: str, hits: list[str]) -> str:
        """The key itself, sanitized: personal data in a key name is replaced like in text.

        Computed on first use and cached apart from the handlers, so that no cache being
        cleared can ever let a key through unsanitized.
        """
        renamed = self._names.get(key)
        if renamed is None:
            if len(self._names) >= _CACHE_LIMIT:
                self._names.clear()
            renamed = self._names[key] = self.text(key, [])
        if renamed == key:
            return key
        hits.append("key")
        return renamed

    def placeholder_for(self, detector: str) -> str:
        return "[CREDIT_CARD]" if detector == "credit_card" else self.placeholder

    def _text(self, text: str, hits: list[str]) -> str:
        """Free text; URL-shaped values get the URL rules, form-encoded ones the query rules."""
        if _URL_VALUE.fullmatch(text):
            return self.text_rules.url(text, hits)
        if "=" in text and "&" in text and _FORM.fullmatch(text):
            return self.text_rules.urls.params(text, hits)
        return self.text_rules.scrub(text, hits)

    def _header_text(
        self, scrub: Callable[[str, list[str], str], str], value: str, hits: list[str]
    ) -> str:
        """A cookie header: values redacted by its grammar, anything else by the text rules."""
        return self._text(scrub(value, hits, self.placeholder), hits)

    def _url_part(self, scrub: Callable[[str, list[str]], str], value: str, hits: list[str]) -> str:
        """A query or fragment value; one with white space in it is prose, and a whole URL or
        path in its place gets the URL rules."""
        if _SPACE.search(value):
            return self._text(value, hits)
        if value.startswith("/") or "://" in value:
            return self.text_rules.url(value, hits)
        return scrub(value, hits)

    def _mask_ip(self, value: str, hits: list[str]) -> str:
        text = value.strip()
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return self.text(value, hits)
        masked = mask_ipv4(text) if address.version == 4 else mask_ipv6(text)
        if masked == value:
            return value
        hits.append("ip")
        return masked

    def value(self, key: str, value: Any, hits: list[str]) -> Any:
        """Sanitize one attribute value; raises DropValue when the attribute must go.

        A map under a key no rule names is read with that key as its parent, as in a log
        body: ``shipping = {name: …}`` is ``shipping.name``, in an array of maps too.
        """
        handler = self.handler(key)
        if handler is not self.auto or not isinstance(value, dict | list | tuple):
            return handler(value, hits)
        if isinstance(value, dict):
            return self.body(value, hits, key)
        out = [self.value(key, item, hits) for item in value]
        return value if _same(out, value) else out

    def attributes(self, attributes: Mapping[str, Any] | None, hits: list[str]) -> Any:
        """A mapping of plain attribute values, fail-closed; the same object if nothing changed.

        Dropped attributes are left out; a value whose rule fails becomes the placeholder.
        """
        if not attributes:
            return attributes
        out: dict[str, Any] = {}
        changed = False
        for key, value in attributes.items():
            try:
                cleaned = self.value(key, value, hits)
            except DropValue:
                changed = True
                continue
            except Exception as error:  # noqa: BLE001 - fail closed on any engine fault
                cleaned = self._failed(error, hits)
            name = unique_key(self.rename(key, hits), out)
            changed = changed or cleaned is not value or name is not key
            out[name] = cleaned
        return out if changed else attributes

    def safe_text(self, text: str | None, hits: list[str]) -> str | None:
        """Free text such as a span name or status description, fail-closed."""
        return self._safely(self.text, text, hits) if text else text

    def safe_body(self, body: Any, hits: list[str]) -> Any:
        """A log body (string, map, array, scalar), fail-closed."""
        return self._safely(self.auto, body, hits)

    def _safely(self, handler: Handler, value: Any, hits: list[str]) -> Any:
        try:
            return handler(value, hits)
        except DropValue:
            hits.append("drop")
            return self.placeholder
        except Exception as error:  # noqa: BLE001 - fail closed on any engine fault
            return self._failed(error, hits)

    def _failed(self, error: Exception, hits: list[str]) -> str:
        hits.append("error")
        _log_failure(error)
        return self.placeholder


def _memo(scrub: Callable[[str, list[str]], str]) -> Callable[[str, list[str]], str]:
    """Cache a string rule: the same value always gives the same result and the same hits.

    The cache is cleared when full (by entries, or by the characters it holds) rather than
    evicted entry by entry: bounded, and cheaper on the hot path than an LRU. Long values are
    not cached; they rarely repeat.
    """
    cache: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    held = [0]

    def cached(value: str, hits: list[str]) -> str:
        found = cache.get(value)
        if found is not None:
            out, rules = found
            if out is None:
                return value
            hits.extend(rules)
            return out
        local: list[str] = []
        text = value
        if _SURROGATE.search(text):
            local.append("utf8")
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        out = scrub(text, local)
        changed = out != value
        if len(value) <= _CACHE_MAX_LENGTH:
            size = len(value) + (len(out) if changed else 0)
            if len(cache) >= _CACHE_LIMIT or held[0] + size > _CACHE_BUDGET:
                cache.clear()
                held[0] = 0
            cache[value] = (out if changed else None, tuple(local))
            held[0] += size
        if not changed:
            return value
        hits.extend(local)
        return out

    return cached


def _log_failure(error: Exception) -> None:
    """Log an engine fault once per process: the type only, never the value."""
    global _failure_logged
    if not _failure_logged:
        _failure_logged = True
        _log.error(
            "a value could not be sanitized and was redacted whole (%s); further faults are "
            "counted as rule 'error' but not logged",
            type(error).__name__,
        )


def _keep(value: Any, hits: list[str]) -> Any:
    return value


def unique_key(key: str, taken: Mapping[str, Any] | set[str]) -> str:
    """Two keys that sanitize to the same name both stay: the later gets ``#2``, ``#3``…"""
    if key not in taken:
        return key
    number = 2
    while f"{key}#{number}" in taken:
        number += 1
    return f"{key}#{number}"


def _same(new: list[Any], old: list[Any]) -> bool:
    """Whether a rebuilt list holds the very same items (nothing changed)."""
    return all(a is b for a, b in zip(new, old, strict=True))
