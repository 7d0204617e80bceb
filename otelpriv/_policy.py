"""The policy as written: a YAML document, validated at load time, with safe defaults.

Every field is documented where it is defined, with its default; the defaults alone are the
built-in policy, which covers every rule otelpriv knows. A file only names what it changes:
nested sections are merged onto the defaults, lists replace them. Per-service sections under
``services`` are merged onto the file's own top level in the same way, except ``rules`` and
``patterns``, which a service puts in front of the shared ones.

Loading refuses anything doubtful — an unknown field or action, a regular expression that
does not compile, a missing ``${env:NAME}`` — and the error names the file, the field, the bad
value and what is allowed. Nothing here holds key material.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from otelpriv._actions import Action
from otelpriv._config_files import read_yaml_mapping, substitute_env, validate
from otelpriv._detectors import DETECTORS
from otelpriv._errors import PolicyError

__all__ = ["Policy", "load_policy", "merge_service", "parse_policy"]

MAX_PATTERN_LENGTH = 2000
TEXT_DETECTORS = (*DETECTORS, "url", "cookie")

# fmt: off
_USER_ID_KEYS = (
    "enduser.id", "user.id", "user.email", "user.name", "user.full_name", "customer.id",
)
_SECRET_WORDS = (
    "password", "passwd", "pwd", "passphrase", "passcode", "pass", "secret", "token",
    "authorization", "auth", "credential", "credentials", "cookie", "apikey", "privatekey",
    "accesskey", "secretkey", "accountkey", "clientsecret", "otp", "cvv", "cvc", "pin",
)
_ADDRESS_NAMES = (
    "street", "streetaddress", "addressline1", "addressline2", "address1", "address2",
    "shippingaddress", "billingaddress", "homeaddress", "zip", "zipcode", "postcode", "postalcode",
    "city", "phone", "phonenumber", "mobile", "telephone", "birthdate", "dateofbirth", "dob",
    "iban", "cardnumber", "ssn", "fullname", "firstname", "lastname", "surname", "givenname",
    "familyname", "shippingname", "billingname", "customername", "contactname", "recipientname",
    "deliveryname", "cardholder", "cardholdername", "holdername", "nameoncard", "cardexpiry",
    "expirydate", "expdate",
)
_IP_KEYS = (
    "client.address", "source.address", "network.peer.address", "net.peer.ip",
    "net.sock.peer.addr", "http.client_ip", "client.socket.address", "host.ip",
    "network.local.address", "destination.address",
)
_IP_NAMES = (
    "ip", "ipaddress", "clientip", "remoteaddr", "remoteip",
)
_URL_KEYS = (
    "url.full", "url.original", "http.url", "http.target", "db.url", "url.path",
    "http.request.header.referer", "http.request.header.origin", "http.response.header.location",
    "http.request.header.:path", "http.request.header.x-original-url",
    "http.request.header.x-rewrite-url",
)
_SECRET_PARAMS = (
    "token", "accesstoken", "refreshtoken", "idtoken", "authtoken", "code", "password", "passwd",
    "pwd", "pass", "pw", "secret", "clientsecret", "apikey", "key", "sig", "signature",
    "awsaccesskeyid", "xamzsignature", "xamzcredential", "xamzsecuritytoken", "xgoogsignature",
    "xgoogcredential", "xgoogaccessid", "sessionid", "sid", "jsessionid", "phpsessid", "session",
    "auth", "authorization", "credential", "otp", "passphrase", "pin", "codeverifier",
    "samlresponse", "samlrequest", "street", "address", "address1", "address2", "zip", "zipcode",
    "postcode", "postalcode", "city", "phone", "mobile", "tel", "birthdate", "dob", "iban", "card",
    "cardnumber", "cc", "cvv", "cvc", "ssn", "exp", "expiry", "cardexpiry", "expirydate",
    "expdate", "ccexp", "cardholder", "holdername", "nameoncard", "fullname", "firstname",
    "lastname", "surname", "phonenumber", "phoneno", "msisdn", "addressline1", "addressline2",
    "addr", "housenumber", "plz", "ticket", "oauthverifier", "nonce", "magiclink", "licensekey",
    "xsrf", "xsrftoken", "csrftoken", "accountnumber", "sortcode", "taxid",
)
_REDACTED_HEADERS = (
    "authorization", "proxy-authorization", "x-api-key", "x-auth-token", "x-amz-security-token",
    "x-csrf-token", "x-xsrf-token",
)
# fmt: on


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserIds(_Section):
    """User identifiers: replaced by a keyed pseudonym so sessions stay linkable."""

    keys: list[str] = Field(
        default_factory=lambda: list(_USER_ID_KEYS),
        description=(
            "Keys that hold a user identifier, at any depth of a body; compared ignoring case, "
            "'.', '_' and '-', so userId and user_id match user.id."
        ),
    )
    action: Action = Field(
        Action.HASH,
        description="hash (default), encrypt (reversible by the key holder), redact, drop, keep.",
    )


class SecretKeys(_Section):
    """Keys that name a secret: their value goes whatever it holds."""

    words: list[str] = Field(
        default_factory=lambda: list(_SECRET_WORDS),
        description=(
            "Words that make a key secret. A key's last segment (and the one before it when "
            "the last is only 'value', 'raw' or a number) is split into words at '_', '-' and "
            "camelCase, trailing digits dropped; a word, or two neighbours joined ('api'+'key'), "
            "must equal one of these, and the last word must not describe the secret (count, "
            "type, enabled, method, ...). So refresh_token, apiKey and password.value are "
            "secret; input_tokens, token_count and auth_method are not."
        ),
    )
    action: Action = Field(Action.REDACT, description="redact (default), drop, hash or keep.")


class AddressKeys(_Section):
    """Postal address parts and phone numbers, by key name."""

    names: list[str] = Field(
        default_factory=lambda: list(_ADDRESS_NAMES),
        description="A key's last segment, lower-cased without '_' and '-', equal to one of these.",
    )
    action: Action = Field(Action.REDACT, description="redact (default), drop, hash or keep.")


class IpKeys(_Section):
    """Keys that hold a client or peer address."""

    keys: list[str] = Field(
        default_factory=lambda: list(_IP_KEYS),
        description="Attribute keys (exact) whose IP address value gets the action below.",
    )
    names: list[str] = Field(
        default_factory=lambda: list(_IP_NAMES),
        description="Last key segments (normalized like address names) that hold an IP.",
    )
    action: Action = Field(
        Action.MASK, description="mask (default: IPv4 keeps /24, IPv6 /48), redact, hash, keep."
    )


class UrlKeys(_Section):
    """Keys that hold URLs or their parts, and the query parameters that are always secret."""

    full: list[str] = Field(
        default_factory=lambda: list(_URL_KEYS),
        description="Keys holding a whole URL or a reference (/path?query#fragment).",
    )
    query: list[str] = Field(
        default_factory=lambda: ["url.query"], description="Keys holding a bare query string."
    )
    fragment: list[str] = Field(
        default_factory=lambda: ["url.fragment"], description="Keys holding a bare fragment."
    )
    userinfo_placeholder: str = Field(
        "REDACTED",
        min_length=1,
        description="Replaces user and password in URLs (REDACTED:REDACTED, as semconv asks).",
    )
    secret_params: list[str] = Field(
        default_factory=lambda: list(_SECRET_PARAMS),
        description=(
            "Query and fragment parameter names whose value is redacted, compared after "
            "percent-decoding, case-folding and removing '-', '_' and '.'."
        ),
    )


class HeaderRules(_Section):
    """HTTP headers captured as http.request.header.* and http.response.header.*."""

    redact: list[str] = Field(
        default_factory=lambda: list(_REDACTED_HEADERS),
        description="Header names (lower-case) whose values are redacted whole.",
    )


class KeyRule(_Section):
    """A rule of your own: keys matching a glob get an action, before the built-in rules."""

    keys: list[str] = Field(min_length=1, description="Glob patterns (* and ?) over keys.")
    action: Action = Field(description="keep, redact, mask, hash or drop.")


class TextPattern(_Section):
    """A detector of your own, run over free text after the built-in ones."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$", description="Stable id for audit counts.")
    regex: str = Field(max_length=MAX_PATTERN_LENGTH, description="Python regular expression.")
    action: Action = Field(Action.REDACT, description="redact (default), hash, drop or keep.")
    placeholder: str = Field("[REDACTED]", description="What a finding is replaced with.")

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"does not compile: {error}") from None
        return value


