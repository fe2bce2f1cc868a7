"""What import and verify need from a source, whichever kind it is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from server.migrate.records import Record, Reject


class Source(Protocol):
    #: How reports and reject lines name the source (a table or file names).
    name: str

    def count(self) -> int | None:
        """Rows the source holds, for progress and ETA; None when unknown without reading it."""

    def __iter__(self) -> Iterator[Record | Reject]:
        """Every row, as a valid record or a reject; a fresh pass on every call."""
