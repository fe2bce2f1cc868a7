"""Deadlines that reach the database.

A caller's deadline (the gRPC call's, or one a library user sets with
:func:`deadline_after`) is kept in a context variable. Each statement then
runs with ``statement_timeout`` set to the time that remains, in its own
transaction (``set_config(..., true)``), and waits for a pooled connection no
longer than that: no database work outlives the call that asked for it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from psycopg import sql

from server.store.errors import Unavailable
from server.store.schema import TENANT_SETTING
from server.store.statements import Statement

#: How long past its deadline a call may wait for a database that does not answer at all.
CLIENT_GRACE = 0.5

#: Absolute ``time.monotonic()`` by which the current call must be done (None: no deadline).
current_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


@contextmanager
def deadline_after(seconds: float | None) -> Iterator[None]:
    """Run the block with a deadline ``seconds`` from now (None leaves it unbounded)."""
    token = current_deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        current_deadline.reset(token)


def remaining() -> float | None:
    """Seconds left before the deadline; Unavailable once it has passed."""
    deadline = current_deadline.get()
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise Unavailable("the call's deadline passed before the database was asked")
    return left


def transaction_settings(tenant: str | None, seconds: float | None) -> tuple[sql.Composed, list[Any]] | None:
    """One statement making this transaction's settings, or None when it needs none."""
    names: list[str] = []
    values: list[str] = []
    if tenant is not None:
        names.append(TENANT_SETTING)
        values.append(tenant)
    if seconds is not None:
        names.append("statement_timeout")
        values.append(str(max(1, math.ceil(seconds * 1000))))
    if not names:
        return None
    calls = sql.SQL(", ").join(sql.SQL("set_config({}, %s, true)").format(sql.Literal(name)) for name in names)
    return sql.SQL("SELECT {}").format(calls), values


def pool_wait(configured: float) -> float:
    """How long to wait for a pooled connection: the pool's timeout, or less if the deadline is nearer."""
    left = remaining()
    return configured if left is None else min(configured, left)


def with_settings(setup: tuple[sql.Composed, list[Any]], statement: Statement[Any]) -> tuple[sql.Composed, list[Any]]:
    """The settings statement and ``statement`` as one message (see ``sync_store.execute``)."""
    assert statement.query is not None
    return sql.SQL("{}; {}").format(setup[0], statement.query), [*setup[1], *statement.params]
