"""Vector search over number arrays kept in ``data``: pgvector and HNSW where installed, exact SQL elsewhere.

A document's vector is a JSON array of numbers in one ``data`` field (``embedding``
unless the collection is configured otherwise). Two ways to rank, one answer shape:

- **pgvector** (the embedded PostgreSQL ships it): the array is cast to
  ``vector(d)`` by one fixed expression, and an HNSW index per (tenant,
  collection, field, dimensions, metric) is built on that very expression, with a
  partial ``WHERE`` that admits only well-formed vectors of that length. The
  search repeats expression and predicate *literally* (tenant and collection are
  SQL literals here, not bind parameters) so the planner can prove the partial
  index applies, also for generic prepared plans. Without the index yet, the same
  statement is an exact scan.
- **exact** (no pgvector, e.g. PostgreSQL 15, or a search that asks for ``exact``):
  distances are computed in SQL from the JSONB arrays (``float8[]`` and
  ``unnest``), ordered and cut in SQL. Rows never reach Python to be filtered.

Documents without a vector, with another length, or with anything but numbers
(within the range of a 4-byte float) in it are skipped in both, never an error.
Formulas (``docs/vector-graph.md``):

========== ================================ ==========================
metric     distance                          similarity_score
========== ================================ ==========================
cosine     1 - cos(a, b)                     cos(a, b) = 1 - distance
l2         ‖a - b‖ (Euclidean)               1 / (1 + distance)
dot        -(a · b)                          a · b = -distance
========== ================================ ==========================

Indexes are built on demand (the first search of a key asks a background thread
to ``CREATE INDEX CONCURRENTLY``; searches meanwhile scan exactly), from the
configuration at start, or explicitly (``DocumentStore.create_vector_index``).
Every pooled connection searches with ``hnsw.ef_search`` = :data:`EF_SEARCH` and
``hnsw.iterative_scan = relaxed_order`` (``pool_settings.connection_kwargs``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import queue
import re
import threading
import time
import weakref
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg import Connection, sql

from server.store.compiler import Compiler
from server.store.criteria import And, Criteria, Field, MatchAll, Or, Query, VectorNearest
from server.store.document import Document
from server.store.errors import InvalidArgument, NotFound
from server.store.statements import LIVE, Rows, Statement, Statements, check_name, project, to_document

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The data key a collection keeps its vectors in unless configured otherwise.
DEFAULT_FIELD = "embedding"
DEFAULT_METRIC = "cosine"
#: Results when a request asks for 0.
DEFAULT_LIMIT = 10
#: Metric names callers use → the three this module knows.
METRICS = {
    "cosine": "cosine",
    "l2": "l2",
    "euclidean": "l2",
    "dot": "dot",
    "inner_product": "dot",
    "dot_product": "dot",
}
#: pgvector's ``vector`` holds at most 16,000 numbers, and HNSW indexes at most 2,000.
MAX_DIMENSIONS = 16000
MAX_INDEX_DIMENSIONS = 2000
#: Vector elements must be numbers below this in size (a 4-byte float, pgvector's element type, reaches
#: 3.4e38); anything else makes a document "no vector". Both ways to search test it, differently:
ELEMENT_LIMIT = 1e38
#: pgvector (index predicate): no element that is not a number or too large.
_BAD_ELEMENT = f'strict $[*] ? (@.type() != "number" || @ >= {ELEMENT_LIMIT:g} || @ <= -{ELEMENT_LIMIT:g})'
#: exact scans, on the JSON text they parse anyway: numbers only (JSONB writes them without exponent),
#: at most 38 digits before the point, nothing nested. Cheaper per row than the JSON path.
_NUMBER = r"-?[0-9]{1,38}(\.[0-9]+)?"
_FLAT_NUMBERS = rf"^\[{_NUMBER}(, {_NUMBER})*\]$"

_OPERATORS = {"cosine": "<=>", "l2": "<->", "dot": "<#>"}
_OPCLASSES = {"cosine": "vector_cosine_ops", "l2": "vector_l2_ops", "dot": "vector_ip_ops"}
_SIMILARITY = {
    "cosine": "(1 - distance)",
    "l2": "(1 / (1 + distance))",
    "dot": "(-distance)",
}
#: Over ``a`` (the document's numbers) and ``b`` (the query's), one row per dimension.
_EXACT_DISTANCE = {
    "cosine": "CASE WHEN sum(a * a) > 0 THEN 1 - sum(a * b) / (sqrt(sum(a * a)) * sqrt(sum(b * b))) END",
    "l2": "sqrt(sum((a - b) * (a - b)))",
    "dot": "-sum(a * b)",
}

#: Index names start with this; the rest is a hash of the key (``COMMENT ON INDEX`` spells the key out).
INDEX_PREFIX = "documents_hnsw_"
#: HNSW's candidate list per search (pgvector's default is 40): recall@10 ≥ 0.95 on the benchmark data.
EF_SEARCH = 200
#: Session options for every pooled connection (placeholders, harmless, where pgvector is absent).
#: ``iterative_scan`` lets a filtered search (``status = active`` AND nearest) read on in the index
#: until enough rows pass the filter.
SESSION_OPTIONS = (f"-c hnsw.ef_search={EF_SEARCH}", "-c hnsw.iterative_scan=relaxed_order")
#: Only one vector index is built at a time per database (session advisory lock).
_BUILD_LOCK_KEY = 0x76656373  # "vecs"
#: After a failed build, the same index is not tried again for this long (seconds).
RETRY_AFTER = 600.0
_MEMORY = re.compile(r"[1-9][0-9]*\s*(kB|MB|GB)")


@dataclass(frozen=True, slots=True)
class IndexSettings:
    """How new HNSW indexes are built: pgvector's ``m`` and ``ef_construction``, and the
    ``maintenance_work_mem`` of the building session (the graph should fit in it)."""

    m: int = 16
    ef_construction: int = 64
    build_memory: str = "1GB"


@dataclass(frozen=True, slots=True)
class VectorField:
    """A collection's vector configuration (named-query YAML: a ``type: vector`` field under ``tables:``)."""

    field: str = DEFAULT_FIELD
    dimensions: int | None = None
    metric: str = DEFAULT_METRIC


