"""The load generator: worker processes, each with several gRPC channels, keeping a fixed number of
calls in flight for one RPC.

``in_flight`` calls are split over up to ``processes`` worker processes (so one
Python process is not the limit), and each worker spreads its share over up to
``channels`` channels with a local subchannel pool each (so each is its own
HTTP/2 connection, and ``--workers`` servers sharing the port via SO_REUSEPORT
all get connections). Every task issues its next call as soon as the previous
answers (a closed loop).

A point has a warm-up (calls made, not counted) and a measuring window on the
wall clock shared by all workers: a call counts when it *completes* inside the
window, so calls/s = completed calls / window, and its latency goes into the
percentiles.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import random
import time
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

from bench.catalogue import BY_KEY, Builder, Context, deleted_count, failure_text

#: Enough for InsertBatch answers of 1,000 records with room to spare.
CHANNEL_OPTIONS = [
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]
#: Delete ids are claimed from a shared counter this many at a time.
ID_CHUNK = 64


@dataclass(frozen=True, slots=True)
class Job:
    address: str
    rpc: str
    tasks: int
    channels: int
    #: Wall-clock (time.time) start and end of the measuring window; calls start before it (warm-up).
    start_at: float
    end_at: float
    timeout: float | None


@dataclass(slots=True)
class WorkerResult:
    latencies: array[float]
    errors: int = 0
    first_error: str = ""
    #: Delete calls that found nothing to delete (the pool of seeded ids ran out).
    misses: int = 0


@dataclass(slots=True)
class Point:
    """One measurement: one RPC (or floor) at one number of calls in flight."""

    name: str
    in_flight: int
    seconds: float
    calls: int
    errors: int = 0
    first_error: str = ""
    misses: int = 0
    rows_per_call: int = 1
    p50: float = math.nan
    p95: float = math.nan
    p99: float = math.nan
    mean: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.calls / self.seconds if self.seconds > 0 else math.nan

    @property
    def rows_rate(self) -> float:
        return self.rate * self.rows_per_call

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in_flight": self.in_flight,
            "seconds": self.seconds,
            "calls": self.calls,
            "calls_per_s": self.rate,
            "errors": self.errors,
            "first_error": self.first_error,
            "misses": self.misses,
            "rows_per_call": self.rows_per_call,
            "p50_ms": self.p50 * 1000,
            "p95_ms": self.p95 * 1000,
            "p99_ms": self.p99 * 1000,
            "mean_ms": self.mean * 1000,
            **self.extra,
        }


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summarize(name: str, in_flight: int, seconds: float, latencies: list[float], rows: int = 1) -> Point:
    ordered = sorted(latencies)
    point = Point(name, in_flight, seconds, len(ordered), rows_per_call=rows)
    if ordered:
        point.p50, point.p95, point.p99 = (percentile(ordered, q) for q in (0.50, 0.95, 0.99))
        point.mean = sum(ordered) / len(ordered)
    return point


# -- the worker process -----------------------------------------------------------------------


def _worker(conn: Connection, stubs: Path | None, context: Context, counter: Synchronized[int], index: int) -> None:
    from bench import contract

    pb, _grpc_module = contract.load(stubs)
    pools: dict[str, list[bytes]] = {}
    while True:
        message = conn.recv()
        if message[0] == "stop":
            return
        if message[0] == "prepare":
            key = message[1]
            if key not in pools and key != "delete":
                pools[key] = Builder(pb, context, seed=zlib.crc32(key.encode()) + 7919 * index).pool(key)
            conn.send("ready")
            continue
        job: Job = message[1]
        deletes = _DeleteIds(Builder(pb, context, seed=index), counter)
        conn.send(asyncio.run(_drive(job, pb, pools.get(job.rpc, []), deletes.next_request)))


class _DeleteIds:
    """Delete requests for pool documents no other call deletes: ids claimed from a shared counter."""

    def __init__(self, builder: Builder, counter: Synchronized[int]) -> None:
        self.builder = builder
        self.counter = counter
        self.claimed: list[int] = []

    def next_request(self) -> bytes:
        if not self.claimed:
            with self.counter.get_lock():
                first = self.counter.value
                self.counter.value = first + ID_CHUNK
            self.claimed.extend(range(first + ID_CHUNK - 1, first - 1, -1))
        return self.builder.delete_one(self.claimed.pop())


async def _drive(job: Job, pb: Any, pool: list[bytes], next_delete: Callable[[], bytes]) -> WorkerResult:
    import grpc

    from bench.contract import method_path

    rpc = BY_KEY.get(job.rpc)
    method = rpc.method if rpc is not None else job.rpc
    channels = [grpc.aio.insecure_channel(job.address, options=CHANNEL_OPTIONS) for _ in range(job.channels)]
    result = WorkerResult(array("d"))
    try:
        await asyncio.wait_for(asyncio.gather(*(channel.channel_ready() for channel in channels)), timeout=10)
        calls = [
            channel.unary_unary(method_path(method), _registered_method=True)  # type: ignore[call-arg]
            for channel in channels
        ]
        is_delete = job.rpc == "delete"
        latencies = result.latencies

        async def task(number: int) -> None:
            call = calls[number % len(calls)]
            position = random.Random(number).randrange(max(1, len(pool)))
            while True:
                began = time.time()
                if began >= job.end_at:
                    return
                if is_delete:
                    request = next_delete()
                else:
                    request = pool[position % len(pool)]
                    position += 1
                started = time.perf_counter()
                try:
                    answer = await call(request, timeout=job.timeout)
                except grpc.aio.AioRpcError as exc:
                    result.errors += 1
                    result.first_error = result.first_error or f"{exc.code().name}: {exc.details()}"
                    await asyncio.sleep(0.01)
                    continue
                elapsed = time.perf_counter() - started
                if not answer.startswith(b"\x08\x01"):
                    result.errors += 1
                    result.first_error = result.first_error or str(failure_text(pb, method, answer))
                    continue
                if is_delete and deleted_count(pb, answer) == 0:
                    result.misses += 1
                if job.start_at <= began + elapsed <= job.end_at:
                    latencies.append(elapsed)

        await asyncio.gather(*(task(number) for number in range(job.tasks)))
    finally:
        for channel in channels:
            await channel.close(None)
    return result


# -- the controller -----------------------------------------------------------------------------


class LoadGenerator:
    """A pool of load worker processes (spawned: no gRPC state crosses a fork)."""

    def __init__(self, stubs: Path | None, context: Context, processes: int = 2, channels: int = 4) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.channels = channels
        self.delete_counter: Synchronized[int] = spawn.Value("q", 0)
        self._workers: list[tuple[Any, Connection]] = []
        for index in range(processes):
            parent, child = spawn.Pipe()
            process = spawn.Process(
                target=_worker, args=(child, stubs, context, self.delete_counter, index), daemon=True
            )
            process.start()
            self._workers.append((process, parent))

    def run(
        self,
        address: str,
        rpc: str,
        in_flight: int,
        seconds: float,
        warmup: float,
        *,
        name: str | None = None,
        rows: int = 1,
        timeout: float | None = None,
        window: Callable[[float, float], None] | None = None,
    ) -> Point:
        """Measure ``rpc`` at ``in_flight`` calls; ``window(start, end)`` learns the measuring window first."""
        active = self._workers[: min(in_flight, len(self._workers))]
        shares = [in_flight // len(active) + (1 if i < in_flight % len(active) else 0) for i in range(len(active))]
        for _process, conn in active:
            conn.send(("prepare", rpc))
        for _process, conn in active:
            conn.recv()
        start_at = time.time() + warmup
        end_at = start_at + seconds
        if window is not None:
            window(start_at, end_at)
        for (_process, conn), tasks in zip(active, shares, strict=True):
            job = Job(address, rpc, tasks, min(tasks, self.channels), start_at, end_at, timeout)
            conn.send(("run", job))
        results: list[WorkerResult] = [conn.recv() for _process, conn in active]
        latencies = [value for result in results for value in result.latencies]
        point = summarize(name or rpc, in_flight, seconds, latencies, rows)
        point.errors = sum(result.errors for result in results)
        point.first_error = next((result.first_error for result in results if result.first_error), "")
        point.misses = sum(result.misses for result in results)
        return point

    @property
    def pids(self) -> list[int]:
        return [process.pid for process, _conn in self._workers]

    def close(self) -> None:
        for process, conn in self._workers:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(("stop",))
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
        self._workers.clear()

    def __enter__(self) -> LoadGenerator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
