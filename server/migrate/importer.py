"""The import loop: source records in batches into ``documents``, rejects aside, progress as it goes.

Resuming is by id, with no checkpoint to keep: every batch inserts with
``ON CONFLICT DO NOTHING`` (see :class:`server.store.bulk.BulkLoader`), so a
rerun after an interruption re-reads the source, skips every row an earlier
run committed, and inserts the rest. A checkpoint would save re-reading, but
it could disagree with the table (a restore, a manual delete, a changed
source); the table itself cannot.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from server.migrate.progress import Progress, Silent
from server.migrate.records import Record, Reject
from server.migrate.rejects import RejectFile
from server.migrate.source import Source
from server.store.bulk import BatchOutcome, BulkLoader, OnConflict, StagedRow
from server.store.json_values import dumps

DEFAULT_BATCH = 5000


@dataclass(frozen=True, slots=True)
class ImportOptions:
    batch_size: int = DEFAULT_BATCH
    on_conflict: OnConflict = OnConflict.SKIP
    #: Rows per second at most, to spare a source or target still serving traffic; None for no limit.
    max_rate: float | None = None
    #: Import only these collections (None: all). Moving callers one at a time needs this: a
    #: catch-up import must not touch collections whose callers already write to the new server.
    only: frozenset[str] | None = None


@dataclass(slots=True)
class ImportSummary:
    dry_run: bool
    read: int = 0
    inserted: int = 0
    replaced: int = 0
    kept: int = 0
    rejected: int = 0
    #: Valid rows of collections ``only`` left out.
    unselected: int = 0
    batches: int = 0
    seconds: float = 0.0
    collections: set[str] = field(default_factory=set)

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0


def run_import(
    source: Source,
    loader: BulkLoader,
    rejects: RejectFile,
    options: ImportOptions = ImportOptions(),
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ImportSummary:
    """Import every record, one transaction per batch.

    While the database writes one batch, the next is read and checked: a single
    writer thread takes the batches in order, at most one in flight, so reading
    and writing overlap without ever reordering or interleaving transactions.
    When reading stops early (an error, Ctrl-C), the batch in flight still
    commits or rolls back whole before this returns.
    """
    if options.batch_size < 1:
        raise ValueError("the batch size must be at least 1")
    progress = progress or Silent()
    summary = ImportSummary(dry_run=loader.dry_run)
    started = clock()
    batch: list[StagedRow] = []
    in_flight: Future[BatchOutcome] | None = None

    def settle() -> None:
        nonlocal in_flight
        if in_flight is not None:
            outcome = in_flight.result()
            in_flight = None
            summary.inserted += outcome.inserted
            summary.replaced += outcome.replaced
            summary.kept += outcome.kept
            summary.batches += 1

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="migrate-writer") as writer:

        def flush() -> None:
            nonlocal in_flight
            settle()
            in_flight = writer.submit(loader.load, list(batch), options.on_conflict)
            batch.clear()
            progress.update(summary.read)
            if options.max_rate:
                ahead = summary.read / options.max_rate - (clock() - started)
                if ahead > 0:
                    time.sleep(ahead)

        for item in source:
            summary.read += 1
            if isinstance(item, Record):
                reason = _refused_by_table(item, loader)
                if reason is not None:
                    item = Reject(source.name, reason, dumps(item.data), key=_key(item))
            if isinstance(item, Reject):
                rejects.add(item)
                summary.rejected += 1
                if summary.rejected % 1000 == 0:
                    progress.update(summary.read)
                continue
            if options.only is not None and item.collection not in options.only:
                summary.unselected += 1
                continue
            summary.collections.add(item.collection)
            batch.append(staged(item))
            if len(batch) >= options.batch_size:
                flush()
        if batch:
            flush()
        settle()
    summary.seconds = clock() - started
    progress.finish(summary.read)
    return summary


def staged(record: Record) -> StagedRow:
    return (record.id, record.collection, dumps(record.data), record.created_at, record.updated_at, record.version)


def _refused_by_table(record: Record, loader: BulkLoader) -> str | None:
    """A reason the target table in particular cannot hold the record (the seed library's UUID ids)."""
    if loader.layout.id_is_uuid:
        try:
            uuid.UUID(record.id)
        except ValueError:
            return f"id {record.id!r} is not a UUID, and the target table stores UUID ids"
    return None


def _key(record: Record) -> dict[str, str]:
    return {"id": record.id, "collection": record.collection}
