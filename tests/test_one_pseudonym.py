"""One customer, one pseudonym, everywhere: the relay, the SDK processor, `otelpriv pseudonym`
and the identity server's Pseudonymize all give the same value for the same e-mail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from click.testing import CliRunner
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from relay_harness import FakeUpstream, relay_config, running
from test_identity import HELPDESK, Running, serve  # noqa: F401 - the fixture is used below

from otelpriv import Engine, PrivacySpanProcessor, engine_from_files
from otelpriv._cli import main

EMAIL = "  Freya.Lind@Example.com"


def _relay_value(engine: Engine) -> str:
    upstream = FakeUpstream().start()
    try:
        for relay in running(relay_config(upstream), engine):
            provider = TracerProvider()
            exporter = OTLPSpanExporter(endpoint=relay.grpc_target, insecure=True)
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            with provider.get_tracer("shop").start_as_current_span("checkout") as span:
                span.set_attribute("enduser.id", EMAIL)
            provider.shutdown()
        (request,) = upstream.items("traces")
    finally:
        upstream.stop()
    (attribute,) = request.resource_spans[0].scope_spans[0].spans[0].attributes
    return attribute.value.string_value


def _sdk_value(engine: Engine) -> str:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(PrivacySpanProcessor(SimpleSpanProcessor(memory), engine=engine))
    with provider.get_tracer("shop").start_as_current_span("checkout") as span:
        span.set_attribute("enduser.id", EMAIL)
    provider.shutdown()
    (finished,) = memory.get_finished_spans()
    return str(finished.attributes["enduser.id"])


def test_the_same_pseudonym_everywhere(serve: Callable[..., Any]) -> None:  # noqa: F811
    server: Running = serve("hash")
    engine = engine_from_files(str(server.policy), str(server.key_file))
    cli = CliRunner().invoke(
        main,
        ["pseudonym", "--key-file", str(server.key_file), "--policy", str(server.policy), EMAIL],
    )
    assert cli.exit_code == 0, cli.output
    from_cli = cli.output.split("\t")[0]
    (result,) = server.pseudonymize(HELPDESK, EMAIL).results
    from_server = result.values[0].value
    assert from_cli.startswith("psn:")
    assert _relay_value(engine) == _sdk_value(engine) == from_cli == from_server
