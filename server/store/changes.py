"""Which collections changed, as PostgreSQL announces it: LISTEN on the store's channel.

Every store write sends ``pg_notify`` in its own statement, so the announcement
is delivered exactly when the write commits, whichever process (server replica
or direct-import service) made it. :meth:`ChangeFeed.sync` is a barrier: after
it returns True, every change committed before the call has been handed to
``on_change``. It works because a listening backend sends pending notifications
before it answers the next query on the same connection, so one trivial query
is enough. When the connection is lost the feed says so (``sync`` returns
False and ``on_reset`` runs), since notifications may have been missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql

from server.store.statements import CHANGES_CHANNEL

log = logging.getLogger(__name__)

#: Seconds between reconnection attempts while the database is unreachable.
RECONNECT_INTERVAL = 1.0


def _ignore_outcome(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


class ChangeFeed:
    def __init__(
        self,
        conninfo: str,
        on_change: Callable[[str, str], None],
        on_reset: Callable[[], None],
        connect_timeout: float = 2.0,
    ) -> None:
        self._conninfo = conninfo
        self._on_change = on_change
        self._on_reset = on_reset
        self._connect_timeout = connect_timeout
        self._conn: AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()
        self._next_attempt = 0.0

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    async def sync(self) -> bool:
        """Deliver every change committed before this call; False when that cannot be promised."""
        async with self._lock:
            try:
                if not self.connected:
                    if time.monotonic() < self._next_attempt:
                        return False
                    await self._connect()
                assert self._conn is not None
                probe = asyncio.ensure_future(self._conn.execute("SELECT 1"))
                done, _ = await asyncio.wait({probe}, timeout=self._connect_timeout)
                if not done:
                    # A stalled link: give up on this connection now rather than wait
                    # for psycopg to cancel the probe; nothing can be promised meanwhile.
                    probe.add_done_callback(_ignore_outcome)
                    raise OSError("the change feed's database connection stopped answering")
                probe.result()
                return True
            except (psycopg.Error, OSError) as exc:
                log.warning("change feed lost its connection (%s): caches stop serving until it is back", exc)
                await self._drop()
                return False

    async def _connect(self) -> None:
        self._next_attempt = time.monotonic() + RECONNECT_INTERVAL
        conn = await AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=max(1, int(self._connect_timeout))
        )
        conn.add_notify_handler(self._deliver)
        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANGES_CHANNEL)))
        self._conn = conn
        # Changes made while nobody listened were never announced to us.
        self._on_reset()

    def _deliver(self, notify: psycopg.Notify) -> None:
        try:
            tenant, collection = json.loads(notify.payload)
        except (ValueError, TypeError):
            log.warning("ignoring malformed change notification %r", notify.payload)
            return
        self._on_change(str(tenant), str(collection))

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._on_reset()
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()

    async def close(self) -> None:
        async with self._lock:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
