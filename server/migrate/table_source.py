"""Records from a table in a PostgreSQL-wire database: the old platform's CockroachDB ``entities`` by default.

``entities(id, record_type, data JSONB, metadata JSONB, created_at, updated_at, version)``
maps to documents as: ``record_type`` → collection, ``data`` → data, and a
non-null ``metadata`` kept inside data under :data:`DEFAULT_METADATA_KEY`
(documents have no metadata column, and dropping it would lose data). Other
layouts name their columns through :class:`ColumnMap`.

Every column is read as text or its plain value and parsed here, not by the
driver, so a TEXT column holding broken JSON becomes a reject with a reason
instead of an aborted import. Rows stream through one query (psycopg's
single-row streaming), so memory stays flat however large the table is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from server.migrate.records import Record, Reject, Rejected, make_record
from server.store.json_values import dumps

DEFAULT_TABLE = "entities"
#: Where an entity's ``metadata`` lands inside the document's data.
DEFAULT_METADATA_KEY = "_metadata"


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Which source column feeds which document field; ``None`` means the table has no such column."""

    table: str = DEFAULT_TABLE
    id: str = "id"
    collection: str | None = "record_type"
    data: str = "data"
    metadata: str | None = "metadata"
    created_at: str | None = "created_at"
    updated_at: str | None = "updated_at"
    version: str | None = "version"
    #: The collection of every row, for tables without a collection column.
    fixed_collection: str | None = None
    metadata_key: str = DEFAULT_METADATA_KEY

    def __post_init__(self) -> None:
        if (self.collection is None) == (self.fixed_collection is None):
            raise ValueError("name either a collection column or a fixed collection, not both or neither")

    def select(self) -> sql.Composed:
        """The query: every mapped column, in FIELDS order plus metadata, as values this module parses."""

        def column(name: str | None, cast: str = "") -> sql.Composable:
            if name is None:
                return sql.SQL("NULL")
            return sql.SQL("{}{}").format(sql.Identifier(name), sql.SQL(cast))

        return sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(
                [
                    column(self.id, "::text"),
                    column(self.collection, "::text"),
                    column(self.data, "::text"),
                    column(self.metadata, "::text"),
                    column(self.created_at),
                    column(self.updated_at),
                    column(self.version),
                ]
            ),
            table_name(self.table),
        )


def table_name(dotted: str) -> sql.Identifier:
    """``schema.table`` or ``table`` as a quoted identifier."""
    return sql.Identifier(*dotted.split("."))


class TableSource:
    """Records from one table, read in a single streamed query."""

    def __init__(self, conninfo: str, columns: ColumnMap = ColumnMap()) -> None:
        self.conninfo = conninfo
        self.columns = columns
        self.name = columns.table

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.conninfo, autocommit=True, application_name="persistence-migrate source")
        conn.execute("SET TIME ZONE 'UTC'")  # zone-less timestamps are UTC, as the store reads them
        return conn

    def count(self) -> int | None:
        with self._connect() as conn:
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table_name(self.columns.table))).fetchone()
            return int(row[0]) if row else None

    def __iter__(self) -> Iterator[Record | Reject]:
        with self._connect() as conn, conn.cursor() as cur:
            for number, row in enumerate(cur.stream(self.columns.select()), start=1):
                try:
                    yield self.record(row)
                except Rejected as exc:
                    yield Reject(
                        self.name, str(exc), _raw(row), key={"row": number, "id": row[0], "collection": row[1]}
                    )

    def record(self, row: tuple[Any, ...]) -> Record:
        """The record one row holds, or :class:`Rejected`."""
        doc_id, collection, data_text, metadata_text, created_at, updated_at, version = row
        data = _json(data_text, "data")
        if self.columns.metadata is not None and metadata_text is not None:
            metadata = _json(metadata_text, "metadata")
            if metadata is not None:
                key = self.columns.metadata_key
                if isinstance(data, dict):
                    if key in data:
                        raise Rejected(f"data already has a {key!r} key, where metadata would go (see --metadata-key)")
                    data = {**data, key: metadata}
        if self.columns.fixed_collection is not None:
            collection = self.columns.fixed_collection
        return make_record(
            id=doc_id, collection=collection, data=data, created_at=created_at, updated_at=updated_at, version=version
        )


def _json(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Rejected(f"{what} is not valid JSON: {exc.msg} at column {exc.colno}") from None


def _raw(row: tuple[Any, ...]) -> str:
    """The row as JSON text for the reject file: text columns as read, other values as their text."""
    names = ("id", "collection", "data", "metadata", "created_at", "updated_at", "version")
    return dumps({name: _plain(value) for name, value in zip(names, row, strict=True)})


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
