"""Named queries and operations: the legacy file as it is, the explicit form, and the cache.

Everything goes through clients compiled from the original contract, against
servers started with ``--config``, on the real database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, struct_pb2

from tests.conftest import ORIGINAL_CONTRACT, ROOT, ServerProcess, checked
from tests.messages import struct

LEGACY_FILE = ORIGINAL_CONTRACT.parent / "legacy-persistence-platform.yaml"

EXPLICIT = """
queries:
  items_by_owner:
    collection: {items}
    parameters:
      owner: string
      min_size: {{type: number, required: false}}
      limit: {{type: integer, default: 10}}
    criteria:
      and:
        - equals: {{field: owner, value: $owner}}
        - range: {{field: size, min: $min_size}}
    order_by: [-size]
    limit: $limit
    projections: [size, owner]
    cache_ttl: 1s
  items_count:
    collection: {items}
    count: true
    cache_strategy: none
  items_cached_long:
    collection: {items}
    parameters: {{owner: string}}
    criteria: {{equals: {{field: owner, value: $owner}}}}
    cache_ttl: 1h
operations:
  three_steps:
    parameters: {{first: string, second: string, third: string}}
    steps:
      - insert: {{collection: {items}, id: $first, data: {{owner: ops, size: 1}}}}
      - insert: {{collection: {items}, id: $second, data: {{owner: ops, size: 2}}}}
      - insert: {{collection: {items}, id: $third, data: {{owner: ops, size: 3}}}}
  resize:
    parameters: {{id: string, size: number}}
    steps:
      - update: {{collection: {items}, id: $id, updates: {{size: $size}}}}
"""


# -- helpers ----------------------------------------------------------------------


def stub(address: str, contract: tuple[ModuleType, ModuleType]) -> Any:
    return contract[1].PersistencePlatformServiceStub(checked(grpc.insecure_channel(address)))


def query(client: Any, pb: ModuleType, name: str, **parameters: Any) -> Any:
    return client.ExecuteQuery(pb.ExecuteQueryRequest(query_name=name, parameters=struct(parameters)))


def ok_query(client: Any, pb: ModuleType, name: str, **parameters: Any) -> Any:
    answer = query(client, pb, name, **parameters)
    assert answer.success, answer.error_message
    assert answer.count == len(answer.results)
    return answer


def operation(client: Any, pb: ModuleType, name: str, **parameters: Any) -> Any:
    return client.ExecuteOperation(pb.ExecuteOperationRequest(operation_name=name, parameters=struct(parameters)))


def ok_operation(client: Any, pb: ModuleType, name: str, **parameters: Any) -> Any:
    answer = operation(client, pb, name, **parameters)
    assert answer.success, answer.error_message
    return answer


def insert(client: Any, pb: ModuleType, table: str, data: Mapping[str, Any], doc_id: str = "") -> Any:
    answer = client.Insert(pb.InsertRequest(table_name=table, record=pb.Record(id=doc_id, data=struct(data))))
    assert answer.success, answer.error_message
    return answer.record


def update(client: Any, pb: ModuleType, table: str, doc_id: str, updates: Mapping[str, Any]) -> Any:
    answer = client.Update(pb.UpdateRequest(table_name=table, id=doc_id, updates=struct(updates)))
    assert answer.success, answer.error_message
    return answer.record


def datas(answer: Any) -> list[dict[str, Any]]:
    return [json_format.MessageToDict(result.data) for result in answer.results]


def refused(answer: Any, code: str, *words: str) -> None:
    assert not answer.success
    assert answer.error_message.startswith(code + ":"), answer.error_message
    for word in words:
        assert word in answer.error_message


# -- servers --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def legacy_server(database_url: str) -> Iterator[ServerProcess]:
    running = ServerProcess(database_url, "--config", str(LEGACY_FILE))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def legacy(legacy_server: ServerProcess, contract: tuple[ModuleType, ModuleType]) -> Any:
    return stub(legacy_server.address, contract)


@pytest.fixture(scope="module")
def items() -> str:
    return "items-" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def explicit_file(tmp_path_factory: pytest.TempPathFactory, items: str) -> Path:
    path = tmp_path_factory.mktemp("named") / "named.yaml"
    path.write_text(EXPLICIT.format(items=items))
    return path


@pytest.fixture(scope="module")
def explicit_servers(database_url: str, explicit_file: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two server processes on one database, with the same definitions."""
    first = ServerProcess(database_url, "--config", str(explicit_file))
    second = ServerProcess(database_url, "--config", str(explicit_file))
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture(scope="module")
def explicit(explicit_servers: tuple[ServerProcess, ServerProcess], contract: tuple[ModuleType, ModuleType]) -> Any:
    return stub(explicit_servers[0].address, contract)


