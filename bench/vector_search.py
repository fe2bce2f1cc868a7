"""Benchmark: top-10 vector search over 100,000 384-dimension vectors, HNSW and exact.

    .venv/bin/python -m bench.vector_search [--rows 100000] [--dimensions 384] [--queries 50]
                                            [--data clustered|uniform|both] [--exact-queries 5]

The database is $TEST_DATABASE_URL, else $POSTGRES_CONNECTION_STRING, else an
embedded PostgreSQL (with pgvector) in a temporary directory. Documents go to a
throwaway tenant, removed afterwards with their indexes.

Reported: insert rate; HNSW index build time; HNSW search latency (p50/p95, one
library call = one statement) and recall@10 against exact search; exact-scan
latency (what a database without pgvector, e.g. PostgreSQL 15, does for every
search). Ground truth is pgvector's exact distance over a temporary table of
the same vectors (a sequential scan), so recall is measured on all queries.

Data: ``clustered`` (default) draws vectors around 100 random centres, with
noise as large as the spread of the centres, the way embeddings of texts on a
limited set of topics cluster; queries come from the same distribution.
``uniform`` draws every coordinate uniformly from [-1, 1]: no structure at all,
where every approximate index degrades (the nearest neighbours are barely nearer
than any other point); its recall is reported for honesty, not as a target.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql

from bench import database
from server.store import DocumentStore
from server.store.vectors import IndexKey, IndexSettings, build_index

BATCH = 2000


def vectors(
    kind: str, count: int, dimensions: int, rng: random.Random, centres: list[list[float]]
) -> Iterator[list[float]]:
    for _ in range(count):
        if kind == "uniform":
            yield [round(rng.uniform(-1, 1), 6) for _ in range(dimensions)]
        else:
            centre = rng.choice(centres)
            yield [round(c + rng.uniform(-1, 1), 6) for c in centre]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(url: str, kind: str, rows: int, dimensions: int, queries: int, exact_queries: int) -> dict[str, Any]:
    rng = random.Random(384)
    centres = [[rng.uniform(-1, 1) for _ in range(dimensions)] for _ in range(100)]
    tenant = "bench-" + uuid.uuid4().hex[:8]
    collection = f"vectors-{kind}"
    report: dict[str, Any] = {"data": kind, "rows": rows, "dimensions": dimensions}
    with DocumentStore(url, tenant=tenant) as store, psycopg.connect(url, autocommit=True) as conn:
        report["pgvector"] = store._layout.pgvector
        key = IndexKey(tenant, collection, ("embedding",), dimensions, "cosine")
        try:
            started = time.perf_counter()
            batch: list[dict[str, Any]] = []
            for vector in vectors(kind, rows, dimensions, rng, centres):
                batch.append({"embedding": vector})
                if len(batch) == BATCH:
                    store.create_many(collection, batch)
                    batch = []
            if batch:
                store.create_many(collection, batch)
            seconds = time.perf_counter() - started
            report["insert"] = f"{rows / seconds:,.0f} documents/s ({seconds:.1f} s)"
            conn.execute("ANALYZE documents")
            probes = [list(v) for v in vectors(kind, queries, dimensions, rng, centres)]

            exact_times = []
            for probe in probes[:exact_queries]:
                started = time.perf_counter()
                exact = store.vector_search(collection, probe, limit=10, exact=True)
                exact_times.append(time.perf_counter() - started)
                assert len(exact) == 10
            report["exact scan"] = f"p50 {statistics.median(exact_times) * 1000:,.0f} ms ({len(exact_times)} queries)"
            if not store._layout.pgvector:
                report["hnsw"] = "not available (no pgvector): every search is the exact scan above"
                return report

            started = time.perf_counter()
            build_index(conn, key, IndexSettings())
            report["index build"] = f"{time.perf_counter() - started:.1f} s (m=16, ef_construction=64)"

            # Ground truth: pgvector's exact distance over the same vectors, sequentially scanned.
            conn.execute(
                sql.SQL(
                    "CREATE TEMP TABLE truth AS SELECT id::text AS id, (data #> '{{embedding}}')::text::vector({}) AS v"
                    " FROM documents WHERE tenant = %s AND collection = %s"
                ).format(sql.Literal(dimensions)),
                (tenant, collection),
            )
            truths = [
                {
                    row[0]
                    for row in conn.execute(
                        "SELECT id FROM truth ORDER BY v <=> %s::vector LIMIT 10", (str(probe).replace(" ", ""),)
                    )
                }
                for probe in probes
            ]
            store.vector_search(collection, probes[0], limit=10)  # warm the connection and the index
            times, hits = [], 0
            for probe, truth in zip(probes, truths, strict=True):
                started = time.perf_counter()
                found = store.vector_search(collection, probe, limit=10)
                times.append(time.perf_counter() - started)
                hits += len({hit.document.id for hit in found} & truth)
            report["hnsw search"] = (
                f"p50 {statistics.median(times) * 1000:.1f} ms, p95 {percentile(times, 0.95) * 1000:.1f} ms"
                f" ({len(times)} queries, ef_search=200)"
            )
            report["recall@10"] = f"{hits / (10 * len(probes)):.3f}"
            return report
        finally:
            conn.execute("DROP TABLE IF EXISTS truth")
            conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(key.name)))
            conn.execute("DELETE FROM documents WHERE tenant = %s", (tenant,))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dimensions", type=int, default=384)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--exact-queries", type=int, default=5)
    parser.add_argument("--data", choices=("clustered", "uniform", "both"), default="clustered")
    options = parser.parse_args()
    with database.given_or_own() as url:
        kinds = ("clustered", "uniform") if options.data == "both" else (options.data,)
        for kind in kinds:
            report = run(url, kind, options.rows, options.dimensions, options.queries, options.exact_queries)
            print(f"\n== vector search: {kind} data")
            for name, value in report.items():
                print(f"  {name:12} {value}")


if __name__ == "__main__":
    main()