@dataclass(frozen=True, slots=True)
class Scored:
    """One search result: the document, its distance and its similarity to the query vector."""

    document: Document
    distance: float
    similarity: float


@dataclass(frozen=True, slots=True)
class IndexKey:
    tenant: str
    collection: str
    path: tuple[str, ...]
    dimensions: int
    metric: str

    @property
    def name(self) -> str:
        text = json.dumps([self.tenant, self.collection, list(self.path), self.dimensions, self.metric])
        return INDEX_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:24]

    def describe(self) -> str:
        return json.dumps(
            {
                "tenant": self.tenant,
                "collection": self.collection,
                "field": ".".join(self.path),
                "dimensions": self.dimensions,
                "metric": self.metric,
            }
        )

    def definition(self, settings: IndexSettings) -> sql.Composed:
        if self.dimensions > MAX_INDEX_DIMENSIONS:
            raise InvalidArgument(f"HNSW indexes hold at most {MAX_INDEX_DIMENSIONS} dimensions, not {self.dimensions}")
        return sql.SQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON documents USING hnsw ({expression} {opclass})"
            " WITH (m = {m}, ef_construction = {ef}) WHERE {scope}"
        ).format(
            name=sql.Identifier(self.name),
            expression=_as_vector(self.path, self.dimensions),
            opclass=sql.SQL(_OPCLASSES[self.metric]),
            m=sql.Literal(int(settings.m)),
            ef=sql.Literal(int(settings.ef_construction)),
            scope=_index_scope(self),
        )


class Buildable(Protocol):
    """An index the :class:`Indexer` can build: vectors' :class:`IndexKey`, ``graph.EdgeIndexKey``."""

    @property
    def name(self) -> str: ...

    def describe(self) -> str: ...

    def definition(self, settings: IndexSettings) -> sql.Composed: ...


