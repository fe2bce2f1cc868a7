"""Servers under test as subprocesses (the real one and the no-op one), and their memory.

``persistence-server`` is started as an operator would (``python -m server``),
like ``tests/conftest.py``'s ServerProcess. RSS is read from ``/proc`` of the
serving processes: the server itself, or with ``--workers N`` its N forked
children (the parent only waits).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    """A server subprocess (or several sharing a port) answering gRPC health checks."""

    def __init__(self, commands: list[list[str]], address: str, log: Path, expected_serving: int = 1) -> None:
        self.address = address
        self.log = log
        self._log_file = log.open("w")
        self.processes = [
            subprocess.Popen(command, cwd=ROOT, stdout=self._log_file, stderr=subprocess.STDOUT) for command in commands
        ]
        self.expected_serving = expected_serving
        self._wait_serving()

    def _wait_serving(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.address) as channel:
            probe = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                for process in self.processes:
                    if process.poll() is not None:
                        raise SystemExit(f"bench: server exited with {process.returncode}:\n{self.log.read_text()}")
                try:
                    answer = probe.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING and self._all_serving():
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise SystemExit(f"bench: server did not start serving:\n{self.log.read_text()}")

    def _all_serving(self) -> bool:
        """With --workers N, wait until N children exist (each logs 'serving' once it listens)."""
        if self.expected_serving <= 1:
            return True
        return self.log.read_text().count(" serving ") >= self.expected_serving

    def serving_pids(self) -> list[int]:
        """The processes that answer calls: forked workers when there are any, else the processes started."""
        pids: list[int] = []
        for process in self.processes:
            children = _children(process.pid)
            pids.extend(children or [process.pid])
        return pids

    def stop(self, timeout: float = 20.0) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._log_file.close()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def persistence_server(database_url: str, workers: int, config: Path, log: Path) -> Served:
    port = free_port()
    address = f"127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "server",
        "--listen",
        address,
        "--database-url",
        database_url,
        "--workers",
        str(workers),
        "--config",
        str(config),
        "--log-level",
        "INFO",
    ]
    return Served([command], address, log, expected_serving=workers)


def noop_server(
    stubs: Path | None, answers: Path, processes: int, log: Path, database_url: str | None = None
) -> Served:
    port = free_port()
    address = f"127.0.0.1:{port}"
    command = [sys.executable, "-m", "bench.noop_server", "--listen", address, "--answers", str(answers)]
    if stubs is not None:
        command += ["--stubs", str(stubs)]
    if database_url is not None:
        command += ["--database-url", database_url]
    if processes > 1:
        command.append("--reuse-port")
    return Served([command] * processes, address, log, expected_serving=1)


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler:
    """Samples the RSS of the serving processes every ``interval`` seconds; keeps each one's peak."""

    def __init__(self, served: Served, interval: float = 0.1) -> None:
        self.served = served
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for pid in self.served.serving_pids():
                self.peaks[pid] = max(self.peaks.get(pid, 0), rss_bytes(pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> int:
        return max(self.peaks.values(), default=0)


def cpu_count() -> int:
    return os.cpu_count() or 1


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process (all its threads) so far; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (from /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICKS


def postgres_pids(data_dir: Path | None = None) -> list[int]:
    """The processes of the PostgreSQL in ``data_dir`` (postmaster and children); all of them without one."""
    if data_dir is not None:
        try:
            postmaster = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return []
        return [postmaster, *_children(postmaster)]
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class CpuMeter:
    """CPU used by groups of processes, and by everything else on the machine, in a wall-clock window.

    ``other`` is the machine's busy time that none of the groups used: other
    people's work on a shared machine, the kernel, background services. A point
    with much of it was measured on a busy machine.
    """

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self.used: dict[str, float] = {}
        self.seconds = 0.0
        self._start: dict[str, dict[int, float]] = {}
        self._busy = 0.0
        self._timers: list[threading.Timer] = []

    def _snapshot(self) -> dict[str, dict[int, float]]:
        snapshot: dict[str, dict[int, float]] = {}
        for name, pids in self.groups.items():
            times = {pid: cpu_seconds(pid) for pid in pids()}
            snapshot[name] = {pid: value for pid, value in times.items() if value is not None}
        return snapshot

    def window(self, start_at: float, end_at: float) -> None:
        """Schedule the two snapshots (``LoadGenerator.run``'s window hook)."""
        self.seconds = end_at - start_at

        def begin() -> None:
            self._start = self._snapshot()
            self._busy = machine_busy_seconds()

        def end() -> None:
            stop = self._snapshot()
            busy = machine_busy_seconds() - self._busy
            self.used = {}
            for name, times in stop.items():
                before = self._start.get(name, {})
                # a process that started inside the window counts from zero
                self.used[name] = sum(value - before.get(pid, 0.0) for pid, value in times.items())
            self.used["other"] = max(0.0, busy - sum(self.used.values()))

        self._timers = [
            threading.Timer(max(0.0, start_at - time.time()), begin),
            threading.Timer(max(0.0, end_at - time.time()), end),
        ]
        for timer in self._timers:
            timer.start()

    def wait(self) -> dict[str, float]:
        """CPU used per group in the window, in cores (1.0 = one core busy all the time)."""
        for timer in self._timers:
            timer.join()
        return {name: used / self.seconds for name, used in self.used.items()} if self.seconds else {}


def wait_quiet(cores: float, limit: float) -> bool:
    """Wait (at most ``limit`` seconds) for half a second in which the machine used less than ``cores``."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = machine_busy_seconds()
        time.sleep(0.5)
        if (machine_busy_seconds() - before) / 0.5 < cores:
            return True
    return False
