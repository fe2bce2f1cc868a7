"""Where a server process spends its time under load: py-spy samples, summarized.

Used by ``python -m bench.run --profile insert,point_lookup`` (py-spy must be
installed: ``.venv/bin/pip install py-spy``; it is not a project dependency;
``BENCH_PYSPY_NATIVE=1`` adds C frames, at the cost of pausing the server per sample).
While the named RPCs run at the highest level, py-spy samples the
single-process server; the summary lists the functions that were running
(self time) and the share of samples inside the parts of the stack that matter
for optimizing (gRPC, protobuf, the store's SQL building, psycopg, ...).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

#: (label, substrings of a frame). Each on-CPU sample is charged to the area of its innermost
#: matching frame, so the shares add up to 100 %.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("psycopg (Python and C)", ("psycopg/", "psycopg_binary", "psycopg_c")),
    ("psycopg_pool", ("psycopg_pool/",)),
    ("protobuf", ("protobuf/", "google/_upb", "_message")),
    ("JSON (json_values, json)", ("json_values.py", "json/")),
    ("metrics (prometheus_client)", ("prometheus_client/", "server/metrics.py")),
    ("protobuf <-> store values (server/codec.py)", ("server/codec.py", "server/search_codec.py")),
    ("SQL building (statements.py, compiler.py)", ("server/store/statements.py", "server/store/compiler.py")),
    ("named queries and cache", ("server/named/", "server/query_cache.py", "server/store/changes.py")),
    ("store: run a statement (async_store.py, deadlines.py)", ("server/store/",)),
    ("service handlers (server/service.py)", ("server/",)),
    ("asyncio event loop", ("asyncio/", "_asynciomodule", "selectors.py")),
    ("gRPC (grpc/, cygrpc)", ("grpc/", "cygrpc", "grpc_")),
    ("Python runtime (gc, threads)", ("libpython", "threading.py")),
)
#: Innermost frames of a thread that waits rather than runs.
WAITS = ("epoll_wait", "EpollSelector.select", "PyThread_acquire_lock_timed", "_queue_SimpleQueue_get", "select (")


def available() -> bool:
    return shutil.which("py-spy") is not None or (Path(sys.executable).parent / "py-spy").exists()


def start(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """Sample ``pid`` for ``seconds`` into ``output`` (collapsed stacks), without pausing it."""
    executable = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    output.unlink(missing_ok=True)
    return subprocess.Popen(
        [
            executable,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "200",
            "--format",
            "raw",
            # native frames (gRPC's and psycopg's C code) need py-spy to pause the process per sample
            *(["--native"] if os.environ.get("BENCH_PYSPY_NATIVE") else ["--nonblocking"]),
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarize(collapsed: Path, top: int = 25) -> str:
    """Where the on-CPU samples are, by area and by function, as text."""
    if not collapsed.exists():
        return "py-spy wrote no samples\n"
    self_time: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = waiting = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        if any(wait in frame for frame in frames[-3:] for wait in WAITS):
            waiting += count
            continue
        self_time[_short(frames[-1])] += count
        areas[_area(frames)] += count
    running = total - waiting
    if not running:
        return "no samples on the CPU\n"
    lines = [
        f"{total} samples, {running} on the CPU ({waiting} waiting in epoll or for a lock, left out)",
        "",
        "on-CPU samples by area (innermost matching frame):",
    ]
    lines += [f"  {count / running:6.1%}  {label}" for label, count in areas.most_common()]
    lines += ["", f"top {top} functions by self time (on-CPU samples):"]
    lines += [f"  {count / running:6.1%}  {name}" for name, count in self_time.most_common(top)]
    return "\n".join(lines) + "\n"


def _area(frames: list[str]) -> str:
    for frame in reversed(frames):
        for label, needles in AREAS:
            if any(needle in frame for needle in needles):
                return label
    return "other"


def _short(frame: str) -> str:
    """``function (path/to/module.py:line)`` with the path shortened to its package."""
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in frame:
            head, _, tail = frame.partition(marker)
            name = head.split(" (")[0]
            return f"{name} ({tail.rstrip(')')})"
    return frame
