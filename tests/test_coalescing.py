"""Concurrent reads by id, and lone inserts, share statements and still each get their own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from server.store import (
    AsyncDocumentStore,
    DocumentStore,
    Equals,
    Field,
    InvalidArgument,
    NewDocument,
    Query,
    coalescing,
)
from server.store.coalescing import InsertCoalescer, ReadCoalescer
from server.store.deadlines import deadline_after, remaining
from server.store.errors import Unavailable
from server.store.statements import Statement


def slow_inserts(store: AsyncDocumentStore, delay: float, batches: list[int]) -> Callable[[Statement[Any]], Any]:
    """A runner that notes each insert statement's size and answers ``delay`` s late: calls gather meanwhile."""

    async def run(statement: Statement[Any]) -> Any:
        batches.append(len(statement.params[2]))  # the ids
        await asyncio.sleep(delay)
        return await store._run(statement)

    return run


def test_concurrent_reads_share_statements_and_each_get_their_document(
    database_url: str, shared_store: DocumentStore, collection: str
) -> None:
    shared_store.create_many(collection, [NewDocument({"n": n}, id=f"d{n}") for n in range(50)])
    shared_store.create_many(f"{collection}-b", [NewDocument({"b": n}, id=f"d{n}") for n in range(5)])
    shared_store.soft_delete(collection, Equals(Field.parse("n"), 7))

    async def scenario() -> tuple[list[Any], int]:
        store = await AsyncDocumentStore.open(database_url)
        statements = 0

        async def counted(statement: Statement[Any]) -> Any:
            nonlocal statements
            statements += 1
            await asyncio.sleep(0.01)  # a slow database: later reads gather meanwhile
            return await store._run(statement)

        coalescer = ReadCoalescer()
        asks = [(collection, f"d{n % 60}", False) for n in range(300)]  # repeats, and 10 ids that do not exist
        asks += [(collection, "d7", True), (f"{collection}-b", "d3", False), (f"{collection}-b", "d9", False)]
        try:
            found = await asyncio.gather(
                *(coalescer.read(store.statements, counted, c, doc_id, deleted) for c, doc_id, deleted in asks)
            )
        finally:
            await store.close()
        return [(d.collection, d.id, d.data) if d else None for d in found], statements

    found, statements = asyncio.run(scenario())
    expected: list[Any] = [
        (collection, f"d{n % 60}", {"n": n % 60}) if n % 60 < 50 and n % 60 != 7 else None for n in range(300)
    ]
    assert found[:300] == expected
    assert found[300][1] == "d7" and found[300][2]["n"] == 7  # include_deleted reads it
    assert found[301:] == [(f"{collection}-b", "d3", {"b": 3}), None]
    assert statements <= 10, f"{statements} statements for 303 reads"


def test_a_bad_id_fails_its_own_read_only(database_url: str, shared_store: DocumentStore, collection: str) -> None:
    shared_store.create(collection, {"ok": True}, id="good")

    async def scenario() -> list[Any]:
        store = await AsyncDocumentStore.open(database_url)
        try:
            return await asyncio.gather(
                store.read(collection, "good"),
                store.read(collection, "bad\x00id"),
                store.find(collection, Query(criteria=Equals(Field.parse("id"), "good"))),
                return_exceptions=True,
            )
        finally:
            await store.close()

    good, bad, found = asyncio.run(scenario())
    assert good.data == {"ok": True}
    assert isinstance(bad, InvalidArgument)
    assert [d.id for d in found] == ["good"]


def test_a_reader_stops_waiting_at_its_deadline(database_url: str, shared_store: DocumentStore) -> None:
    async def scenario() -> None:
        store = await AsyncDocumentStore.open(database_url)

        async def stalled(statement: Statement[Any]) -> Any:
            await asyncio.sleep(5)
            return await store._run(statement)

        try:
            with deadline_after(0.2), pytest.raises(Unavailable):
                await ReadCoalescer().read(store.statements, stalled, "c", "x", False)
        finally:
            await store.close()

    asyncio.run(scenario())


