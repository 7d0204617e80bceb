"""Free-text rules: find sensitive values inside any string and replace them in place.

Exception messages, stack traces, log bodies, SQL statements and span names are scanned by the
same ordered passes. Each pass is one compiled pattern behind a cheap substring check, so a
clean string costs one C-level scan: the passes' triggers, joined into one pattern, must find
something before any pass runs. The surrounding text — line breaks, quotes, labels —
is kept byte for byte, and the placeholders themselves never match, so a second run changes
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from otelpriv._actions import Action, DropValue
from otelpriv._detectors import DETECTORS, Detector
from otelpriv._headers import scrub_cookie, scrub_set_cookie
from otelpriv._pseudonym import Pseudonymizer
from otelpriv._url import UrlError, UrlRules

__all__ = ["TextRules"]

_ORDER = (
    "private_key",
    "url",
    "cookie",
    "labelled_secret",
    "sql_password",
    "cli_secret",
    "redis_auth",
    "bearer",
    "jwt",
    "api_key",
    "email",
    "credit_card",
    "iban",
    "us_ssn",
    "ipv6",
    "ipv4",
    "ipv4_host",
)

_SPACE = re.compile(r"\s")
_DIGIT = re.compile(r"\d")
_ACROSS_URLS = frozenset(
    {
        "private_key",
        "labelled_secret",
        "sql_password",
        "cli_secret",
        "redis_auth",
        "bearer",
        "jwt",
        "api_key",
        "credit_card",
        "iban",
        "us_ssn",
    }
)
_LABELLED = frozenset({"labelled_secret", "sql_password", "cli_secret", "redis_auth"})
_ENCODED_SCHEME_TEXT = r"[A-Za-z][A-Za-z0-9+.-]{1,15}%3[Aa]%2[Ff]%2[Ff]"
_URL_TOKENS = re.compile(
    r"(?<![\w+.-])[A-Za-z][A-Za-z0-9+.-]{1,15}:[/\\]{1,3}[^\s\"'<>`]*[^\s\"'<>`.,;:!?)]"
    r"|(?<![\w/.:])/[^\s\"'<>`?]*\?[^\s\"'<>`]*[^\s\"'<>`.,;:!?)]"
    r"|(?<![\w+.-])" + _ENCODED_SCHEME_TEXT + r"[^\s\"'<>`]*[^\s\"'<>`.,;:!?)]"
)
_ENCODED_SCHEME = re.compile(_ENCODED_SCHEME_TEXT)
_SCHEME_HEAD = r"[A-Za-z][A-Za-z0-9+.-]*:[/\\]+"
_FALLBACK_USERINFO = re.compile(r"(?P<head>" + _SCHEME_HEAD + r")(?P<userinfo>\S*)@")
_FALLBACK_PASSWORD = re.compile(
    r"(?P<head>" + _SCHEME_HEAD + r"[^/\\\s:@?#\[]*:)(?P<password>[^/\\\s\d][^/\\\s]*)"
)
_COOKIE_IN_TEXT = re.compile(
    r"\b(?P<set>set-)?cookie(?P<q>\\?[\"']?)[ \t]*[:=][ \t]*(?P=q)(?P<value>[^\r\n\"'\\]*)",
    re.IGNORECASE,
)


class _Pass:
    """One detector with the action the policy chose for it."""

    __slots__ = ("detector", "digits", "needles", "replace", "trigger", "upper")

    def __init__(self, detector: Detector, replace: Callable[[str], str]) -> None:
        self.detector = detector
        self.replace = replace
        self.trigger = re.compile(detector.trigger or "").search
        self.needles = detector.needles
        self.digits = detector.digits
        self.upper = detector.upper

    def may_match(self, text: str, low: str, digit: bool) -> bool:
        """The cheap checks first (a digit, a capital, a lower-cased substring), then the
        trigger."""
        if self.digits and not digit:
            return False
        if self.upper and low == text:
            return False
        if self.needles:
            for needle in self.needles:
                if needle in low:
                    break
            else:
                return False
        return self.trigger(text) is not None

    def run(self, text: str, hits: list[str]) -> str:
        detector = self.detector
        out: list[str] = []
        last = 0
        for match in detector.pattern.finditer(text):
            group = _sensitive_group(match, detector.groups)
            start, end = match.span(group)
            if detector.validate is not None:
                verdict = detector.validate(match)
                if not verdict:
                    continue
                if verdict is not True:
                    start, end = verdict
            found = text[start:end]
            replacement = self.replace(found)
            if replacement == found:
                continue
            if detector.wrap is not None:
                replacement = detector.wrap(match, group, replacement)
            out.append(text[last:start])
            out.append(replacement)
            last = end
            hits.append(detector.id)
        if not out:
            return text
        out.append(text[last:])
        return "".join(out)


class _Scanner:
    """Ordered passes, each behind checks that cost a substring test on clean text.

    One lower-cased copy and one digit search are shared by every pass; a pass's own pattern
    runs only where its needles and trigger say it could match.
    """

    __slots__ = ("passes",)

    def __init__(self, passes: list[_Pass]) -> None:
        self.passes = passes

    def scan(self, text: str, hits: list[str]) -> str:
        low = text.lower()
        digit = _DIGIT.search(text) is not None
        for detector_pass in self.passes:
            if not detector_pass.may_match(text, low, digit):
                continue
            changed = detector_pass.run(text, hits)
            if changed is not text:
                text = changed
                low = text.lower()
                digit = _DIGIT.search(text) is not None
        return text

    def gate(self, text: str) -> bool:
        """Whether any pass could change ``text``."""
        low = text.lower()
        digit = _DIGIT.search(text) is not None
        return any(detector_pass.may_match(text, low, digit) for detector_pass in self.passes)


def _sensitive_group(match: re.Match[str], groups: tuple[int | str, ...]) -> int | str:
    for group in groups:
        if match.start(group) >= 0:
            return group
    return 0


class TextRules:
    """The compiled free-text rules of one policy.

    ``actions`` maps detector ids to the policy's action; ``pseudonym`` turns a found value into
    its keyed pseudonym for the ``hash`` action. ``secret_params`` are the normalized URL
    parameter names whose values are always secret; ``userinfo`` replaces URL credentials.
    """

    def __init__(
        self,
        actions: Mapping[str, Action],
        placeholder: str,
        secret_params: frozenset[str],
        userinfo: str,
        pseudonym: Pseudonymizer | None,
        extra: tuple[Detector, ...] = (),
        skip: frozenset[str] = frozenset(),
    ) -> None:
        self.placeholder = placeholder
        self._pseudonym = pseudonym
        detectors = {**DETECTORS, **{detector.id: detector for detector in extra}}
        order = [name for name in _ORDER if name not in skip] + [d.id for d in extra]
        self._url_on = actions.get("url", Action.REDACT) is not Action.KEEP and "url" in order
        self._cookie_on = actions.get("cookie", Action.REDACT) is not Action.KEEP
        passes: list[_Pass] = []
        for name in order:
            detector = detectors.get(name)
            action = actions.get(name, Action.REDACT)
            if detector is None or action is Action.KEEP:
                continue
            passes.append(_Pass(detector, self._replacer(detector, action)))
        self._all = _Scanner(passes)
        self._across = _Scanner([p for p in passes if p.detector.id in _ACROSS_URLS])
        values = _Scanner([p for p in passes if p.detector.id not in _LABELLED])
        self.urls = UrlRules(secret_params, placeholder, userinfo, self._all.scan, values.gate)

    def _replacer(self, detector: Detector, action: Action) -> Callable[[str], str]:
        if action is Action.MASK and detector.mask is not None:
            return detector.mask
        if action is Action.HASH and self._pseudonym is not None:
            return self._pseudonym
        if action is Action.ENCRYPT and self._pseudonym is not None:
            return self._pseudonym.encrypt
        if action is Action.DROP:
            return _drop
        placeholder = detector.placeholder
        if placeholder == "[REDACTED]":
            placeholder = self.placeholder
        return lambda found: placeholder

    def scrub(self, text: str, hits: list[str]) -> str:
        """Run every pass over ``text``; URLs found in it get the URL rules.

        Secrets and cards that may run across a URL's end (``?q=4111 1111 1111 1111``) are
        replaced over the whole text first. Then URLs are taken out and the prose between them
        is scanned apart, so the text passes never reach into a URL the URL rules settled: a
        second run over the result finds nothing new.
        """
        if self._url_on and (
            ":/" in text
            or ":\\" in text
            or ("?" in text and "/" in text)
            or "%3A%2F" in text
            or "%3a%2f" in text
        ):
            text = self._across.scan(text, hits)
            out: list[str] = []
            last = 0
            for match in _URL_TOKENS.finditer(text):
                out.append(self._prose(text[last : match.start()], hits))
                out.append(self._url_token(match.group(), hits))
                last = match.end()
            if out:
                out.append(self._prose(text[last:], hits))
                return "".join(out)
        return self._prose(text, hits)

    def _url_token(self, token: str, hits: list[str]) -> str:
        """A URL found in text, also when JSON escaped it (``https:\\/\\/h\\/p?a=1\\u0026b=2``,
        as PHP and Go write them) or percent-encoded whole (``https%3A%2F%2F…``): read as it
        decodes, written back escaped the same way."""
        if _ENCODED_SCHEME.match(token):
            return self.urls.value(token, hits)
        if "\\/" not in token and "\\u0026" not in token:
            return self.url(token, hits)
        plain = token.replace("\\/", "/").replace("\\u0026", "&")
        cleaned = self.url(plain, hits)
        if cleaned == plain:
            return token
        if "\\/" in token:
            cleaned = cleaned.replace("/", "\\/")
        if "\\u0026" in token:
            cleaned = cleaned.replace("&", "\\u0026")
        return cleaned

    def _prose(self, text: str, hits: list[str]) -> str:
        if self._cookie_on and ("ookie" in text or "OOKIE" in text):
            text = _COOKIE_IN_TEXT.sub(lambda match: self._cookie_line(match, hits), text)
        return self.scrub_plain(text, hits)

    def scrub_plain(self, text: str, hits: list[str]) -> str:
        """The detector passes alone: used for the parts of a URL and of a header."""
        return self._all.scan(text, hits)

    def url(self, url: str, hits: list[str]) -> str:
        """A value known to be a URL; one that cannot be split falls back to text rules.

        The fallback still takes out anything between the scheme and the last ``@`` (a password
        may hold ``/``, ``#`` or ``?``): in a URL too odd to parse, that is where credentials
        sit. With no ``@``, a "port" that is not a number is taken for a password
        cut off by a space (``https://anna:pass word@host``) and goes with the rest.
        """
        try:
            return self.urls.url(url, hits)
        except UrlError:
            if _SPACE.search(url):
                return self.scrub(url, hits)
            match = _FALLBACK_USERINFO.match(url)
            if match is not None:
                hidden = self.urls.userinfo
                userinfo = match.group("userinfo")
                redacted = f"{hidden}:{hidden}" if ":" in userinfo else hidden
                if userinfo != redacted:
                    hits.append("url_userinfo")
                rest = self.scrub_plain(url[match.end() :], hits)
                return match.group("head") + redacted + "@" + rest
            match = _FALLBACK_PASSWORD.match(url)
            if match is not None and match.group("password") != self.urls.userinfo:
                hits.append("url_userinfo")
                rest = self.scrub_plain(url[match.end() :], hits)
                return match.group("head") + self.urls.userinfo + rest
            return self.scrub_plain(url, hits)

    def _cookie_line(self, match: re.Match[str], hits: list[str]) -> str:
        value = match.group("value")
        if match.group("set"):
            cleaned = scrub_set_cookie(value, hits, self.placeholder)
        else:
            cleaned = scrub_cookie(value, hits, self.placeholder)
        return match.group()[: match.start("value") - match.start()] + cleaned


def _drop(found: str) -> str:
    raise DropValue
