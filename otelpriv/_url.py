"""URL surgery: redact what is secret, keep every other byte exactly as it came.

URLs are split by hand instead of with :mod:`urllib.parse` because the output must be
byte-identical outside the parts that change: no re-encoding, no reordering, ``;`` and ``&``
both separating parameters, a bare ``flag`` staying bare. Anything that does not split cleanly
raises :class:`UrlError`, and the caller falls back to the free-text rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote_plus

__all__ = ["UrlError", "UrlRules", "normalize_param"]

Scrub = Callable[[str, list[str]], str]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_PORT = re.compile(r"(?::\d*)?")
_SEPARATOR = re.compile(r"[&;]")
_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"\s")
_ENCODED_MARK = re.compile(r"%(?:3[adfADF]|2[fF5]|40|26)")
_EMBEDDED = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,15}://")
_SUFFIX_MIN = 5
_PLAIN_AUTHORITY = re.compile(r"(?:[^:\[\]]*|\[[0-9A-Fa-f:.]*\])(?::\d*)?")
_KNOWN_LIMIT = 16384
_PARTS = re.compile(r"[&;#]")
_NAMES = re.compile(r"(?:^|[&;#?])([^&;=#?]*)=")


def _labelled(params: str) -> bool:
    """More ``=`` than parameters: some value holds a ``label=secret`` of its own; or a value
    hides a URL, a query or an e-mail behind percent-encoding."""
    if params.count("=") > params.count("&") + params.count(";") + 1:
        return True
    return "%" in params and _ENCODED_MARK.search(params) is not None


def _decoded(part: str) -> str:
    """A URL part as it reads once every layer of percent- and form-encoding is undone."""
    for _ in range(3):
        if "%" not in part and "+" not in part:
            break
        decoded = unquote_plus(part)
        if decoded == part:
            break
        part = decoded
    return part


class UrlError(ValueError):
    """The value is not a URL we can take apart with certainty."""


def normalize_param(name: str) -> str:
    """Decode and case-fold a parameter name, ignoring ``-``, ``_`` and ``.`` in it.

    A nested name (``user[password]``, PHP and Rails style) is judged by its last part.
    """
    decoded = unquote_plus(name) if "%" in name or "+" in name else name
    while decoded.endswith("[]"):
        decoded = decoded[:-2]
    if decoded.endswith("]") and "[" in decoded:
        decoded = decoded[decoded.rindex("[") + 1 : -1]
    return decoded.casefold().replace("-", "").replace("_", "").replace(".", "").strip()


@dataclass(frozen=True)
class UrlRules:
    """What a policy says about URLs.

    ``scrub`` runs the free-text detectors over every part that is not a credential or a
    sensitive parameter's value. ``value_gate`` tells cheaply whether any detector but the
    label detectors (``name=value`` is this module's job) could find anything in a string.
    """

    secret_params: frozenset[str]
    placeholder: str
    userinfo: str
    scrub: Scrub
    value_gate: Callable[[str], bool]
    _suffixes: tuple[str, ...] = field(init=False, repr=False, default=())
    _known: dict[str, bool] = field(init=False, repr=False, default_factory=dict)

    def url(self, url: str, hits: list[str]) -> str:
        """Sanitize an absolute URL or a reference (``/path?query#fragment``) in place.

        A value with white space in it is not one URL: it raises :class:`UrlError` so that the
        free-text rules, which find the URLs inside, take it. Nested schemes
        (``jdbc:postgresql://…``) are read through to the authority.
        """
        if _SPACE.search(url):
            raise UrlError("white space: not a single URL")
        if self._clean(url):
            return url
        rest = url
        head = ""
        scheme = _SCHEME.match(url)
        while scheme is not None:
            head, rest = head + scheme.group(), rest[scheme.end() :]
            scheme = _SCHEME.match(rest) if not rest.startswith("/") else None
        if rest.startswith("//"):
            end = len(rest)
            for char in "/?#":
                found = rest.find(char, 2)
                if 0 <= found < end:
                    end = found
            head += "//" + self._authority(rest[2:end], hits)
            rest = rest[end:]
        elif head and not rest.startswith("/"):
            return self.scrub(url, hits)
        rest, hash_, fragment = rest.partition("#")
        path, question, query = rest.partition("?")
        out = head + self._path(path, hits)
        if question:
            out += "?" + self.params(query, hits)
        if hash_:
            out += "#" + self.fragment(fragment, hits)
        return out

    def _clean(self, url: str) -> bool:
        """The common case, settled at once: no credentials, nothing any detector could
        match, no label before the query, no sensitive parameter name."""
        if "@" in url:
            return False
        before, _, after = url.partition("?")
        _, scheme, rest = before.rpartition("://")
        authority, _, path = rest.partition("/") if scheme else ("", "", rest)
        if "=" in before or ";" in before or ":" in path or ":" in after or _labelled(after):
            return False
        if ":" in authority and not _PLAIN_AUTHORITY.fullmatch(authority):
            return False
        known = self._known
        if len(known) > _KNOWN_LIMIT:
            known.clear()
        for part in (before, *_PARTS.split(after)):
            verdict = known.get(part)
            if verdict is None:
                name, equals, _ = part.partition("=")
                secret = bool(equals) and self.secret_name(normalize_param(name))
                verdict = known[part] = not secret and not self._gate(part)
            if not verdict:
                return False
        return True

    def _gate(self, part: str) -> bool:
        """Whether a detector could find anything in a URL part, as written or as it decodes
        (``0+@x.io`` is an address as written, ``4111%2D1111…`` a card once decoded)."""
        if self.value_gate(part):
            return True
        decoded = _decoded(part)
        return decoded != part and self.value_gate(decoded)

    def params(self, params: str, hits: list[str]) -> str:
        """Redact the values of sensitive parameters; scrub the other names and values."""
        if (
            ":" not in params
            and not _labelled(params)
            and not self._gate(params)
            and not any(self.secret_name(normalize_param(name)) for name in _NAMES.findall(params))
        ):
            return params
        out: list[str] = []
        start = 0
        for separator in _SEPARATOR.finditer(params + "&"):
            out.append(self._param(params[start : separator.start()], hits))
            out.append(separator.group())
            start = separator.end()
        return "".join(out)[:-1]

    def __post_init__(self) -> None:
        suffixes = tuple(name for name in self.secret_params if len(name) >= _SUFFIX_MIN)
        object.__setattr__(self, "_suffixes", suffixes)

    def secret_name(self, name: str) -> bool:
        """A sensitive name, or one that ends in a long sensitive name (``db_password``)."""
        return name in self.secret_params or name.endswith(self._suffixes)

    def fragment(self, fragment: str, hits: list[str]) -> str:
        """A fragment of ``name=value`` pairs (OAuth implicit flow, SPA routes) is a query."""
        if "=" not in fragment:
            return self.scrub(fragment, hits)
        route, question, params = fragment.rpartition("?")
        if question:
            return self.scrub(route, hits) + "?" + self.params(params, hits)
        return self.params(fragment, hits)

    def _param(self, param: str, hits: list[str]) -> str:
        name, equals, value = param.partition("=")
        if not equals:
            return self.value(param, hits)
        if self.secret_name(normalize_param(name)):
            if value in ("", self.placeholder):
                return param
            hits.append("url_param")
            return name + "=" + self.placeholder
        return self.scrub(name, hits) + "=" + self.value(value, hits)

    def _path(self, path: str, hits: list[str]) -> str:
        """A path, or a path that carries another URL (``/proxy/https://user:pw@host/``)."""
        inner = _EMBEDDED.search(path)
        if inner is None:
            return self.scrub(path, hits)
        return self.scrub(path[: inner.start()], hits) + self.value(path[inner.start() :], hits)

    def value(self, value: str, hits: list[str]) -> str:
        """A parameter value; one that is a URL itself (``next=https://…``) gets these rules.

        An encoded value (``redirect=https%3A%2F%2F…%3Ftoken%3D…``, ``q=password%3Dx``,
        ``x=Bearer+2Yotn…``) is decoded first, as often as it was encoded, and read as what it
        decodes to; when anything in it changes, the sanitized value is encoded back. Else it
        is read as written too (``0+@x.io`` is an address only as written). A URL written
        plainly with an escape inside (``https://h/a%40b``) is not an encoded one: it keeps its
        form, so a second run reads it the same way.
        """
        if ("%" in value or "+" in value) and "://" not in value and not value.startswith("/"):
            decoded = unquote_plus(value)
            if decoded != value:
                local: list[str] = []
                cleaned = self.value(decoded, local)
                if cleaned != decoded:
                    hits.extend(local)
                    return quote(cleaned, safe="[]")
        if "://" in value or (value.startswith("/") and "?" in value):
            try:
                return self.url(value, hits)
            except UrlError:
                pass
        return self.scrub(value, hits)

    def _authority(self, authority: str, hits: list[str]) -> str:
        userinfo, at, hostport = authority.rpartition("@")
        if at:
            hidden = self.userinfo
            redacted = f"{hidden}:{hidden}" if ":" in userinfo else hidden
            if userinfo != redacted:
                hits.append("url_userinfo")
            userinfo = redacted + "@"
        if hostport.startswith("["):
            end = hostport.find("]")
            if end < 0:
                raise UrlError("unterminated IPv6 literal")
            host, port = hostport[: end + 1], hostport[end + 1 :]
        else:
            host, colon, port = hostport.partition(":")
            port = colon + port
        if not _PORT.fullmatch(port):
            raise UrlError("port is not a number")
        if ":" not in host and not _DIGIT.search(host):
            return userinfo + host + port
        return userinfo + self.scrub(host, hits) + port
