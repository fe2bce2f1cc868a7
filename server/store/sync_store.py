"""The document store for direct import: blocking calls over a psycopg connection pool.

Each method runs exactly one SQL statement on an autocommit connection, so a
call is one round trip and is atomic on its own (see ``statements``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from psycopg import Connection
from psycopg_pool import ConnectionPool

from server.store.criteria import Criteria, OrderBy
from server.store.database_errors import translate
from server.store.document import Document, NewDocument
from server.store.pool_settings import SESSION_SETUP, PoolSettings, connection_kwargs
from server.store.schema import Layout, ensure_schema
from server.store.statements import Limits, Statement, Statements, build_query, new_documents

T = TypeVar("T")


class DocumentStore:
    """Documents grouped in collections, stored in one PostgreSQL table."""

    def __init__(
        self,
        conninfo: str = "",
        *,
        tenant: str = "default",
        limits: Limits = Limits(),
        pool: PoolSettings = PoolSettings(),
        _shared: tuple[ConnectionPool[Any], Layout] | None = None,
    ) -> None:
        if _shared is None:
            self._pool: ConnectionPool[Any] = ConnectionPool(
                conninfo,
                min_size=pool.min_size,
                max_size=pool.max_size,
                timeout=pool.timeout,
                kwargs=connection_kwargs(),
                configure=_configure,
                open=True,
                name="documents",
            )
            try:
                with self._pool.connection() as conn:
                    layout = ensure_schema(conn)
            except BaseException as exc:
                self._pool.close()
                raise (translate(exc) or exc) from exc
            self._owns_pool = True
        else:
            self._pool, layout = _shared
            self._owns_pool = False
        self._layout = layout
        self._sql = Statements(layout, tenant, limits)

    # -- lifecycle ------------------------------------------------------------

    def for_tenant(self, tenant: str) -> DocumentStore:
        """The same pool and table, scoped to another tenant."""
        return DocumentStore(tenant=tenant, limits=self._sql.limits, _shared=(self._pool, self._layout))

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
            with self._pool.connection() as conn, conn.cursor() as cur:
                cur.execute(statement.query, statement.params)
                rows = cur.fetchall() if cur.description is not None else []
                count = cur.rowcount
        except Exception as exc:
            error = translate(exc)
            if error is None:
                raise
            raise error from exc
        return statement.result(rows, count)

    # -- the seed's API -----------------------------------------------------------

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

    def read(self, collection: str, id: str) -> Document | None:
        return self._run(self._sql.read(collection, id))

    def update(
        self,
        collection: str,
        id: str,
        updates: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Document:
        """Shallow-merge ``updates`` into the document's data; raises NotFound or Conflict."""
        return self._run(self._sql.update(collection, id, updates, expected_version))

    def delete(self, collection: str, id: str) -> bool:
        return self._run(self._sql.delete_one(collection, id)) > 0

    def query(
        self,
        collection: str,
        criteria: Criteria | Mapping[str, Any] | None = None,
        *,
        order_by: Sequence[OrderBy | str] = (),
        limit: int | None = None,
        offset: int = 0,
        projections: Sequence[str] = (),
    ) -> list[Document]:
        """Documents matching ``criteria`` (a mapping means equality on each key)."""
        query = build_query(criteria, order_by, limit, offset, projections)
        return self._run(self._sql.find(collection, query))

    def count(self, collection: str, criteria: Criteria | Mapping[str, Any] | None = None) -> int:
        return self._run(self._sql.count(collection, build_query(criteria)))

    def delete_where(self, collection: str, criteria: Criteria | Mapping[str, Any]) -> int:
        return self._run(self._sql.delete_where(collection, build_query(criteria)))

    def list_collections(self) -> list[str]:
        return self._run(self._sql.list_collections())

    def delete_collection(self, collection: str) -> int:
        """Delete every document of the collection; returns how many there were."""
        return self._run(self._sql.delete_collection(collection))

    def ping(self) -> float:
        """Seconds one trivial query takes; raises Unavailable when the database does not answer."""
        started = time.perf_counter()
        self._run(self._sql.ping())
        return time.perf_counter() - started


def _configure(conn: Connection[Any]) -> None:
    conn.execute(SESSION_SETUP)
