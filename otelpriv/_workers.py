"""``--workers N``: N relay processes sharing the listening ports, one per core.

Python runs one core per process, so the relay scales out by forking after the configuration
and policy are loaded; every worker binds the same ports with SO_REUSEPORT and the kernel
spreads connections between them. The parent only forwards SIGTERM/SIGINT and waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from otelpriv._engine import Engine
from otelpriv._relay import serve
from otelpriv._relay_config import RelayConfig

__all__ = ["run_workers"]

_log = logging.getLogger("otelpriv.relay")


def _run_one(config: RelayConfig, engine: Engine) -> None:
    asyncio.run(serve(config, engine))


def run_workers(config: RelayConfig, engine: Engine, workers: int) -> None:
    """Serve in this process (one worker) or in ``workers`` forked children."""
    if workers == 1:
        _run_one(config, engine)
        return
    children = []
    for number in range(workers):
        child = os.fork()
        if child == 0:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                _run_one(config, engine)
            finally:
                os._exit(0)
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