class Audit(_Section):
    """What otelpriv writes onto each item about what it changed."""

    counts: bool = Field(
        False, description="Add otelpriv.redacted.<rule> = count to items that changed."
    )
    key_names: bool = Field(
        False, description="Debug only: add otelpriv.redacted_keys (key names can leak too)."
    )


def _default_detectors() -> dict[str, Action]:
    actions = dict.fromkeys(TEXT_DETECTORS, Action.REDACT)
    actions["ipv4"] = actions["ipv6"] = actions["ipv4_host"] = Action.MASK
    return actions


class Policy(_Section):
    """One privacy policy: the built-in defaults, changed by whatever a file says."""

    version: Literal[1] = Field(1, description="Policy format version.")
    placeholder: str = Field(
        "[REDACTED]", min_length=1, description="Replaces secrets and redacted values."
    )
    detectors: dict[str, Action] = Field(
        default_factory=_default_detectors,
        description=(
            "Action per free-text detector id; ids not named keep their default (ipv4, ipv6 and "
            "ipv4_host mask, the rest redact). 'keep' turns a detector off."
        ),
    )
    user_ids: UserIds = Field(default_factory=UserIds)
    secrets: SecretKeys = Field(default_factory=SecretKeys)
    addresses: AddressKeys = Field(default_factory=AddressKeys)
    ips: IpKeys = Field(default_factory=IpKeys)
    urls: UrlKeys = Field(default_factory=UrlKeys)
    headers: HeaderRules = Field(default_factory=HeaderRules)
    version_keys: list[str] = Field(
        default_factory=lambda: ["version"],
        description="Key words whose values are versions: IP detectors skip them (8.5.5.17).",
    )
    rules: list[KeyRule] = Field(default_factory=list, description="Your own key rules.")
    patterns: list[TextPattern] = Field(default_factory=list, description="Your own detectors.")
    allow_keys: list[str] | None = Field(
        None,
        description=(
            "Allow-list mode: when set, only keys matching these globs pass (still sanitized); "
            "every other attribute is dropped."
        ),
    )
    audit: Audit = Field(default_factory=Audit)
    services: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per service.name overrides, merged onto the rest of this policy.",
    )

    @field_validator("detectors", mode="before")
    @classmethod
    def _merge_detectors(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        merged: dict[str, Any] = dict(_default_detectors())
        merged.update(value)
        return merged

    @field_validator("detectors")
    @classmethod
    def _known_detectors(cls, value: dict[str, Action]) -> dict[str, Action]:
        unknown = sorted(set(value) - set(TEXT_DETECTORS))
        if unknown:
            raise ValueError(
                f"unknown detector {unknown[0]!r}; known: {', '.join(sorted(TEXT_DETECTORS))}"
            )
        return value

    @field_validator("services")
    @classmethod
    def _no_nested_services(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, override in value.items():
            if not isinstance(override, Mapping):
                raise ValueError(f"service {name!r} must map fields to values")
            if "services" in override:
                raise ValueError(f"service {name!r} cannot hold services of its own")
        return value


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if key in ("rules", "patterns") and isinstance(value, list):
            merged[key] = list(value) + list(merged.get(key, []))
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _validate(document: Mapping[str, Any], source: str) -> Policy:
    return validate(Policy, document, source, PolicyError, show_value=True)


def parse_policy(document: Any, source: str = "<policy>") -> Policy:
    """Validate a policy given as plain data (the parsed YAML)."""
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise PolicyError(f"{source}: the policy must be a mapping of fields, not a list or text")
    document = substitute_env(document, source, PolicyError)
    policy = _validate(document, source)
    for name in policy.services:
        merge_service(policy, name, source)
    return policy


def merge_service(policy: Policy, service: str, source: str = "<policy>") -> Policy:
    """The policy that applies to one service: its override merged onto the shared fields."""
    override = policy.services.get(service)
    if override is None:
        return policy
    base = policy.model_dump(mode="json", exclude={"services"}, exclude_unset=True)
    return _validate(_merge(base, override), f"{source}: services.{service}")


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and validate a policy file."""
    return parse_policy(read_yaml_mapping(path, PolicyError), str(path))