# -- request checks ------------------------------------------------------------------


def metric_of(name: str, default: str = DEFAULT_METRIC) -> str:
    chosen = (name or default).strip().lower()
    if chosen not in METRICS:
        raise InvalidArgument(f"distance_metric {name!r}: use cosine, l2 (euclidean) or dot (inner_product)")
    return METRICS[chosen]


def split(criteria: Criteria) -> tuple[VectorNearest | None, Criteria]:
    """The query's vector ranking (alone or inside ``And``) and the filters beside it."""
    if isinstance(criteria, VectorNearest):
        return criteria, MatchAll()
    if isinstance(criteria, And):
        found: VectorNearest | None = None
        rest: list[Criteria] = []
        for item in criteria.items:
            near, remainder = split(item)
            if near is not None:
                if found is not None:
                    raise InvalidArgument("a query may hold only one vector_search")
                found = near
            rest.append(remainder)
        return found, And(tuple(rest)) if found is not None else criteria
    return None, criteria  # inside Or it stays, and the compiler refuses it


def ranks(criteria: Criteria) -> bool:
    """Does this query rank by a vector (so it runs as a vector search)?"""
    return split(criteria)[0] is not None


def with_defaults(criteria: Criteria, config: VectorField) -> Criteria:
    """Fill a vector_search's empty field, metric and dimensions from the collection's configuration."""
    if isinstance(criteria, VectorNearest):
        field = criteria.field or Field.parse(config.field)
        dimensions = criteria.dimensions
        if dimensions is None and str(field) == config.field:
            dimensions = config.dimensions
        return replace(criteria, field=field, metric=criteria.metric or config.metric, dimensions=dimensions)
    if isinstance(criteria, (And, Or)):
        return type(criteria)(tuple(with_defaults(item, config) for item in criteria.items))
    return criteria


def _checked_vector(values: Sequence[Any], where: str) -> tuple[float, ...]:
    if not values:
        raise InvalidArgument(f"{where} is empty")
    if len(values) > MAX_DIMENSIONS:
        raise InvalidArgument(f"{where} has {len(values)} numbers; at most {MAX_DIMENSIONS}")
    result = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidArgument(f"{where} must hold finite numbers only")
        if abs(value) > ELEMENT_LIMIT:
            raise InvalidArgument(f"{where}: {value} is beyond ±{ELEMENT_LIMIT:g}")
        result.append(float(value))
    return tuple(result)


def vector_of(data: dict[str, Any], field: Field) -> Any:
    value: Any = data
    for segment in field.path:
        if not isinstance(value, dict):
            return None
        value = value.get(segment)
    return value


# -- statements ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Search:
    collection: str
    path: tuple[str, ...]
    vector: tuple[float, ...]
    metric: str
    limit: int
    offset: int
    threshold: float | None
    rest: Criteria
    exclude_id: str | None
    query: Query


def _vec(path: tuple[str, ...]) -> sql.Composable:
    return sql.SQL("(data #> {})").format(sql.Literal(list(path)))


def _valid(path: tuple[str, ...], dimensions: int) -> sql.Composable:
    """True for a well-formed vector of ``dimensions`` numbers: the index predicate and the scan filter."""
    vec = _vec(path)
    return sql.SQL(
        "((CASE WHEN jsonb_typeof({v}) = 'array' THEN jsonb_array_length({v}) END) = {d}"
        " AND NOT jsonb_path_exists({v}, {bad}::jsonpath, '{{}}', true))"
    ).format(v=vec, d=sql.Literal(dimensions), bad=sql.Literal(_BAD_ELEMENT))


def _as_vector(path: tuple[str, ...], dimensions: int) -> sql.Composable:
    """The expression HNSW indexes are built on; a search must spell it identically."""
    return sql.SQL("(({})::text::vector({}))").format(_vec(path), sql.Literal(dimensions))


