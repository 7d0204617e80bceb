"""The closed set of things a policy may do to a value."""

from __future__ import annotations

from enum import Enum

__all__ = ["Action", "DropValue"]


class Action(str, Enum):
    """What happens to a value a rule selects.

    ``keep`` passes it on, ``redact`` replaces it with a placeholder, ``mask`` keeps a
    harmless part (a card's last four digits, an IP address's network), ``hash`` replaces it
    with the keyed pseudonym, ``encrypt`` with a reversible token only the key holder can open
    ("masked on read"), ``drop`` removes the whole attribute. Anything else is refused when
    the policy loads, so an unknown action can never mean pass-through.
    """

    KEEP = "keep"
    REDACT = "redact"
    MASK = "mask"
    HASH = "hash"
    ENCRYPT = "encrypt"
    DROP = "drop"


class DropValue(Exception):
    """Raised inside a rule whose action is ``drop``: the attribute holding the value goes."""
