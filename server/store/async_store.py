"""The document store for asyncio code (the gRPC server): the same statements as
:class:`~server.store.sync_store.DocumentStore`, awaited on an async pool."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from psycopg import AsyncClientCursor, AsyncConnection
from psycopg_pool import AsyncConnectionPool

from server.store import graph, vectors
from server.store.coalescing import InsertCoalescer, ReadCoalescer, looked_up_id
from server.store.criteria import Query
from server.store.database_errors import translate
from server.store.deadlines import CLIENT_GRACE, pool_wait, remaining, transaction_settings, with_settings
from server.store.document import Document, NewDocument
from server.store.errors import Conflict, InvalidArgument
from server.store.indexes import BuiltIndexes, IndexSpec
from server.store.pool_settings import PoolSettings, check_async_connection, connection_kwargs
from server.store.schema import Layout
from server.store.statements import Limits, Statement, Statements, new_documents
from server.store.sync_store import DocumentStore

T = TypeVar("T")


async def execute(conn: AsyncConnection[Any], statement: Statement[T], tenant: str | None = None) -> T:
    """Run one statement on ``conn``; database failures become StoreErrors.

    Settings (the tenant under row-level security, the deadline's statement
    timeout) go in front of the statement in the same message: see
    :func:`server.store.sync_store.execute`. Where the database does not answer
    at all, the wait ends half a second after the deadline.
    """
    if statement.query is None:
        return statement.result([], 0)
    left = remaining()
    setup = transaction_settings(tenant, left)
    try:
        async with asyncio.timeout(None if left is None else left + CLIENT_GRACE):
            if setup is None:
                async with conn.cursor() as cur:
                    await cur.execute(statement.query, statement.params, prepare=statement.prepare)
                    rows = await cur.fetchall() if cur.description is not None else []
                    count = cur.rowcount
            else:
                async with AsyncClientCursor(conn) as client_cursor:
                    query, params = with_settings(setup, statement)
                    await client_cursor.execute(query, params)
                    client_cursor.nextset()
                    rows = await client_cursor.fetchall() if client_cursor.description is not None else []
                    count = client_cursor.rowcount
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from exc
    return statement.result(rows, count)


class AsyncOperations:
    """Awaitable operations over whatever ``_run`` executes statements on."""

    _sql: Statements

    async def _run(self, statement: Statement[T]) -> T:
        raise NotImplementedError

    @property
    def statements(self) -> Statements:
        return self._sql

    async def create_many(self, collection: str, docs: Iterable[NewDocument | Mapping[str, Any]]) -> list[Document]:
        return await self._run(self._sql.insert(collection, new_documents(docs)))

    async def read(self, collection: str, id: str, *, include_deleted: bool = False) -> Document | None:
        return await self._run(self._sql.read(collection, id, include_deleted))

    async def update(
        self, collection: str, id: str, updates: Mapping[str, Any], *, expected_version: int | None = None
    ) -> Document:
        return await self._run(self._sql.update(collection, id, updates, expected_version))

    async def find(self, collection: str, query: Query) -> list[Document]:
        if vectors.ranks(query.criteria):  # nearest first (``vector_search``), scores left out
            return [hit.document for hit in await self.vector_search(collection, query)]
        return await self._run(self._sql.find(collection, query))

    async def count(self, collection: str, query: Query) -> int:
        return await self._run(self._sql.count(collection, query))

    async def delete_where(self, collection: str, query: Query) -> int:
        return await self._run(self._sql.delete_where(collection, query))

    async def update_where(self, collection: str, query: Query, updates: Mapping[str, Any]) -> int:
        return await self._run(self._sql.update_where(collection, query, updates))

    async def soft_delete(self, collection: str, query: Query) -> int:
        return await self._run(self._sql.soft_delete(collection, query))

    async def delete_collection(self, collection: str) -> int:
        return await self._run(self._sql.delete_collection(collection))

    async def list_collections(self) -> list[str]:
        return await self._run(self._sql.list_collections())

    async def vector_search(self, collection: str, query: Query) -> list[vectors.Scored]:
        """The documents nearest the query's ``vector_search``, best first, with distance and similarity."""
        indexer = vectors.indexer_for(getattr(self, "_pool", None))
        return await vectors.drive_async(vectors.search_steps(self._sql, collection, query, indexer), self._run)

    async def traverse(self, collection: str, start: str, traversal: graph.Traversal) -> graph.GraphResult:
        """Nodes and edges of graph ``collection`` (edges in ``<collection>.edges``) from node ``start``."""
        statement = graph.traverse(self._sql, collection, start, traversal)
        indexer = vectors.indexer_for(getattr(self, "_pool", None))
        if indexer is not None:
            indexer.request(graph.edge_index(self._sql, collection))  # built once, in the background
        return await self._run(statement)


