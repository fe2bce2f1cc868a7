"""The RPCs the benchmark drives: how each request is built (original contract), checked, and
which SQL statement of the store it stands for.

Requests are serialized once, ahead of the run, into a pool each load worker
cycles through (Delete builds each request, since every call deletes a new
document). Answers are checked without decoding them: every response of this
contract starts with ``bool success = 1``, so a successful answer begins with
the bytes ``08 01``; only failures are decoded, to report their error text.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from bench import dataset

SUCCESS_PREFIX = b"\x08\x01"


@dataclass(frozen=True, slots=True)
class Rpc:
    key: str
    title: str
    #: The contract method it calls.
    method: str
    #: Documents written per call (InsertBatch), for rows/s.
    rows: int = 1
    #: The store statement pgbench runs as this RPC's database floor (None: no pgbench floor).
    sql: str | None = None
    #: Insert, point lookup, Update: the issue's headline target (≥ 80 % of the no-op server).
    headline: bool = False
    #: A query whose plan must use an index and may have no cliffs.
    indexed: bool = False
    #: Only when the server implements it (another issue lands it).
    optional: bool = False


CATALOGUE: tuple[Rpc, ...] = (
    Rpc("insert", "Insert", "Insert", sql="insert", headline=True),
    Rpc("insert_batch_100", "InsertBatch (100 records)", "InsertBatch", rows=100, sql="copy"),
    Rpc("insert_batch_1000", "InsertBatch (1,000 records)", "InsertBatch", rows=1000, sql="copy"),
    Rpc("point_lookup", "Point lookup (ExecuteRawQuery by id)", "ExecuteRawQuery", sql="point_lookup", headline=True),
    Rpc("equality", "Two-field equality (status, city; limit 10)", "ExecuteRawQuery", sql="equality", indexed=True),
    Rpc("range", "Range on n, order by n, limit 20", "ExecuteRawQuery", sql="range", indexed=True),
    Rpc("text", "Text search (one word in text; limit 20)", "ExecuteRawQuery", sql="text", indexed=True),
    Rpc("update", "Update (one field)", "Update", sql="update", headline=True),
    Rpc("delete", "Delete (by id)", "Delete", sql="delete"),
    Rpc("named", "ExecuteQuery, not cached (status, city)", "ExecuteQuery", sql="equality"),
    Rpc("named_cached", "ExecuteQuery, cached (status, city)", "ExecuteQuery", sql="equality"),
    Rpc("vector_search", "VectorSearch (64 dims, cosine, limit 10)", "VectorSearch", optional=True),
    Rpc("graph_traverse", "GraphTraverse (breadth first, depth 2)", "GraphTraverse", optional=True),
)
BY_KEY = {rpc.key: rpc for rpc in CATALOGUE}

NAMED_QUERY = "bench_status_city"
NAMED_QUERY_CACHED = "bench_status_city_cached"

#: The ``--config`` file the server runs with: the equality query, by name, with and without cache.
NAMED_CONFIG = f"""
queries:
  {NAMED_QUERY}:
    collection: {dataset.DOCS}
    parameters: {{status: string, city: string}}
    criteria:
      and:
        - equals: {{field: status, value: $status}}
        - equals: {{field: city, value: $city}}
    limit: 10
  {NAMED_QUERY_CACHED}:
    collection: {dataset.DOCS}
    parameters: {{status: string, city: string}}
    criteria:
      and:
        - equals: {{field: status, value: $status}}
        - equals: {{field: city, value: $city}}
    limit: 10
    cache_ttl: 10m
# Indexes for the equality query (status, city: its page straight from the index), the range (n)
# and text (text) queries, and the collection's own GIN index for other equality filters (the
# table's spans the write benchmarks' collections too, with the same values).
indexes:
  - {{collection: {dataset.DOCS}, equality: [status, city]}}
  - {{collection: {dataset.DOCS}, equality: true}}
  - {{collection: {dataset.DOCS}, field: n}}
  - {{collection: {dataset.DOCS}, text: [text]}}
