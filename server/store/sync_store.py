"""The document store for direct import: blocking calls over a psycopg connection pool.

Each method runs exactly one SQL statement, on an autocommit connection, so a
call is one round trip and is atomic on its own (see ``statements``). Several
calls that must succeed or fail together run in :meth:`DocumentStore.transaction`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from psycopg import ClientCursor, Connection
from psycopg_pool import ConnectionPool

from server.store import graph, vectors
from server.store.criteria import And, Criteria, Field, OrderBy, Query, VectorNearest, coerce
from server.store.database_errors import translate
from server.store.deadlines import pool_wait, remaining, transaction_settings, with_settings
from server.store.document import Document, NewDocument
from server.store.indexes import BuiltIndexes, IndexSpec, ensure_indexes
from server.store.pool_settings import PoolSettings, check_connection, connection_kwargs
from server.store.schema import Layout, ensure_schema
from server.store.statements import Limits, Statement, Statements, build_query, new_documents

T = TypeVar("T")

CriteriaLike = Criteria | Mapping[str, Any] | None


def execute(conn: Connection[Any], statement: Statement[T], tenant: str | None = None) -> T:
    """Run one statement on ``conn``; database failures become StoreErrors.

    A statement that needs transaction settings (the tenant under row-level
    security, a statement timeout from the caller's deadline) is sent in one
    message behind ``SELECT set_config(..., true)``: a multi-statement query
    runs as one implicit transaction, so the settings hold for the statement
    and end with it (a pooled connection never carries them into the next
    call), at the cost of no extra round trip. Such messages are bound
    client-side by psycopg (values quoted by its adapters, never by us).
    """
    if statement.query is None:
        return statement.result([], 0)
    setup = transaction_settings(tenant, remaining())
    try:
        if setup is None:
            with conn.cursor() as cur:
                cur.execute(statement.query, statement.params, prepare=statement.prepare)
                rows = cur.fetchall() if cur.description is not None else []
                count = cur.rowcount
        else:
            with ClientCursor(conn) as client_cursor:
                client_cursor.execute(*with_settings(setup, statement))
                client_cursor.nextset()
                rows = client_cursor.fetchall() if client_cursor.description is not None else []
                count = client_cursor.rowcount
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from exc
    return statement.result(rows, count)


class Operations:
    """The seed library's API, over whatever ``_run`` executes statements on."""

    _sql: Statements

    def _run(self, statement: Statement[T]) -> T:
        raise NotImplementedError

    def create(
        self,
        collection: str,
        data: Mapping[str, Any],
        *,
        id: str | None = None,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> Document:
        """Insert one document; a new UUID id unless one is given."""
        doc = NewDocument(dict(data), id=id, created_at=created_at, updated_at=updated_at)
        return self._run(self._sql.insert(collection, [doc]))[0]

    def create_many(self, collection: str, docs: Iterable[NewDocument | Mapping[str, Any]]) -> list[Document]:
        """Insert all documents or none (one statement)."""
        return self._run(self._sql.insert(collection, new_documents(docs)))

    def read(self, collection: str, id: str, *, include_deleted: bool = False) -> Document | None:
        return self._run(self._sql.read(collection, id, include_deleted))

    def update(
        self, collection: str, id: str, updates: Mapping[str, Any], *, expected_version: int | None = None
    ) -> Document:
        """Shallow-merge ``updates`` into the document's data; raises NotFound or Conflict."""
        return self._run(self._sql.update(collection, id, updates, expected_version))

    def delete(self, collection: str, id: str) -> bool:
        return self._run(self._sql.delete_one(collection, id)) > 0

    def update_where(self, collection: str, criteria: CriteriaLike, updates: Mapping[str, Any]) -> int:
        """Shallow-merge ``updates`` into every matching document; returns how many changed."""
        return self._run(self._sql.update_where(collection, build_query(criteria), updates))

    def soft_delete(self, collection: str, criteria: CriteriaLike) -> int:
        """Mark matching documents deleted; they disappear from reads unless asked for."""
        return self._run(self._sql.soft_delete(collection, build_query(criteria)))

    def query(
        self,
        collection: str,
        criteria: CriteriaLike = None,
        *,
        order_by: Sequence[OrderBy | str] = (),
        limit: int | None = None,
        offset: int = 0,
        projections: Sequence[str] = (),
        include_deleted: bool = False,
    ) -> list[Document]:
        """Documents matching ``criteria`` (a mapping means equality on each key)."""
        query = build_query(criteria, order_by, limit, offset, projections, include_deleted)
        if vectors.ranks(query.criteria):  # a VectorNearest in criteria: nearest first, scores left out
            return [hit.document for hit in self._search(collection, query)]
        return self._run(self._sql.find(collection, query))

    def count(self, collection: str, criteria: CriteriaLike = None) -> int:
        return self._run(self._sql.count(collection, build_query(criteria)))

    def delete_where(self, collection: str, criteria: CriteriaLike) -> int:
        return self._run(self._sql.delete_where(collection, build_query(criteria)))

    def list_collections(self) -> list[str]:
        return self._run(self._sql.list_collections())

    def vector_search(
        self,
        collection: str,
        vector: Sequence[float] = (),
        *,
        field: str = vectors.DEFAULT_FIELD,
        metric: str = vectors.DEFAULT_METRIC,
        limit: int = 0,
        threshold: float | None = None,
        criteria: CriteriaLike = None,
        like_id: str | None = None,
        exact: bool = False,
        offset: int = 0,
        projections: Sequence[str] = (),
    ) -> list[vectors.Scored]:
        """The ``limit`` (0: 10) documents whose ``field`` vector is nearest ``vector`` (or document
        ``like_id``'s), among those matching ``criteria``, best first, with distance and similarity."""
        near = VectorNearest(Field.parse(field), tuple(vector), limit, threshold, metric, like_id, exact=exact)
        query = build_query(And((coerce(criteria), near)), offset=offset, projections=projections)
        return self._search(collection, query)

    def _search(self, collection: str, query: Query) -> list[vectors.Scored]:
        indexer = vectors.indexer_for(getattr(self, "_pool", None))
        return vectors.drive(vectors.search_steps(self._sql, collection, query, indexer), self._run)

    def traverse(self, collection: str, start: str, traversal: graph.Traversal | None = None) -> graph.GraphResult:
        """Nodes and edges of graph ``collection`` (edges in ``<collection>.edges``) from node ``start``."""
        statement = graph.traverse(self._sql, collection, start, traversal or graph.Traversal())
        indexer = vectors.indexer_for(getattr(self, "_pool", None))
        if indexer is not None:
            indexer.request(graph.edge_index(self._sql, collection))
        return self._run(statement)

    def delete_collection(self, collection: str) -> int:
        """Delete every document of the collection; returns how many there were."""
        return self._run(self._sql.delete_collection(collection))


class Transaction(Operations):
    """Operations on one connection inside one transaction: all commit, or none."""

    def __init__(self, conn: Connection[Any], statements: Statements) -> None:
        self._conn = conn
        self._sql = statements

    def _run(self, statement: Statement[T]) -> T:
        # The transaction's settings were made when it began.
        return execute(self._conn, statement)


class DocumentStore(Operations):
    """Documents grouped in collections, stored in one PostgreSQL table."""

    def __init__(
        self,
        conninfo: str = "",
        *,
        tenant: str = "default",
        limits: Limits = Limits(),
        pool: PoolSettings = PoolSettings(),
        row_level_security: bool = False,
        schema_conninfo: str | None = None,
        grant_to: str | None = None,
        _shared: tuple[ConnectionPool[Any], Layout, BuiltIndexes] | None = None,
    ) -> None:
        if _shared is None:
            self._pool: ConnectionPool[Any] = ConnectionPool(
                conninfo,
                min_size=pool.min_size,
                max_size=pool.max_size,
                timeout=pool.timeout,
                kwargs=connection_kwargs(conninfo, pool),
                check=check_connection,
                open=True,
                name="documents",
            )
            try:
                if schema_conninfo:
                    with Connection.connect(schema_conninfo, autocommit=True) as owner:
                        ensure_schema(owner, row_level_security, grant_to)
                with self._pool.connection() as conn:
                    layout = ensure_schema(conn, row_level_security)
            except BaseException as exc:
                self._pool.close()
                raise (translate(exc) or exc) from exc
            self._owns_pool = True
            built = BuiltIndexes(row_level_security)
        else:
            self._pool, layout, built = _shared
            self._owns_pool = False
        self._layout = layout
        self._sql = Statements(layout, tenant, limits, built)
        self._row_level_security = row_level_security
        self._guard = tenant if row_level_security else None

    def for_tenant(self, tenant: str) -> DocumentStore:
        """The same pool and table, scoped to another tenant."""
        return DocumentStore(
            tenant=tenant,
            limits=self._sql.limits,
            row_level_security=self._row_level_security,
            _shared=(self._pool, self._layout, self._sql.indexes),
        )

    def close(self) -> None:
        if self._owns_pool:
            self._pool.close()

    def __enter__(self) -> DocumentStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _run(self, statement: Statement[T]) -> T:
        if statement.query is None:
            return statement.result([], 0)
        try:
            with self._pool.connection(timeout=pool_wait(self._pool.timeout)) as conn:
                return execute(conn, statement, self._guard)
        except Exception as exc:  # pool failures (timeouts, lost connections)
            error = translate(exc)
            if error is None:
                raise
            raise error from exc

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """``with store.transaction() as tx:`` — every tx call commits together, or none does."""
        try:
            with self._pool.connection(timeout=pool_wait(self._pool.timeout)) as conn, conn.transaction():
                setup = transaction_settings(self._guard, remaining())
                if setup is not None:
                    conn.execute(*setup)
                yield Transaction(conn, self._sql)
        except Exception as exc:
            error = translate(exc)
            if error is None:
                raise
            raise error from exc

    def ensure_indexes(self, specs: Sequence[IndexSpec]) -> list[str]:
        """Build the declared secondary indexes that are missing (see ``server.store.indexes``).

        Once they all exist, this store's queries (and its tenants') may be
        written for them.
        """
        try:
            with self._pool.connection() as conn:
                created = ensure_indexes(conn, specs)
        except Exception as exc:
            error = translate(exc)
            if error is None:
                raise
            raise error from exc
        self._sql.indexes.add(specs)
        return created

    def ping(self) -> float:
        """Seconds one trivial query takes; raises Unavailable when the database does not answer."""
        started = time.perf_counter()
        self._run(self._sql.ping())
        return time.perf_counter() - started
