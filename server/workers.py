"""Several server processes sharing one port (``--workers N``).

One Python process tops out at what one core can run of gRPC and psycopg, so
the parent forks N workers *before any gRPC object exists* (gRPC's threads do
not survive a fork), and each binds the same address with ``SO_REUSEPORT``;
the kernel spreads connections over them. Workers are independent servers on
one database: caches stay consistent through PostgreSQL notifications, and
metrics are per worker. The parent only starts the embedded database, forwards
signals (SIGTERM/SIGINT stop, SIGHUP reloads) and waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from dataclasses import replace
from types import FrameType
from typing import Any

import uvloop

from server.app import check_settings, database_url, serve, worker_count
from server.config import Settings

log = logging.getLogger(__name__)


def run(settings: Settings) -> int:
    """Serve with the configured number of processes; returns the exit code."""
    count = worker_count(settings)
    if count > 1 and settings.listen.endswith(":0"):
        log.info("port 0 picks a free port per process, which workers cannot share: serving with one process")
        count = 1
    if count == 1:
        run_loop(serve(replace(settings, workers=1)), settings.event_loop)
        return 0
    check_settings(settings)  # a bad setting stops start-up once, here, not in every worker
    shared = replace(settings, resolved_database_url=database_url(settings))
    children = [_fork(shared, number) for number in range(count)]
    log.info("started %d workers: %s", count, ", ".join(map(str, children)))

    def forward(signum: int, _frame: FrameType | None) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    worst = 0
    alive = set(children)
    while alive:
        pid, status = os.wait()
        alive.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            log.error("worker %d exited with %d; stopping the others", pid, code)
            worst = max(worst, code if code > 0 else 1)
            forward(signal.SIGTERM, None)
    return worst


def run_loop(main: Coroutine[Any, Any, None], event_loop: str) -> None:
    """Run ``main`` on the chosen event loop: uvloop costs the server less CPU per call (docs/benchmarks.md)."""
    if event_loop == "uvloop":
        uvloop.run(main)
    else:
        asyncio.run(main)


def _fork(settings: Settings, number: int) -> int:
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    _die_with(parent)
    code = 0
    try:
        run_loop(serve(replace(settings, worker=number)), settings.event_loop)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        log.exception("worker %d failed", number)
        code = 1
    # Skip the parent's exit handlers (they would stop the embedded database).
    os._exit(code)


def _die_with(parent: int) -> None:
    """Have the kernel send this worker SIGTERM when its parent dies (even by kill -9).

    Otherwise orphaned workers would keep serving, and a new server started on
    the same port would silently share it with them (SO_REUSEPORT).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        log.warning("workers cannot follow their parent on this system (prctl failed)")
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


#: linux/prctl.h
PR_SET_PDEATHSIG = 1