@pytest.fixture(scope="module")
def replica(explicit_servers: tuple[ServerProcess, ServerProcess], contract: tuple[ModuleType, ModuleType]) -> Any:
    return stub(explicit_servers[1].address, contract)


# -- the legacy file ----------------------------------------------------------------------


def test_legacy_file_loads_and_lists_what_cannot_run_once(legacy_server: ServerProcess) -> None:
    log = legacy_server.log.read_text()
    assert "answer UNIMPLEMENTED" in log
    for name in ("hybrid_search", "faceted_search", "user_metrics_daily", "get_personalized_recommendations"):
        assert log.count(f"  {name} (") == 1, name


def test_point_lookup_caches_and_a_write_invalidates(legacy: Any, pb: ModuleType) -> None:
    user_id = str(uuid.uuid4())
    insert(legacy, pb, "users", {"email": "a@example.com", "profile": {"name": "A"}}, user_id)
    first = ok_query(legacy, pb, "get_user_by_id", user_id=user_id)
    assert [r.id for r in first.results] == [user_id] and not first.from_cache
    second = ok_query(legacy, pb, "get_user_by_id", user_id=user_id)
    assert second.from_cache and datas(second) == datas(first)
    update(legacy, pb, "users", user_id, {"email": "b@example.com"})
    third = ok_query(legacy, pb, "get_user_by_id", user_id=user_id)
    assert not third.from_cache and datas(third)[0]["email"] == "b@example.com"


def test_cache_strategy_none_never_caches(legacy: Any, pb: ModuleType) -> None:
    user_id = str(uuid.uuid4())
    insert(legacy, pb, "users", {"financial_data": {"iban": "X"}}, user_id)
    for _ in range(3):
        assert not ok_query(legacy, pb, "get_user_financial_data", user_id=user_id).from_cache


def test_document_query_pages_with_limit_and_skip(legacy: Any, pb: ModuleType) -> None:
    author = "author-" + uuid.uuid4().hex
    for n in range(5):
        insert(legacy, pb, "content_items", {"author_id": author, "title": f"t{n}"})
    assert ok_query(legacy, pb, "find_content_by_author", author_id=author).count == 5
    page = ok_query(legacy, pb, "find_content_by_author", author_id=author, limit=2, skip=2)
    assert [d["title"] for d in datas(page)] == ["t2", "t3"]


def test_create_user_complete_then_session_lookups(legacy: Any, pb: ModuleType) -> None:
    user_id, session_id = str(uuid.uuid4()), "s-" + uuid.uuid4().hex
    answer = ok_operation(
        legacy,
        pb,
        "create_user_complete",
        users={"id": user_id, "email": "c@example.com"},
        user_sessions={"session_id": session_id, "user_id": user_id},
    )
    assert list(answer.affected_tables) == ["users", "user_sessions"]
    result = struct_pb2.Struct()
    assert answer.result.Unpack(result)
    steps = json_format.MessageToDict(result)
    assert steps["step_1"] == {"operation": "insert", "collection": "users", "id": user_id, "version": 1}
    assert steps["step_2"]["id"] == session_id
    assert steps["step_3"]["operation"] == "noop" and "create_graph_node" in steps["step_3"]["note"]
    assert [r.id for r in ok_query(legacy, pb, "get_user_session", session_id=session_id).results] == [session_id]
    assert [r.id for r in ok_query(legacy, pb, "get_user_sessions", user_id=user_id).results] == [session_id]


