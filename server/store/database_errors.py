"""Translation of psycopg's exceptions into the store's error hierarchy.

The caller learns what kind of failure it met and whether retrying can help;
the driver's own text (SQL, internal names) stays in the chained exception for
the logs.
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pg
from psycopg_pool import PoolTimeout

from server.store.errors import AlreadyExists, InvalidArgument, StoreError, Unavailable


def translate(exc: BaseException) -> StoreError | None:
    """The StoreError for a database failure, or None when it is not one."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, pg.UniqueViolation):
        return AlreadyExists(_duplicate_message(exc))
    if isinstance(exc, pg.QueryCanceled):
        return Unavailable("the database did not answer in time (statement cancelled)")
    if isinstance(exc, PoolTimeout):
        return Unavailable("no database connection became free in time")
    if isinstance(exc, pg.UndefinedObject):
        return InvalidArgument("unknown name: " + _primary(exc))
    if isinstance(exc, (pg.DataError, pg.ProgramLimitExceeded, pg.CheckViolation)):
        return InvalidArgument("the database refused a value: " + _primary(exc))
    if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return Unavailable("the database is not reachable")
    if isinstance(exc, psycopg.Error):
        return StoreError("the database failed to run the request")
    return None


def _primary(exc: psycopg.Error) -> str:
    return exc.diag.message_primary or type(exc).__name__


def _duplicate_message(exc: psycopg.Error) -> str:
    # PostgreSQL's detail lists the key values unquoted and comma-separated, which
    # cannot be split reliably when ids contain ", ": name no id rather than a wrong one.
    return "a document with that id already exists in the collection"
