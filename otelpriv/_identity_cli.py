"""``otelpriv identity-server`` and ``otelpriv token-hash``: the help desk's service, run.

The server needs a configuration file because its callers and their roles must be written
down somewhere reviewable; ``token-hash`` turns a caller's bearer token into the hash that
goes into that file, so no token is ever written there.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys

import click

from otelpriv._cli_common import Failure, configure_logging, log_level_option
from otelpriv._errors import OtelprivError
from otelpriv._identity import serve_identity
from otelpriv._identity_config import load_identity_config

__all__ = ["identity_server", "token_hash"]


@click.command("identity-server")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    required=True,
    help="YAML configuration: key file, policy, audit log, callers and their roles.",
)
@click.option("--listen", help="host:port to listen on [default: the config's, 127.0.0.1:4319].")
@log_level_option("Log level (stderr). Logs name callers and status codes, never identities.")
def identity_server(config_file: str, listen: str | None, log_level: str) -> None:
    """Serve the identity service (gRPC) for the help desk.

    \b
    Pseudonymize (role helpdesk): what otelpriv writes for an e-mail or user id, under every
      key of the key file, to search the observability backend for.
    Reveal (role privileged): the identity behind an enc: token (policy action encrypt).

    Callers send `authorization: Bearer <token>`; the configuration lists the sha256 of each
    token (see `otelpriv token-hash`). Every call is appended to the audit log. Stops
    gracefully on SIGTERM or Ctrl-C.

    \b
    Example:
      otelpriv token-hash < agent.token        # paste the hash into the config
      otelpriv identity-server --config identity.yaml
    """
    configure_logging(log_level)
    try:
        config = load_identity_config(config_file, {"listen": listen})
        asyncio.run(serve_identity(config))
    except OtelprivError as error:
        raise Failure(str(error)) from None


@click.command("token-hash")
def token_hash() -> None:
    """Print the sha256 of a bearer token read from stdin, for `callers[].token_sha256`.

    The token is read from stdin (or typed at a hidden prompt) so it lands neither in the
    shell history nor in the configuration. Surrounding blanks are ignored. Make a token with
    e.g. `openssl rand -base64 32` and hand it to the caller only.

    \b
    Example:
      otelpriv token-hash < agent.token
    """
    typed = sys.stdin.isatty()
    token = (click.prompt("Token", hide_input=True) if typed else sys.stdin.read()).strip()
    if not token:
        raise Failure("no token on stdin")
    if len(token) < 16:
        click.echo("otelpriv: warning: a token shorter than 16 characters is guessable", err=True)
    click.echo(hashlib.sha256(token.encode("utf-8")).hexdigest())