def test_a_failing_step_leaves_nothing_of_the_earlier_ones(legacy: Any, pb: ModuleType) -> None:
    taken = "s-" + uuid.uuid4().hex
    insert(legacy, pb, "user_sessions", {"session_id": taken}, taken)
    user_id = str(uuid.uuid4())
    answer = operation(legacy, pb, "create_user_complete", users={"id": user_id}, user_sessions={"session_id": taken})
    refused(answer, "ALREADY_EXISTS")
    assert ok_query(legacy, pb, "get_user_by_id", user_id=user_id).count == 0


def test_full_text_search_with_filters(legacy: Any, pb: ModuleType) -> None:
    word = "zq" + uuid.uuid4().hex[:8]
    insert(legacy, pb, "content_search", {"title": f"Hello {word}", "content": "first", "lang": "en"})
    insert(legacy, pb, "content_search", {"title": "Other", "content": f"{word} again", "lang": "fr"})
    assert ok_query(legacy, pb, "search_content", query=word).count == 2
    only_fr = ok_query(legacy, pb, "search_content", query=word, filters={"lang": "fr"})
    assert [d["lang"] for d in datas(only_fr)] == ["fr"]
    assert ok_query(legacy, pb, "search_content", query=f"{word} hello").count == 1
    assert ok_query(legacy, pb, "search_content", query=word, limit=1, offset=1).count == 1


def test_range_scan_and_latest_events_use_the_table_keys(legacy: Any, pb: ModuleType) -> None:
    user_id = str(uuid.uuid4())
    for day in (1, 2, 3, 4):
        ok_operation(
            legacy,
            pb,
            "record_user_event",
            user_id=user_id,
            event_time=f"2024-01-0{day}T12:00:00Z",
            event_type="login",
            event_data={"day": day},
        )
    window = ok_query(
        legacy,
        pb,
        "get_user_activity",
        user_id=user_id,
        start_time="2024-01-02T00:00:00Z",
        end_time="2024-01-03T23:00:00Z",
    )
    assert [d["event_data"]["day"] for d in datas(window)] == [2, 3]
    latest = ok_query(legacy, pb, "get_recent_events", user_id=user_id, limit=3)
    assert [d["event_data"]["day"] for d in datas(latest)] == [4, 3, 2]
    refused(operation(legacy, pb, "record_user_event", user_id=user_id, colour="red"), "INVALID_ARGUMENT", "colour")


def test_update_user_profile_and_delete_user(legacy: Any, pb: ModuleType) -> None:
    user_id = str(uuid.uuid4())
    insert(legacy, pb, "users", {"email": "d@example.com"}, user_id)
    insert(legacy, pb, "user_events", {"user_id": user_id, "event_time": "2024-01-01T00:00:00Z"})
    friend = str(uuid.uuid4())
    edge = insert(legacy, pb, "user_relationships.edges", {"source_id": friend, "target_id": user_id})
    updated = ok_operation(legacy, pb, "update_user_profile", id=user_id, updates={"profile": {"bio": "hi"}})
    assert list(updated.affected_tables) == ["users"]
    refused(operation(legacy, pb, "update_user_profile", id=user_id, updates={"x": 1}, expected_version=1), "CONFLICT")
    ok_operation(legacy, pb, "delete_user", id=user_id)
    assert ok_query(legacy, pb, "get_user_by_id", user_id=user_id).count == 0
    assert ok_query(legacy, pb, "get_recent_events", user_id=user_id).count == 0  # anonymized
    gone = legacy.ExecuteRawQuery(
        pb.ExecuteRawQueryRequest(query_spec=pb.QuerySpec(table_name="user_relationships.edges"))
    )
    assert edge.id not in [r.id for r in gone.results]


