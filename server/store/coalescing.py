"""Concurrent reads by id, and concurrent single inserts, share statements.

Under load, many calls each read or insert one document. Each statement costs
the client far more than the database: encoding, a round trip, a pooled
connection, waking up for the answer; and each insert is a commit of its own.
So a call that finds ``MAX_IN_FLIGHT`` statements of its kind already under
way for its collection waits for one of them to finish, and the calls that
gathered meanwhile go together in one statement: reads as ``id = ANY(...)``
(the primary key), inserts as one multi-row insert (one commit). A call that
finds the way free goes at once: nothing waits at low load.

A batch runs after every call in it was made, so a read still sees every write
that committed before it was asked for. It runs under the latest of its
callers' deadlines (none if one has none): no caller still waiting has its
statement cut short, and no database work outlives every call that asked for
it. Each caller stops waiting at its own deadline; an insert whose caller
stopped waiting may still commit with the batch, as a single insert whose
answer is lost may have.

An insert batch is one statement, so it commits whole or not at all. When it
fails for a reason that belongs to one of its documents (an id that exists,
bad data), nothing was written, and each document is inserted again on its
own, one after another, so only its own caller sees the error.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from server.store.criteria import Equals, Query
from server.store.deadlines import CLIENT_GRACE, current_deadline, remaining
from server.store.document import Document, NewDocument
from server.store.errors import AlreadyExists, InvalidArgument, Unavailable
from server.store.statements import Statement, Statements, check_name

T = TypeVar("T")
Item = TypeVar("Item")
Result = TypeVar("Result")
Runner = Callable[[Statement[T]], Awaitable[T]]
#: Runs one batch: a result, or the exception its caller gets, per item, in order.
BatchRunner = Callable[[list[Item]], Awaitable[list[Result | Exception]]]

#: Statements of one lane (a tenant's collection) under way at once; further calls gather.
#: One gathered more and served more calls per second than two at 32 in flight (bench/changes.md).
MAX_IN_FLIGHT = 1
#: A batch still under way after this many seconds (a stalled link, a lock) stops holding its lane,
#: so later calls of the collection go on without it; far longer than any healthy statement here.
SLOW_BATCH = 0.5
#: Calls one statement serves at most (inserts: no more than ``Limits.max_batch`` either).
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
class _Lane(Generic[Item, Result]):
    """The calls of one lane: waiting (with their deadlines), and how many statements are under way."""

    most: int
    waiting: list[tuple[Item, asyncio.Future[Result], float | None]] = field(default_factory=list)
    in_flight: int = 0


@dataclass
class _Flight:
    """One batch under way; ``holds`` while it counts in its lane's ``in_flight``."""

    holds: bool = True