"""

RANGE_WIDTH = 1000
QUERY_LIMIT = 10
RANGE_LIMIT = 20
TEXT_LIMIT = 20


@dataclass(frozen=True, slots=True)
class Context:
    """What request builders need to know about the seeded data."""

    docs: int
    vectors: int
    graph_nodes: int


# -- the values a call asks about (shared by requests, EXPLAIN and pgbench) --------------


def pick_equality(rng: random.Random) -> tuple[str, str]:
    """Status and city, each uniform over its values: common and rare pairs equally often."""
    return rng.choice(dataset.STATUSES), rng.choice(dataset.CITIES)


def pick_range(rng: random.Random) -> int:
    return rng.randrange(0, dataset.N_MAX - RANGE_WIDTH)


def pick_word(rng: random.Random) -> str:
    return rng.choice(dataset.WORDS)


# -- requests -------------------------------------------------------------------------------


def _any(pb_any: Any, message: Any) -> Any:
    packed = pb_any()
    packed.Pack(message)
    return packed


class Builder:
    """Builds one RPC's serialized requests from the original contract's messages."""

    def __init__(self, pb: ModuleType, context: Context, seed: int) -> None:
        from google.protobuf import any_pb2, wrappers_pb2

        self.pb = pb
        self.context = context
        self.rng = random.Random(seed)
        self.seed = seed
        self._any = any_pb2.Any
        self._wrappers = wrappers_pb2

    def string_value(self, text: str) -> Any:
        return _any(self._any, self._wrappers.StringValue(value=text))

    def int_value(self, number: int) -> Any:
        return _any(self._any, self._wrappers.Int64Value(value=number))

    def equals(self, field: str, value: Any) -> Any:
        return self.pb.QueryCriteria(equals=self.pb.EqualsFilter(field=field, value=value))

    def record(self, k: int) -> Any:
        record = self.pb.Record()
        record.data.update(dataset.python_document(k))
        return record

    def raw_query(self, spec: Any) -> bytes:
        return bytes(self.pb.ExecuteRawQueryRequest(query_spec=spec).SerializeToString())

    # one method per catalogue key; each returns a pool of serialized requests

    def insert(self) -> list[bytes]:
        base = self.seed * 1_000_000
        return [
            self.pb.InsertRequest(table_name=dataset.WRITES, record=self.record(base + i)).SerializeToString()
            for i in range(512)
        ]

    def _batch(self, size: int, count: int) -> list[bytes]:
        base = self.seed * 1_000_000
        pool = []
        for b in range(count):
            request = self.pb.InsertBatchRequest(table_name=dataset.WRITES)
            for i in range(size):
                request.records.append(self.record(base + b * size + i))
            pool.append(request.SerializeToString())
        return pool

    def insert_batch_100(self) -> list[bytes]:
        return self._batch(100, 16)

    def insert_batch_1000(self) -> list[bytes]:
        return self._batch(1000, 3)

    def point_lookup(self) -> list[bytes]:
        pool = []
        for _ in range(4096):
            k = self.rng.randrange(self.context.docs)
            spec = self.pb.QuerySpec(
                table_name=dataset.DOCS,
                query_type=self.pb.POINT_LOOKUP,
                criteria=self.equals("id", self.string_value(dataset.doc_id(k))),
                limit=1,
            )
            pool.append(self.raw_query(spec))
        return pool

    def _equality_criteria(self, status: str, city: str) -> Any:
        return self.pb.QueryCriteria(
            and_filter=self.pb.AndFilter(
                filters=[self.equals("status", self.string_value(status)), self.equals("city", self.string_value(city))]
            )
        )

    def equality(self) -> list[bytes]:
        pool = []
        for _ in range(1024):
            status, city = pick_equality(self.rng)
            spec = self.pb.QuerySpec(
                table_name=dataset.DOCS,
                query_type=self.pb.DOCUMENT_QUERY,
                criteria=self._equality_criteria(status, city),
                limit=QUERY_LIMIT,
            )
            pool.append(self.raw_query(spec))
        return pool

    def range_query(self) -> list[bytes]:
        pool = []
        for _ in range(1024):
            low = pick_range(self.rng)
            spec = self.pb.QuerySpec(
                table_name=dataset.DOCS,
                query_type=self.pb.RANGE_SCAN,
                criteria=self.pb.QueryCriteria(
                    range=self.pb.RangeFilter(
                        field="n", min_value=self.int_value(low), max_value=self.int_value(low + RANGE_WIDTH - 1)
                    )
                ),
                order_by=[self.pb.OrderBy(field="n", ascending=True)],
                limit=RANGE_LIMIT,
            )
            pool.append(self.raw_query(spec))
        return pool

    def text(self) -> list[bytes]:
        pool = []
        for _ in range(1024):
            spec = self.pb.QuerySpec(
                table_name=dataset.DOCS,
                query_type=self.pb.FULL_TEXT_SEARCH,
                criteria=self.pb.QueryCriteria(
                    text_search=self.pb.TextSearchFilter(fields=["text"], query=pick_word(self.rng))
                ),
                limit=TEXT_LIMIT,
            )
            pool.append(self.raw_query(spec))
        return pool

    def update(self) -> list[bytes]:
        pool = []
        for _ in range(4096):
            request = self.pb.UpdateRequest(
                table_name=dataset.DOCS, id=dataset.doc_id(self.rng.randrange(self.context.docs))
            )
            request.updates.update({"score": self.rng.randrange(10000) / 10})
            pool.append(request.SerializeToString())
        return pool

    def delete_one(self, j: int) -> bytes:
        request = self.pb.DeleteRequest(
            table_name=dataset.DELETES, criteria=self.equals("id", self.string_value(dataset.delete_id(j)))
        )
        return bytes(request.SerializeToString())

    def _named(self, name: str) -> list[bytes]:
        pool = []
        for _ in range(1024):
            status, city = pick_equality(self.rng)
            request = self.pb.ExecuteQueryRequest(query_name=name)
            request.parameters.update({"status": status, "city": city})
            pool.append(request.SerializeToString())
        return pool

    def named(self) -> list[bytes]:
        return self._named(NAMED_QUERY)

    def named_cached(self) -> list[bytes]:
        return self._named(NAMED_QUERY_CACHED)

    def vector_search(self) -> list[bytes]:
        pool = []
        for _ in range(256):
            vector = [self.rng.uniform(-1, 1) for _ in range(dataset.VECTOR_DIMENSIONS)]
            request = self.pb.VectorSearchRequest(
                table_name=dataset.VECTORS, query_vector=vector, limit=10, distance_metric="cosine"
            )
            pool.append(request.SerializeToString())
        return pool

    def graph_traverse(self) -> list[bytes]:
        pool = []
        for _ in range(1024):
            spec = self.pb.GraphTraversalSpec(traversal_type=self.pb.BREADTH_FIRST, max_depth=2)
            request = self.pb.GraphTraverseRequest(
                table_name=dataset.GRAPH,
                start_node=f"n{self.rng.randrange(self.context.graph_nodes)}",
                traversal_spec=spec,
            )
            pool.append(request.SerializeToString())
        return pool

    def pool(self, key: str) -> list[bytes]:
        make: Callable[[], list[bytes]] = getattr(self, "range_query" if key == "range" else key)
        return make()


def failure_text(pb: ModuleType, method: str, answer: bytes) -> str | None:
    """None for a successful answer, else its error text."""
    if answer.startswith(SUCCESS_PREFIX):
        return None
    response = getattr(pb, f"{method}Response").FromString(answer)
    return str(response.error_message) or "success=false without an error message"


def deleted_count(pb: ModuleType, answer: bytes) -> int:
    return int(pb.DeleteResponse.FromString(answer).deleted_count)


def discriminator(method: str, request: Any) -> str:
    """Which canned answer the no-op server gives: RPCs sharing a method differ in their answers."""
    if method == "ExecuteRawQuery":
        return str(request.query_spec.query_type)
    if method == "ExecuteQuery":
        return str(request.query_name)
    if method == "InsertBatch":
        return str(len(request.records))
    return ""


def discriminator_of(pb: ModuleType, rpc: Rpc, serialized: bytes) -> str:
    request = getattr(pb, f"{rpc.method}Request").FromString(serialized)
    return discriminator(rpc.method, request)
