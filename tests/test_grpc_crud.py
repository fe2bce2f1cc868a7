"""CRUD through the gRPC front door, pinned against a real PostgreSQL.

Every request is built with the stub compiled from the ORIGINAL contract (``client``,
``pb``); what the server stored is checked through the library (``shared_store``),
which works on the same table and the server's tenant ("default").
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from google.protobuf import any_pb2, struct_pb2, wrappers_pb2

from server.store import DocumentStore

FORBIDDEN_IN_ERRORS = ("Traceback", "psycopg", "SELECT")
MAX_NAME = 255


# -- helpers ----------------------------------------------------------------------------


def to_struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(data)
    return message


def record(pb: ModuleType, data: Mapping[str, Any], doc_id: str = "", **fields: Any) -> Any:
    return pb.Record(id=doc_id, data=to_struct(data), **fields)


def insert(client: Any, pb: ModuleType, table: str, data: Mapping[str, Any], doc_id: str = "") -> Any:
    return client.Insert(pb.InsertRequest(table_name=table, record=record(pb, data, doc_id)))


def inserted(client: Any, pb: ModuleType, table: str, data: Mapping[str, Any], doc_id: str = "") -> Any:
    """Insert that must succeed; returns the stored Record."""
    response = insert(client, pb, table, data, doc_id)
    assert response.success, response.error_message
    return response.record


def update(
    client: Any,
    pb: ModuleType,
    table: str,
    doc_id: str,
    updates: Mapping[str, Any],
    expected_version: Any = None,
) -> Any:
    request = pb.UpdateRequest(table_name=table, id=doc_id, updates=to_struct(updates))
    if expected_version is not None:
        request.context.metadata.update({"expected_version": expected_version})
    return client.Update(request)


def equals(pb: ModuleType, field: str, value: Any) -> Any:
    packed = any_pb2.Any()
    if isinstance(value, str):
        packed.Pack(wrappers_pb2.StringValue(value=value))
    elif isinstance(value, int):
        packed.Pack(wrappers_pb2.Int64Value(value=value))
    else:
        raise TypeError(value)
    return pb.QueryCriteria(equals=pb.EqualsFilter(field=field, value=packed))


def assert_error(response: Any, code: str) -> None:
    """The contract's error answer: success=false, a code word first, no internals, a duration."""
    assert not response.success
    assert response.error_message.startswith(code + ":"), response.error_message
    for leak in FORBIDDEN_IN_ERRORS:
        assert leak not in response.error_message
    assert response.execution_time_ms >= 1


def aware(stamp: Any) -> datetime:
    moment: datetime = stamp.ToDatetime(tzinfo=UTC)
    return moment


# -- Insert: ids ------------------------------------------------------------------------


def test_insert_without_id_assigns_a_new_uuid(client: Any, pb: ModuleType, collection: str) -> None:
    first = inserted(client, pb, collection, {"n": 1})
    second = inserted(client, pb, collection, {"n": 2})

    assert str(uuid.UUID(first.id)) == first.id
    assert first.id != second.id


@pytest.mark.parametrize(
    "doc_id",
    [
        "alice",
        "with inner spaces",
        "  leading and trailing  ",
        "ünïcödé 日本語 ✓",
        "😀" * MAX_NAME,
        "x" * MAX_NAME,
        "quotes \" and ' and `",
        "Robert'); DROP TABLE documents;--",
        "%s %(name)s {} \\ \\n",
        "ALICE",
        str(uuid.uuid4()).upper(),
    ],
    ids=lambda value: repr(value)[:24],
)
def test_insert_keeps_a_caller_id_exactly(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore, doc_id: str
) -> None:
    answer = inserted(client, pb, collection, {"who": "caller"}, doc_id)

    stored = shared_store.read(collection, doc_id)
    assert answer.id == doc_id
    assert stored is not None
    assert stored.id == doc_id
    assert stored.data == {"who": "caller"}


