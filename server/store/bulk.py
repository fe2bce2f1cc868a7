"""Bulk paths over the ``documents`` table for the migration tools (``server.migrate``).

The store's own operations are single statements sized for one request; an
import of millions of rows needs something else: each batch is COPYed into a
temporary staging table and moved into ``documents`` by one INSERT, both in one
transaction, so a batch is either wholly visible or not at all, and
``ON CONFLICT`` makes a repeated or resumed import skip ids already there.
Export and verify read the table through one snapshot, so what they see is one
consistent state even while the server keeps writing.

This module stays the only place outside the store's statements that speaks
SQL to ``documents``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Connection, sql

from server.store.schema import TABLE, Layout, describe, ensure_schema
from server.store.statements import CHANGES_CHANNEL, check_name

#: One staged row: id, collection, data as JSON text, created_at, updated_at, version.
#: ``None`` timestamps become now() (updated_at falls back to created_at); ``None`` version becomes 1.
StagedRow = tuple[str, str, str, datetime | None, datetime | None, int | None]

#: One stored row as export and verify read it: id, collection, data as JSON text, created_at, updated_at, version.
StoredRow = tuple[str, str, str, datetime, datetime, int]

STAGING = "documents_import_staging"

_CREATE_STAGING = sql.SQL(
    """
    CREATE TEMP TABLE IF NOT EXISTS {} (
        position BIGINT GENERATED ALWAYS AS IDENTITY,
        id TEXT, collection TEXT, data JSONB, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, version BIGINT
    ) ON COMMIT DELETE ROWS
    """
).format(sql.Identifier(STAGING))

_COPY = sql.SQL("COPY {} (id, collection, data, created_at, updated_at, version) FROM STDIN").format(
    sql.Identifier(STAGING)
)


class OnConflict(enum.Enum):
    """What an imported row does when the target already holds its (collection, id)."""

    #: Keep the target row: importing twice imports nothing twice.
    SKIP = "skip"
    #: Replace the target row when the imported one is newer (higher version, then later updated_at);
    #: for a catch-up import of rows the old platform changed after a first pass.
    NEWER = "newer"


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    inserted: int
    replaced: int
    #: Rows whose id the target already had (or that repeated an id earlier in the batch) and kept.
    kept: int


@dataclass(frozen=True, slots=True)
class TargetState:
    """What a dry run may assume about the table without creating or altering it."""

    ready: bool
    layout: Layout


def inspect_target(conn: Connection[Any]) -> TargetState:
    """Whether ``documents`` exists with a tenant column, without changing anything."""
    row = conn.execute(
        """
        SELECT to_regclass(%s) IS NOT NULL,
               EXISTS (SELECT 1 FROM information_schema.columns
                       WHERE table_schema = current_schema() AND table_name = %s AND column_name = 'tenant')
        """,
        (TABLE, TABLE),
    ).fetchone()
    ready = bool(row and row[0] and row[1])
    return TargetState(ready=ready, layout=describe(conn))


class BulkLoader:
    """Loads batches into ``documents`` for one tenant over one autocommit connection."""

    def __init__(self, conn: Connection[Any], tenant: str, *, dry_run: bool = False) -> None:
        if not conn.autocommit:
            raise ValueError("BulkLoader needs an autocommit connection: it opens one transaction per batch")
        self._conn = conn
        self.tenant = check_name(tenant, "tenant")
        self.dry_run = dry_run
        if dry_run:
            state = inspect_target(conn)
            self._ready = state.ready
            self.layout = state.layout
        else:
            self.layout = ensure_schema(conn)
            self._ready = True
        conn.execute(_CREATE_STAGING)

    def load(self, rows: Sequence[StagedRow], on_conflict: OnConflict = OnConflict.SKIP) -> BatchOutcome:
        """Stage ``rows`` and move them into the table in one transaction (rolled back on a dry run)."""
        if not rows:
            return BatchOutcome(0, 0, 0)
        with self._conn.transaction(force_rollback=self.dry_run), self._conn.cursor() as cur:
            with cur.copy(_COPY) as copy:
                for row in rows:
                    copy.write_row(row)
            if self.dry_run:
                inserted, replaced = self._predict(cur, on_conflict)
            else:
                replaced = 0
                if on_conflict is OnConflict.NEWER:
                    cur.execute(self._replace(), [self.tenant])
                    replaced = cur.rowcount
                cur.execute(self._insert(on_conflict), [self.tenant])
                inserted = cur.rowcount
                # Like every store write: caches in every process drop these collections at commit.
                cur.execute(_ANNOUNCE, [self.tenant])
        return BatchOutcome(inserted, replaced, len(rows) - inserted - replaced)

    # -- statements -----------------------------------------------------------

    def _unique(self, on_conflict: OnConflict) -> sql.Composed:
        """The staged rows, one per (collection, id), as they came (NULL where the source had nothing).

        An INSERT or UPDATE may not touch a row twice. Of ids a source repeats, a
        plain import keeps the first (as it does across batches), a catch-up import
        the newest.
        """
        preference = "s.position" if on_conflict is OnConflict.SKIP else f"{_NEWEST_FIRST}, s.position"
        return sql.SQL(
            """
            SELECT DISTINCT ON (s.collection, s.id)
                   {id} AS id, s.collection, s.data, s.created_at, s.updated_at, s.version
            FROM {staging} AS s
            ORDER BY s.collection, s.id, {preference}
            """
        ).format(
            id=sql.SQL("s.id::uuid" if self.layout.id_is_uuid else "s.id"),
            staging=sql.Identifier(STAGING),
            preference=sql.SQL(preference),
        )

    def _insert(self, on_conflict: OnConflict) -> sql.Composed:
        # Without a conflict target, DO NOTHING also fits the seed library's table (primary key: id alone).
        return sql.SQL(
            """
            INSERT INTO documents (id, collection, tenant, data, created_at, updated_at, version)
            SELECT u.id, u.collection, %s, u.data, coalesce(u.created_at, now()),
                   coalesce(u.updated_at, u.created_at, now()), coalesce(u.version, 1)
            FROM ({unique}) AS u
            ON CONFLICT DO NOTHING
            """
        ).format(unique=self._unique(on_conflict))

    def _replace(self) -> sql.Composed:
        return sql.SQL(
            """
            UPDATE documents AS d
            SET data = u.data, created_at = coalesce(u.created_at, d.created_at),
                updated_at = coalesce(u.updated_at, u.created_at, now()), version = coalesce(u.version, 1)
            FROM ({unique}) AS u
            WHERE d.tenant = %s AND d.collection = u.collection AND d.id = u.id AND {newer}
            """
        ).format(unique=self._unique(OnConflict.NEWER), newer=_NEWER)

    def _predict(self, cur: Any, on_conflict: OnConflict) -> tuple[int, int]:
        """(would insert, would replace) for the staged rows, changing nothing."""
        unique = self._unique(on_conflict)
        if not self._ready:
            cur.execute(sql.SQL("SELECT count(*) FROM ({}) AS u").format(unique))
            return int(cur.fetchone()[0]), 0
        cur.execute(
            sql.SQL(
                """
                SELECT count(*) FILTER (WHERE d.id IS NULL), count(*) FILTER (WHERE d.id IS NOT NULL AND {newer})
                FROM ({unique}) AS u
                LEFT JOIN documents AS d ON d.tenant = %s AND d.collection = u.collection AND d.id = u.id
                """
            ).format(unique=unique, newer=_NEWER),
            [self.tenant],
        )
        new, newer = cur.fetchone()
        return int(new), int(newer) if on_conflict is OnConflict.NEWER else 0


_ANNOUNCE = sql.SQL(
    "SELECT pg_notify({channel}, json_build_array(%s::text, c.collection)::text)"
    " FROM (SELECT DISTINCT collection FROM {staging}) AS c"
).format(channel=sql.Literal(CHANGES_CHANNEL), staging=sql.Identifier(STAGING))

#: Whether staged row ``u`` is newer than stored row ``d``: a higher version, or the same
#: version changed later. A row without timestamps never wins on time (it has none to offer).
_NEWER = sql.SQL(
    "(coalesce(u.version, 1), coalesce(u.updated_at, u.created_at, '-infinity')) > (d.version, d.updated_at)"
)
_NEWEST_FIRST = "s.version DESC NULLS LAST, coalesce(s.updated_at, s.created_at) DESC NULLS LAST"


def _where(
    tenant: str, collections: Sequence[str] | None, changed_since: datetime | None
) -> tuple[sql.Composed, list[Any]]:
    conditions = [sql.SQL("tenant = %s")]
    params: list[Any] = [tenant]
    if collections is not None:
        conditions.append(sql.SQL("collection = ANY (%s)"))
        params.append(list(collections))
    if changed_since is not None:
        conditions.append(sql.SQL("updated_at >= %s"))
        params.append(changed_since)
    return sql.SQL(" AND ").join(conditions), params


def count_documents(
    conn: Connection[Any],
    tenant: str,
    collections: Sequence[str] | None = None,
    *,
    changed_since: datetime | None = None,
) -> int:
    """How many documents :func:`scan_documents` would return with the same arguments."""
    if not inspect_target(conn).ready:
        return 0
    where, params = _where(tenant, collections, changed_since)
    row = conn.execute(sql.SQL("SELECT count(*) FROM documents WHERE {}").format(where), params).fetchone()
    return int(row[0]) if row else 0


def scan_documents(
    conn: Connection[Any],
    tenant: str,
    collections: Sequence[str] | None = None,
    *,
    changed_since: datetime | None = None,
    page: int = 2000,
) -> Iterator[StoredRow]:
    """Every document of the tenant, ordered by (collection, id), from one read-only snapshot.

    ``collections`` limits the scan to those; ``changed_since`` to documents
    written (updated_at) at or after that moment, which is what a rollback must
    carry back to the old platform.

    ``data`` comes back as PostgreSQL's JSON text, unparsed: an export writes it
    as it is (no float round trip), and verify parses it once. The connection
    must be in autocommit mode; the snapshot's transaction ends when the
    iterator is exhausted or closed.
    """
    if not inspect_target(conn).ready:
        return
    where, params = _where(tenant, collections, changed_since)
    query = sql.SQL(
        "SELECT id::text, collection, data::text, created_at, updated_at, version FROM documents"
        " WHERE {} ORDER BY collection, id"
    ).format(where)
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        with conn.cursor(name="documents_scan") as cur:
            cur.itersize = page
            cur.execute(query, params)
            for row in cur:
                yield (str(row[0]), str(row[1]), str(row[2]), row[3], row[4], int(row[5]))
