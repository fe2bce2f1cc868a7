"""The ``documents`` table: its definition, and how a store adapts to an existing one.

The DDL is idempotent and additive, so it runs on every start: on an empty
database it creates the table; on a table the seed library made (``id UUID``,
no tenant) it only adds what is missing (the ``tenant`` column with its default,
the indexes) and leaves the old library able to work on it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import Connection, sql

TABLE = "documents"

#: Serializes concurrent first starts: CREATE ... IF NOT EXISTS alone races on the catalog.
_SCHEMA_LOCK_KEY = 0x646F6373  # "docs"

CREATE_TABLE = sql.SQL(
    """
    CREATE TABLE IF NOT EXISTS documents (
        id          TEXT COLLATE "C" NOT NULL,
        collection  VARCHAR(255) NOT NULL,
        tenant      TEXT NOT NULL DEFAULT 'default',
        data        JSONB NOT NULL,
        created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
        version     BIGINT NOT NULL DEFAULT 1,
        PRIMARY KEY (tenant, collection, id)
    )
    """
)

#: Statements that bring any earlier form of the table up to what the store needs.
UPGRADES = (
    sql.SQL("ALTER TABLE documents ADD COLUMN IF NOT EXISTS tenant TEXT NOT NULL DEFAULT 'default'"),
    # Containment (``data @> ...``) is the only JSON operator the compiler uses for
    # equality, so the smaller, faster jsonb_path_ops GIN serves it.
    sql.SQL("CREATE INDEX IF NOT EXISTS idx_documents_data ON documents USING GIN (data jsonb_path_ops)"),
    # Default order and paging (created_at, id) within one collection.
    sql.SQL("CREATE INDEX IF NOT EXISTS idx_documents_order ON documents (tenant, collection, created_at, id)"),
)


@dataclass(frozen=True, slots=True)
class Layout:
    """What the store must know about the table it found."""

    id_is_uuid: bool
    timestamps_have_zone: bool


def ensure_schema(conn: Connection[Any]) -> Layout:
    """Create or upgrade the table and indexes, then describe what is there."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
        conn.execute(CREATE_TABLE)
        for statement in UPGRADES:
            conn.execute(statement)
        return describe(conn)


def describe(conn: Connection[Any]) -> Layout:
    rows = conn.execute(
        """
        SELECT column_name, data_type FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = %s
        """,
        (TABLE,),
    ).fetchall()
    types = {str(name): str(kind) for name, kind in rows}
    return Layout(
        id_is_uuid=types.get("id") == "uuid",
        timestamps_have_zone=types.get("created_at") == "timestamp with time zone",
    )