class _Coalescer(Generic[Item, Result]):
    """Gathers the calls of a lane that arrive while it is busy into the lane's next batch."""

    def __init__(self) -> None:
        self._lanes: dict[Hashable, _Lane[Item, Result]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def _call(
        self, key: Hashable, item: Item, run_batch: BatchRunner[Item, Result], most: int = MAX_BATCH
    ) -> Result:
        """``item``'s result, from a batch of at most ``most`` calls of lane ``key``."""
        left = remaining()  # refuses a call whose deadline has passed, as a statement would
        lane = self._lanes.setdefault(key, _Lane(most))
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        lane.waiting.append((item, answer, current_deadline.get()))
        if lane.in_flight < MAX_IN_FLIGHT:
            self._launch(key, lane, run_batch)
        try:
            async with asyncio.timeout(None if left is None else left + CLIENT_GRACE):
                return await answer
        except TimeoutError:
            raise Unavailable("the database did not answer in time") from None

    def _launch(self, key: Hashable, lane: _Lane[Item, Result], run_batch: BatchRunner[Item, Result]) -> None:
        lane.in_flight += 1
        flight = _Flight()
        loop = asyncio.get_running_loop()
        # A context of its own: the batch belongs to no one caller.
        task = loop.create_task(self._settle(key, lane, run_batch, flight), context=contextvars.Context())
        overdue = loop.call_later(SLOW_BATCH, self._release, key, lane, run_batch, flight)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: overdue.cancel())

    def _release(
        self, key: Hashable, lane: _Lane[Item, Result], run_batch: BatchRunner[Item, Result], flight: _Flight
    ) -> None:
        """``flight`` no longer holds its lane: launch the next batch if calls wait for one."""
        if flight.holds:
            flight.holds = False
            lane.in_flight -= 1
        if lane.waiting and lane.in_flight < MAX_IN_FLIGHT:
            self._launch(key, lane, run_batch)
        elif lane.in_flight == 0 and not lane.waiting and self._lanes.get(key) is lane:
            del self._lanes[key]

    async def _settle(
        self, key: Hashable, lane: _Lane[Item, Result], run_batch: BatchRunner[Item, Result], flight: _Flight
    ) -> None:
        # The batch is taken when the task first runs, so calls made since its launch join it. Calls
        # whose callers stopped waiting (deadline, cancellation) are dropped: nothing is done for them.
        waiting = [entry for entry in lane.waiting if not entry[1].done()]
        taken, lane.waiting = waiting[: lane.most], waiting[lane.most :]
        batch = [(item, future) for item, future, _ in taken]
        deadlines = [deadline for _, _, deadline in taken if deadline is not None]
        current_deadline.set(max(deadlines) if len(deadlines) == len(taken) else None)  # this task's context
        try:
            try:
                outcomes = await run_batch([item for item, _ in batch]) if batch else []
            except Exception as exc:  # every caller of the batch gets the failure
                outcomes = [exc] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its caller stopped waiting
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
        except BaseException:  # cancelled (shutdown), or a bug: no caller is left waiting
            for _, future in batch:
                if not future.done():
                    future.cancel()
            raise
        finally:
            self._release(key, lane, run_batch, flight)


class ReadCoalescer(_Coalescer[str, Document | None]):
    """Gathers concurrent reads by id into shared statements (one per event loop's store)."""

    async def read(
        self, statements: Statements, run: Runner[dict[str, Document]], collection: str, doc_id: str, deleted: bool
    ) -> Document | None:
        # The checks a read alone makes, before joining a batch: a bad name fails this call only.
        check_name(collection, "collection")
        if statements.key_id(doc_id) is None:
            return None  # cannot exist in this table (a non-UUID id where ids are UUIDs)

        async def read_batch(ids: list[str]) -> list[Document | Exception | None]:
            found = await run(statements.read_many(collection, list(dict.fromkeys(ids)), deleted))
            return [found.get(doc_id) for doc_id in ids]

        return await self._call((statements.tenant, collection, deleted), doc_id, read_batch)


class InsertCoalescer(_Coalescer[NewDocument, Document]):
    """Gathers concurrent single inserts into multi-row inserts: one statement, one commit."""

    async def insert(
        self, statements: Statements, run: Runner[list[Document]], collection: str, doc: NewDocument
    ) -> Document:
        check_name(collection, "collection")

        async def one(new: NewDocument) -> Document:
            (document,) = await run(statements.insert(collection, [new]))
            return document

        async def insert_batch(docs: list[NewDocument]) -> list[Document | Exception]:
            if len(docs) == 1:
                return [await one(docs[0])]  # a failure is its one caller's
            try:
                return list(await run(statements.insert(collection, docs)))
            except (AlreadyExists, InvalidArgument):
                pass  # one document's fault, and nothing was written: each goes on its own, in turn
            outcomes: list[Document | Exception] = []
            for new in docs:
                try:
                    outcomes.append(await one(new))
                except Exception as exc:
                    outcomes.append(exc)
            return outcomes

        most = min(MAX_BATCH, statements.limits.max_batch)
        return await self._call((statements.tenant, collection), doc, insert_batch, most)
