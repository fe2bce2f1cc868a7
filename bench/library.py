"""The direct-import library beside raw psycopg and the seed library's design; raw COPY.

Three ways to read and create one document, side by side on the same database
over TCP with password (SCRAM) authentication, one caller at a time:

- ``library``: ``server.store.DocumentStore(conninfo)`` (a pool; autocommit).
- ``raw psycopg``: the same SQL text the library runs (rendered once), bound and
  run on a connection of a ``psycopg_pool.ConnectionPool`` with autocommit.
- ``connect per call``: the same SQL on a new ``psycopg.connect`` per operation,
  closed after it: the seed library's design.

``copy_rows_per_second`` is raw COPY's rate: psycopg binary COPY of prepared
rows into the documents table with all its indexes, one COPY, one commit.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from bench import dataset
from bench.loadgen import Point, summarize


def _measure(name: str, seconds: float, operation: Callable[[int], None], minimum: int = 20) -> Point:
    latencies: list[float] = []
    started = time.perf_counter()
    end = started + seconds
    i = 0
    while True:
        now = time.perf_counter()
        if now >= end and i >= minimum:
            break
        operation(i)
        latencies.append(time.perf_counter() - now)
        i += 1
    return summarize(name, 1, time.perf_counter() - started, latencies)


def compare(tcp_url: str, docs: int, seconds: float) -> dict[str, Point]:
    from server.store import DocumentStore

    results: dict[str, Point] = {}
    ids = [dataset.doc_id((i * 7919) % docs) for i in range(4096)]
    with DocumentStore(tcp_url) as store:
        statements = store._sql
        with psycopg.connect(tcp_url) as probe:
            read_sql = statements.read(dataset.DOCS, ids[0]).query.as_string(probe)  # type: ignore[union-attr]
            insert_sql = statements.insert(dataset.WRITES, [_new(0)]).query.as_string(probe)  # type: ignore[union-attr]
        announce = statements.insert(dataset.WRITES, [_new(0)]).params[-1]

        def insert_params(i: int) -> list[Any]:
            document = dataset.python_document(i)
            return [
                dataset.WRITES,
                dataset.TENANT,
                [str(uuid.uuid4())],
                Jsonb([document]),
                [None],
                [None],
                [None],
                announce,
            ]

        def library_read(i: int) -> None:
            assert store.read(dataset.DOCS, ids[i % len(ids)]) is not None

        def library_create(i: int) -> None:
            store.create(dataset.WRITES, dataset.python_document(i))

        for _ in range(50):
            library_read(_)
        results["library read"] = _measure("library read", seconds, library_read)
        results["library create"] = _measure("library create", seconds, library_create)

        with ConnectionPool(tcp_url, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:

            def raw_read(i: int) -> None:
                with pool.connection() as conn:
                    row = conn.execute(read_sql, [dataset.TENANT, dataset.DOCS, ids[i % len(ids)]]).fetchone()
                assert row is not None

            def raw_create(i: int) -> None:
                with pool.connection() as conn:
                    conn.execute(insert_sql, insert_params(i)).fetchall()

            for _ in range(50):
                raw_read(_)
            results["raw read"] = _measure("raw psycopg read", seconds, raw_read)
            results["raw create"] = _measure("raw psycopg create", seconds, raw_create)

        def per_call_read(i: int) -> None:
            with psycopg.connect(tcp_url, autocommit=True) as conn:
                row = conn.execute(read_sql, [dataset.TENANT, dataset.DOCS, ids[i % len(ids)]]).fetchone()
            assert row is not None

        def per_call_create(i: int) -> None:
            with psycopg.connect(tcp_url, autocommit=True) as conn:
                conn.execute(insert_sql, insert_params(i)).fetchall()

        results["per-call read"] = _measure("connect-per-call read", seconds, per_call_read)
        results["per-call create"] = _measure("connect-per-call create", seconds, per_call_create)
    return results


def _new(k: int) -> Any:
    from server.store.document import NewDocument

    return NewDocument(dataset.python_document(k))


def copy_rows_per_second(url: str, rows: int) -> Point:
    """Binary COPY of ``rows`` prepared documents into the documents table (all indexes), one commit."""
    now = datetime.now(UTC)
    prepared = [
        (str(uuid.uuid4()), dataset.COPIED, dataset.TENANT, Jsonb(dataset.python_document(k)), now, now, 1)
        for k in range(rows)
    ]
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY documents (id, collection, tenant, data, created_at, updated_at, version)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["text", "varchar", "text", "jsonb", "timestamptz", "timestamptz", "int8"])
            for row in prepared:
                copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - started
    point = Point("COPY", 1, elapsed, 1, rows_per_call=rows, p50=elapsed, p95=elapsed, p99=elapsed, mean=elapsed)
    return point
