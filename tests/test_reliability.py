"""Retries with request ids, deadlines that reach the database, durability reporting."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import pytest
from psycopg import sql

from server.store import AsyncDocumentStore, DocumentStore, Unavailable
from server.store.deadlines import deadline_after
from server.store.statements import Statement
from tests.messages import struct


def context(pb: ModuleType, request_id: str) -> Any:
    return pb.ExecutionContext(request_id=request_id)


def test_insert_retried_with_a_request_id_applies_once(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    rid = "rid-" + uuid.uuid4().hex
    request = pb.InsertRequest(table_name=collection, record=pb.Record(data=struct({"n": 1})), context=context(pb, rid))
    first, second = client.Insert(request), client.Insert(request)
    assert first.success and second.success
    assert second.record == first.record  # the same generated id, timestamps and version
    assert shared_store.count(collection) == 1


def test_update_retried_applies_once_and_other_rpcs_cannot_reuse_the_id(
    client: Any, pb: ModuleType, collection: str
) -> None:
    doc = client.Insert(pb.InsertRequest(table_name=collection, record=pb.Record(data=struct({"n": 0})))).record
    rid = "rid-" + uuid.uuid4().hex
    update = pb.UpdateRequest(table_name=collection, id=doc.id, updates=struct({"n": 1}), context=context(pb, rid))
    assert [client.Update(update).record.version for _ in range(3)] == ["2", "2", "2"]
    reuse = pb.InsertRequest(table_name=collection, record=pb.Record(data=struct({})), context=context(pb, rid))
    answer = client.Insert(reuse)
    assert not answer.success and answer.error_message.startswith("INVALID_ARGUMENT:")


def test_a_failed_request_is_not_remembered(client: Any, pb: ModuleType, collection: str) -> None:
    client.Insert(pb.InsertRequest(table_name=collection, record=pb.Record(id="taken", data=struct({}))))
    rid = "rid-" + uuid.uuid4().hex
    request = pb.InsertRequest(table_name=collection, record=pb.Record(id="taken"), context=context(pb, rid))
    assert client.Insert(request).error_message.startswith("ALREADY_EXISTS:")
    assert client.Insert(request).error_message.startswith("ALREADY_EXISTS:")


def test_concurrent_duplicates_of_one_request_apply_once(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    rid = "rid-" + uuid.uuid4().hex
    request = pb.InsertBatchRequest(
        table_name=collection,
        records=[pb.Record(data=struct({"n": n})) for n in range(50)],
        context=context(pb, rid),
    )
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: client.InsertBatch(request), range(10)))
    succeeded = [a for a in answers if a.success]
    assert succeeded and all(a.records == succeeded[0].records for a in succeeded)
    assert all(a.success or a.error_message.startswith("CONFLICT:") for a in answers)
    assert shared_store.count(collection) == 50


SLEEP = Statement(sql.SQL("SELECT pg_sleep(5)"), (), lambda rows, _count: rows)
RUNNING_SLEEPS = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE state = 'active' AND query LIKE '%%pg_sleep(5)%%' AND pid <> pg_backend_pid()"
)


def _sleeping(store: DocumentStore) -> int:
    with store._pool.connection() as conn:
        return int(conn.execute(RUNNING_SLEEPS).fetchone()[0])  # type: ignore[index]


def test_a_deadline_cancels_the_statement_in_the_database(shared_store: DocumentStore) -> None:
    started = time.monotonic()
    with deadline_after(0.3), pytest.raises(Unavailable):
        shared_store._run(SLEEP)
    assert time.monotonic() - started < 1.3
    assert _sleeping(shared_store) == 0


def test_an_async_deadline_cancels_too(database_url: str, shared_store: DocumentStore) -> None:
    async def scenario() -> float:
        store = await AsyncDocumentStore.open(database_url)
        try:
            started = time.monotonic()
            with deadline_after(0.3), pytest.raises(Unavailable):
                await store._run(SLEEP)
            return time.monotonic() - started
        finally:
            await store.close()

    assert asyncio.run(scenario()) < 1.3
    assert _sleeping(shared_store) == 0


def test_a_passed_deadline_never_reaches_the_database(shared_store: DocumentStore) -> None:
    with deadline_after(-1), pytest.raises(Unavailable, match="deadline"):
        shared_store.read("anything", "x")


def test_durability_is_reported(client: Any, pb: ModuleType) -> None:
    configuration = client.GetPlatformInfo(pb.GetPlatformInfoRequest()).configuration
    durability = dict(configuration["durability"])
    assert set(durability) >= {"fsync", "synchronous_commit"}
