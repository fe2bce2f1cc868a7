"""Each store operation as one SQL statement plus the function that reads its result.

Both :class:`~server.store.sync_store.DocumentStore` and
:class:`~server.store.async_store.AsyncDocumentStore` run these; only how they
wait for the database differs. Every operation is a single statement, so with an
autocommit connection it costs one round trip and is atomic on its own: a batch
insert that hits a duplicate id fails whole, an update merges inside PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, NoReturn, TypeVar

from psycopg import sql

from server.store.compiler import Compiler, exactly_comparable, json_param
from server.store.criteria import (
    And,
    Compare,
    Criteria,
    Equals,
    Field,
    MatchAll,
    Or,
    OrderBy,
    Query,
    TextSearch,
    coerce,
    ordering,
)
from server.store.document import Document, NewDocument
from server.store.errors import Conflict, InvalidArgument, NotFound
from server.store.indexes import BuiltIndexes
from server.store.json_values import dumps, normalize
from server.store.schema import Layout

T = TypeVar("T")

MAX_NAME_LENGTH = 255
DEFAULT_PAGE = 1000
MAX_PAGE = 10000
MAX_BATCH = 10000
ORDERED_WALK = 20_000
WALK_PER_RESULT = 400
WALK_PER_TEXT_RESULT = 25

COLUMNS = sql.SQL("id::text AS id, collection, data, created_at, updated_at, version")

#: Every write announces ``[tenant, collection]`` on this channel when it commits, so
#: caches in any process (see ``changes.ChangeFeed``) drop what the write made stale.
CHANGES_CHANNEL = "documents_changed"
#: A soft-deleted document carries the time of its deletion under this data key and
#: drops out of reads, queries, updates and deletes unless they ask for it.
DELETED_KEY = "_deleted_at"
LIVE = sql.SQL("NOT (data ? {})").format(sql.Literal(DELETED_KEY))

Rows = list[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Statement(Generic[T]):
    """SQL, its parameters, and how to turn (rows, rowcount) into the operation's result.

    ``query`` is None when the answer is known without asking the database
    (for example a non-UUID id on a table whose ids are UUIDs).

    ``prepare``: the statement's text never changes and its best plan does not
    depend on its values (reads by id, inserts, updates by id, request ids), so
    it is prepared on the connection and PostgreSQL may keep one plan for it:
    planning dominates the database's work for such small statements. Every
    other statement is sent unprepared, so PostgreSQL plans each execution with
    its values: a bound field path or collection then matches an expression or
    partial index, which a generic plan could not.
    """

    query: sql.SQL | sql.Composed | None
    params: Sequence[Any]
    result: Callable[[Rows, int], T]
    prepare: bool = False


@dataclass(frozen=True, slots=True)
class Limits:
    default_page: int = DEFAULT_PAGE
    max_page: int = MAX_PAGE
    max_batch: int = MAX_BATCH
    #: A filtered query in the default order first walks ``walk_per_result``
    #: documents per document its page needs (``walk_per_text_result`` when it
    #: searches text, which costs far more per document), at most
    #: ``ordered_walk`` (``Statements._walk_then_search``).
    ordered_walk: int = ORDERED_WALK
    walk_per_result: int = WALK_PER_RESULT
    walk_per_text_result: int = WALK_PER_TEXT_RESULT


def check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME_LENGTH:
        raise InvalidArgument(f"{what} must be 1 to {MAX_NAME_LENGTH} characters")
    if "\x00" in value:
        raise InvalidArgument(f"{what} may not contain the NUL character (\\u0000)")
    return value


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def to_document(row: tuple[Any, ...]) -> Document:
    doc_id, collection, data, created_at, updated_at, version = row
    return Document(doc_id, collection, data, _aware(created_at), _aware(updated_at), int(version))


def _one_document(rows: Rows, _count: int) -> Document | None:
    return to_document(rows[0]) if rows else None


_RENDERED: dict[tuple[Any, ...], sql.SQL] = {}


def _rendered(key: tuple[Any, ...], build: Callable[[], sql.Composable]) -> sql.SQL:
    """SQL whose text depends only on ``key``, composed once and kept as plain text.

    The hot single-document statements would otherwise be composed and turned
    into text by psycopg on every call, which costs a read a fifth of its time
    in the client.
    """
    found = _RENDERED.get(key)
    if found is None:
        found = _RENDERED[key] = sql.SQL(build().as_string(None))
    return found


def _searches_text(criteria: Criteria) -> bool:
    if isinstance(criteria, TextSearch):
        return True
    return isinstance(criteria, (And, Or)) and any(_searches_text(item) for item in criteria.items)


def _conjuncts(criteria: Criteria) -> tuple[Criteria, ...]:
    return criteria.items if isinstance(criteria, And) else (criteria,)


def _needs_no_guard(query: Query) -> bool:
    """Whether any plan PostgreSQL may pick for this query is a good one.

    True when nothing is filtered, when the filter names an id (the primary
    key finds it), or when it bounds the first ordering field with a range:
    reading that field's index in order then visits only the range.
    """
    conjuncts = _conjuncts(query.criteria)
    if isinstance(query.criteria, MatchAll) or any(
        isinstance(item, Equals) and item.field.column == "id" for item in conjuncts
    ):
        return True
    if not query.order_by:
        return False
    first = query.order_by[0].field
    return any(isinstance(item, Compare) and item.field == first for item in conjuncts)


def _documents(rows: Rows, _count: int) -> list[Document]:
    return [to_document(row) for row in rows]


def _missing(collection: str, doc_id: str) -> NoReturn:
    raise NotFound(f"no document {doc_id!r} in collection {collection!r}")


def _refuse_reserved(data: Mapping[str, Any], where: str) -> None:
    if DELETED_KEY in data:
        raise InvalidArgument(f"{where}: {DELETED_KEY!r} is reserved for soft deletion")


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _first_int(rows: Rows, _count: int) -> int:
    return int(rows[0][0])


class Statements:
    """Builds statements for one table layout, one tenant, knowing which declared indexes are built."""

    def __init__(
        self, layout: Layout, tenant: str, limits: Limits = Limits(), indexes: BuiltIndexes | None = None
    ) -> None:
        self.layout = layout
        self.tenant = check_name(tenant, "tenant")
        self.limits = limits
        self.indexes = BuiltIndexes() if indexes is None else indexes

    def key_id(self, doc_id: str) -> str | None:
        """The id as the table can hold it; None when it cannot exist there."""
        check_name(doc_id, "id")
        if self.layout.id_is_uuid:
            try:
                return str(uuid.UUID(doc_id))
            except ValueError:
                return None
        return doc_id

    def _id_cast(self) -> str:
        return "uuid" if self.layout.id_is_uuid else "text"

    def _announce(self, collection: str) -> tuple[sql.Composable, list[Any]]:
        """``pg_notify`` for a write; PostgreSQL folds repeats within one transaction."""
        return sql.SQL("pg_notify({}, %s)").format(sql.Literal(CHANGES_CHANNEL)), [dumps([self.tenant, collection])]

    def _visible(self, include_deleted: bool) -> sql.Composable:
        return sql.SQL("TRUE") if include_deleted else LIVE

    # -- writes -------------------------------------------------------------

    def insert(self, collection: str, docs: Sequence[NewDocument]) -> Statement[list[Document]]:
        check_name(collection, "collection")
        if not docs:
            return Statement(None, (), lambda _rows, _count: [])
        if len(docs) > self.limits.max_batch:
            raise InvalidArgument(f"a batch holds at most {self.limits.max_batch} records, not {len(docs)}")
        ids: list[str] = []
        datas: list[Any] = []
        created: list[datetime | None] = []
        updated: list[datetime | None] = []
        versions: list[int | None] = []
        for index, doc in enumerate(docs):
            where = f"record {index}" if len(docs) > 1 else "record"
            if doc.id is None or doc.id == "":
                doc_id = str(uuid.uuid4())
            else:
                doc_id = check_name(doc.id, f"{where} id")
                if self.layout.id_is_uuid:
                    canonical = self.key_id(doc_id)
                    if canonical is None:
                        raise InvalidArgument(f"{where} id {doc_id!r}: this table stores UUID ids")
                    doc_id = canonical
            if not isinstance(doc.data, Mapping):
                raise InvalidArgument(f"{where} data must be an object")
            _refuse_reserved(doc.data, f"{where} data")
            ids.append(doc_id)
            datas.append(normalize(doc.data, f"{where} data"))
            created.append(doc.created_at)
            updated.append(doc.updated_at)
            if doc.version is not None and doc.version < 1:
                raise InvalidArgument(f"{where} version must be 1 or more")
            versions.append(doc.version)
        if len(set(ids)) != len(ids):
            raise InvalidArgument("the batch names the same id more than once")
        announce, announce_params = self._announce(collection)
        query = _rendered(
            ("insert", self._id_cast()),
            lambda: sql.SQL(
                """
            INSERT INTO documents (id, collection, tenant, data, created_at, updated_at, version)
            SELECT r.id::{id_type}, %s, %s, r.data, coalesce(r.created, now()),
                   coalesce(r.updated, now()), coalesce(r.version, 1)
            FROM ROWS FROM (unnest(%s::text[]), jsonb_array_elements(%s::jsonb), unnest(%s::timestamptz[]),
                            unnest(%s::timestamptz[]), unnest(%s::bigint[]))
                 WITH ORDINALITY AS r(id, data, created, updated, version, position)
            ORDER BY r.position
            RETURNING id::text, created_at, updated_at, version, {announce}
            """
            ).format(id_type=sql.SQL(self._id_cast()), announce=announce),
        )
        # The data travel as one JSON array: a jsonb[] parameter would escape every quote
        # of every document for PostgreSQL's array syntax, the batch's largest cost.
        params = [collection, self.tenant, ids, json_param(datas), created, updated, versions, *announce_params]

        def in_request_order(rows: Rows, _count: int) -> list[Document]:
            # The data are what was sent (normalized): reading every document back would
            # cost the database and the client a JSON round trip for values known here.
            stored = {row[0]: row[1:4] for row in rows}
            return [
                Document(doc_id, collection, data, _aware(created), _aware(updated), int(version))
                for doc_id, data in zip(ids, datas, strict=True)
                for created, updated, version in (stored[doc_id],)
            ]

        return Statement(query, params, in_request_order, prepare=True)

    def update(
        self, collection: str, doc_id: str, patch: Mapping[str, Any], expected_version: int | None = None
    ) -> Statement[Document]:
        """Merge ``patch`` into data (top-level keys replaced) in one statement.

        The statement also reports the version it found before updating, which
        tells "missing" (NOT_FOUND) from "someone else changed it first"
        (CONFLICT) without a second round trip or a read-modify-write.
        """
        check_name(collection, "collection")
        if not isinstance(patch, Mapping):
            raise InvalidArgument("updates must be an object")
        _refuse_reserved(patch, "updates")
        patch = normalize(patch, "updates")
        key = self.key_id(doc_id)
        if key is None:
            return Statement(None, (), lambda _rows, _count: _missing(collection, doc_id))
        announce, announce_params = self._announce(collection)
        query = _rendered(
            ("update", self._id_cast()),
            lambda: sql.SQL(
                """
            WITH current AS (
                SELECT version FROM documents
                WHERE tenant = %s AND collection = %s AND id = %s::{id_type} AND {live}
            ), changed AS (
                UPDATE documents
                SET data = data || %s::jsonb, updated_at = now(), version = version + 1
                WHERE tenant = %s AND collection = %s AND id = %s::{id_type} AND {live}
                  AND (%s::bigint IS NULL OR version = %s::bigint)
                RETURNING {columns}
            )
            SELECT (SELECT version FROM current), changed.*, {announce}
            FROM (SELECT 1) AS one LEFT JOIN changed ON TRUE
            """
            ).format(id_type=sql.SQL(self._id_cast()), columns=COLUMNS, live=LIVE, announce=announce),
        )
        params = [
            self.tenant,
            collection,
            key,
            json_param(patch),
            self.tenant,
            collection,
            key,
            expected_version,
            expected_version,
            *announce_params,
        ]

        def outcome(rows: Rows, _count: int) -> Document:
            found, *document = rows[0][:7]
            if document[0] is not None:
                return to_document(tuple(document))
            if found is not None and expected_version is not None:
                raise Conflict(f"document {doc_id!r} in {collection!r} is at version {found}, not {expected_version}")
            return _missing(collection, doc_id)

        return Statement(query, params, outcome, prepare=True)

    def _delete(self, collection: str, condition: sql.Composable, params: Sequence[Any]) -> Statement[int]:
        """Delete matching live documents; one statement that also announces the change."""
        announce, announce_params = self._announce(collection)
        query = sql.SQL(
            """
            WITH gone AS (
                DELETE FROM documents WHERE tenant = %s AND collection = %s AND {live} AND {condition}
                RETURNING 1
            )
            SELECT count(*), {announce} FROM gone
            """
        ).format(live=LIVE, condition=condition, announce=announce)
        return Statement(query, [self.tenant, collection, *params, *announce_params], _first_int)

    def delete_one(self, collection: str, doc_id: str) -> Statement[int]:
        check_name(collection, "collection")
        key = self.key_id(doc_id)
        if key is None:
            return Statement(None, (), lambda _rows, _count: 0)
        return self._delete(collection, sql.SQL("id = %s::{}").format(sql.SQL(self._id_cast())), [key])

    def delete_where(self, collection: str, query: Query) -> Statement[int]:
        check_name(collection, "collection")
        compiler = Compiler(id_is_uuid=self.layout.id_is_uuid)
        condition = compiler.where(query.criteria)
        return self._delete(collection, condition, compiler.params)

    def delete_collection(self, collection: str) -> Statement[int]:
        """Every document of the collection, soft-deleted ones included."""
        check_name(collection, "collection")
        announce, announce_params = self._announce(collection)
        query = sql.SQL(
            """
            WITH gone AS (DELETE FROM documents WHERE tenant = %s AND collection = %s RETURNING 1)
            SELECT count(*), {announce} FROM gone
            """
        ).format(announce=announce)
        return Statement(query, [self.tenant, collection, *announce_params], _first_int)

    def update_where(self, collection: str, query: Query, patch: Mapping[str, Any]) -> Statement[int]:
        """Merge ``patch`` into every matching live document; returns how many changed."""
        check_name(collection, "collection")
        if not isinstance(patch, Mapping):
            raise InvalidArgument("updates must be an object")
        _refuse_reserved(patch, "updates")
        patch = normalize(patch, "updates")
        compiler = Compiler(id_is_uuid=self.layout.id_is_uuid)
        condition = compiler.where(query.criteria)
        announce, announce_params = self._announce(collection)
        statement = sql.SQL(
            """
            WITH changed AS (
                UPDATE documents SET data = data || %s::jsonb, updated_at = now(), version = version + 1
                WHERE tenant = %s AND collection = %s AND {live} AND {condition}
                RETURNING 1
            )
            SELECT count(*), {announce} FROM changed
            """
        ).format(live=LIVE, condition=condition, announce=announce)
        params = [json_param(patch), self.tenant, collection, *compiler.params, *announce_params]
        return Statement(statement, params, _first_int)

    def soft_delete(self, collection: str, query: Query) -> Statement[int]:
        """Mark matching documents deleted (``data._deleted_at`` = now) instead of removing them."""
        check_name(collection, "collection")
        compiler = Compiler(id_is_uuid=self.layout.id_is_uuid)
        condition = compiler.where(query.criteria)
        announce, announce_params = self._announce(collection)
        statement = sql.SQL(
            """
            WITH marked AS (
                UPDATE documents
                SET data = data || jsonb_build_object({key}, to_jsonb(now())),
                    updated_at = now(), version = version + 1
                WHERE tenant = %s AND collection = %s AND {live} AND {condition}
                RETURNING 1
            )
            SELECT count(*), {announce} FROM marked
            """
        ).format(key=sql.Literal(DELETED_KEY), live=LIVE, condition=condition, announce=announce)
        return Statement(statement, [self.tenant, collection, *compiler.params, *announce_params], _first_int)

    # -- reads --------------------------------------------------------------

    def read(self, collection: str, doc_id: str, include_deleted: bool = False) -> Statement[Document | None]:
        check_name(collection, "collection")
        key = self.key_id(doc_id)
        if key is None:
            return Statement(None, (), lambda _rows, _count: None)
        query = _rendered(
            ("read", self._id_cast(), include_deleted),
            lambda: sql.SQL(
                "SELECT {} FROM documents WHERE tenant = %s AND collection = %s AND id = %s::{} AND {}"
            ).format(COLUMNS, sql.SQL(self._id_cast()), self._visible(include_deleted)),
        )
        return Statement(query, [self.tenant, collection, key], _one_document, prepare=True)

    def read_many(
        self, collection: str, doc_ids: Sequence[str], include_deleted: bool = False
    ) -> Statement[dict[str, Document]]:
        """The documents of ``doc_ids`` that exist, by the id asked for (one primary-key scan)."""
        check_name(collection, "collection")
        asked: dict[str, list[str]] = {}
        for doc_id in doc_ids:
            key = self.key_id(doc_id)
            if key is not None:
                asked.setdefault(key, []).append(doc_id)
        if not asked:
            return Statement(None, (), lambda _rows, _count: {})
        query = _rendered(
            ("read_many", self._id_cast(), include_deleted),
            lambda: sql.SQL(
                "SELECT {} FROM documents WHERE tenant = %s AND collection = %s AND id = ANY(%s::{}[]) AND {}"
            ).format(COLUMNS, sql.SQL(self._id_cast()), self._visible(include_deleted)),
        )

        def by_id(rows: Rows, _count: int) -> dict[str, Document]:
            found = {}
            for row in rows:
                document = to_document(row)
                for doc_id in asked.get(document.id, ()):
                    found[doc_id] = document
            return found

        return Statement(query, [self.tenant, collection, list(asked)], by_id, prepare=True)

    def page(self, query: Query) -> tuple[int, int]:
        limit = self.limits.default_page if not query.limit else query.limit
        if limit < 0 or limit > self.limits.max_page:
            raise InvalidArgument(f"limit must be 0 to {self.limits.max_page} (0 means {self.limits.default_page})")
        if query.offset < 0:
            raise InvalidArgument("offset must not be negative")
        return limit, query.offset

    def find(self, collection: str, query: Query) -> Statement[list[Document]]:
        """A page of matching documents, in a statement shaped so no plan depends on a guess.

        - No filter, or an id: straight from an index.
        - The default order and a filter of equalities on exactly the fields of
          a built equality index: that index holds them in the default order,
          so the page is the start of one index range.
        - Ordered by a field the filter bounds with a range: the field's value
          index (``IndexSpec`` kind ``value``) reads the range in order and stops.
        - The default order with a small page: :meth:`_walk_then_search`.
        - Otherwise a fence (``OFFSET 0``): the filter's own indexes find the
          matches, which are then ordered and paged. Without it, with a LIMIT,
          the planner may walk the collection in (created_at, id) order hoping
          to meet matches soon, and read all of it when they are rare.
        """
        check_name(collection, "collection")
        limit, offset = self.page(query)
        compiler = Compiler(id_is_uuid=self.layout.id_is_uuid)
        indexed = None if query.order_by else self._on_equality_index(collection, query.criteria, compiler)
        condition = compiler.where(query.criteria) if indexed is None else indexed
        order = compiler.order_by(query.order_by)
        visible = self._visible(query.include_deleted)
        scope = sql.SQL("SELECT * FROM documents WHERE tenant = %s AND collection = %s AND {}").format(visible)
        matching: sql.Composable = sql.SQL("{} AND {}").format(scope, condition)
        # Parameters appear in the text in this order: tenant, collection, condition, order, page.
        params: list[Any] = [self.tenant, collection, *compiler.params, limit, offset]
        if indexed is None and not _needs_no_guard(query):
            wanted = limit + offset
            walk = None if query.order_by else self._walk_length(query.criteria, wanted)
            if walk is None:
                matching = sql.SQL("{} OFFSET 0").format(matching)
            else:  # the default order has no parameters: the condition's are all there are
                matching, walk_params = self._walk_then_search(
                    collection, scope, condition, compiler.params, wanted, walk
                )
                params = [*walk_params, limit, offset]
        statement = sql.SQL("SELECT {} FROM ({}) AS documents ORDER BY {} LIMIT %s OFFSET %s").format(
            COLUMNS, matching, order
        )
        if not query.projections:
            return Statement(statement, params, _documents)
        paths = [p.path for p in query.projections if p.column is None]  # columns always come back

        def projected(rows: Rows, count: int) -> list[Document]:
            return [
                Document(d.id, d.collection, project(d.data, paths), d.created_at, d.updated_at, d.version)
                for d in _documents(rows, count)
            ]

        return Statement(statement, params, projected)

    def _on_equality_index(self, collection: str, criteria: Criteria, compiler: Compiler) -> sql.Composable | None:
        """The filter written on a built equality index's expressions, or None when no such index covers it.

        Only a filter made of nothing but equalities on exactly the index's
        fields qualifies: any other condition would have to be checked row by
        row along the index range, which is the cost the guards exist to bound.
        """
        conjuncts = _conjuncts(criteria)
        equalities = [item for item in conjuncts if isinstance(item, Equals) and exactly_comparable(item)]
        if not equalities or len(equalities) != len(conjuncts):
            return None
        if not self.indexes.orders_equalities(collection, frozenset(item.field.path for item in equalities)):
            return None
        exact = [compiler.exact_equality(item.field, item.value) for item in equalities]
        return sql.SQL("({})").format(sql.SQL(" AND ").join(exact))

    def _walk_length(self, criteria: Criteria, wanted: int) -> int | None:
        """Documents to walk for ``wanted`` matches, or None when the page is too deep for a walk."""
        per = self.limits.walk_per_text_result if _searches_text(criteria) else self.limits.walk_per_result
        walk = wanted * per
        return walk if walk <= self.limits.ordered_walk else None

    def _walk_then_search(
        self,
        collection: str,
        scope: sql.Composable,
        condition: sql.Composable,
        condition_params: list[Any],
        wanted: int,
        walk: int,
    ) -> tuple[sql.Composable, list[Any]]:
        """The first ``wanted`` matches in (created_at, id) order, at a cost that does not grow with the collection.

        First walk the first ``walk`` documents in order (the
        ``idx_documents_order`` index) and keep the matches: if there are
        ``wanted`` of them they are the answer, since every later document
        sorts after them; so are they if the walk reached the collection's end.
        Only otherwise, when matches are rarer than ``wanted`` in ``walk``,
        does the second arm run (a one-time filter skips it otherwise): the
        filter's own indexes find every match, and there are few. A common
        value costs part of the walk, a rare one the walk plus an index search;
        neither a planner's estimate nor the collection's size decides.
        (PostgreSQL evaluates each ``(SELECT ...)`` only when the condition
        needs it, so a walk that met its matches early stops there, and
        ``whole``, whether the walk saw the whole collection, is only read
        when it did not.)
        """
        text = sql.SQL(
            """
            WITH early AS MATERIALIZED (
                SELECT * FROM ({scope} ORDER BY created_at, id LIMIT %s) AS walked
                WHERE {condition}
                ORDER BY created_at, id LIMIT %s
            ), whole AS MATERIALIZED (
                SELECT count(*) < %s AS seen FROM ({scope} ORDER BY created_at, id LIMIT %s) AS walked
            )
            SELECT * FROM early WHERE (SELECT count(*) FROM early) >= %s OR (SELECT seen FROM whole)
            UNION ALL
            (SELECT * FROM ({scope} AND {condition} OFFSET 0) AS searched
             WHERE (SELECT count(*) FROM early) < %s AND NOT (SELECT seen FROM whole))
            """
        ).format(scope=scope, condition=condition)
        scope_params = [self.tenant, collection]
        params = [
            *scope_params,
            walk,
            *condition_params,
            wanted,
            walk,
            *scope_params,
            walk,
            wanted,
            *scope_params,
            *condition_params,
            wanted,
        ]
        return text, params

    def count(self, collection: str, query: Query) -> Statement[int]:
        check_name(collection, "collection")
        self.page(query)  # a count takes no page, but a malformed one is still refused
        compiler = Compiler(id_is_uuid=self.layout.id_is_uuid)
        condition = compiler.where(query.criteria)
        statement = sql.SQL(
            "SELECT count(*) FROM documents WHERE tenant = %s AND collection = %s AND {} AND {}"
        ).format(self._visible(query.include_deleted), condition)
        return Statement(statement, [self.tenant, collection, *compiler.params], _first_int)

    # -- request ids (idempotent retries) -----------------------------------

    def claim_request(self, request_id: str, rpc: str) -> Statement[tuple[bool, str | None, bytes | None]]:
        """Claim ``request_id`` for this transaction: (claimed, rpc it was used for, its answer).

        A concurrent claim of the same id waits here until the first transaction
        ends; if that one committed, this statement's snapshot may predate it, so
        a lost claim with no answer is read again with :meth:`request_outcome`.
        """
        check_name(request_id, "request_id")
        query = sql.SQL(
            """
            WITH claimed AS (
                INSERT INTO persistence_requests (tenant, request_id, rpc) VALUES (%s, %s, %s)
                ON CONFLICT DO NOTHING RETURNING 1
            )
            SELECT EXISTS (SELECT 1 FROM claimed), r.rpc, r.response
            FROM (SELECT 1) AS one
            LEFT JOIN persistence_requests r ON r.tenant = %s AND r.request_id = %s
            """
        )
        params = [self.tenant, request_id, rpc, self.tenant, request_id]
        return Statement(
            query, params, lambda rows, _count: (bool(rows[0][0]), rows[0][1], _bytes(rows[0][2])), prepare=True
        )

    def request_outcome(self, request_id: str) -> Statement[tuple[str | None, bytes | None]]:
        query = sql.SQL("SELECT rpc, response FROM persistence_requests WHERE tenant = %s AND request_id = %s")
        return Statement(
            query,
            [self.tenant, request_id],
            lambda rows, _count: (rows[0][0], _bytes(rows[0][1])) if rows else (None, None),
            prepare=True,
        )

    def remember_request(self, request_id: str, response: bytes) -> Statement[None]:
        query = sql.SQL("UPDATE persistence_requests SET response = %s WHERE tenant = %s AND request_id = %s")
        return Statement(query, [response, self.tenant, request_id], lambda _rows, _count: None, prepare=True)

    def forget_requests(self, older_than_seconds: float) -> Statement[int]:
        """Drop this tenant's outcomes older than the retry window (the server sweeps tenant by tenant).

        Scoped to the tenant like every other statement, so it stays on one
        shard where the table is distributed by tenant (docs/scaling.md).
        """
        query = sql.SQL(
            "WITH gone AS (DELETE FROM persistence_requests WHERE tenant = %s"
            " AND created_at < now() - %s * interval '1 second' RETURNING 1) SELECT count(*) FROM gone"
        )
        return Statement(query, [self.tenant, older_than_seconds], _first_int)

    def durability(self) -> Statement[dict[str, str]]:
        """The settings that decide whether an acknowledged commit survives a crash."""
        query = sql.SQL(
            "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')"
        )
        return Statement(query, (), lambda rows, _count: {str(name): str(value) for name, value in rows})

    def ping(self) -> Statement[None]:
        return Statement(sql.SQL("SELECT 1"), (), lambda _rows, _count: None)

    def list_collections(self) -> Statement[list[str]]:
        # A loose index scan: one index probe per collection instead of reading every row.
        query = sql.SQL(
            """
            WITH RECURSIVE names AS (
                (SELECT collection FROM documents WHERE tenant = %s ORDER BY collection LIMIT 1)
                UNION ALL
                SELECT (SELECT d.collection FROM documents d
                        WHERE d.tenant = %s AND d.collection > names.collection
                        ORDER BY d.collection LIMIT 1)
                FROM names WHERE names.collection IS NOT NULL
            )
            SELECT collection FROM names WHERE collection IS NOT NULL
            """
        )
        return Statement(query, [self.tenant, self.tenant], lambda rows, _c: [str(row[0]) for row in rows])


def project(data: dict[str, Any], paths: Sequence[tuple[str, ...]]) -> dict[str, Any]:
    """Keep only the listed key paths of ``data``; nested paths give nested objects."""
    result: dict[str, Any] = {}
    for path in paths:
        source: Any = data
        for segment in path:
            if not isinstance(source, dict) or segment not in source:
                break
            source = source[segment]
        else:
            target = result
            for segment in path[:-1]:
                existing = target.get(segment)
                if not isinstance(existing, dict):
                    existing = target[segment] = {}
                target = existing
            target[path[-1]] = source
    return result


def build_query(
    criteria: Criteria | Mapping[str, Any] | None,
    order_by: Sequence[OrderBy | str] = (),
    limit: int | None = None,
    offset: int = 0,
    projections: Sequence[str] = (),
    include_deleted: bool = False,
) -> Query:
    """A Query from the library's keyword arguments."""
    return Query(
        criteria=coerce(criteria),
        order_by=ordering(order_by),
        limit=limit,
        offset=offset,
        projections=tuple(Field.parse(name) for name in projections),
        include_deleted=include_deleted,
    )


def new_documents(docs: Iterable[NewDocument | Mapping[str, Any]]) -> list[NewDocument]:
    """Accept NewDocument objects or plain data mappings."""
    return [doc if isinstance(doc, NewDocument) else NewDocument(dict(doc)) for doc in docs]