def test_concurrent_inserts_share_statements_and_each_get_their_document(
    database_url: str, shared_store: DocumentStore, collection: str
) -> None:
    async def scenario() -> tuple[list[Any], list[int]]:
        store = await AsyncDocumentStore.open(database_url)
        batches: list[int] = []

        counted = slow_inserts(store, 0.01, batches)

        coalescer = InsertCoalescer()
        news = [NewDocument({"n": n}, id=f"i{n}" if n % 2 else None) for n in range(300)]
        try:
            made = await asyncio.gather(*(coalescer.insert(store.statements, counted, collection, d) for d in news))
        finally:
            await store.close()
        return [(d.id if n % 2 else None, d.data, d.version) for n, d in enumerate(made)], batches

    made, batches = asyncio.run(scenario())
    assert made == [(f"i{n}" if n % 2 else None, {"n": n}, 1) for n in range(300)]
    assert len(batches) <= 10 and sum(batches) == 300, batches
    stored = {d.data["n"]: d.id for d in shared_store.query(collection, limit=1000)}
    assert sorted(stored) == list(range(300))
    assert all(stored[n] == f"i{n}" for n in range(1, 300, 2))


@pytest.mark.parametrize("fault", ["taken", "twice", "nan"])
def test_an_insert_that_fails_fails_alone(
    database_url: str, shared_store: DocumentStore, collection: str, fault: str
) -> None:
    """A batch is one statement: when one document breaks it, the others are inserted on their own."""
    shared_store.create(collection, {"first": True}, id="taken")
    news = [NewDocument({"n": n}, id=f"ok{n}") for n in range(4)]
    if fault == "taken":  # an id already stored: the batch's statement fails
        news[1:1] = [NewDocument({"t": 0}, id="taken")]
    elif fault == "twice":  # one id asked for twice: the batch is refused before it runs
        news[1:1] = [NewDocument({"t": 1}, id="twice"), NewDocument({"t": 2}, id="twice")]
    else:  # data no JSON document can hold: refused before it runs
        news[1:1] = [NewDocument({"t": float("nan")}, id="nan")]

    async def scenario() -> tuple[list[Any], list[int]]:
        store = await AsyncDocumentStore.open(database_url)
        coalescer = InsertCoalescer()
        batches: list[int] = []

        slow = slow_inserts(store, 0.01, batches)

        try:
            # Two in front keep the lane busy, so the documents above gather into a batch.
            front = [coalescer.insert(store.statements, slow, collection, NewDocument({"f": n})) for n in range(2)]
            asked = (coalescer.insert(store.statements, slow, collection, d) for d in news)
            found = await asyncio.gather(*front, *asked, return_exceptions=True)
            return found[2:], batches
        finally:
            await store.close()

    outcomes, batches = asyncio.run(scenario())
    answers = [(d.id, type(outcome).__name__) for d, outcome in zip(news, outcomes, strict=True)]
    expected = [(f"ok{n}", "Document") for n in range(4)]
    stored = {d.id: d.data for d in shared_store.query(collection, limit=100) if "f" not in d.data}
    if fault == "taken":
        assert answers == [expected[0], ("taken", "AlreadyExists"), *expected[1:]]
        assert max(batches) >= len(news)  # they did gather; then each went alone
    elif fault == "twice":
        assert sorted(answers) == sorted([*expected, ("twice", "AlreadyExists"), ("twice", "Document")])
        assert stored.pop("twice")["t"] in (1, 2)
    else:
        assert answers == [expected[0], ("nan", "InvalidArgument"), *expected[1:]]
    assert stored == {"taken": {"first": True}, **{f"ok{n}": {"n": n} for n in range(4)}}


