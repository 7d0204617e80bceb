"""Every environment variable otelpriv reads, one documented constant each, one prefix."""

from __future__ import annotations

import os

from otelpriv._engine import Engine
from otelpriv._policy import Policy, load_policy
from otelpriv._pseudonym import load_key_file

__all__ = [
    "OTELPRIV_KEY_FILE",
    "OTELPRIV_LOGS_EXPORTER",
    "OTELPRIV_METRICS_EXPORTER",
    "OTELPRIV_POLICY",
    "OTELPRIV_TRACES_EXPORTER",
    "engine_from_files",
]

OTELPRIV_POLICY = "OTELPRIV_POLICY"
"""Path of the YAML policy file. Unset: the built-in default policy."""

OTELPRIV_KEY_FILE = "OTELPRIV_KEY_FILE"
"""Path of the pseudonym key file written by ``otelpriv keygen``. Needed when the policy
pseudonymizes (the default policy does, for user identifiers)."""


OTELPRIV_TRACES_EXPORTER = "OTELPRIV_TRACES_EXPORTER"
"""The span exporter that ``OTEL_TRACES_EXPORTER=otelpriv`` wraps: a name in the group
``opentelemetry_traces_exporter`` (``otlp``, ``otlp_proto_http``, ``console``, …). Default
``otlp``."""

OTELPRIV_LOGS_EXPORTER = "OTELPRIV_LOGS_EXPORTER"
"""The log exporter that ``OTEL_LOGS_EXPORTER=otelpriv`` wraps. Default ``otlp``."""

OTELPRIV_METRICS_EXPORTER = "OTELPRIV_METRICS_EXPORTER"
"""The metric exporter that ``OTEL_METRICS_EXPORTER=otelpriv`` wraps. Default ``otlp``."""


def engine_from_files(policy: str | None = None, key_file: str | None = None) -> Engine:
    """An engine from a policy file and a key file; unset arguments come from the environment.

    The key is loaded only when given; a policy that hashes without one is refused by
    :class:`Engine` with an error that says how to create a key.
    """
    policy_path = policy or os.environ.get(OTELPRIV_POLICY) or None
    key_path = key_file or os.environ.get(OTELPRIV_KEY_FILE) or None
    loaded = load_policy(policy_path) if policy_path else Policy()
    keys = load_key_file(key_path) if key_path else None
    return Engine(loaded, keys)
