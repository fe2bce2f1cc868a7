"""The ``documents`` table: its definition, and how a store adapts to an existing one.

The DDL is idempotent and additive, so it runs on every start: on an empty
database it creates the table; on a table the seed library made (``id UUID``,
no tenant) it only adds what is missing (the ``tenant`` column with its default,
the indexes) and leaves the old library able to work on it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
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

#: Outcomes of requests that carried a request id, so a retry returns the first
#: outcome instead of applying the write again (``statements.claim_request``).
CREATE_REQUESTS_TABLE = sql.SQL(
    """
    CREATE TABLE IF NOT EXISTS persistence_requests (
        tenant      TEXT NOT NULL,
        request_id  TEXT NOT NULL,
        rpc         TEXT NOT NULL,
        response    BYTEA,
        created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, request_id)
    )
    """
)

#: Statements that bring any earlier form of the table up to what the store needs.
UPGRADES: tuple[sql.SQL | sql.Composed, ...] = (
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
    #: pgvector (with HNSW) can be used (see :func:`pgvector_ready`); otherwise vector searches are exact SQL scans.
    pgvector: bool = False


#: The setting every statement's transaction carries when row-level security is on.
TENANT_SETTING = "persistence.tenant"

#: Row-level security: a row is visible and writable only inside a transaction whose
#: tenant setting names its tenant. FORCE applies it to the table owner as well.
ROW_LEVEL_SECURITY: tuple[sql.SQL | sql.Composed, ...] = tuple(
    statement.format(
        table=sql.Identifier(table),
        policy=sql.Identifier(f"{table}_tenant_isolation"),
        setting=sql.Literal(TENANT_SETTING),
    )
    for table in ("documents", "persistence_requests")
    for statement in (
        sql.SQL("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"),
        sql.SQL("ALTER TABLE {table} FORCE ROW LEVEL SECURITY"),
        sql.SQL(
            "DROP POLICY IF EXISTS {policy} ON {table}; "
            "CREATE POLICY {policy} ON {table} "
            "USING (tenant = current_setting({setting}, true)) "
            "WITH CHECK (tenant = current_setting({setting}, true))"
        ),
    )
)

_INDEXES = ("idx_documents_data", "idx_documents_order")


def ensure_schema(conn: Connection[Any], row_level_security: bool = False, grant_to: str | None = None) -> Layout:
    """Create or upgrade the table, indexes and (optionally) row-level security.

    Nothing is executed when everything is already in place, so a server whose
    role may not change the table (the recommended setup, ``docs/security.md``)
    starts on a table an owner prepared.
    """
    if _complete(conn, row_level_security) and grant_to is None:
        return describe(conn)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
        conn.execute(CREATE_TABLE)
        conn.execute(CREATE_REQUESTS_TABLE)
        for statement in UPGRADES:
            conn.execute(statement)
        if row_level_security:
            for statement in ROW_LEVEL_SECURITY:
                conn.execute(statement)
        if grant_to is not None:
            conn.execute(
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON documents, persistence_requests TO {}").format(
                    sql.Identifier(grant_to)
                )
            )
        return describe(conn)


def _complete(conn: Connection[Any], row_level_security: bool) -> bool:
    row = conn.execute(
        """
        SELECT c.relrowsecurity AND c.relforcerowsecurity,
               EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant'),
               (SELECT count(*) FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
                WHERE i.indrelid = c.oid AND x.relname = ANY(%s)),
               EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'documents_tenant_isolation')
               AND (to_regclass('persistence_requests') IS NULL OR EXISTS (
                   SELECT 1 FROM pg_policy p WHERE p.polrelid = to_regclass('persistence_requests')
                   AND p.polname = 'persistence_requests_tenant_isolation')),
               to_regclass('persistence_requests') IS NOT NULL
        FROM pg_class c WHERE c.oid = to_regclass(%s)
        """,
        (list(_INDEXES), TABLE),
    ).fetchone()
    if row is None:
        return False
    forced, has_tenant, indexes, has_policy, has_requests = row
    return (
        bool(has_tenant)
        and bool(has_requests)
        and indexes == len(_INDEXES)
        and (not row_level_security or (forced and has_policy))
    )


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
        pgvector=pgvector_ready(conn),
    )


def pgvector_ready(conn: Connection[Any]) -> bool:
    """Is pgvector (with HNSW) usable? Installs it first when the server offers it and this role may.

    Without it (PostgreSQL 15 here, or no right to create the extension) vector
    searches are exact SQL scans over the JSON arrays; nothing else changes.
    """
    probe = (
        "SELECT to_regtype('vector') IS NOT NULL AND EXISTS (SELECT 1 FROM pg_am WHERE amname = 'hnsw'),"
        " EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector' AND installed_version IS NULL)"
    )
    row = conn.execute(probe).fetchone()
    if row is not None and not row[0] and row[1]:
        try:
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error:
            pass  # no right to, or another process just did: look again
        row = conn.execute(probe).fetchone()
    return bool(row and row[0])
