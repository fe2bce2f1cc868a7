"""The benchmark's data: what the seeded documents look like, made inside PostgreSQL.

Seeding runs as ``INSERT ... SELECT`` over ``generate_series`` in the database
(about 40k documents/s here with the table's indexes in place), so a million
documents take seconds, not minutes of Python. Ids are ``md5(k)`` as a UUID,
so the load generator and pgbench can both name document ``k`` without a list
of ids: Python :func:`doc_id`, SQL :data:`ID_SQL`.

A document (about 230 bytes of JSON)::

    {"status": "active", "n": 36247, "city": "city-03", "tags": ["t1", "t7"],
     "created": "2024-01-01T00:00:37Z", "text": "day system group water ...", "score": 194.1}

``status`` and ``city`` are skewed (half the documents are ``active``; ``city-00``
is 14 times as common as ``city-49``), and the words of ``text`` follow a steep
curve, so equality and text queries meet both common and rare values.
"""

from __future__ import annotations

import hashlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

TENANT = "default"
DOCS = "bench_docs"
WRITES = "bench_writes"
DELETES = "bench_deletes"
COPIED = "bench_copy"
VECTORS = "bench_vectors"
GRAPH = "bench_graph"

#: Drawn uniformly from this list: 4/8 active, 2/8 pending, 1/8 archived, 1/8 blocked.
STATUS_DRAW = ("active", "active", "active", "active", "pending", "pending", "archived", "blocked")
STATUSES = ("active", "pending", "archived", "blocked")
CITY_COUNT = 50
CITIES = tuple(f"city-{i:02d}" for i in range(CITY_COUNT))
N_MAX = 100_000
_WORD_TEXT = (
    "time year people way day man thing woman life child world school state family student group country "
    "problem hand part place case week company system program question work government number night point "
    "home water room mother area money story fact month lot right study book eye job word business issue "
    "side kind head house service friend father power hour game line end member law car city community "
    "name president team minute idea kid body information back parent face others level office door "
    "health person art war history party result change morning reason research girl guy moment air "
    "teacher force education"
)
WORDS = tuple(_WORD_TEXT.split())
VECTOR_DIMENSIONS = 64

#: Document ``k``'s id in SQL (``k`` an integer expression).
ID_SQL = "md5(({k})::text)::uuid::text"


def doc_id(k: int) -> str:
    return str(uuid.UUID(hashlib.md5(str(k).encode()).hexdigest()))


def delete_id(k: int) -> str:
    return doc_id(-1 - k)  # the delete pool uses negative k: never a document of DOCS


_DOCUMENT = """
jsonb_build_object(
    'status', (%(statuses)s::text[])[1 + floor(random() * %(status_count)s)::int],
    'n', floor(random() * %(n_max)s)::int,
    'city', 'city-' || lpad(floor(power(random(), 2) * %(city_count)s)::int::text, 2, '0'),
    'tags', jsonb_build_array('t' || floor(random() * 20)::int, 't' || floor(random() * 20)::int),
    'created', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'text', (SELECT string_agg((%(words)s::text[])[1 + floor(power(random(), 2) * %(word_count)s)::int], ' ')
             FROM generate_series(1, 10 + 0 * k)),
    'score', round(random()::numeric * 1000, 1)
)"""

_SEED = f"""
INSERT INTO documents (id, collection, tenant, data, created_at, updated_at, version)
SELECT {ID_SQL.format(k="k")}, %(collection)s, %(tenant)s, {_DOCUMENT}, ts, ts, 1
FROM generate_series(%(first)s::int, %(last)s::int) AS k,
     LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00' + k * interval '37 seconds' AS ts) AS t
"""

_SEED_DELETES = f"""
INSERT INTO documents (id, collection, tenant, data)
SELECT {ID_SQL.format(k="-1 - k")}, %(collection)s, %(tenant)s, jsonb_build_object('k', k, 'status', 'doomed')
FROM generate_series(%(first)s::int, %(last)s::int) AS k
"""

_SEED_VECTORS = f"""
INSERT INTO documents (id, collection, tenant, data)
SELECT {ID_SQL.format(k="k")}, %(collection)s, %(tenant)s,
       jsonb_build_object('k', k, 'embedding',
           (SELECT jsonb_agg(round((random() * 2 - 1)::numeric, 4)) FROM generate_series(1, %(dims)s + 0 * k)))
FROM generate_series(%(first)s::int, %(last)s::int) AS k
"""

