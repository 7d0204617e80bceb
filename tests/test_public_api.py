"""The public surface is exactly what ``otelpriv.__all__`` names; changing it is deliberate."""

from __future__ import annotations

import otelpriv

EXPECTED = {
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
}


def test_all_is_pinned() -> None:
    assert set(otelpriv.__all__) == EXPECTED


def test_every_name_is_importable() -> None:
    for name in otelpriv.__all__:
        assert getattr(otelpriv, name) is not None


def test_public_modules_are_private() -> None:
    public = {name for name in vars(otelpriv) if not name.startswith("_")}
    assert public - EXPECTED == set()