def test_lone_inserts_through_the_store_are_coalesced_and_stored(
    database_url: str, shared_store: DocumentStore, collection: str
) -> None:
    async def scenario() -> list[Any]:
        store = await AsyncDocumentStore.open(database_url)
        try:
            return await asyncio.gather(*(store.create_many(collection, [{"n": n}]) for n in range(100)))
        finally:
            await store.close()

    made = asyncio.run(scenario())
    assert [d.data for (d,) in made] == [{"n": n} for n in range(100)]
    assert sorted(d.data["n"] for d in shared_store.query(collection, limit=1000)) == list(range(100))


def test_a_batch_runs_under_its_latest_deadline(database_url: str, collection: str) -> None:
    """No caller still waiting has its statement cut short; none without a deadline gets one."""

    async def scenario() -> list[float | None]:
        store = await AsyncDocumentStore.open(database_url)
        coalescer = InsertCoalescer()
        seen: list[float | None] = []

        async def slow(statement: Statement[Any]) -> Any:
            seen.append(remaining())
            await asyncio.sleep(0.05)
            return await store._run(statement)

        async def insert_within(seconds: float | None) -> Any:
            with deadline_after(seconds):
                return await coalescer.insert(store.statements, slow, collection, NewDocument({"s": seconds}))

        try:
            await insert_within(1.0)
            await asyncio.gather(insert_within(1.0), insert_within(2.0), insert_within(9.0))  # one batch
            await asyncio.gather(insert_within(1.0), insert_within(None))
        finally:
            await store.close()
        return seen

    alone, shared, unbounded = asyncio.run(scenario())
    assert alone is not None and alone <= 1.0
    assert shared is not None and 8.0 < shared <= 9.0
    assert unbounded is None


def test_an_insert_whose_caller_stopped_waiting_is_not_written(
    database_url: str, collection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller that gave up before its batch was taken leaves nothing behind."""
    monkeypatch.setattr(coalescing, "SLOW_BATCH", 5.0)  # the slow batch keeps holding its lane

    async def scenario() -> tuple[Any, Any, Any, list[int]]:
        store = await AsyncDocumentStore.open(database_url)
        coalescer = InsertCoalescer()
        batches: list[int] = []

        slow = slow_inserts(store, 1.0, batches)

        async def insert(name: str, seconds: float | None) -> Any:
            with deadline_after(seconds):
                return await coalescer.insert(store.statements, slow, collection, NewDocument({}, id=name))

        try:
            first = asyncio.ensure_future(insert("first", None))  # holds the lane 1 s; the next gives up at 0.6 s
            await asyncio.sleep(0.01)
            outcomes = await asyncio.gather(
                first, insert("gave-up", 0.1), insert("waited", None), return_exceptions=True
            )
            return (*outcomes, batches)
        finally:
            await store.close()

    first, gave_up, waited, batches = asyncio.run(scenario())
    assert (first.id, waited.id) == ("first", "waited")
    assert isinstance(gave_up, Unavailable)
    assert batches == [1, 1]
    with DocumentStore(database_url) as store:
        assert store.read(collection, "gave-up") is None


def test_a_stalled_batch_does_not_hold_its_collection(database_url: str, collection: str) -> None:
    """A statement stuck on a stalled link must not keep every later call of the collection waiting."""

    async def scenario() -> tuple[float, Any]:
        store = await AsyncDocumentStore.open(database_url)
        coalescer = InsertCoalescer()
        stalled = asyncio.Event()

        async def first_stalls(statement: Statement[Any]) -> Any:
            if not stalled.is_set():
                stalled.set()
                await asyncio.sleep(3.0)
            return await store._run(statement)

        try:
            stuck = asyncio.ensure_future(
                coalescer.insert(store.statements, first_stalls, collection, NewDocument({}, id="stuck"))
            )
            await stalled.wait()
            started = asyncio.get_running_loop().time()
            later = await coalescer.insert(store.statements, first_stalls, collection, NewDocument({}, id="later"))
            waited = asyncio.get_running_loop().time() - started
            await stuck
            return waited, later
        finally:
            await store.close()

    waited, later = asyncio.run(scenario())
    assert later.id == "later"
    assert waited < 1.5, waited  # SLOW_BATCH (0.5 s) and some slack; the stuck one takes 3 s