@pytest.mark.parametrize(
    ("name", "parameters", "code", "word"),
    [
        ("hybrid_search", {}, "UNIMPLEMENTED", "hybrid_search"),
        ("semantic_search", {"query_vector": [0.1]}, "INVALID_ARGUMENT", "768"),
        ("find_user_connections", {}, "UNIMPLEMENTED", "GraphTraverse"),
        ("no_such_query", {}, "NOT_FOUND", "no_such_query"),
        ("get_user_by_id", {}, "INVALID_ARGUMENT", "user_id"),
        ("get_user_by_id", {"user_id": "x", "extra": 1}, "INVALID_ARGUMENT", "extra"),
        ("find_content_by_author", {"author_id": "a", "limit": "ten"}, "INVALID_ARGUMENT", "limit"),
    ],
)
def test_bad_calls_answer_documented_errors(
    legacy: Any, pb: ModuleType, name: str, parameters: dict[str, Any], code: str, word: str
) -> None:
    refused(query(legacy, pb, name, **parameters), code, word)


def test_unsupported_operations_answer_unimplemented(legacy: Any, pb: ModuleType) -> None:
    refused(operation(legacy, pb, "get_personalized_recommendations"), "UNIMPLEMENTED", "ml_pipeline")
    refused(operation(legacy, pb, "create_content_with_embedding"), "UNIMPLEMENTED", "generate_embedding")


# -- the explicit form and the cache -----------------------------------------------------


def test_explicit_query_with_optional_filters_order_and_projection(explicit: Any, pb: ModuleType, items: str) -> None:
    owner = "o-" + uuid.uuid4().hex
    for size in (5, 1, 9, 3):
        insert(explicit, pb, items, {"owner": owner, "size": size, "secret": True})
    all_sizes = ok_query(explicit, pb, "items_by_owner", owner=owner)
    assert datas(all_sizes) == [{"size": s, "owner": owner} for s in (9, 5, 3, 1)]
    big = ok_query(explicit, pb, "items_by_owner", owner=owner, min_size=4, limit=1)
    assert datas(big) == [{"size": 9, "owner": owner}]
    refused(query(explicit, pb, "items_by_owner", owner=7), "INVALID_ARGUMENT", "owner")


def test_cache_ttl_expires(explicit: Any, pb: ModuleType) -> None:
    owner = "ttl-" + uuid.uuid4().hex
    assert not ok_query(explicit, pb, "items_by_owner", owner=owner).from_cache
    assert ok_query(explicit, pb, "items_by_owner", owner=owner).from_cache
    time.sleep(1.2)
    assert not ok_query(explicit, pb, "items_by_owner", owner=owner).from_cache


def test_count_query_uncached(explicit: Any, pb: ModuleType, items: str) -> None:
    before = datas(ok_query(explicit, pb, "items_count"))[0]["count"]
    insert(explicit, pb, items, {"owner": "counted"})
    answer = ok_query(explicit, pb, "items_count")
    assert datas(answer)[0]["count"] == before + 1 and not answer.from_cache


def test_three_step_operation_is_all_or_nothing(explicit: Any, pb: ModuleType, items: str) -> None:
    taken = "taken-" + uuid.uuid4().hex
    insert(explicit, pb, items, {"owner": "x"}, taken)
    first, second = "a-" + uuid.uuid4().hex, "b-" + uuid.uuid4().hex
    refused(operation(explicit, pb, "three_steps", first=first, second=second, third=taken), "ALREADY_EXISTS")
    spec = pb.QuerySpec(table_name=items, criteria=pb.QueryCriteria())
    ids = [r.id for r in explicit.ExecuteRawQuery(pb.ExecuteRawQueryRequest(query_spec=spec)).results]
    assert first not in ids and second not in ids


@pytest.mark.parametrize("write", ["insert", "update", "delete", "operation"])
def test_every_write_kind_invalidates_on_every_replica(
    explicit: Any, replica: Any, pb: ModuleType, items: str, write: str
) -> None:
    owner = "inv-" + uuid.uuid4().hex
    doc = insert(explicit, pb, items, {"owner": owner, "size": 1})
    for client in (explicit, replica):
        ok_query(client, pb, "items_cached_long", owner=owner)
        assert ok_query(client, pb, "items_cached_long", owner=owner).from_cache
    if write == "insert":
        insert(explicit, pb, items, {"owner": owner, "size": 2})
        expected = [1, 2]
    elif write == "update":
        update(explicit, pb, items, doc.id, {"size": 5})
        expected = [5]
    elif write == "delete":
        criteria = pb.QueryCriteria(equals=pb.EqualsFilter(field="id", value=_string_any(doc.id)))
        assert explicit.Delete(pb.DeleteRequest(table_name=items, criteria=criteria)).deleted_count == 1
        expected = []
    else:
        ok_operation(explicit, pb, "resize", id=doc.id, size=7)
        expected = [7]
    for client in (replica, explicit):
        answer = ok_query(client, pb, "items_cached_long", owner=owner)
        assert not answer.from_cache
        assert sorted(d["size"] for d in datas(answer)) == expected


