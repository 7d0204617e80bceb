"""otelpriv: the privacy layer for OpenTelemetry.

One policy redacts secrets, masks IP addresses and card numbers, and replaces user identifiers
with keyed pseudonyms; the same engine runs inside the SDK (processors and exporter wrappers),
in the relay, and on files.
Everything public is imported here; the modules behind it are private.
"""

from otelpriv._actions import Action
from otelpriv._engine import Engine, Sanitizer
from otelpriv._environment import (
    OTELPRIV_KEY_FILE,
    OTELPRIV_LOGS_EXPORTER,
    OTELPRIV_METRICS_EXPORTER,
    OTELPRIV_POLICY,
    OTELPRIV_TRACES_EXPORTER,
    engine_from_files,
)
from otelpriv._errors import ConfigError, InputError, KeyFileError, OtelprivError, PolicyError
from otelpriv._exporters import PrivacyLogExporter, PrivacyMetricExporter, PrivacySpanExporter
from otelpriv._otlp import (
    Outcome,
    sanitize_logs,
    sanitize_metrics,
    sanitize_request,
    sanitize_traces,
)
from otelpriv._policy import Policy, load_policy, parse_policy
from otelpriv._processors import PrivacyLogRecordProcessor, PrivacySpanProcessor
from otelpriv._pseudonym import (
    Key,
    KeyRing,
    generate_key_file,
    load_key_file,
    normalize_identity,
    pseudonym_for,
)

__all__ = [
    "OTELPRIV_KEY_FILE",
    "OTELPRIV_LOGS_EXPORTER",
    "OTELPRIV_METRICS_EXPORTER",
    "OTELPRIV_POLICY",
    "OTELPRIV_TRACES_EXPORTER",
    "Action",
    "ConfigError",
    "Engine",
    "InputError",
    "Key",
    "KeyFileError",
    "KeyRing",
    "OtelprivError",
    "Outcome",
    "Policy",
    "PolicyError",
    "PrivacyLogExporter",
    "PrivacyLogRecordProcessor",
    "PrivacyMetricExporter",
    "PrivacySpanExporter",
    "PrivacySpanProcessor",
    "Sanitizer",
    "engine_from_files",
    "generate_key_file",
    "load_key_file",
    "load_policy",
    "normalize_identity",
    "parse_policy",
    "pseudonym_for",
    "sanitize_logs",
    "sanitize_metrics",
    "sanitize_request",
    "sanitize_traces",
]