def _index_scope(key: IndexKey) -> sql.Composable:
    return sql.SQL("tenant = {} AND collection = {} AND {}").format(
        sql.Literal(key.tenant), sql.Literal(key.collection), _valid(key.path, key.dimensions)
    )


def _outer(search: _Search, inner: sql.Composable, inner_params: list[Any], id_is_uuid: bool) -> Statement[Any]:
    """Rank, threshold, page and order the nearest rows ``inner`` produced (its ``distance`` column)."""
    similarity = sql.SQL(_SIMILARITY[search.metric])
    threshold: sql.Composable = sql.SQL("")
    params = list(inner_params)
    if search.threshold is not None:
        threshold = sql.SQL(" AND {} >= %s").format(similarity)
    order_compiler = Compiler(id_is_uuid=False)
    order = order_compiler.order_by(search.query.order_by) if search.query.order_by else sql.SQL("rank")
    query = sql.SQL(
        """
        SELECT id, collection, data, created_at, updated_at, version, distance, {similarity} AS similarity
        FROM (
            SELECT nearest.*, row_number() OVER (ORDER BY distance, id) AS rank
            FROM ({inner}) AS nearest
            WHERE distance <> 'NaN'::float8
        ) AS ranked
        WHERE rank > %s{threshold}
        ORDER BY {order}
        """
    ).format(similarity=similarity, inner=inner, threshold=threshold, order=order)
    params.append(search.offset)
    if search.threshold is not None:
        params.append(search.threshold)
    params.extend(order_compiler.params)
    paths = [p.path for p in search.query.projections if p.column is None]

    def scored(rows: Rows, _count: int) -> list[Scored]:
        hits = []
        for row in rows:
            document = to_document(row[:6])
            if search.query.projections:
                document = replace(document, data=project(document.data, paths))
            hits.append(Scored(document, float(row[6]), float(row[7])))
        return hits

    return Statement(query, params, scored)


def _pgvector_statement(st: Statements, search: _Search) -> tuple[Statement[Any], IndexKey | None]:
    dimensions = len(search.vector)
    key = IndexKey(st.tenant, search.collection, search.path, dimensions, search.metric)
    compiler = Compiler(id_is_uuid=st.layout.id_is_uuid)
    condition = compiler.where(search.rest)
    exclude = sql.SQL("")
    params: list[Any] = ["[" + ",".join(repr(x) for x in search.vector) + "]"]
    params.extend(compiler.params)
    if search.exclude_id is not None:
        exclude = sql.SQL(" AND id::text <> %s")
        params.append(search.exclude_id)
    params.append(search.limit + search.offset)
    inner = sql.SQL(
        """
        SELECT id::text AS id, collection, data, created_at, updated_at, version,
               {expression} {operator} %s::vector({d}) AS distance
        FROM documents
        WHERE {scope} AND {live} AND {condition}{exclude}
        ORDER BY distance
        LIMIT %s
        """
    ).format(
        expression=_as_vector(search.path, dimensions),
        operator=sql.SQL(_OPERATORS[search.metric]),
        d=sql.Literal(dimensions),
        scope=_index_scope(key),
        live=LIVE,
        condition=condition,
        exclude=exclude,
    )
    indexable = dimensions <= MAX_INDEX_DIMENSIONS
    return _outer(search, inner, params, st.layout.id_is_uuid), key if indexable else None