#: Nodes "n0".."n{count-1}"; every node has three edges to random nodes.
_SEED_GRAPH_NODES = """
INSERT INTO documents (id, collection, tenant, data)
SELECT 'n' || k, %(collection)s, %(tenant)s, jsonb_build_object('label', 'person', 'k', k)
FROM generate_series(0, %(count)s - 1) AS k
"""
_SEED_GRAPH_EDGES = """
INSERT INTO documents (id, collection, tenant, data)
SELECT 'e' || k || '-' || j, %(collection)s || '.edges', %(tenant)s,
       jsonb_build_object('source_id', 'n' || k, 'target_id', 'n' || floor(random() * %(count)s)::int,
                          'relationship_type', 'KNOWS')
FROM generate_series(0, %(count)s - 1) AS k, generate_series(1, 3) AS j
"""


def _params(**extra: Any) -> dict[str, Any]:
    return {
        "tenant": TENANT,
        "statuses": list(STATUS_DRAW),
        "status_count": len(STATUS_DRAW),
        "n_max": N_MAX,
        "city_count": CITY_COUNT,
        "words": list(WORDS),
        "word_count": len(WORDS),
        **extra,
    }


def seed_documents(conninfo: str, first: int, last: int, collection: str = DOCS) -> None:
    """Documents ``first``..``last`` (inclusive) of ``collection``, then ANALYZE."""
    if last < first:
        return
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT setseed(%s)", (((first % 1000) / 1000.0),))
        conn.execute(_SEED, _params(collection=collection, first=first, last=last))
        conn.execute("ANALYZE documents")


def seed_deletes(conninfo: str, first: int, count: int) -> None:
    """Delete-pool documents ``first``..``first + count - 1`` (ids :func:`delete_id`)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(_SEED_DELETES, _params(collection=DELETES, first=first, last=first + count - 1))


def seed_vectors(conninfo: str, count: int) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(_SEED_VECTORS, _params(collection=VECTORS, first=0, last=count - 1, dims=VECTOR_DIMENSIONS))
        conn.execute("ANALYZE documents")


def seed_graph(conninfo: str, count: int) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(_SEED_GRAPH_NODES, _params(collection=GRAPH, count=count))
        conn.execute(_SEED_GRAPH_EDGES, _params(collection=GRAPH, count=count))
        conn.execute("ANALYZE documents")


def count(conninfo: str, collection: str = DOCS) -> int:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM documents WHERE tenant = %s AND collection = %s", (TENANT, collection)
        ).fetchone()
    return int(row[0]) if row else 0


def python_document(k: int) -> dict[str, Any]:
    """A document like the seeded ones, made in Python (inserts and COPY send these)."""
    rng = (k * 2654435761) & 0xFFFFFFFF

    def pick(n: int) -> int:
        nonlocal rng
        rng = (rng * 1103515245 + 12345) & 0x7FFFFFFF
        return rng % n

    words = " ".join(WORDS[int((pick(1000) / 1000) ** 2 * len(WORDS))] for _ in range(10))
    return {
        "status": STATUS_DRAW[pick(len(STATUS_DRAW))],
        "n": pick(N_MAX),
        "city": CITIES[int((pick(1000) / 1000) ** 2 * CITY_COUNT)],
        "tags": [f"t{pick(20)}", f"t{pick(20)}"],
        "created": f"2025-{1 + pick(12):02d}-{1 + pick(28):02d}T{pick(24):02d}:{pick(60):02d}:00Z",
        "text": words,
        "score": pick(10000) / 10,
    }


def grow(conninfo: str, first: int, last: int, collection: str = DOCS, parallel: int = 2) -> None:
    """Add documents ``first``..``last`` as a bulk load: secondary indexes dropped, then rebuilt.

    Every index of the table except its primary key is dropped, the rows are
    inserted, and each index is created again from its own definition (as
    ``pg_get_indexdef`` gives it), so the table ends with exactly the indexes it
    had. Inserts and index builds run on ``parallel`` connections at once.
    """
    with psycopg.connect(conninfo, autocommit=True) as conn:
        definitions = [
            (str(name), str(definition))
            for name, definition in conn.execute(
                """
                SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                FROM pg_index i WHERE i.indrelid = 'documents'::regclass AND NOT i.indisprimary
                ORDER BY pg_relation_size(i.indexrelid) DESC
                """
            ).fetchall()
        ]
        for name, _definition in definitions:
            conn.execute(f"DROP INDEX {name}")

    def insert(part: int) -> None:
        size = (last - first + parallel) // parallel
        low, high = first + part * size, min(last, first + (part + 1) * size - 1)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SELECT setseed(%s)", (((low % 1000) / 1000.0),))
            conn.execute(_SEED, _params(collection=collection, first=low, last=high))

    def build(part: int) -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '256MB'")
            for _name, definition in definitions[part::parallel]:
                conn.execute(definition)

    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(insert, range(parallel)))
        list(pool.map(build, range(parallel)))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("ANALYZE documents")
