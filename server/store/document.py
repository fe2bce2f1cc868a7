"""The record every front door returns: one row of the ``documents`` table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Document:
    """A stored JSON document and the metadata the table keeps beside it."""

    id: str
    collection: str
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True, slots=True)
class NewDocument:
    """A document to insert. Imports may carry their original id, timestamps and version."""

    data: dict[str, Any]
    id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int | None = None
