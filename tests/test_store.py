"""The document store library used directly, as services will after the cutover."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from psycopg.conninfo import make_conninfo

from server.store import (
    AlreadyExists,
    Compare,
    Conflict,
    DocumentStore,
    Equals,
    Field,
    InvalidArgument,
    NewDocument,
    NotFound,
    Query,
    get_document_store,
)
from server.store.statements import Limits, Statements


def test_seed_api_round_trip(store: DocumentStore) -> None:
    doc = store.create("users", {"name": "Alice"})
    assert doc.version == 1 and doc.collection == "users"
    assert store.read("users", doc.id) == doc
    updated = store.update("users", doc.id, {"status": "active"})
    assert updated.data == {"name": "Alice", "status": "active"} and updated.version == 2
    assert [d.id for d in store.query("users", {"status": "active"})] == [doc.id]
    assert store.list_collections() == ["users"]
    assert store.delete("users", doc.id) is True
    assert store.delete("users", doc.id) is False
    assert store.read("users", doc.id) is None
    store.create("users", {"n": 1})
    assert store.delete_collection("users") == 1
    assert store.list_collections() == []


def test_get_document_store_reads_the_seed_variable(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("POSTGRES_CONNECTION_STRING", database_url)
    with get_document_store() as store:
        assert store.ping() >= 0
    monkeypatch.delenv("POSTGRES_CONNECTION_STRING")
    with pytest.raises(InvalidArgument, match="POSTGRES_CONNECTION_STRING"):
        get_document_store()


def test_integral_numbers_stay_integers(store: DocumentStore) -> None:
    doc = store.create("numbers", {"a": 30.0, "b": 30.5, "c": 2.0**60, "nested": [1.0, {"d": -4.0}]})
    stored = store.read("numbers", doc.id)
    assert stored is not None
    assert stored.data == {"a": 30, "b": 30.5, "c": stored.data["c"], "nested": [1, {"d": -4}]}
    assert type(stored.data["a"]) is int and type(stored.data["nested"][1]["d"]) is int
    # Beyond 2**53 a double is stored as its shortest decimal text; it reads back as the same double.
    assert float(stored.data["c"]) == 2.0**60


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), "nul\x00byte", {"k\x00": 1}])
def test_bad_values_change_nothing(store: DocumentStore, bad: object) -> None:
    with pytest.raises(InvalidArgument):
        store.create("bad", {"value": bad})
    assert store.count("bad") == 0


def test_caller_ids_timestamps_and_versions_are_kept(store: DocumentStore) -> None:
    created = datetime(2020, 5, 17, 12, 30, tzinfo=UTC)
    [doc] = store.create_many(
        "imports", [NewDocument({"x": 1}, id="legacy id/ü 'q'", created_at=created, updated_at=created, version=7)]
    )
    assert (doc.id, doc.created_at, doc.updated_at, doc.version) == ("legacy id/ü 'q'", created, created, 7)
    with pytest.raises(AlreadyExists):
        store.create("imports", {"x": 2}, id="legacy id/ü 'q'")
    assert store.read("imports", "legacy id/ü 'q'").data == {"x": 1}  # type: ignore[union-attr]
    assert store.create("other", {"x": 3}, id="legacy id/ü 'q'").collection == "other"


def test_batch_is_all_or_nothing(store: DocumentStore) -> None:
    store.create("batch", {"n": 0}, id="taken")
    with pytest.raises(AlreadyExists):
        store.create_many("batch", [NewDocument({"n": 1}, id="a"), NewDocument({"n": 2}, id="taken")])
    with pytest.raises(InvalidArgument):
        store.create_many("batch", [NewDocument({"n": 1}, id="b"), NewDocument({"n": 2}, id="b")])
    assert [d.id for d in store.query("batch")] == ["taken"]


def test_update_errors(store: DocumentStore) -> None:
    doc = store.create("u", {"a": 1})
    with pytest.raises(NotFound):
        store.update("u", "missing", {"a": 2})
    with pytest.raises(Conflict):
        store.update("u", doc.id, {"a": 2}, expected_version=5)
    assert store.read("u", doc.id).data == {"a": 1}  # type: ignore[union-attr]
    assert store.update("u", doc.id, {"a": 2}, expected_version=1).version == 2


def test_concurrent_updates_lose_nothing(store: DocumentStore) -> None:
    doc = store.create("counter", {})

    def writer(worker: int) -> None:
        for step in range(10):
            store.update("counter", doc.id, {f"w{worker}-{step}": step})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = store.read("counter", doc.id)
    assert final is not None and len(final.data) == 80 and final.version == 81


def test_query_paging_ordering_and_projection(store: DocumentStore) -> None:
    store.create_many("p", [{"n": n, "profile": {"city": f"c{n}", "zip": n}} for n in range(12)])
    page = store.query("p", Compare(Field.parse("n"), ">=", 3), order_by=["-n"], limit=4, offset=2)
    assert [d.data["n"] for d in store.query("p", order_by=["-n"], limit=4)] == [11, 10, 9, 8]
    assert [d.data["n"] for d in page] == [9, 8, 7, 6]
    ids = [d.id for offset in range(0, 12, 5) for d in store.query("p", limit=5, offset=offset)]
    assert len(ids) == len(set(ids)) == 12
    projected = store.query("p", {"n": 4}, projections=["profile.city"])
    assert [d.data for d in projected] == [{"profile": {"city": "c4"}}]
    with pytest.raises(InvalidArgument):
        store.query("p", limit=10001)


def test_tenants_do_not_see_each_other(store: DocumentStore) -> None:
    other = store.for_tenant("someone-else-" + store._sql.tenant)
    doc = store.create("shared-name", {"secret": 1}, id="same-id")
    assert other.read("shared-name", "same-id") is None
    assert other.query("shared-name") == []
    assert other.delete_collection("shared-name") == 0
    other.create("shared-name", {"secret": 2}, id="same-id")
    assert store.read("shared-name", "same-id") == doc


SEED_SCHEMA = """
CREATE TABLE documents (
    id UUID PRIMARY KEY,
    collection VARCHAR(255) NOT NULL,
    data JSONB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version INT NOT NULL DEFAULT 1
);
CREATE INDEX idx_documents_collection ON documents(collection);
CREATE INDEX idx_documents_data ON documents USING GIN(data);
"""


def test_works_on_the_seed_librarys_table(shared_store: DocumentStore, database_url: str) -> None:
    """A table the old library made (UUID ids, naive timestamps, no tenant) keeps working."""
    schema = "seed_" + datetime.now().strftime("%H%M%S%f")
    with shared_store._pool.connection() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute(SEED_SCHEMA)
        conn.execute(
            "INSERT INTO documents VALUES ('550e8400-e29b-41d4-a716-446655440000', 'users', '{\"name\": \"Old\"}',"
            " '2025-11-12 16:28:00', '2025-11-12 16:28:00', 1)"
        )
        conn.execute("RESET search_path")
    url = make_conninfo(database_url, options=f"-c search_path={schema}")
    try:
        with DocumentStore(url) as legacy:
            old = legacy.read("users", "550e8400-e29b-41d4-a716-446655440000")
            assert old is not None and old.data == {"name": "Old"}
            assert old.created_at == datetime(2025, 11, 12, 16, 28, tzinfo=UTC)
            new = legacy.create("users", {"name": "New"})
            assert legacy.update("users", new.id, {"n": 1}).version == 2
            assert legacy.read("users", "not-a-uuid") is None
            upper = legacy.create("users", {"name": "Upper"}, id="6BA7B810-9DAD-11D1-80B4-00C04FD430C8")
            assert upper.id == "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
            with pytest.raises(InvalidArgument, match="UUID"):
                legacy.create("users", {}, id="not-a-uuid")
            assert {d.data["name"] for d in legacy.query("users", order_by=["id"])} == {"Old", "New", "Upper"}
            assert legacy.query("users", Compare(Field.parse("updated_at"), ">", old.created_at + timedelta(days=1)))
            assert legacy.list_collections() == ["users"]
        with shared_store._pool.connection() as conn:
            # The old library's own statements still work on the upgraded table.
            conn.execute(f'SET search_path TO "{schema}"')
            conn.execute(
                "INSERT INTO documents (id, collection, data, created_at, updated_at, version)"
                " VALUES (gen_random_uuid(), 'users', '{}', now(), now(), 1)"
            )
            tenants = conn.execute("SELECT DISTINCT tenant FROM documents").fetchall()
            assert tenants == [("default",)]
            conn.execute("RESET search_path")
    finally:
        with shared_store._pool.connection() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_soft_delete_hides_documents_unless_asked(store: DocumentStore) -> None:
    kept = store.create("soft", {"n": 1})
    gone = store.create("soft", {"n": 2})
    assert store.soft_delete("soft", {"n": 2}) == 1
    assert store.read("soft", gone.id) is None
    assert [d.id for d in store.query("soft")] == [kept.id]
    assert store.count("soft") == 1
    hidden = store.read("soft", gone.id, include_deleted=True)
    assert hidden is not None and "_deleted_at" in hidden.data and hidden.version == 2
    assert {d.id for d in store.query("soft", include_deleted=True)} == {kept.id, gone.id}
    with pytest.raises(NotFound):
        store.update("soft", gone.id, {"n": 3})
    assert store.soft_delete("soft", {"n": 2}) == 0


@pytest.mark.parametrize("write", ["create", "update"])
def test_the_soft_delete_key_is_reserved(store: DocumentStore, write: str) -> None:
    doc = store.create("reserved", {"n": 1})
    with pytest.raises(InvalidArgument, match="_deleted_at"):
        if write == "create":
            store.create("reserved", {"_deleted_at": "2020-01-01"})
        else:
            store.update("reserved", doc.id, {"_deleted_at": "2020-01-01"})
    assert [d.data for d in store.query("reserved")] == [{"n": 1}]


def test_transaction_commits_all_or_nothing(store: DocumentStore) -> None:
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.create("tx", {"step": 1}, id="one")
        tx.create("tx", {"step": 2}, id="two")
        tx.create("tx", {"step": 3}, id="one")
    assert store.count("tx") == 0
    with store.transaction() as tx:
        tx.create("tx", {"step": 1}, id="one")
        tx.update("tx", "one", {"step": 2})
    assert store.read("tx", "one").data == {"step": 2}  # type: ignore[union-attr]


def test_the_default_order_walk_and_its_fallback_agree_with_sorting_every_match(
    store: DocumentStore, collection: str
) -> None:
    """A filtered page in (created_at, id) order is the same whichever arm answers it.

    Walks of 10 to 40 documents over 90 of them: common values fill a page from
    the walk, rare ones fall back to the index search, deep pages take the
    fence, and some values sit on the boundary.
    """
    start = datetime(2026, 1, 1, tzinfo=UTC)
    docs = []
    for n in range(90):
        g = 0 if n % 2 else (1 if n % 3 else (2 if n < 60 else 3))
        created = start + timedelta(seconds=n // 4)  # ties on created_at, broken by id
        docs.append(NewDocument({"g": g, "deleted": n % 11 == 0}, id=f"{n:03d}"[::-1], created_at=created))
    store.create_many(collection, docs)
    store.soft_delete(collection, Equals(Field.parse("deleted"), True))
    live = sorted((d for d in docs if not d.data["deleted"]), key=lambda d: (d.created_at, d.id))
    # Walks shorter than the collection, then walks that reach its end (no search needed).
    for limits in (Limits(ordered_walk=40, walk_per_result=10), Limits(ordered_walk=800, walk_per_result=100)):
        statements = Statements(store._sql.layout, store._sql.tenant, limits)
        for g in range(5):
            expected = [d.id for d in live if d.data["g"] == g]
            for limit in (1, 2, 3, 4):
                for offset in (0, 1, 3):
                    query = Query(criteria=Equals(Field.parse("g"), g), limit=limit, offset=offset)
                    found = [d.id for d in store._run(statements.find(collection, query))]
                    assert found == expected[offset : offset + limit], (limits, g, limit, offset)


def test_forgetting_old_request_ids_touches_one_tenant_only(shared_store: DocumentStore) -> None:
    tenants = [shared_store.for_tenant(f"forget-{n}-{datetime.now(UTC).timestamp()}") for n in range(2)]
    for store in tenants:
        with store.transaction() as tx:
            tx._run(store._sql.claim_request("old", "Insert"))
            tx._run(store._sql.claim_request("new", "Insert"))
    with shared_store._pool.connection() as conn:
        conn.execute(
            "UPDATE persistence_requests SET created_at = now() - interval '2 hours'"
            " WHERE request_id = 'old' AND tenant = ANY(%s)",
            ([store._sql.tenant for store in tenants],),
        )
    first, second = tenants
    assert first._run(first._sql.forget_requests(3600)) == 1
    assert second._run(second._sql.request_outcome("old"))[0] == "Insert"  # the other tenant's is kept
    assert first._run(first._sql.request_outcome("new"))[0] == "Insert"  # and so are young ones
    assert first._run(first._sql.request_outcome("old")) == (None, None)
