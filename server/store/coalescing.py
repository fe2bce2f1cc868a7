"""Concurrent reads by id share one statement.

Under load, many calls each read one document by its id. Each statement
costs the client far more than the database: encoding, a round trip, a
pooled connection, waking up for the answer. So a read of a collection that
finds ``MAX_IN_FLIGHT`` reads of it already under way waits for one of them
to finish, and the reads that gathered meanwhile go together in one
statement (``id = ANY(...)``, the primary key). A read that finds the way
free goes at once: nothing waits at low load.

A batch runs after every read in it was asked for, so each still sees every
write that committed before it; it runs outside the callers' deadlines (each
caller stops waiting at its own), bounded by the session's statement timeout.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from server.store.criteria import Equals, Query
from server.store.deadlines import CLIENT_GRACE, remaining
from server.store.document import Document
from server.store.errors import Unavailable
from server.store.statements import Statement, Statements, check_name

T = TypeVar("T")
Runner = Callable[[Statement[T]], Awaitable[T]]

#: Statements of one collection's reads under way at once; further reads gather.
MAX_IN_FLIGHT = 2
#: Ids one statement reads at most.
MAX_BATCH = 256


def looked_up_id(query: Query) -> str | None:
    """The id a query reads, when it is exactly a read by id (a point lookup); else None."""
    criteria = query.criteria
    if not isinstance(criteria, Equals) or criteria.field.column != "id" or not isinstance(criteria.value, str):
        return None
    if query.projections or query.offset:
        return None
    return criteria.value


@dataclass
class _Lane:
    """The reads of one (tenant, collection, include_deleted): waiting, and statements under way."""

    waiting: dict[str, list[asyncio.Future[Document | None]]] = field(default_factory=dict)
    in_flight: int = 0


class ReadCoalescer:
    """Gathers concurrent reads by id into shared statements (one per event loop's store)."""

    def __init__(self) -> None:
        self._lanes: dict[tuple[str, str, bool], _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def read(
        self, statements: Statements, run: Runner[dict[str, Document]], collection: str, doc_id: str, deleted: bool
    ) -> Document | None:
        # The checks a read alone makes, before joining a batch: a bad name fails this call only.
        check_name(collection, "collection")
        if statements.key_id(doc_id) is None:
            return None  # cannot exist in this table (a non-UUID id where ids are UUIDs)
        left = remaining()  # refuses a call whose deadline has passed, as a statement would
        key = (statements.tenant, collection, deleted)
        lane = self._lanes.setdefault(key, _Lane())
        answer: asyncio.Future[Document | None] = asyncio.get_running_loop().create_future()
        lane.waiting.setdefault(doc_id, []).append(answer)
        if lane.in_flight < MAX_IN_FLIGHT:
            self._launch(key, lane, statements, run)
        try:
            async with asyncio.timeout(None if left is None else left + CLIENT_GRACE):
                return await answer
        except TimeoutError:
            raise Unavailable("the database did not answer in time") from None

    def _launch(
        self, key: tuple[str, str, bool], lane: _Lane, statements: Statements, run: Runner[dict[str, Document]]
    ) -> None:
        ids = list(lane.waiting)[:MAX_BATCH]
        answers = {doc_id: lane.waiting.pop(doc_id) for doc_id in ids}
        lane.in_flight += 1
        # A fresh context: the batch belongs to no caller, so no caller's deadline cuts it short.
        task = asyncio.get_running_loop().create_task(
            self._fetch(key, lane, statements, run, answers), context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(
        self,
        key: tuple[str, str, bool],
        lane: _Lane,
        statements: Statements,
        run: Runner[dict[str, Document]],
        answers: dict[str, list[asyncio.Future[Document | None]]],
    ) -> None:
        collection, deleted = key[1], key[2]
        try:
            found = await run(statements.read_many(collection, list(answers), deleted))
        except Exception as exc:  # every reader of the batch gets the failure
            for futures in answers.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
        else:
            for doc_id, futures in answers.items():
                for future in futures:
                    if not future.done():
                        future.set_result(found.get(doc_id))
        finally:
            lane.in_flight -= 1
            if lane.waiting:
                self._launch(key, lane, statements, run)
            elif lane.in_flight == 0:
                self._lanes.pop(key, None)
