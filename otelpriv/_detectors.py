"""Built-in detectors: what personal data and secrets look like inside free text.

Each detector has a stable id (used in policies, audit counts and metrics), one compiled
pattern, an optional validator that rejects look-alikes (Luhn for cards, mod-97 for IBANs,
the ``ipaddress`` module for IPs), and a placeholder. Patterns are anchored on boundaries so that
the false-positive traps of real telemetry — timestamps, order numbers, UUIDs, hex trace ids,
decimals, SKUs — never match; the test tables pin both sides.

A detector only finds; what happens to a finding (redact, mask, hash, keep) is the policy's
choice and lives in :mod:`otelpriv._text`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DETECTORS", "Detector", "luhn_valid", "mask_ipv4", "mask_ipv6"]


@dataclass(frozen=True)
class Detector:
    """One kind of sensitive value found in text.

    ``groups`` name the sensitive part of a match (the first that took part is replaced), while
    the rest of the match (a label such as ``password=``) stays in place. ``trigger`` is a cheap
    pattern that matches wherever ``pattern`` could: where it finds nothing, nothing is run.
    Cheaper still, and checked first: ``needles`` (one must be in the lower-cased text),
    ``digits`` (the text must hold a digit) and ``upper`` (an upper-case letter).
    """

    id: str
    pattern: re.Pattern[str]
    placeholder: str
    validate: Callable[[re.Match[str]], bool | tuple[int, int]] | None = None
    mask: Callable[[str], str] | None = None
    groups: tuple[int | str, ...] = (0,)
    trigger: str | None = None
    needles: tuple[str, ...] = ()
    digits: bool = False
    upper: bool = False
    wrap: Callable[[re.Match[str], int | str, str], str] | None = None


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


_ISSUERS: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),
    (51, 55, frozenset({16})),
    (2221, 2720, frozenset({16})),
    (2200, 2204, frozenset({16})),
    (34, 34, frozenset({15})),
    (37, 37, frozenset({15})),
    (6011, 6011, frozenset(range(16, 20))),
    (644, 649, frozenset(range(16, 20))),
    (65, 65, frozenset(range(16, 20))),
    (300, 305, frozenset({14})),
    (36, 36, frozenset({14})),
    (38, 39, frozenset({14, 16})),
    (3528, 3589, frozenset(range(16, 20))),
    (62, 62, frozenset(range(16, 20))),
    (5018, 5018, frozenset(range(12, 20))),
    (5020, 5020, frozenset(range(12, 20))),
    (5038, 5038, frozenset(range(12, 20))),
    (6304, 6304, frozenset(range(12, 20))),
    (6759, 6759, frozenset(range(12, 20))),
    (6761, 6763, frozenset(range(12, 20))),
)


def _has_issuer(digits: str) -> bool:
    """A real issuer prefix with a length that issuer hands out (an order number has neither)."""
    for low, high, lengths in _ISSUERS:
        width = len(str(low))
        if low <= int(digits[:width]) <= high and len(digits) in lengths:
            return True
    return False


def _card_valid(match: re.Match[str]) -> bool | tuple[int, int]:
    """Luhn always; an issuer prefix too unless grouped with the gaps cards are printed with.

    Four groups and a fifth of three digits may be a card and its security code: when the
    whole fails, the first sixteen digits are tried alone (the span to replace is returned).
    """
    if _card_text_valid(match.group(0)):
        return True
    tail = _CVV_TAIL.search(match.group(0))
    if tail is not None and _card_text_valid(match.group(0)[: tail.start()]):
        return match.start(), match.start() + tail.start()
    return False


def _card_text_valid(text: str) -> bool:
    digits = re.sub(r"%20|\D", "", text)
    if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
        return False
    printed = _PRINTED.fullmatch(text.replace("%20", " ")) is not None
    return printed or _has_issuer(digits)


def card_number(value: int) -> bool:
    """Whether an integer attribute is a payment card number (issuer prefix and Luhn)."""
    digits = str(abs(value))
    return 13 <= len(digits) <= 19 and luhn_valid(digits) and _has_issuer(digits)


def _mask_card(text: str) -> str:
    """Keep the last four digits and the grouping, star the rest."""
    text = text.replace("%20", " ")
    seen = sum(char.isdigit() for char in text)
    out = []
    for char in text:
        if char.isdigit():
            seen -= 1
            out.append(char if seen < 4 else "*")
        else:
            out.append(char)
    return "".join(out)


def _iban_valid(match: re.Match[str]) -> bool:
    compact = match.group(0).replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rotated = compact[4:] + compact[:4]
    number = "".join(str(int(char, 36)) for char in rotated)
    return int(number) % 97 == 1


def mask_ipv4(text: str) -> str:
    """Keep the /24 network: ``203.0.113.54`` becomes ``203.0.113.0``."""
    return text[: text.rindex(".")] + ".0"


_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def mask_ipv6(text: str) -> str:
    """Keep the /48 network; an IPv4-mapped address follows the IPv4 rule.

    6to4 addresses carry the client's IPv4 address in bits 16-48, so they keep /40: the
    embedded address's /24, as the IPv4 rule would.
    """
    address = ipaddress.IPv6Address(text)
    mapped = address.ipv4_mapped
    if mapped is not None:
        return "::ffff:" + mask_ipv4(str(mapped))
    prefix = 40 if address in _SIX_TO_FOUR else 48
    network = ipaddress.IPv6Network((address, prefix), strict=False)
    return str(network.network_address)


def _ipv6_valid(match: re.Match[str]) -> bool:
    text = match.group(0)
    if text.count(":") < 2:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


_OCTET = r"(?:25[0-5]|2[0-4]\d|[01]?\d?\d)"
_EMAIL_AT = r"(?:@|%40|%2540|\uff20|\ufe6b|&\#0*64;|&\#[xX]0*40;|&commat;|\\u0040|\\x40)"
_CVV_TAIL = re.compile(
    r"(?:%20|\+|[ \t\u00a0\u2007\u2009\u200b\u202f]{1,2}|[\u2010-\u2014-]|[._/])\d{3}$"
)
_PRINTED = re.compile(
    r"\d{4}([ \t\u00a0\u2007\u2009\u200b\u202f+\u2010-\u2014-]{1,2})\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?"
    r"|\d{4}([ \t\u00a0\u2007\u2009\u200b\u202f+\u2010-\u2014-]{1,2})\d{6}\2\d{5}"
)
_CARD_GAP = r"(?:%20|\+|[ \t\u00a0\u2007\u2009\u200b\u202f]{1,2}|[\u2010-\u2014-]|[._/])"
_ASSET_SUFFIXES = frozenset(
    {"png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp", "tif", "tiff"}
)
_NOT_PEOPLE = frozenset({"git"})

_SECRET_NAMES = (
    r"passw(?:or)?d|pwd|passphrase|passcode|secret|api[_-]?key|apikey|access[_-]?key|"
    r"secret[_-]?key|private[_-]?key|account[_-]?key|shared[_-]?access[_-]?key|token|"
    r"sig|signature|x-amz-credential|awsaccesskeyid|x-goog-credential|"
    r"session[_-]?id|sessid|jsessionid|phpsessid|cvv2?|cvc2?|pin|"
    r"card[_-]?holder|name[_-]?on[_-]?card|holder[_-]?name|pw|pass|credentials?"
)
_LABEL_SEPARATOR = r"\s*(?:=>|[:=])\s*"


def _credential_like(match: re.Match[str]) -> bool:
    """A word after ``Bearer``/``Basic`` is a credential, not prose, when it looks random."""
    value = match.group("value")
    has_digit = any(char.isdigit() for char in value)
    mixed_case = not value.islower() and not value.isupper()
    return has_digit or (mixed_case and len(value) >= 12) or any(c in value for c in "+/=")


def _email_valid(match: re.Match[str]) -> bool:
    """Not an image name (``logo@2x.png``) and not a generic SSH user (``git@host``)."""
    domain = match.group("domain").lower()
    if domain.rsplit(".", 1)[-1] in _ASSET_SUFFIXES:
        return False
    return match.group("local").lower() not in _NOT_PEOPLE


def _mask_ipv4_host(text: str) -> str:
    """``ip-203-0-113-24``, ``ec2-203-0-113-24``, ``203-0-113-24.static…`` host names: the
    last octet goes."""
    return text[: text.rindex("-")] + "-0"


def _json_quoted(match: re.Match[str], group: str | int, replacement: str) -> str:
    """A bare value under a quoted JSON label is replaced by a quoted placeholder."""
    if group == "bare" and match.group("q").endswith('"'):
        return '"' + replacement + '"'
    return replacement


DETECTORS: dict[str, Detector] = {
    detector.id: detector
    for detector in (
        Detector(
            id="private_key",
            pattern=re.compile(
                r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
                r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
                re.DOTALL,
            ),
            placeholder="[REDACTED]",
            trigger=r"-----BEGIN",
            needles=("-----begin",),
        ),
        Detector(
            id="labelled_secret",
            pattern=re.compile(
                r"(?<![\w.-])(?:"
                r"(?P<aq>\\?[\"']?)(?:proxy-)?authorization(?P=aq)"
                + _LABEL_SEPARATOR
                + r"(?:\\?\"(?P<authq>[^\"\\\r\n]*)\\?\"|'(?P<authsq>[^'\r\n]*)'"
                r"|(?P<auth>[^\s\"',;\\][^\r\n\"',;\\]*))"
                r"|<(?P<tag>[\w.-]*?(?:" + _SECRET_NAMES + r"))>(?P<xml>[^<]{1,256})</(?P=tag)>"
                r"|(?P<q>\\?[\"']?)[\w.-]*?(?:"
                + _SECRET_NAMES
                + r")(?P=q)"
                + _LABEL_SEPARATOR
                + r"(?:\\\"(?P<edq>(?:[^\"\\]|\\[^\"])*)\\\""
                r"|\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'"
                r"|(?!(?:null|true|false)\b)(?P<bare>[^\s&;,'\"()<>\[\]{}\\]+))"
                r")",
                re.IGNORECASE,
            ),
            placeholder="[REDACTED]",
            groups=("authq", "authsq", "auth", "xml", "edq", "dq", "sq", "bare"),
            trigger=r"[:=>]",
            needles=(":", "=", ">"),
            wrap=_json_quoted,
        ),
        Detector(
            id="sql_password",
            pattern=re.compile(
                r"\b(?:password|identified\s+by)\b(?!['\"])"
                r"(?:\s+for\s+(?:'[^']*'(?:@'[^']*')?|\S+))?"
                r"\s*=?\s*(?:password\s*\(\s*)?'(?P<value>[^']*)'",
                re.IGNORECASE,
            ),
            placeholder="[REDACTED]",
            groups=("value",),
            trigger=r"(?i:password|identified)",
            needles=("password", "identified"),
        ),
        Detector(
            id="cli_secret",
            pattern=re.compile(
                r"(?<![\w-])(?:--?(?:password|passwd|pass|token|secret|api-?key|client-secret)"
                r"(?:=|\s+)(?P<value>[^\s\"'-][^\s\"']*)"
                r"|(?:-u|--user)(?:=|\s+)(?P<user>[^\s\"':]+:[^\s\"']+))",
                re.IGNORECASE,
            ),
            placeholder="[REDACTED]",
            groups=("value", "user"),
            trigger=r"(?i:-(?:pass|token|secret|api|client|u\b|-user))",
            needles=("-pass", "-token", "-secret", "-api", "-client", "-u"),
        ),
        Detector(
            id="redis_auth",
            pattern=re.compile(
                r"\bAUTH[ \t]+(?P<auth>[^\s;]+(?:[ \t]+[^\s;]+)?)"
                r"|\b(?i:requirepass|masterauth)\s+(?P<pass>\S+)",
            ),
            placeholder="[REDACTED]",
            groups=("auth", "pass"),
            trigger=r"AUTH|(?i:requirepass|masterauth)",
            needles=("auth", "requirepass", "masterauth"),
        ),
        Detector(
            id="bearer",
            pattern=re.compile(
                r"\b(?:Bearer|Basic|Digest|Token|Negotiate)(?:\s+|%20)"
                r"(?P<value>[A-Za-z0-9._~+/=-]{8,})",
                re.IGNORECASE,
            ),
            placeholder="[REDACTED]",
            groups=("value",),
            validate=_credential_like,
            trigger=r"(?i:bearer|basic|digest|token|negotiate)(?:\s|%20)",
            needles=("bearer", "basic", "digest", "token", "negotiate"),
        ),
        Detector(
            id="jwt",
            pattern=re.compile(
                r"(?:(?<![\w-])|(?<=%20))"
                r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*(?![\w-])"
            ),
            placeholder="[REDACTED]",
            trigger=r"eyJ",
            needles=("eyj",),
        ),
        Detector(
            id="api_key",
            pattern=re.compile(
                r"(?<![\w-])(?:"
                r"(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{10,}"
                r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
                r"|gh[pousr]_[A-Za-z0-9]{36,}"
                r"|github_pat_[A-Za-z0-9_]{22,}"
                r"|xox[abposr]-[A-Za-z0-9-]{10,}"
                r"|AIza[0-9A-Za-z_-]{35}"
                r"|glpat-[A-Za-z0-9_-]{20,}"
                r"|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"
                r"|npm_[A-Za-z0-9]{36}"
                r"|T[A-Z0-9]{8,}/B[A-Z0-9]{8,}/[A-Za-z0-9]{20,}"
                r"|bot\d{6,12}:[A-Za-z0-9_-]{30,}"
                r")(?![\w-])"
            ),
            placeholder="[REDACTED]",
            trigger=(
                r"[srp]k_|sk-|AKIA|ASIA|gh[pousr]_|github_pat_|xox|AIza|glpat-|npm_|/B[A-Z0-9]"
                r"|bot\d"
            ),
            needles=(
                "k_",
                "sk-",
                "akia",
                "asia",
                "gh",
                "github_pat_",
                "xox",
                "aiza",
                "glpat-",
                "npm_",
                "/b",
                "bot",
            ),
        ),
        Detector(
            id="email",
            # The local part is read as one whole run (a lookahead never backtracks), so a run
            # of any length glued before the @ goes with the address instead of hiding it.
            pattern=re.compile(
                r"(?<![\w.+-])(?=(?P<local>(?:[\w!#$*+^`|~-]|%(?!(?:25)?40)[0-9A-Fa-f]{2})"
                r"(?:[\w.!#$*+^`|~'-]|%(?!(?:25)?40)[0-9A-Fa-f]{2})*))(?P=local)"
                + _EMAIL_AT
                + r"(?P<domain>(?:[^\W_](?:[\w-]{0,61}[^\W_])?(?:\.|%2[Ee]))+[^\W\d_]{2,63})"
                r"(?![\w-])"
            ),
            placeholder="[EMAIL]",
            validate=_email_valid,
            trigger=r"[@\uff20\ufe6b]|%(?:25)?40|&\#0*64;|&\#[xX]0*40;|&commat;|\\[ux]0{0,2}40",
            needles=("@", "%40", "%2540", "\uff20", "\ufe6b", "&#", "&commat;", "\\u", "\\x"),
        ),
        Detector(
            id="credit_card",
            pattern=re.compile(
                r"(?<![A-Za-z0-9])(?<!\d\.)(?<!(?<!\d)\d,)(?:"
                r"\d{4}" + _CARD_GAP + r"\d{4}" + _CARD_GAP + r"\d{4}" + _CARD_GAP + r"\d{4}"
                r"(?:" + _CARD_GAP + r"\d{3})?"
                r"|\d{4}" + _CARD_GAP + r"\d{6}" + _CARD_GAP + r"\d{4,6}"
                r"|\d{4}(?:" + _CARD_GAP + r"\d{3,6}){2,3}"
                r"|\d{13,19}"
                r")(?![A-Za-z0-9]|\.\d)"
            ),
            placeholder="[CREDIT_CARD]",
            validate=_card_valid,
            mask=_mask_card,
            trigger=r"\d{4}(?:%20|\+|[^\w\n]{0,2}|_)\d{4}",
            digits=True,
        ),
        Detector(
            id="iban",
            pattern=re.compile(
                r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?"
                r"(?![A-Za-z0-9])"
            ),
            placeholder="[IBAN]",
            validate=_iban_valid,
            trigger=r"[A-Z]{2}\d\d",
            digits=True,
            upper=True,
        ),
        Detector(
            id="us_ssn",
            pattern=re.compile(
                r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])"
            ),
            placeholder="[SSN]",
            trigger=r"\d{3}-\d\d-",
            needles=("-",),
            digits=True,
        ),
        Detector(
            id="ipv6",
            pattern=re.compile(
                r"(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)"
                r"[0-9A-Fa-f:]{2,39}(?:(?<=:)" + _OCTET + r"(?:\." + _OCTET + r"){3})?"
                r"(?![\w:]|\.\d)"
            ),
            placeholder="[IP]",
            validate=_ipv6_valid,
            mask=mask_ipv6,
            trigger=r":[0-9A-Fa-f]{0,4}:",
            needles=(":",),
        ),
        Detector(
            id="ipv4",
            pattern=re.compile(
                r"(?:(?<![\w.])|(?<=[A-Za-z]\.))"
                + _OCTET
                + r"(?:\."
                + _OCTET
                + r"){3}(?![\w]|\.\d)"
            ),
            placeholder="[IP]",
            mask=mask_ipv4,
            trigger=r"\d\.\d{1,3}\.",
            needles=(".",),
            digits=True,
        ),
        Detector(
            id="ipv4_host",
            pattern=re.compile(
                r"(?:(?<=[A-Za-z]-)|(?<=[A-Za-z]\d-))"
                + _OCTET
                + r"(?:-"
                + _OCTET
                + r"){3}(?=\.[A-Za-z]|[\s/:]|\Z)"
                + r"|(?<![\w.-])"
                + _OCTET
                + r"(?:-"
                + _OCTET
                + r"){3}(?=\.[A-Za-z])"
            ),
            placeholder="[IP]",
            mask=_mask_ipv4_host,
            trigger=r"\d{1,3}-\d{1,3}-\d{1,3}-\d",
            needles=("-",),
            digits=True,
        ),
    )
}
