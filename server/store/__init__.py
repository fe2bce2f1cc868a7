"""The document store: JSON documents in collections, in one PostgreSQL table.

This package is both the core of the gRPC server and the library services
import directly once they leave gRPC::

    from server.store import get_document_store

    store = get_document_store()            # reads POSTGRES_CONNECTION_STRING
    doc = store.create("users", {"name": "Alice"})
    store.update("users", doc.id, {"status": "active"})
    active = store.query("users", {"status": "active"})

Both front doors read and write the very same rows.
"""

from __future__ import annotations

import os

from server.store.async_store import AsyncDocumentStore
from server.store.criteria import (
    And,
    Compare,
    Criteria,
    Equals,
    Field,
    In,
    MatchAll,
    Or,
    OrderBy,
    Query,
    TextSearch,
    range_of,
)
from server.store.document import Document, NewDocument
from server.store.errors import (
    AlreadyExists,
    Conflict,
    InvalidArgument,
    NotFound,
    StoreError,
    Unavailable,
    Unimplemented,
)
from server.store.pool_settings import PoolSettings
from server.store.statements import Limits
from server.store.sync_store import DocumentStore

#: The environment variable the seed library read its connection string from.
CONNECTION_ENV = "POSTGRES_CONNECTION_STRING"


def get_document_store(conninfo: str | None = None, *, tenant: str = "default") -> DocumentStore:
    """A store on ``conninfo`` or, like the seed library, on $POSTGRES_CONNECTION_STRING."""
    if conninfo is None:
        conninfo = os.environ.get(CONNECTION_ENV)
    if not conninfo:
        raise InvalidArgument(f"no database: pass a connection string or set {CONNECTION_ENV}")
    return DocumentStore(conninfo, tenant=tenant)


__all__ = [
    "AlreadyExists",
    "And",
    "AsyncDocumentStore",
    "Compare",
    "Conflict",
    "Criteria",
    "Document",
    "DocumentStore",
    "Equals",
    "Field",
    "In",
    "InvalidArgument",
    "Limits",
    "MatchAll",
    "NewDocument",
    "NotFound",
    "Or",
    "OrderBy",
    "PoolSettings",
    "Query",
    "StoreError",
    "TextSearch",
    "Unavailable",
    "Unimplemented",
    "get_document_store",
    "range_of",
]
