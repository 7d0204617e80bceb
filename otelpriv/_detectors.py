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
    """

    id: str
    pattern: re.Pattern[str]
    placeholder: str
    validate: Callable[[re.Match[str]], bool] | None = None
    mask: Callable[[str], str] | None = None
    groups: tuple[int | str, ...] = (0,)
    trigger: str | None = None


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


def _card_valid(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group(0))
    if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
        return False
    grouped = len(digits) != len(match.group(0))
    return grouped or _has_issuer(digits)


def card_number(value: int) -> bool:
    """Whether an integer attribute is a payment card number (issuer prefix and Luhn)."""
    digits = str(value)
    return 13 <= len(digits) <= 19 and luhn_valid(digits) and _has_issuer(digits)


def _mask_card(text: str) -> str:
    """Keep the last four digits and the grouping, star the rest."""
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


def mask_ipv6(text: str) -> str:
    """Keep the /48 network; an IPv4-mapped address follows the IPv4 rule."""
    address = ipaddress.IPv6Address(text)
    mapped = address.ipv4_mapped
    if mapped is not None:
        return text[: text.rindex(":") + 1] + mask_ipv4(str(mapped))
    network = ipaddress.IPv6Network((address, 48), strict=False)
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


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"

_SECRET_NAMES = (
    r"passw(?:or)?d|pwd|passphrase|secret|client[_-]?secret|api[_-]?key|apikey|"
    r"access[_-]?key|secret[_-]?key|private[_-]?key|"
    r"(?:access|refresh|id|auth|session|csrf|bearer)?[_-]?token|"
    r"sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|"
    r"x-goog-signature|x-goog-credential|awsaccesskeyid|"
    r"session[_-]?id|sessid|jsessionid|phpsessid"
)

DETECTORS: dict[str, Detector] = {
    detector.id: detector
    for detector in (
        Detector(
            id="private_key",
            pattern=re.compile(
                r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"
                r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|.*\Z)",
                re.DOTALL,
            ),
            placeholder="[REDACTED]",
            trigger=r"-----BEGIN",
        ),
        Detector(
            id="labelled_secret",
            pattern=re.compile(
                r"(?<![\w.-])([\"']?)(?:[\w.-]*?[_.-])?(?:" + _SECRET_NAMES + r")\1"
                r"\s*[:=]\s*"
                r"(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<bare>[^\s&;,'\"()<>\[\]{}]+))",
                re.IGNORECASE,
            ),
            placeholder="[REDACTED]",
            groups=("dq", "sq", "bare"),
            trigger=r"[:=]",
        ),
        Detector(
            id="redis_auth",
            pattern=re.compile(
                r"(?:^|[\n;])\s*AUTH[ \t]+(?P<auth>[^\s;]+(?:[ \t]+[^\s;]+)?)"
                r"|\b(?i:requirepass|masterauth)\s+(?P<pass>\S+)",
            ),
            placeholder="[REDACTED]",
            groups=("auth", "pass"),
            trigger=r"AUTH|(?i:requirepass|masterauth)",
        ),
        Detector(
            id="bearer",
            pattern=re.compile(
                r"\b(?:Bearer|Basic|Digest|Token|Negotiate)\s+(?P<value>[A-Za-z0-9._~+/=-]{8,})",
                re.IGNORECASE,
            ),
            placeholder="[REDACTED]",
            groups=("value",),
            trigger=r"(?i:bearer|basic|digest|token|negotiate)\s",
        ),
        Detector(
            id="jwt",
            pattern=re.compile(
                r"(?<![\w-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*(?![\w-])"
            ),
            placeholder="[REDACTED]",
            trigger=r"eyJ",
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
                r")(?![\w-])"
            ),
            placeholder="[REDACTED]",
            trigger=r"[srp]k_|sk-|AKIA|ASIA|gh[pousr]_|github_pat_|xox|AIza|glpat-|npm_",
        ),
        Detector(
            id="email",
            pattern=re.compile(
                r"(?<![\w.+-])[A-Za-z0-9](?:[A-Za-z0-9._+-]{0,63})"
                r"(?:@|%40|%2540|\uff20)"
                r"(?:" + _DOMAIN + r"\.)+[A-Za-z]{2,63}(?![A-Za-z0-9-])"
            ),
            placeholder="[EMAIL]",
            trigger=r"[@\uff20]|%(?:25)?40",
        ),
        Detector(
            id="credit_card",
            pattern=re.compile(
                r"(?<![A-Za-z0-9.])(?<!\d,)(?:"
                r"\d{4}(?P<sep>[ -])\d{4}(?P=sep)\d{4}(?P=sep)\d{4}(?:(?P=sep)\d{3})?"
                r"|\d{4}(?P<sep2>[ -])\d{6}(?P=sep2)\d{4,5}"
                r"|\d{13,19}"
                r")(?![A-Za-z0-9]|[.,-]\d)"
            ),
            placeholder="[CREDIT_CARD]",
            validate=_card_valid,
            mask=_mask_card,
            trigger=r"\d{4}[ -]?\d{4}",
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
        ),
        Detector(
            id="us_ssn",
            pattern=re.compile(
                r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])"
            ),
            placeholder="[SSN]",
            trigger=r"\d{3}-\d\d-",
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
        ),
        Detector(
            id="ipv4",
            pattern=re.compile(r"(?<![\w.])" + _OCTET + r"(?:\." + _OCTET + r"){3}(?![\w]|\.\d)"),
            placeholder="[IP]",
            mask=mask_ipv4,
            trigger=r"\d\.\d{1,3}\.",
        ),
    )
}