def test_replica_never_answers_stale(explicit: Any, replica: Any, pb: ModuleType, items: str) -> None:
    owner = "stale-" + uuid.uuid4().hex
    doc = insert(explicit, pb, items, {"owner": owner, "size": 0})
    for size in range(1, 31):
        ok_query(replica, pb, "items_cached_long", owner=owner)  # warm the replica's cache
        update(explicit, pb, items, doc.id, {"size": size})
        assert [d["size"] for d in datas(ok_query(replica, pb, "items_cached_long", owner=owner))] == [size]


def test_cache_counts_in_metrics(explicit: Any, pb: ModuleType) -> None:
    owner = "m-" + uuid.uuid4().hex
    ok_query(explicit, pb, "items_cached_long", owner=owner)
    ok_query(explicit, pb, "items_cached_long", owner=owner)
    text = explicit.GetMetrics(pb.GetMetricsRequest(format="prometheus")).metrics_data
    hits = [line for line in text.splitlines() if line.startswith("persistence_cache_hits ")]
    assert hits and float(hits[0].split()[1]) >= 1
    for name in ("misses", "evictions", "invalidations"):
        assert f"persistence_cache_{name} " in text


def _string_any(value: str) -> Any:
    from google.protobuf import any_pb2, wrappers_pb2

    packed = any_pb2.Any()
    packed.Pack(wrappers_pb2.StringValue(value=value))
    return packed


# -- loading and reloading -------------------------------------------------------------


def test_malformed_file_stops_start_up_naming_file_and_line(tmp_path: Path, database_url: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("queries:\n  q:\n    collection: c\n    criteria: {nope: {}}\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "server",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
            "--config",
            str(bad),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"{bad}:4" in result.stderr and "unknown criteria kind 'nope'" in result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("queries:\n  q: [unclosed\n")
    result = subprocess.run(
        [sys.executable, "-m", "server", "--database-url", database_url, "--config", str(broken)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and f"{broken}:" in result.stderr and "not valid YAML" in result.stderr


def test_sighup_reloads_and_a_bad_reload_keeps_the_old(
    tmp_path: Path, database_url: str, contract: tuple[ModuleType, ModuleType], pb: ModuleType
) -> None:
    path = tmp_path / "reload.yaml"
    path.write_text("queries:\n  first: {collection: reload-test}\n")
    running = ServerProcess(database_url, "--config", str(path))
    try:
        client = stub(running.address, contract)
        assert ok_query(client, pb, "first").success
        path.write_text("queries:\n  second: {collection: reload-test}\n")
        os.kill(running.process.pid, signal.SIGHUP)
        _eventually(lambda: query(client, pb, "second").success)
        refused(query(client, pb, "first"), "NOT_FOUND")
        path.write_text("queries:\n  third: [broken\n")
        os.kill(running.process.pid, signal.SIGHUP)
        _eventually(lambda: "reload failed" in running.log.read_text())
        assert ok_query(client, pb, "second").success
    finally:
        assert running.stop() == 0


def _eventually(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.05)


def test_parameters_struct_round_trip_is_json(legacy: Any, pb: ModuleType) -> None:
    """Struct numbers reach definitions as ints when integral (limit=2.0 is a valid limit)."""
    author = "author-" + uuid.uuid4().hex
    for n in range(3):
        insert(legacy, pb, "content_items", {"author_id": author, "n": n})
    answer = legacy.ExecuteQuery(
        pb.ExecuteQueryRequest(
            query_name="find_content_by_author",
            parameters=json_format.Parse(json.dumps({"author_id": author, "limit": 2.0}), struct_pb2.Struct()),
        )
    )
    assert answer.success and answer.count == 2
