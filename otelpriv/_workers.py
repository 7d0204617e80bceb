"""``--workers N``: N relay processes sharing the listening ports, one per core.

Python runs one core per process, so the relay scales out by forking after the configuration
and policy are loaded; every worker binds the same ports with SO_REUSEPORT and the kernel
spreads connections between them. The parent only forwards SIGTERM/SIGINT and waits. One worker
binds without SO_REUSEPORT, so a second relay started on its ports fails instead of taking half
of the traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from otelpriv._cli_common import Failure
from otelpriv._engine import Engine
from otelpriv._errors import OtelprivError
from otelpriv._relay import serve
from otelpriv._relay_config import RelayConfig

__all__ = ["run_workers"]

_log = logging.getLogger("otelpriv.relay")


def _run_one(config: RelayConfig, engine: Engine, reuse_port: bool) -> None:
    asyncio.run(serve(config, engine, reuse_port=reuse_port))


def run_workers(config: RelayConfig, engine: Engine, workers: int) -> None:
    """Serve in this process (one worker) or in ``workers`` forked children.

    A relay that cannot start (e.g. a port in use) is a one-line error, as the command's other
    errors are: :class:`Failure` here, an error log line and exit status 2 in a worker.
    """
    if workers == 1:
        try:
            _run_one(config, engine, reuse_port=False)
        except OtelprivError as error:
            raise Failure(str(error)) from None
        return
    children = []
    for number in range(workers):
        child = os.fork()
        if child == 0:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _child(config, engine, number)
        children.append(child)
        _log.info("started worker %d (pid %d)", number + 1, child)

    def forward(number: int, frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    failed = 0
    for child in children:
        while True:
            try:
                _, status = os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
        failed += os.waitstatus_to_exitcode(status) != 0
    if failed:
        sys.exit(1)


def _child(config: RelayConfig, engine: Engine, number: int) -> None:
    """Serve as worker ``number``, then leave the process: a child must never return into the
    parent's code."""
    status = 1
    try:
        _run_one(config, engine, reuse_port=True)
        status = 0
    except OtelprivError as error:
        _log.error("worker %d: %s", number + 1, error)
        status = 2
    except BaseException:
        _log.exception("worker %d failed", number + 1)
    finally:
        os._exit(status)