class AsyncTransaction(AsyncOperations):
    """Operations on one connection inside one transaction: all commit, or none."""

    def __init__(self, conn: AsyncConnection[Any], statements: Statements) -> None:
        self._conn = conn
        self._sql = statements

    async def _run(self, statement: Statement[T]) -> T:
        # The transaction's settings were made when it began.
        return await execute(self._conn, statement)


class Once:
    """The state of a request id inside its transaction (see :meth:`AsyncDocumentStore.once`)."""

    def __init__(self, tx: AsyncTransaction, request_id: str, previous: bytes | None) -> None:
        self.tx = tx
        self.request_id = request_id
        #: The encoded answer of the first time this id was applied, or None if this is the first time.
        self.previous = previous

    async def remember(self, answer: bytes) -> None:
        await self.tx._run(self.tx.statements.remember_request(self.request_id, answer))


class AsyncDocumentStore(AsyncOperations):
    """Awaitable twin of DocumentStore; construct it with :meth:`open`."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        layout: Layout,
        statements: Statements,
        row_level_security: bool = False,
        coalescers: tuple[ReadCoalescer, InsertCoalescer] | None = None,
    ) -> None:
        self._pool = pool
        self._layout = layout
        self._sql = statements
        self._row_level_security = row_level_security
        self._guard = statements.tenant if row_level_security else None
        self._coalescers = coalescers or (ReadCoalescer(), InsertCoalescer())

    @classmethod
    async def open(
        cls,
        conninfo: str,
        *,
        tenant: str = "default",
        limits: Limits = Limits(),
        pool: PoolSettings = PoolSettings(),
        row_level_security: bool = False,
        schema_conninfo: str | None = None,
        grant_to: str | None = None,
    ) -> AsyncDocumentStore:
        """Open the pool and make sure the table is there.

        The schema is created through a short-lived blocking store so that the
        DDL lives in one place (``schema.ensure_schema``).
        """
        with DocumentStore(
            conninfo,
            tenant=tenant,
            limits=limits,
            pool=PoolSettings(1, 1, pool.timeout),
            row_level_security=row_level_security,
            schema_conninfo=schema_conninfo,
            grant_to=grant_to,
        ) as setup:
            layout = setup._layout
        async_pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            conninfo,
            min_size=pool.min_size,
            max_size=pool.max_size,
            timeout=pool.timeout,
            kwargs=connection_kwargs(conninfo, pool),
            check=check_async_connection,
            open=False,
            name="documents-async",
        )
        await async_pool.open()
        statements = Statements(layout, tenant, limits, BuiltIndexes(row_level_security))
        return cls(async_pool, layout, statements, row_level_security)

    def for_tenant(self, tenant: str) -> AsyncDocumentStore:
        statements = Statements(self._layout, tenant, self._sql.limits, self._sql.indexes)
        return AsyncDocumentStore(self._pool, self._layout, statements, self._row_level_security, self._coalescers)

    async def ensure_indexes(self, specs: Sequence[IndexSpec], *, schema_conninfo: str | None = None) -> list[str]:
        """Build the declared indexes that are missing (as ``schema_conninfo``, if given); then plan for them.

        The build runs on a short-lived blocking store in a thread, as
        :meth:`open` creates the table: ``CREATE INDEX CONCURRENTLY`` waits for
        every open transaction, so it must not hold this store's pool.
        """

        conninfo = schema_conninfo or self._pool.conninfo
        if not isinstance(conninfo, str):  # open() always gives its pool a string
            raise InvalidArgument("this store's pool computes its conninfo: give schema_conninfo")

        def build() -> list[str]:
            with DocumentStore(conninfo, pool=PoolSettings(1, 1)) as store:
                return store.ensure_indexes(specs)

        created = await asyncio.to_thread(build)
        self._sql.indexes.add(specs)
        return created

    @property
    def pool(self) -> AsyncConnectionPool[Any]:
        return self._pool

    @property
    def limits(self) -> Limits:
        return self._sql.limits

    async def close(self) -> None:
        await self._pool.close()

    async def read(self, collection: str, id: str, *, include_deleted: bool = False) -> Document | None:
        """One document by id; concurrent reads share statements (``server.store.coalescing``)."""
        return await self._coalescers[0].read(self._sql, self._run, collection, id, include_deleted)

    async def create_many(self, collection: str, docs: Iterable[NewDocument | Mapping[str, Any]]) -> list[Document]:
        """Documents in one statement; a lone document may share one with concurrent inserts (``coalescing``)."""
        new = new_documents(docs)
        if len(new) != 1:
            return await super().create_many(collection, new)
        return [await self._coalescers[1].insert(self._sql, self._run, collection, new[0])]

    async def find(self, collection: str, query: Query) -> list[Document]:
        doc_id = looked_up_id(query)
        if doc_id is None:
            return await super().find(collection, query)
        self._sql.page(query)  # a malformed page is refused all the same
        document = await self.read(collection, doc_id, include_deleted=query.include_deleted)
        return [] if document is None else [document]

    async def _run(self, statement: Statement[T]) -> T:
        if statement.query is None:
            return statement.result([], 0)
        try:
            async with self._pool.connection(timeout=pool_wait(self._pool.timeout)) as conn:
                return await execute(conn, statement, self._guard)
        except Exception as exc:  # pool failures (timeouts, lost connections)
            error = translate(exc)
            if error is None:
                raise
            raise error from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncTransaction]:
        """``async with store.transaction() as tx:`` — every tx call commits together, or none does."""
        try:
            async with self._pool.connection(timeout=pool_wait(self._pool.timeout)) as conn, conn.transaction():
                setup = transaction_settings(self._guard, remaining())
                if setup is not None:
                    await conn.execute(*setup)
                yield AsyncTransaction(conn, self._sql)
        except Exception as exc:
            error = translate(exc)
            if error is None:
                raise
            raise error from exc

    @asynccontextmanager
    async def once(self, request_id: str, rpc: str) -> AsyncIterator[Once]:
        """Apply a write at most once per request id.

        Yields, inside one transaction, either the answer recorded the first
        time (``previous``) or the go-ahead to do the work with ``tx`` and
        ``remember`` the answer: the write and its record commit together, so a
        retry after any failure finds either both or neither.
        """
        async with self.transaction() as tx:
            claimed, used_for, answer = await tx._run(self._sql.claim_request(request_id, rpc))
            if not claimed and answer is None:
                used_for, answer = await tx._run(self._sql.request_outcome(request_id))
            if not claimed and used_for != rpc:
                raise InvalidArgument(f"request_id {request_id!r} was already used for {used_for}")
            if not claimed and answer is None:
                raise Conflict(f"request_id {request_id!r} is being applied by another call")
            yield Once(tx, request_id, None if claimed else answer)

    async def forget_requests(self, older_than_seconds: float) -> int:
        return await self._run(self._sql.forget_requests(older_than_seconds))

    async def durability(self) -> dict[str, str]:
        return await self._run(self._sql.durability())

    async def ping(self) -> float:
        started = time.perf_counter()
        await self._run(self._sql.ping())
        return time.perf_counter() - started
