"""The one exception tree of otelpriv.

Everything otelpriv raises on purpose derives from :class:`OtelprivError`, so a host application
can catch one name. Lower-layer errors (YAML, pydantic, protobuf, OS) are translated where they
cross into otelpriv, with a message that says what to fix::

    OtelprivError
    ├── ConfigError      a configuration cannot be used (names file, field, value)
    │   └── PolicyError  the policy file or object is invalid
    ├── KeyFileError     the pseudonym key file is missing, unreadable or malformed
    └── InputError       telemetry input could not be decoded (names the line or frame)

Messages never contain telemetry values or key material: they may end up in logs.
"""

from __future__ import annotations

__all__ = ["ConfigError", "InputError", "KeyFileError", "OtelprivError", "PolicyError"]


class OtelprivError(Exception):
    """Base class of every error otelpriv raises on purpose."""


class ConfigError(OtelprivError):
    """A configuration cannot be used; the message names the source, the field and the fix."""


class PolicyError(ConfigError):
    """The policy cannot be loaded; the message names the source, the field and the fix."""


class KeyFileError(OtelprivError):
    """The pseudonym key file cannot be used; the message says how to create or fix it."""


class InputError(OtelprivError, ValueError):
    """Telemetry input could not be decoded; the message names where, never what."""
