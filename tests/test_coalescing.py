"""Concurrent reads by id share statements and still each get their own answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.store import AsyncDocumentStore, DocumentStore, Equals, Field, InvalidArgument, NewDocument, Query
from server.store.coalescing import ReadCoalescer
from server.store.deadlines import deadline_after
from server.store.errors import Unavailable
from server.store.statements import Statement


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
