"""Benchmark: import 100,000 rows with ``persistence-server migrate import``, from JSON Lines and from a table.

    .venv/bin/python -m bench.migrate_import [--rows 100000] [--source jsonl|table|both]

The database is $TEST_DATABASE_URL, else $POSTGRES_CONNECTION_STRING, else an
embedded PostgreSQL in a temporary directory. Rows go to a throwaway tenant
(and the table source to a throwaway schema), both removed afterwards. The
issue asks for 100k rows "well inside a minute"; this prints the rate so a
regression shows as a number, not as a flaky timed test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from bench import database
from server.migrate.cli import main as migrate
from server.store import DocumentStore

ENTITIES = """
CREATE TABLE entities (
    id TEXT PRIMARY KEY, record_type TEXT, data JSONB, metadata JSONB,
    created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, version INT8
)
"""


def rows(count: int) -> Iterator[dict[str, Any]]:
    """Documents shaped like the old platform's: a few kinds, nested data, varied values."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for i in range(count):
        created = start + timedelta(seconds=i * 37)
        yield {
            "id": str(uuid.UUID(int=i)),
            "collection": ("users", "orders", "events", "sessions")[i % 4],
            "data": {
                "name": f"name {i}",
                "email": f"user{i}@example.com",
                "age": i % 90,
                "score": i / 7,
                "active": i % 3 == 0,
                "tags": [f"t{i % 10}", f"t{i % 7}"],
                "address": {"city": ("Bern", "Oslo", "Lima")[i % 3], "zip": f"{i % 10000:04}"},
            },
            "created_at": created.isoformat(),
            "updated_at": (created + timedelta(hours=1)).isoformat(),
            "version": 1 + i % 5,
        }


def run(argv: list[str]) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = migrate([*argv, "--json", "--progress", "none"])
    if code != 0:
        raise SystemExit(f"migrate import exited with {code}: {out.getvalue()}")
    summary: dict[str, Any] = json.loads(out.getvalue())
    return summary


def report(kind: str, count: int, seconds: float, summary: dict[str, Any]) -> None:
    assert summary["inserted"] == count, summary
    print(f"{kind:>6}: {count:,} rows imported in {seconds:.2f} s = {count / seconds:,.0f} rows/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--source", choices=["jsonl", "table", "both"], default="both")
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="migrate-bench-") as scratch, database.given_or_own() as url:
        tenant = "bench-" + uuid.uuid4().hex[:10]
        common = ["--database-url", url, "--tenant", tenant, "--batch-size", str(args.batch_size)]
        common += ["--reject-file", str(Path(scratch) / "rejects.jsonl")]
        try:
            if args.source in ("jsonl", "both"):
                path = Path(scratch) / "source.jsonl"
                with path.open("w") as out:
                    for row in rows(args.rows):
                        out.write(json.dumps(row) + "\n")
                started = time.perf_counter()
                summary = run(["import", *common, "--jsonl", str(path)])
                report("jsonl", args.rows, time.perf_counter() - started, summary)
            if args.source in ("table", "both"):
                summary, seconds = table_import(url, [*common[:2], "--tenant", tenant + "-t", *common[4:]], args.rows)
                report("table", args.rows, seconds, summary)
        finally:
            with DocumentStore(url) as store:
                for name in (tenant, tenant + "-t"):
                    scoped = store.for_tenant(name)
                    for collection in scoped.list_collections():
                        scoped.delete_collection(collection)
    return 0


def table_import(url: str, common: list[str], count: int) -> tuple[dict[str, Any], float]:
    schema = "bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        source = make_conninfo(url, options=f"-c search_path={schema}")
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute(ENTITIES)
            with conn.cursor() as cur, cur.copy("COPY entities FROM STDIN") as copy:
                for row in rows(count):
                    meta = json.dumps({"source": "bench"})
                    copy.write_row(
                        (row["id"], row["collection"], json.dumps(row["data"]), meta,
                         row["created_at"], row["updated_at"], row["version"])
                    )  # fmt: skip
        started = time.perf_counter()
        summary = run(["import", *common, "--source-url", source])
        return summary, time.perf_counter() - started
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    raise SystemExit(main())
