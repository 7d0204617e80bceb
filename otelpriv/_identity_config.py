"""The identity server's configuration: a YAML file validated like the relay's.

Callers are listed with the sha256 of their bearer token, never the token itself, so the file
can be read without handing out access (``otelpriv token-hash`` makes the hash). Every field is
documented where it is defined, with its default.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from otelpriv._config_files import read_yaml_mapping, validate
from otelpriv._relay_config import TlsConfig, parse_endpoint

__all__ = ["Caller", "IdentityConfig", "load_identity_config"]

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

Role = Literal["helpdesk", "privileged"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Caller(_Section):
    """One person or system allowed to call the server."""

    name: str = Field(
        pattern=r"^[\w.@-]{1,64}$", description="Written to the audit log for each call."
    )
    token_sha256: str = Field(
        repr=False, description="sha256 of the caller's bearer token, 64 hex digits."
    )
    roles: list[Role] = Field(
        min_length=1,
        description="helpdesk: Pseudonymize. privileged: Reveal, opening enc: tokens.",
    )

    @field_validator("token_sha256")
    @classmethod
    def _token_sha256(cls, value: str) -> str:
        digest = value.strip().lower()
        if not _SHA256_HEX.fullmatch(digest):
            raise ValueError(
                "expected the sha256 of the token as 64 hex digits; make it with "
                "`otelpriv token-hash` and never write the token itself here"
            )
        return digest


class Limits(_Section):
    """What one caller may ask for."""

    requests_per_minute: int = Field(
        60, gt=0, description="Per caller, over the last 60 s; more get RESOURCE_EXHAUSTED."
    )
    max_identities: int = Field(
        100, gt=0, le=10000, description="Identities in one Pseudonymize request."
    )


class IdentityConfig(_Section):
    """The whole identity server configuration."""

    listen: str = Field("127.0.0.1:4319", description="host:port to listen on; port 0: any.")
    tls: TlsConfig | None = Field(
        None, description="Serve TLS (cert_file, key_file; ca_file to require client certs)."
    )
    key_file: str = Field(description="The key file the relay and the SDK write with.")
    policy: str | None = Field(
        None,
        description="Their policy, to know hash from encrypt (else OTELPRIV_POLICY, else "
        "built-in: hash).",
    )
    service: str | None = Field(
        None, description="service.name whose policy applies; unset: the shared policy."
    )
    audit_log: str = Field(description="JSON lines file; one line is appended for every call.")
    limits: Limits = Field(default_factory=Limits)
    callers: list[Caller] = Field(min_length=1, description="Who may call, with which roles.")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_endpoint(value)
        return value

    @field_validator("callers")
    @classmethod
    def _callers(cls, callers: list[Caller]) -> list[Caller]:
        names = [caller.name for caller in callers]
        if len(set(names)) != len(names):
            raise ValueError("caller names must be unique")
        if len({caller.token_sha256 for caller in callers}) != len(callers):
            raise ValueError("two callers share one token; give each its own")
        return callers


def load_identity_config(
    path: str | os.PathLike[str], overrides: dict[str, Any] | None = None
) -> IdentityConfig:
    """Read and validate the YAML file; ``overrides`` (top-level fields) win where not None."""
    document = read_yaml_mapping(path)
    document.update({key: value for key, value in (overrides or {}).items() if value is not None})
    return validate(IdentityConfig, document, str(path))