def _exact_statement(st: Statements, search: _Search) -> Statement[Any]:
    """Distances computed in SQL from the JSON text of each vector.

    The text is made once per row (``OFFSET 0`` keeps the planner from copying
    the expression into every place it is used), checked by :data:`_FLAT_NUMBERS`
    before it is parsed, and paired with the query by two ``unnest`` in one
    select list (no tuplestore per row, unlike ``unnest`` in FROM).
    """
    compiler = Compiler(id_is_uuid=st.layout.id_is_uuid)
    condition = compiler.where(search.rest)
    dimensions = len(search.vector)
    exclude = sql.SQL("")
    params: list[Any] = [list(search.vector), st.tenant, search.collection, *compiler.params]
    if search.exclude_id is not None:
        exclude = sql.SQL(" AND id::text <> %s")
        params.append(search.exclude_id)
    params.append(search.limit + search.offset)
    vec = _vec(search.path)
    inner = sql.SQL(
        """
        SELECT id, collection, data, created_at, updated_at, version, distance
        FROM (
            SELECT c.id, c.collection, c.data, c.created_at, c.updated_at, c.version,
                   (SELECT {distance}
                    FROM (SELECT unnest(translate(c.t, '[]', '{{}}')::float8[]) AS a,
                                 unnest(%s::float8[]) AS b) AS pairs) AS distance
            FROM (
                SELECT id::text AS id, collection, data, created_at, updated_at, version, ({vec})::text AS t
                FROM documents
                WHERE tenant = %s AND collection = %s
                  AND (CASE WHEN jsonb_typeof({vec}) = 'array' THEN jsonb_array_length({vec}) END) = {d}
                  AND {live} AND {condition}{exclude}
                OFFSET 0
            ) AS c
            WHERE c.t ~ {flat}
            OFFSET 0
        ) AS scored
        WHERE distance IS NOT NULL
        ORDER BY distance, id
        LIMIT %s
        """
    ).format(
        distance=sql.SQL(_EXACT_DISTANCE[search.metric]),
        vec=vec,
        d=sql.Literal(dimensions),
        live=LIVE,
        condition=condition,
        exclude=exclude,
        flat=sql.Literal(_FLAT_NUMBERS),
    )
    return _outer(search, inner, params, st.layout.id_is_uuid)


def _dimension_check(st: Statements, search: _Search) -> Statement[list[Scored]]:
    """Run only when a search found nothing: is that because the collection's vectors have another length?"""
    vec = _vec(search.path)
    query = sql.SQL(
        """
        SELECT jsonb_array_length({v}) AS n, count(*) AS documents
        FROM documents
        WHERE tenant = %s AND collection = %s AND {live} AND jsonb_typeof({v}) = 'array'
        GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5
        """
    ).format(v=vec, live=LIVE)
    wanted = len(search.vector)

    def verdict(rows: Rows, _count: int) -> list[Scored]:
        lengths = [int(row[0]) for row in rows]
        if lengths and wanted not in lengths:
            raise InvalidArgument(
                f"the query vector has {wanted} numbers, but the vectors in field {'.'.join(search.path)!r}"
                f" of collection {search.collection!r} have {lengths[0]}"
            )
        return []

    return Statement(query, [st.tenant, search.collection], verdict)


#: A search as a series of statements; the driver runs each and sends its result back.
Steps = Generator[Statement[Any], Any, T]


def search_steps(st: Statements, collection: str, query: Query, indexer: Indexer | None = None) -> Steps[list[Scored]]:
    """The statements of one vector search: (read the ``like`` document,) search, (check dimensions).

    ``indexer`` (the store pool's, see :func:`indexer_for`) builds the HNSW index a
    search would use, and may make every search exact.
    """
    check_name(collection, "collection")
    near, rest = split(query.criteria)
    if near is None:
        raise InvalidArgument("this query has no vector_search to rank by")
    field = near.field or Field.parse(DEFAULT_FIELD)
    if field.column is not None:
        raise InvalidArgument(f"vector field {field} must be a key in data, not a record column")
    metric = metric_of(near.metric)
    vector: Sequence[Any] = near.vector
    if near.like_id is not None:
        document = yield st.read(collection, near.like_id)
        if document is None:
            raise NotFound(f"no document {near.like_id!r} in collection {collection!r}")
        found = vector_of(document.data, field)
        if not isinstance(found, list) or not found:
            raise InvalidArgument(f"document {near.like_id!r} has no vector in field {field}")
        vector = found
    checked = _checked_vector(vector, "query_vector")
    if near.dimensions is not None and len(checked) != near.dimensions:
        raise InvalidArgument(
            f"the query vector has {len(checked)} numbers; collection {collection!r} holds"
            f" {near.dimensions}-dimension vectors in field {field}"
        )
    if metric == "cosine" and not any(checked):
        raise InvalidArgument("a cosine search needs a query vector that is not all zeros")
    limit = _limit(st, near, query)
    if query.offset < 0:
        raise InvalidArgument("offset must not be negative")
    threshold = near.threshold
    if threshold is not None and not math.isfinite(threshold):
        raise InvalidArgument("threshold must be a finite number")
    search = _Search(
        collection=collection,
        path=field.path,
        vector=checked,
        metric=metric,
        limit=limit,
        offset=query.offset,
        threshold=threshold or None,  # 0 (protobuf's "unset") means no threshold
        rest=rest,
        exclude_id=None if near.like_id is None else str(near.like_id),
        query=query,
    )
    if st.layout.pgvector and not near.exact and not (indexer is not None and indexer.exact):
        statement, key = _pgvector_statement(st, search)
        if key is not None and indexer is not None:
            indexer.request(key)
    else:
        statement = _exact_statement(st, search)
    hits: list[Scored] = yield statement
    if not hits and near.dimensions is None:
        yield _dimension_check(st, search)
    return hits


