"""What every ``otelpriv`` command shares: one-line errors and the servers' log setup."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

__all__ = ["Failure", "configure_logging", "log_level_option"]


class Failure(click.ClickException):
    """An error the user can fix: printed as one line, exit status 2."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message


def log_level_option(help: str) -> Any:
    return click.option(
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error"]),
        default="info",
        show_default=True,
        help=help,
    )


def configure_logging(level: str) -> None:
    """Logs of the long-running servers: timestamped lines on stderr."""
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