@pytest.mark.parametrize(
    "doc_id", ["x" * (MAX_NAME + 1), "😀" * (MAX_NAME + 1), "nul\x00inside"], ids=["256", "256-emoji", "nul"]
)
def test_insert_refuses_an_invalid_id(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore, doc_id: str
) -> None:
    assert_error(insert(client, pb, collection, {"a": 1}, doc_id), "INVALID_ARGUMENT")
    assert shared_store.count(collection) == 0


def test_insert_of_an_existing_id_is_already_exists_and_changes_nothing(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    original = inserted(client, pb, collection, {"value": "original"}, "dup")

    answer = insert(client, pb, collection, {"value": "intruder"}, "dup")

    assert_error(answer, "ALREADY_EXISTS")
    stored = shared_store.read(collection, "dup")
    assert stored is not None
    assert stored.data == {"value": "original"}
    assert stored.version == 1
    assert stored.updated_at == aware(original.updated_at)


def test_the_same_id_in_another_collection_is_a_different_document(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    other = collection + "-other"
    inserted(client, pb, collection, {"where": "first"}, "shared-id")
    inserted(client, pb, other, {"where": "second"}, "shared-id")

    first, second = shared_store.read(collection, "shared-id"), shared_store.read(other, "shared-id")
    assert first is not None and first.data == {"where": "first"}
    assert second is not None and second.data == {"where": "second"}


@pytest.mark.parametrize("table", ["", "t" * (MAX_NAME + 1)], ids=["empty", "256"])
def test_insert_refuses_a_bad_table_name(client: Any, pb: ModuleType, table: str) -> None:
    assert_error(insert(client, pb, table, {"a": 1}), "INVALID_ARGUMENT")


def test_a_255_character_table_name_is_accepted(client: Any, pb: ModuleType, shared_store: DocumentStore) -> None:
    table = ("é" + uuid.uuid4().hex) * 8
    table = table[:MAX_NAME]

    answer = inserted(client, pb, table, {"a": 1})

    assert shared_store.read(table, answer.id) is not None


# -- Struct numbers and refused values --------------------------------------------------


def test_integral_doubles_are_stored_as_json_integers(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    data = {
        "age": 30,
        "price": 30.5,
        "negative": -7,
        "zero": 0,
        "largest": 2**53,
        "smallest": -(2**53),
        "beyond": float(2**53 + 2),
        "nested": {"list": [1, 2.5, {"n": 3}]},
    }
    answer = inserted(client, pb, collection, data)

    stored = shared_store.read(collection, answer.id)
    assert stored is not None
    values = stored.data
    assert values["age"] == 30 and type(values["age"]) is int
    assert values["price"] == 30.5 and type(values["price"]) is float
    assert values["negative"] == -7 and type(values["negative"]) is int
    assert values["zero"] == 0 and type(values["zero"]) is int
    assert values["largest"] == 2**53 and type(values["largest"]) is int
    assert values["smallest"] == -(2**53) and type(values["smallest"]) is int
    assert values["beyond"] == float(2**53 + 2) and type(values["beyond"]) is float
    listed = values["nested"]["list"]
    assert [type(item) for item in listed] == [int, float, dict]
    assert listed == [1, 2.5, {"n": 3}] and type(listed[2]["n"]) is int


@pytest.mark.parametrize(
    "data",
    [
        {"x": math.nan},
        {"x": math.inf},
        {"x": -math.inf},
        {"deep": {"list": [1, {"x": math.nan}]}},
        {"text": "nul\x00inside"},
        {"nul\x00key": 1},
        {"deep": ["fine", "nul\x00inside"]},
    ],
    ids=["nan", "inf", "-inf", "nested-nan", "nul-string", "nul-key", "nested-nul"],
)
def test_values_jsonb_cannot_hold_are_refused_and_nothing_is_stored(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore, data: dict[str, Any]
) -> None:
    assert_error(insert(client, pb, collection, data), "INVALID_ARGUMENT")
    assert shared_store.count(collection) == 0


# -- version and timestamps -------------------------------------------------------------


def test_version_and_timestamps_are_kept_by_the_server(client: Any, pb: ModuleType, collection: str) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    created = inserted(client, pb, collection, {"a": 1})
    after = datetime.now(UTC) + timedelta(seconds=5)

    assert created.version == "1"
    assert before <= aware(created.created_at) <= after
    assert aware(created.updated_at) == aware(created.created_at)

    changed = update(client, pb, collection, created.id, {"a": 2})

    assert changed.success, changed.error_message
    assert changed.record.version == "2"
    assert aware(changed.record.created_at) == aware(created.created_at)
    assert aware(changed.record.updated_at) > aware(created.updated_at)


def test_a_created_at_given_on_insert_is_kept(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    moment = datetime(2020, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    given = record(pb, {"imported": True}, "legacy-1")
    given.created_at.FromDatetime(moment)

    answer = client.Insert(pb.InsertRequest(table_name=collection, record=given))

    assert answer.success, answer.error_message
    assert aware(answer.record.created_at) == moment
    stored = shared_store.read(collection, "legacy-1")
    assert stored is not None and stored.created_at == moment


# -- one table, two front doors ---------------------------------------------------------


def test_a_document_created_by_the_library_is_read_through_grpc(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    created = shared_store.create(collection, {"age": 30, "ratio": 0.25, "name": "Ada"}, id="lib-1")
    spec = pb.QuerySpec(table_name=collection, query_type=pb.DOCUMENT_QUERY, criteria=equals(pb, "age", 30))

    answer = client.ExecuteRawQuery(pb.ExecuteRawQueryRequest(query_spec=spec))

    assert answer.success, answer.error_message
    assert answer.count == 1
    (found,) = answer.results
    assert found.id == "lib-1"
    assert found.version == "1"
    assert aware(found.created_at) == created.created_at
    age = found.data.fields["age"]
    assert age.WhichOneof("kind") == "number_value"
    assert age.number_value == 30 and age.number_value.is_integer()
    assert found.data["ratio"] == 0.25
    assert found.data["name"] == "Ada"


def test_a_document_inserted_through_grpc_is_read_by_the_library(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    answer = inserted(client, pb, collection, {"age": 41, "tags": ["a", "b"], "profile": {"city": "Oslo"}})

    stored = shared_store.read(collection, answer.id)

    assert stored is not None
    assert stored.data == {"age": 41, "tags": ["a", "b"], "profile": {"city": "Oslo"}}
    assert type(stored.data["age"]) is int
    assert stored.version == 1
    assert stored.created_at == aware(answer.created_at)
    assert stored.updated_at == aware(answer.updated_at)


# -- InsertBatch ------------------------------------------------------------------------


def insert_batch(client: Any, pb: ModuleType, table: str, records: list[Any]) -> Any:
    return client.InsertBatch(pb.InsertBatchRequest(table_name=table, records=records))


def test_insert_batch_returns_every_record_in_request_order(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    # Given ids in descending order, mixed with generated ones: no accidental sort can pass.
    given = ["zz", "", "mm", "", "aa", "ÿ", "0"]
    records = [record(pb, {"position": index}, doc_id) for index, doc_id in enumerate(given)]

    answer = insert_batch(client, pb, collection, records)

    assert answer.success, answer.error_message
    assert answer.inserted_count == len(given)
    assert [item.data["position"] for item in answer.records] == list(range(len(given)))
    for doc_id, item in zip(given, answer.records, strict=True):
        if doc_id:
            assert item.id == doc_id
        else:
            assert str(uuid.UUID(item.id)) == item.id
        assert item.version == "1"
    assert shared_store.count(collection) == len(given)


def test_insert_batch_of_many_keeps_request_order(client: Any, pb: ModuleType, collection: str) -> None:
    ids = [f"id-{index:04d}" for index in reversed(range(300))]

    answer = insert_batch(client, pb, collection, [record(pb, {"i": i}, doc_id) for i, doc_id in enumerate(ids)])

    assert answer.success, answer.error_message
    assert [item.id for item in answer.records] == ids
    assert [item.data["i"] for item in answer.records] == list(range(300))


def test_insert_batch_is_all_or_none_when_an_id_already_exists(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    inserted(client, pb, collection, {"old": True}, "taken")
    records = [
        record(pb, {"n": 1}, "fresh-1"),
        record(pb, {"n": 2}),
        record(pb, {"n": 3}, "taken"),
        record(pb, {"n": 4}, "fresh-4"),
    ]

    answer = insert_batch(client, pb, collection, records)

    assert_error(answer, "ALREADY_EXISTS")
    assert answer.inserted_count == 0
    assert list(answer.records) == []
    assert shared_store.count(collection) == 1
    assert shared_store.read(collection, "fresh-1") is None
    taken = shared_store.read(collection, "taken")
    assert taken is not None and taken.data == {"old": True}


def test_insert_batch_with_an_id_twice_stores_nothing(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    records = [record(pb, {"n": 1}, "twin"), record(pb, {"n": 2}, "other"), record(pb, {"n": 3}, "twin")]

    answer = insert_batch(client, pb, collection, records)

    assert_error(answer, "INVALID_ARGUMENT")
    assert shared_store.count(collection) == 0


def test_insert_batch_with_one_bad_value_stores_nothing(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    records = [record(pb, {"n": 1}), record(pb, {"n": math.nan}), record(pb, {"n": 3})]

    assert_error(insert_batch(client, pb, collection, records), "INVALID_ARGUMENT")
    assert shared_store.count(collection) == 0


def test_an_empty_batch_succeeds_with_nothing_inserted(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    answer = insert_batch(client, pb, collection, [])

    assert answer.success, answer.error_message
    assert answer.inserted_count == 0
    assert list(answer.records) == []
    assert shared_store.count(collection) == 0


# -- Update -----------------------------------------------------------------------------


def test_update_merges_top_level_keys_and_returns_the_whole_record(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    original = inserted(
        client, pb, collection, {"name": "Ada", "age": 36, "profile": {"city": "London", "zip": "W1"}, "keep": True}
    )

    answer = update(client, pb, collection, original.id, {"age": 37, "profile": {"city": "Paris"}, "new": "yes"})

    expected = {"name": "Ada", "age": 37, "profile": {"city": "Paris"}, "keep": True, "new": "yes"}
    assert answer.success, answer.error_message
    assert answer.record.id == original.id
    assert answer.record.data == to_struct(expected)
    assert answer.record.version == "2"
    assert aware(answer.record.created_at) == aware(original.created_at)
    assert aware(answer.record.updated_at) > aware(original.updated_at)
    stored = shared_store.read(collection, original.id)
    assert stored is not None
    assert stored.data == expected
    assert stored.version == 2


def test_update_of_an_unknown_id_is_not_found(client: Any, pb: ModuleType, collection: str) -> None:
    inserted(client, pb, collection, {"a": 1}, "exists")

    assert_error(update(client, pb, collection, "missing", {"a": 2}), "NOT_FOUND")
    assert_error(update(client, pb, collection + "-other", "exists", {"a": 2}), "NOT_FOUND")
    assert_error(update(client, pb, collection, "missing", {"a": 2}, expected_version=1), "NOT_FOUND")


def test_update_with_a_bad_value_is_refused_and_changes_nothing(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    original = inserted(client, pb, collection, {"a": 1})

    assert_error(update(client, pb, collection, original.id, {"a": math.inf}), "INVALID_ARGUMENT")
    assert_error(update(client, pb, collection, original.id, {"a": "nul\x00"}), "INVALID_ARGUMENT")

    stored = shared_store.read(collection, original.id)
    assert stored is not None and stored.data == {"a": 1} and stored.version == 1


@pytest.mark.parametrize("expected_version", [1, "1", " 1 "], ids=["number", "string", "padded-string"])
def test_update_with_the_current_expected_version_succeeds(
    client: Any, pb: ModuleType, collection: str, expected_version: Any
) -> None:
    original = inserted(client, pb, collection, {"a": 1})

    answer = update(client, pb, collection, original.id, {"a": 2}, expected_version=expected_version)

    assert answer.success, answer.error_message
    assert answer.record.version == "2"
    assert answer.record.data["a"] == 2


@pytest.mark.parametrize("expected_version", [2, "2", 7, "99"])
def test_update_with_another_expected_version_is_a_conflict_and_changes_nothing(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore, expected_version: Any
) -> None:
    original = inserted(client, pb, collection, {"a": 1})

    assert_error(update(client, pb, collection, original.id, {"a": 2}, expected_version=expected_version), "CONFLICT")

    stored = shared_store.read(collection, original.id)
    assert stored is not None and stored.data == {"a": 1} and stored.version == 1


@pytest.mark.parametrize("expected_version", ["abc", "", "1.5", 1.5, True, "1e3", 0, -1], ids=repr)
def test_update_with_a_non_numeric_expected_version_is_invalid(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore, expected_version: Any
) -> None:
    original = inserted(client, pb, collection, {"a": 1})

    assert_error(
        update(client, pb, collection, original.id, {"a": 2}, expected_version=expected_version), "INVALID_ARGUMENT"
    )

    stored = shared_store.read(collection, original.id)
    assert stored is not None and stored.data == {"a": 1} and stored.version == 1


# -- concurrency ------------------------------------------------------------------------

THREADS = 20
UPDATES_EACH = 10


def run_together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(0..count-1)`` on ``count`` threads released at the same moment."""
    start = threading.Barrier(count)

    def task(index: int) -> Any:
        start.wait(timeout=30)
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(task, range(count)))


def test_concurrent_updates_of_different_keys_lose_no_write(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    target = inserted(client, pb, collection, {"base": True})

    def writer(thread: int) -> list[str]:
        errors = []
        for step in range(UPDATES_EACH):
            answer = update(client, pb, collection, target.id, {f"k{thread:02d}_{step}": thread * 100 + step})
            if not answer.success:
                errors.append(answer.error_message)
        return errors

    failures = [message for errors in run_together(THREADS, writer) for message in errors]

    assert failures == []
    stored = shared_store.read(collection, target.id)
    assert stored is not None
    expected_keys = {f"k{t:02d}_{s}" for t in range(THREADS) for s in range(UPDATES_EACH)} | {"base"}
    assert set(stored.data) == expected_keys
    assert stored.data["k07_3"] == 703
    assert stored.version == 1 + THREADS * UPDATES_EACH


def test_concurrent_updates_with_one_expected_version_let_exactly_one_win(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    target = inserted(client, pb, collection, {"winner": None})

    answers = run_together(
        THREADS, lambda thread: update(client, pb, collection, target.id, {"winner": thread}, expected_version=1)
    )

    winners = [index for index, answer in enumerate(answers) if answer.success]
    assert len(winners) == 1
    for index, answer in enumerate(answers):
        if index not in winners:
            assert_error(answer, "CONFLICT")
    stored = shared_store.read(collection, target.id)
    assert stored is not None
    assert stored.version == 2
    assert stored.data == {"winner": winners[0]}


# -- Delete -----------------------------------------------------------------------------


def delete(client: Any, pb: ModuleType, table: str, criteria: Any = None) -> Any:
    request = pb.DeleteRequest(table_name=table)
    if criteria is not None:
        request.criteria.CopyFrom(criteria)
    return client.Delete(request)


def test_delete_removes_every_match_and_counts_them(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    other = collection + "-other"
    for kind in ["a", "b", "a", "a", "b"]:
        inserted(client, pb, collection, {"kind": kind})
    inserted(client, pb, other, {"kind": "a"})

    answer = delete(client, pb, collection, equals(pb, "kind", "a"))

    assert answer.success, answer.error_message
    assert answer.deleted_count == 3
    assert [doc.data["kind"] for doc in shared_store.query(collection)] == ["b", "b"]
    assert shared_store.count(other) == 1


def test_delete_by_id_removes_that_document_only(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    inserted(client, pb, collection, {"n": 1}, "one")
    inserted(client, pb, collection, {"n": 2}, "two")

    answer = delete(client, pb, collection, equals(pb, "id", "one"))

    assert answer.success, answer.error_message
    assert answer.deleted_count == 1
    assert shared_store.read(collection, "one") is None
    assert shared_store.read(collection, "two") is not None


def test_delete_without_a_match_deletes_nothing(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore
) -> None:
    inserted(client, pb, collection, {"kind": "a"})

    answer = delete(client, pb, collection, equals(pb, "kind", "zzz"))

    assert answer.success, answer.error_message
    assert answer.deleted_count == 0
    assert shared_store.count(collection) == 1


@pytest.mark.parametrize("with_empty_criteria", [False, True], ids=["no-criteria", "empty-criteria"])
def test_delete_without_criteria_is_refused_and_deletes_nothing(
    client: Any, pb: ModuleType, collection: str, shared_store: DocumentStore, with_empty_criteria: bool
) -> None:
    inserted(client, pb, collection, {"a": 1})
    inserted(client, pb, collection, {"a": 2})

    answer = delete(client, pb, collection, pb.QueryCriteria() if with_empty_criteria else None)

    assert_error(answer, "INVALID_ARGUMENT")
    assert answer.deleted_count == 0
    assert shared_store.count(collection) == 2


# -- every error answer -----------------------------------------------------------------

ErrorCall = Callable[[Any, ModuleType, str], Any]


def _insert_duplicate(client: Any, pb: ModuleType, table: str) -> Any:
    inserted(client, pb, table, {"a": 1}, "dup")
    return insert(client, pb, table, {"a": 2}, "dup")


def _update_conflict(client: Any, pb: ModuleType, table: str) -> Any:
    doc = inserted(client, pb, table, {"a": 1})
    return update(client, pb, table, doc.id, {"a": 2}, expected_version=5)


ERROR_CALLS: list[tuple[str, str, ErrorCall]] = [
    ("insert-empty-table", "INVALID_ARGUMENT", lambda c, pb, t: insert(c, pb, "", {"a": 1})),
    ("insert-long-id", "INVALID_ARGUMENT", lambda c, pb, t: insert(c, pb, t, {"a": 1}, "i" * 256)),
    ("insert-nan", "INVALID_ARGUMENT", lambda c, pb, t: insert(c, pb, t, {"a": math.nan})),
    ("insert-duplicate", "ALREADY_EXISTS", _insert_duplicate),
    (
        "batch-duplicate-ids",
        "INVALID_ARGUMENT",
        lambda c, pb, t: insert_batch(c, pb, t, [record(pb, {}, "x"), record(pb, {}, "x")]),
    ),
    ("batch-bad-table", "INVALID_ARGUMENT", lambda c, pb, t: insert_batch(c, pb, "", [record(pb, {})])),
    (
        "batch-too-large",
        "INVALID_ARGUMENT",
        lambda c, pb, t: insert_batch(c, pb, t, [record(pb, {}) for _ in range(10_001)]),
    ),
    ("update-missing", "NOT_FOUND", lambda c, pb, t: update(c, pb, t, "missing", {"a": 1})),
    ("update-empty-id", "INVALID_ARGUMENT", lambda c, pb, t: update(c, pb, t, "", {"a": 1})),
    ("update-conflict", "CONFLICT", _update_conflict),
    ("update-bad-version", "INVALID_ARGUMENT", lambda c, pb, t: update(c, pb, t, "x", {"a": 1}, "abc")),
    ("delete-no-criteria", "INVALID_ARGUMENT", lambda c, pb, t: delete(c, pb, t)),
    ("delete-empty-field", "INVALID_ARGUMENT", lambda c, pb, t: delete(c, pb, t, equals(pb, "", "x"))),
    ("delete-bad-table", "INVALID_ARGUMENT", lambda c, pb, t: delete(c, pb, "", equals(pb, "a", "x"))),
]


@pytest.mark.parametrize(
    ("code", "call"), [(code, call) for _, code, call in ERROR_CALLS], ids=[n for n, _, _ in ERROR_CALLS]
)
def test_every_error_answer_has_a_code_word_no_internals_and_a_duration(
    client: Any, pb: ModuleType, collection: str, code: str, call: ErrorCall
) -> None:
    assert_error(call(client, pb, collection), code)