def _limit(st: Statements, near: VectorNearest, query: Query) -> int:
    if near.limit < 0 or (query.limit is not None and query.limit < 0):
        raise InvalidArgument("limit must not be negative")
    given = [value for value in (near.limit, query.limit) if value]
    limit = min(given) if given else DEFAULT_LIMIT
    if limit > st.limits.max_page:
        raise InvalidArgument(f"limit must be 0 to {st.limits.max_page} (0 means {DEFAULT_LIMIT})")
    return limit


def drive(steps: Steps[T], run: Callable[[Statement[Any]], Any]) -> T:
    """Run a series of statements with a blocking ``run``."""
    try:
        statement = next(steps)
        while True:
            statement = steps.send(run(statement))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def drive_async(steps: Steps[T], run: Callable[[Statement[Any]], Any]) -> T:
    """Run a series of statements with an awaitable ``run``."""
    try:
        statement = next(steps)
        while True:
            statement = steps.send(await run(statement))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


# -- pgvector: detection and indexes ---------------------------------------------------


def index_state(conn: Connection[Any], key: Buildable) -> str | None:
    """``valid``, ``invalid`` (being built, or a failed build) or None (no such index)."""
    row = conn.execute(
        """
        SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace
        """,
        (key.name,),
    ).fetchone()
    if row is None:
        return None
    return "valid" if row[0] else "invalid"


def build_index(
    conn: Connection[Any], key: Buildable, settings: IndexSettings, stop: threading.Event | None = None
) -> str:
    """Create the index ``key`` describes (``CREATE INDEX CONCURRENTLY``) unless a valid one exists.

    ``conn`` must be in autocommit mode and belong to the table's owner. Builds
    take turns across processes (a session advisory lock, tried, never waited on
    inside a statement); a failed earlier build's invalid index is dropped first.
    """
    definition = key.definition(settings)
    if not _MEMORY.fullmatch(settings.build_memory):
        raise InvalidArgument(f"build_memory {settings.build_memory!r}: use a size like 512MB or 1GB")
    while not conn.execute("SELECT pg_try_advisory_lock(%s)", (_BUILD_LOCK_KEY,)).fetchone()[0]:  # type: ignore[index]
        if stop is not None and stop.wait(1.0):
            return key.name
        if stop is None:
            time.sleep(1.0)
    try:
        state = index_state(conn, key)
        if state == "valid":
            return key.name
        name = sql.Identifier(key.name)
        if state == "invalid":
            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(name))
        started = time.monotonic()
        log.info("building index %s for %s", key.name, key.describe())
        conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(settings.build_memory)))
        conn.execute(definition)
        conn.execute(sql.SQL("COMMENT ON INDEX {} IS {}").format(name, sql.Literal(key.describe())))
        log.info("index %s built in %.1f s", key.name, time.monotonic() - started)
        return key.name
    finally:
        try:
            conn.execute("RESET maintenance_work_mem")
            conn.execute("SELECT pg_advisory_unlock(%s)", (_BUILD_LOCK_KEY,))
        except psycopg.Error:  # a lost connection releases its locks by itself
            pass


