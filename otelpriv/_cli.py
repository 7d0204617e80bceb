"""The ``otelpriv`` command line: the relay, offline sanitizing, keys, and the help desk."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO

import click
from google.protobuf.message import DecodeError

from otelpriv._actions import Action
from otelpriv._cli_common import Failure, configure_logging, log_level_option
from otelpriv._engine import Engine
from otelpriv._environment import OTELPRIV_KEY_FILE, OTELPRIV_POLICY, engine_from_files
from otelpriv._errors import OtelprivError
from otelpriv._identity_cli import identity_server, token_hash
from otelpriv._otlp import sanitize_request
from otelpriv._otlp_io import (
    OtlpDecodeError,
    Signal,
    dump_json_line,
    dump_proto,
    read_json_lines,
    read_proto_stream,
)
from otelpriv._pseudonym import encrypt_for, generate_key_file, load_key_file, pseudonym_for
from otelpriv._relay_config import load_relay_config
from otelpriv._workers import run_workers

__all__ = ["main"]


def _policy_option(help: str = "YAML policy file [default: built-in policy].") -> Any:
    return click.option(
        "--policy",
        type=click.Path(dir_okay=False),
        envvar=OTELPRIV_POLICY,
        help=f"{help} [env: {OTELPRIV_POLICY}]",
    )


def _key_file_option(
    required: bool = False, help: str = "Pseudonym key file from `otelpriv keygen`."
) -> Any:
    return click.option(
        "--key-file",
        type=click.Path(dir_okay=False),
        envvar=OTELPRIV_KEY_FILE,
        required=required,
        help=f"{help} [env: {OTELPRIV_KEY_FILE}]",
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="otelpriv")
def main() -> None:
    """Remove personal data from OpenTelemetry telemetry.

    otelpriv redacts secrets, masks IP addresses and card numbers, and replaces user
    identifiers with keyed pseudonyms, following one policy file.
    """


def _engine(policy: str | None, key_file: str | None) -> Engine:
    try:
        return engine_from_files(policy, key_file)
    except OtelprivError as error:
        raise Failure(str(error)) from None


def _read(source: BinaryIO, fmt: str, signal: str | None) -> list[tuple[Signal, object]]:
    data = source.read()
    try:
        if fmt == "proto":
            kind = Signal(signal)
            return [(kind, message) for message in read_proto_stream(data, kind)]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise Failure(
                f"input is not UTF-8 JSON (byte {error.start}); for binary OTLP use --format proto"
            ) from None
        return list(read_json_lines(text.split("\n")))
    except OtlpDecodeError as error:
        raise Failure(f"cannot read input: {error}") from None


@main.command()
@click.argument("source", type=click.File("rb"), default="-")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "proto"]),
    default="json",
    show_default=True,
    help="json: one OTLP/JSON export request per line (Collector file exporter). "
    "proto: length-prefixed binary requests (needs --signal).",
)
@click.option(
    "--signal",
    type=click.Choice([s.value for s in Signal]),
    help="Signal of binary input; JSON lines say it themselves.",
)
@_policy_option()
@_key_file_option()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="Where to write the sanitized telemetry [default: stdout].",
)
@click.option(
    "--report",
    is_flag=True,
    help="Write nothing; print what would change, by rule and key (counts only).",
)
def sanitize(
    source: BinaryIO,
    fmt: str,
    signal: str | None,
    policy: str | None,
    key_file: str | None,
    output: str,
    report: bool,
) -> None:
    """Sanitize OTLP telemetry from SOURCE (a file, or - for stdin).

    Everything is read and checked before anything is written: bad input stops with exit
    status 2 and an error naming the line (JSON) or frame (proto), and writes nothing.

    \b
    Example:
      otelpriv keygen demo.key
      otelpriv sanitize --key-file demo.key examples/shop-traces.jsonl
    """
    if fmt == "proto" and signal is None:
        raise click.UsageError("--format proto needs --signal traces|logs|metrics")
    if fmt == "json" and signal is not None:
        raise click.UsageError("--signal is for --format proto; JSON lines name their signal")
    if report and output != "-":
        raise click.UsageError("--report writes no telemetry; leave out -o/--output")
    if output != "-" and not Path(output).resolve().parent.is_dir():
        raise Failure(f"cannot write {output}: its folder does not exist")
    logging.basicConfig(level=logging.WARNING, format="otelpriv: %(message)s")
    engine = _engine(policy, key_file)
    requests = _read(source, fmt, signal)
    totals: Counter[str] = Counter()
    by_key: Counter[tuple[str, str]] = Counter()
    dropped = failed = 0
    for number, (_, message) in enumerate(requests, 1):
        try:
            outcome = sanitize_request(message, engine, by_key=report)
        except DecodeError as error:
            raise Failure(f"cannot read input: request {number}: {error}") from None
        totals.update(outcome.rules)
        by_key.update(outcome.by_key)
        dropped += outcome.dropped_items
        failed += outcome.failed_values
    if report:
        _print_report(by_key, totals, len(requests))
        return
    chunks = [
        dump_proto(message) if fmt == "proto" else (dump_json_line(kind, message) + "\n").encode()
        for kind, message in requests
    ]
    try:
        with click.open_file(output, "wb", atomic=output != "-") as handle:
            handle.write(b"".join(chunks))
    except OSError as error:
        raise Failure(f"cannot write {output}: {error.strerror}") from None
    click.echo(
        f"otelpriv: {len(requests)} request(s) sanitized, {sum(totals.values())} "
        f"replacement(s), {dropped} item(s) dropped, {failed} value(s) redacted after an error",
        err=True,
    )


def _print_report(by_key: Counter[tuple[str, str]], totals: Counter[str], requests: int) -> None:
    click.echo(f"{requests} request(s); changes by rule and key (no values are shown):")
    if not by_key and not totals:
        click.echo("  nothing would change")
        return
    width = max(len(rule) for rule, _ in by_key) if by_key else 4
    for (rule, key), count in sorted(by_key.items(), key=lambda item: (-item[1], item[0])):
        click.echo(f"  {count:6d}  {rule:<{width}}  {key}")
    outside = totals - Counter(rule for rule, _ in by_key.elements())
    for rule, count in sorted(outside.items()):
        click.echo(f"  {count:6d}  {rule:<{width}}  (names, bodies and messages)")


@main.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="YAML relay configuration (see README); flags override it.",
)
@click.option("--grpc-endpoint", help="OTLP/gRPC listen address [default: 127.0.0.1:4317].")
@click.option("--http-endpoint", help="OTLP/HTTP listen address [default: 127.0.0.1:4318].")
@click.option(
    "--upstream",
    help="grpc://host:port, grpcs://…, http(s)://host:port, file:PATH or stdout [default: stdout].",
)
@_policy_option()
@_key_file_option()
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes sharing the listening ports (SO_REUSEPORT), one per core.",
)
@log_level_option("Relay log level (stderr).")
def relay(
    config_file: str | None,
    grpc_endpoint: str | None,
    http_endpoint: str | None,
    upstream: str | None,
    policy: str | None,
    key_file: str | None,
    workers: int,
    log_level: str,
) -> None:
    """Receive OTLP, sanitize it, and export it upstream.

    Point any OpenTelemetry SDK or Collector at the relay (OTLP/gRPC on 4317, OTLP/HTTP on
    4318). Clients are answered only after the upstream accepted the data. With no upstream,
    sanitized OTLP/JSON lines go to stdout. Stops gracefully on SIGTERM or Ctrl-C, draining
    requests in flight.

    \b
    Example:
      otelpriv keygen otelpriv.key
      otelpriv relay --key-file otelpriv.key --upstream grpc://collector:4317
    """
    configure_logging(log_level)
    try:
        config = load_relay_config(
            config_file,
            {
                "grpc.endpoint": grpc_endpoint,
                "http.endpoint": http_endpoint,
                "upstream.endpoint": upstream,
                "policy": policy,
                "key_file": key_file,
            },
        )
        engine = engine_from_files(config.policy, config.key_file)
    except OtelprivError as error:
        raise Failure(str(error)) from None
    if workers > 1 and (_port(config.grpc.endpoint) == 0 or _port(config.http.endpoint) == 0):
        raise click.UsageError("--workers needs fixed ports: port 0 would differ per worker")
    run_workers(config, engine, workers)


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


@main.command()
@click.argument("identities", nargs=-1)
@_key_file_option(required=True, help="The key file the relay and the SDK use.")
@_policy_option(help="Policy file, to know hash from encrypt.")
@click.option("--service", help="service.name whose policy applies [default: the shared one].")
def pseudonym(
    identities: tuple[str, ...], key_file: str, policy: str | None, service: str | None
) -> None:
    """Print what otelpriv writes for each IDENTITY (an e-mail or user id), to search for.

    With no IDENTITY, reads one per line from stdin. Prints one line per key in the key file,
    newest first: the value to paste into the backend's search, the key id, and whether the
    key is the one writing now. Data written before a key rotation is found under the older
    keys' values. Normalized as otelpriv normalizes (blanks trimmed, e-mails lower-cased).

    \b
    Example:
      otelpriv pseudonym --key-file secrets/otelpriv.key freya.lind@example.com
    """
    try:
        engine = engine_from_files(policy, key_file)
        ring = load_key_file(key_file)
    except OtelprivError as error:
        raise Failure(str(error)) from None
    action = engine.for_service(service).policy.user_ids.action
    if action not in (Action.HASH, Action.ENCRYPT):
        raise Failure(f"the policy's user_ids action is {action.value}: nothing to search for")
    write = encrypt_for if action is Action.ENCRYPT else pseudonym_for
    names = identities or tuple(line for line in sys.stdin.read().splitlines() if line.strip())
    for identity in names:
        for key in reversed(ring.keys):
            state = "active" if key is ring.active else "older key"
            click.echo(f"{write(key, identity)}\t{key.id}\t{state}")


@main.command()
@click.argument("key_file", type=click.Path(dir_okay=False))
@click.option("--add", is_flag=True, help="Add a new active key to an existing file (rotation).")
def keygen(key_file: str, add: bool) -> None:
    """Create KEY_FILE with a new random pseudonym key (mode 0600).

    Keep the file secret and the same on every process that writes pseudonyms: the same key
    gives the same pseudonym for the same user everywhere. The key itself is never printed.
    """
    try:
        key = generate_key_file(key_file, add=add)
    except OtelprivError as error:
        raise Failure(str(error)) from None
    click.echo(f"wrote key {key.id} to {key_file}", err=True)


main.add_command(identity_server)
main.add_command(token_hash)


if __name__ == "__main__":
    sys.exit(main())
