"""A small Flask web shop that leaks personal data into its telemetry the way real shops do.

Its telemetry comes from the real OpenTelemetry instrumentations (Flask, requests, logging),
so it is the input otelpriv has to handle in production. Run it from ``examples/``: see
``README.md`` beside this file.
"""