class Indexer:
    """Builds requested HNSW indexes in one background thread, each key once per process.

    A search never waits for a build: until the index is valid, the planner scans.
    A failed build (no right to create indexes, cancelled, ...) is logged and tried
    again after :data:`RETRY_AFTER` seconds, at the next search that asks.
    """

    def __init__(self, conninfo: str, settings: IndexSettings = IndexSettings(), exact: bool = False) -> None:
        self._conninfo = conninfo
        self._settings = settings
        #: Every search through this pool is an exact scan; no index is built.
        self.exact = exact
        self._lock = threading.Lock()
        self._queue: queue.Queue[Buildable | None] = queue.Queue()
        self._asked: dict[Buildable, float | None] = {}  # None: queued or done; a time: failed then
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._building: Connection[Any] | None = None

    def request(self, key: Buildable) -> None:
        """Build ``key``'s index in the background (once per process; HNSW ones not when ``exact``)."""
        if self.exact and isinstance(key, IndexKey):
            return
        with self._lock:
            if key in self._asked:
                failed_at = self._asked[key]
                if failed_at is None or time.monotonic() - failed_at < RETRY_AFTER:
                    return
            self._asked[key] = None
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._work, name="vector-indexer", daemon=True)
                self._thread.start()
        self._queue.put(key)

    def _work(self) -> None:
        while not self._stop.is_set():
            key = self._queue.get()
            if key is None:
                return
            try:
                with psycopg.connect(self._conninfo, autocommit=True, application_name="persistence-indexer") as conn:
                    self._building = conn
                    try:
                        build_index(conn, key, self._settings, self._stop)
                    finally:
                        self._building = None
            except Exception as exc:
                if not self._stop.is_set():
                    log.warning("index for %s not built: %s", key.describe(), exc)
                with self._lock:
                    self._asked[key] = time.monotonic()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread; a build in progress is cancelled (the next start drops what it left)."""
        self._stop.set()
        self._queue.put(None)
        building = self._building
        if building is not None:
            with contextlib.suppress(Exception):  # the build may have just ended
                building.cancel_safe()
        if self._thread is not None:
            self._thread.join(timeout)


_indexers: weakref.WeakKeyDictionary[Any, Indexer] = weakref.WeakKeyDictionary()


def attach(pool: Any, conninfo: str, settings: IndexSettings = IndexSettings(), *, exact: bool = False) -> None:
    """How searches on ``pool`` (shared by its tenants' stores) run: ``exact`` scans only, or HNSW with
    indexes built over ``conninfo`` (the table owner's connection when the pool's role may not)."""
    detach(pool)
    _indexers[pool] = Indexer(conninfo, settings, exact)


def indexer_for(pool: Any) -> Indexer | None:
    """The indexer of ``pool``; by default one building over the pool's own connection string."""
    if pool is None:
        return None
    indexer = _indexers.get(pool)
    if indexer is None:
        conninfo = getattr(pool, "conninfo", None)
        if not isinstance(conninfo, str):
            return None
        indexer = _indexers.setdefault(pool, Indexer(conninfo))
    return indexer


def detach(pool: Any) -> None:
    indexer = _indexers.pop(pool, None)
    if indexer is not None:
        indexer.close()


def request_configured(pool: Any, statements: Statements, fields: Mapping[str, VectorField]) -> None:
    """Ask for the index of every configured vector field with dimensions (at server start)."""
    indexer = indexer_for(pool)
    if indexer is None or indexer.exact or not statements.layout.pgvector:
        return
    for collection, config in fields.items():
        field = Field.parse(config.field)
        if config.dimensions and config.dimensions <= MAX_INDEX_DIMENSIONS and field.column is None:
            key = IndexKey(statements.tenant, collection, field.path, config.dimensions, metric_of(config.metric))
            indexer.request(key)
