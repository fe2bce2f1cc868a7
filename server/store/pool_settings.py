"""How the stores open their connection pools: one place for both front doors."""

from __future__ import annotations

import math
import select
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, Connection
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool.base import AttemptWithBackoff

from server.store.vectors import SESSION_OPTIONS

# psycopg_pool retries a lost database with exponential backoff (1, 2, 4, 8 ... s),
# so after a long outage the next attempt could come long after the database is
# back. Retrying about once a second keeps recovery within a few seconds.
AttemptWithBackoff.DELAY_BACKOFF = 1.0


@dataclass(frozen=True, slots=True)
class PoolSettings:
    min_size: int = 1
    max_size: int = 10
    #: Seconds a call may wait for a free connection before it is answered UNAVAILABLE.
    timeout: float = 5.0
    #: Session statement_timeout in seconds: the bound for calls that bring no deadline.
    statement_timeout: float | None = None


def idle_connection_is_sound(conn: Connection[Any] | AsyncConnection[Any]) -> bool:
    """Whether a pooled connection, idle between calls, can be handed out without a probe.

    An idle connection has nothing to read: data waiting on its socket means
    the server closed it (a restart, a terminated backend) or sent something
    unexpected. Only then is a round trip spent on a probe; a sound idle
    connection costs none (the pool's own ``check_connection`` always pays one).
    """
    if conn.closed or conn.broken:
        return False
    try:
        readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def check_connection(conn: Connection[Any]) -> None:
    """``check`` for the blocking pool: probe only what does not look sound."""
    if not idle_connection_is_sound(conn):
        conn.execute("")


async def check_async_connection(conn: AsyncConnection[Any]) -> None:
    """``check`` for the async pool: probe only what does not look sound."""
    if not idle_connection_is_sound(conn):
        await conn.execute("")


def connection_kwargs(conninfo: str, settings: PoolSettings) -> dict[str, Any]:
    """Connection parameters added to the caller's connection string.

    Autocommit: every store operation is a single statement, so the pool's
    default per-checkout transaction would only add two round trips. Session
    settings travel in the startup packet (``options``), costing no round trip;
    options already in the connection string are kept. Keepalives notice a
    database that silently went away.
    """
    # hnsw.*: vector searches' recall and filtered HNSW scans (server.store.vectors.SESSION_OPTIONS).
    # Plans: statements whose values choose their indexes are never prepared, so PostgreSQL
    # plans each with its values (``Statement.prepare``); no session setting is needed for it.
    options = ["-c TimeZone=UTC", *SESSION_OPTIONS]
    if settings.statement_timeout is not None:
        options.append(f"-c statement_timeout={max(1, math.ceil(settings.statement_timeout * 1000))}")
    given = conninfo_to_dict(conninfo).get("options")
    return {
        "autocommit": True,
        "application_name": "persistence-server",
        "options": " ".join([str(given), *options] if given else options),
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
    }
