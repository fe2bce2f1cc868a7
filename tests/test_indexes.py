"""Every filter kind the store generates is served by an index, on realistic data.

Queries bind their paths; indexes spell them out; both come from the same
builders (``server.store.compiler``), and with custom plans the planner sees
the same expression. These tests read the plans PostgreSQL chooses for the
store's own SQL.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg import sql

from server.named.loader import CatalogError, parse
from server.store import AsyncDocumentStore, Compare, DocumentStore, Field, OrderBy, Query, TextSearch
from server.store.criteria import And, Equals
from server.store.indexes import BuiltIndexes, IndexSpec
from server.store.pool_settings import PoolSettings
from server.store.statements import Statement

ROWS = 100_000
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


@pytest.fixture(scope="module")
def seeded(shared_store: DocumentStore) -> Iterator[tuple[DocumentStore, str]]:
    """A tenant of its own with one big collection and some neighbours, analyzed."""
    store = shared_store.for_tenant("idx-" + uuid.uuid4().hex[:8])
    rng = random.Random(7)
    collection = "articles"
    copy_sql = "COPY documents (id, collection, tenant, data) FROM STDIN"
    with shared_store._pool.connection() as conn, conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for n in range(ROWS):
            target = collection if n % 4 else f"other-{n % 3}"
            data = {
                "n": n,
                "status": rng.choice(("active", "idle", "gone")),
                "city": f"city-{rng.randrange(200)}",
                "title": " ".join(rng.sample(WORDS, 3)) + f" w{n}",
            }
            copy.write_row((f"d{n}", target, store._sql.tenant, json.dumps(data)))
    store.ensure_indexes([IndexSpec(collection, "value", ("n",)), IndexSpec(collection, "text", ("title",))])
    with shared_store._pool.connection() as conn:
        conn.execute("ANALYZE documents")
    yield store, collection
    store.delete_collection(collection)
    for n in range(3):
        store.delete_collection(f"other-{n}")


def plan(store: DocumentStore, statement: Statement[Any]) -> str:
    assert statement.query is not None
    explain = sql.SQL("EXPLAIN (FORMAT JSON) {}").format(statement.query)
    with store._pool.connection() as conn:
        (document,) = conn.execute(explain, statement.params).fetchone()  # type: ignore[misc]
    return json.dumps(document)


def find(store: DocumentStore, collection: str, criteria: Any, limit: int = 10) -> str:
    return plan(store, store._sql.find(collection, Query(criteria=criteria, limit=limit)))


def test_equality_uses_the_gin_index(seeded: tuple[DocumentStore, str]) -> None:
    store, collection = seeded
    two_fields = And((Equals(Field.parse("status"), "active"), Equals(Field.parse("city"), "city-7")))
    assert "idx_documents_data" in find(store, collection, two_fields)
    assert "idx_documents_data" in find(store, collection, Equals(Field.parse("n"), 1234))


def test_range_uses_the_value_index(seeded: tuple[DocumentStore, str]) -> None:
    store, collection = seeded
    narrow = And((Compare(Field.parse("n"), ">=", 500), Compare(Field.parse("n"), "<", 520)))
    chosen = find(store, collection, narrow)
    assert IndexSpec(collection, "value", ("n",)).name in chosen


def test_text_search_uses_the_text_index(seeded: tuple[DocumentStore, str]) -> None:
    store, collection = seeded
    chosen = find(store, collection, TextSearch((Field.parse("title"),), "w1234"))
    assert IndexSpec(collection, "text", ("title",)).name in chosen


def test_answers_match_the_plans(seeded: tuple[DocumentStore, str]) -> None:
    store, collection = seeded
    assert [d.data["n"] for d in store.query(collection, TextSearch((Field.parse("title"),), "w1235"))] == [1235]
    ranged = store.query(
        collection, And((Compare(Field.parse("n"), ">=", 500), Compare(Field.parse("n"), "<", 510))), order_by=["n"]
    )
    assert [d.data["n"] for d in ranged] == [n for n in range(500, 510) if n % 4]


def test_index_definitions_are_idempotent(seeded: tuple[DocumentStore, str]) -> None:
    store, collection = seeded
    assert store.ensure_indexes([IndexSpec(collection, "value", ("n",))]) == []


def analyzed(store: DocumentStore, statement: Statement[Any]) -> list[dict[str, Any]]:
    """Every node of the executed plan (EXPLAIN ANALYZE), flattened."""
    assert statement.query is not None
    explain = sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) {}").format(statement.query)
    with store._pool.connection() as conn:
        (document,) = conn.execute(explain, statement.params).fetchone()  # type: ignore[misc]
    nodes, pending = [], [document[0]["Plan"]]
    while pending:
        node = pending.pop()
        nodes.append(node)
        pending.extend(node.get("Plans", []))
    return nodes


def test_a_range_ordered_by_its_field_reads_one_page_from_the_index(seeded: tuple[DocumentStore, str]) -> None:
    """The value index holds the sort keys: no sort, and the scan stops after the page."""
    store, collection = seeded
    wide = And((Compare(Field.parse("n"), ">=", 1000), Compare(Field.parse("n"), "<=", 90_000)))
    query = Query(criteria=wide, order_by=(OrderBy(Field.parse("n")),), limit=20)
    nodes = analyzed(store, store._sql.find(collection, query))
    assert not [node for node in nodes if node["Node Type"] == "Sort"]
    (scan,) = [node for node in nodes if node.get("Index Name") == IndexSpec(collection, "value", ("n",)).name]
    assert scan["Actual Rows"] <= 20


def test_a_common_value_is_answered_by_the_ordered_walk_and_a_rare_one_by_the_index(
    seeded: tuple[DocumentStore, str],
) -> None:
    store, collection = seeded
    common = Equals(Field.parse("status"), "active")  # a third of the documents
    nodes = analyzed(store, store._sql.find(collection, Query(criteria=common, limit=10)))
    scans = [node for node in nodes if node.get("Relation Name") == "documents"]
    (walk,) = [node for node in scans if node["Actual Loops"] > 0]  # the search arm never ran
    assert walk.get("Index Name") == "idx_documents_order"
    assert walk["Actual Rows"] <= 10 * store._sql.limits.walk_per_result
    assert len(scans) == 3  # the walk, the end-of-collection check and the search: only the walk ran
    rare = Equals(Field.parse("n"), 4321)
    nodes = analyzed(store, store._sql.find(collection, Query(criteria=rare, limit=10)))
    assert [node for node in nodes if node.get("Index Name") == "idx_documents_data" and node["Actual Loops"] == 1]
    assert [d.data["n"] for d in store.query(collection, rare)] == [4321]


def test_a_lookup_by_id_reads_the_primary_key_only(seeded: tuple[DocumentStore, str]) -> None:
    store, collection = seeded
    by_id = And((Equals(Field.parse("id"), "d1234"), Equals(Field.parse("status"), "active")))
    for criteria in (Equals(Field.parse("id"), "d1234"), by_id):
        scans = [node for node in analyzed(store, store._sql.find(collection, Query(criteria=criteria, limit=1)))]
        used = {node.get("Index Name") for node in scans if node.get("Relation Name") == "documents"}
        assert used == {"documents_pkey"}


def test_only_statements_whose_plan_never_changes_are_prepared(database_url: str) -> None:
    """Criteria statements stay unprepared (PostgreSQL plans them with their values, so bound paths
    and collections match expression and partial indexes); reads by id are prepared (no planning)."""
    with DocumentStore(database_url, tenant="prep-" + uuid.uuid4().hex[:8], pool=PoolSettings(1, 1)) as store:
        store.create("things", {"n": 1}, id="a")
        for _ in range(8):  # past psycopg's and PostgreSQL's thresholds for preparing and generic plans
            assert store.read("things", "a") is not None
            assert len(store.query("things", Compare(Field.parse("n"), ">=", 0), order_by=["n"])) == 1
        with store._pool.connection() as conn:
            prepared = [row[0] for row in conn.execute("SELECT statement FROM pg_prepared_statements").fetchall()]
    assert any("id = $3::text" in text for text in prepared), prepared
    assert not [text for text in prepared if "jsonb_typeof" in text], prepared  # the range query


def test_a_collection_of_its_own_for_equality_filters(seeded: tuple[DocumentStore, str]) -> None:
    """The table's GIN index spans every collection; an equality index holds one collection's documents."""
    store, collection = seeded
    catalog = parse(f"indexes:\n  - {{collection: {collection}, equality: true}}\n")
    (spec,) = catalog.indexes
    assert spec == IndexSpec(collection, "equality", ())
    store.ensure_indexes([spec])
    with store._pool.connection() as conn:
        conn.execute("ANALYZE documents")
    two_fields = And((Equals(Field.parse("status"), "gone"), Equals(Field.parse("city"), "city-7")))
    assert spec.name in find(store, collection, two_fields)
    assert spec.name not in find(store, "other-1", two_fields)  # partial: other collections use the table's
    with pytest.raises(CatalogError, match="equality"):
        parse(f"indexes:\n  - {{collection: {collection}, equality: yes-please}}\n")


def own_view(store: DocumentStore) -> DocumentStore:
    """The same pool and tenant with a registry of built indexes of its own, so no other test plans for them."""
    return DocumentStore(tenant=store._sql.tenant, _shared=(store._pool, store._layout, BuiltIndexes()))


def test_an_equality_index_answers_its_fields_a_page_at_a_time(seeded: tuple[DocumentStore, str]) -> None:
    """Equality on exactly the index's fields, default order: one index range, no sort, one page read."""
    store, collection = own_view(seeded[0]), seeded[1]
    spec = IndexSpec(collection, "equality", ("status", "city"))
    two_fields = And((Equals(Field.parse("city"), "city-7"), Equals(Field.parse("status"), "gone")))
    guarded = store._sql.find(collection, Query(criteria=two_fields, limit=10))
    store.ensure_indexes([spec])
    with store._pool.connection() as conn:
        conn.execute("ANALYZE documents")
    for offset in (0, 10):
        query = Query(criteria=two_fields, limit=10, offset=offset)
        nodes = analyzed(store, store._sql.find(collection, query))
        assert not [node for node in nodes if node["Node Type"] == "Sort"]
        (scan,) = [node for node in nodes if node.get("Relation Name") == "documents"]
        assert scan.get("Index Name") == spec.name
        assert scan["Actual Rows"] <= 10 + offset
    # The same documents as the guarded statement (the GIN index and a sort) finds.
    assert store._run(guarded) == store.query(collection, two_fields, limit=10)
    # Any other filter keeps the guarded shapes: one field, or another condition besides.
    for other in (
        Equals(Field.parse("status"), "gone"),
        And((*two_fields.items, Compare(Field.parse("n"), ">", 5))),
    ):
        assert spec.name not in find(store, collection, other)


def test_an_equality_index_matches_what_containment_matches(shared_store: DocumentStore) -> None:
    """The index compares JSON values; the store's equality is containment for scalars. They agree."""
    store = own_view(shared_store.for_tenant("eqi-" + uuid.uuid4().hex[:8]))
    collection = "tricky"
    docs = [
        {"a": "x", "b": 5},
        {"a": "x", "b": 5.0},
        {"a": ["x"], "b": 5},
        {"a": "x", "b": [5]},
        {"a": "x", "b": "5"},
        {"a": "x"},
        {"a": None, "b": 5},
        {"a": "x", "b": True},
        {"a": {"x": 1}, "b": 5},
    ]
    store.create_many(collection, docs)
    filters = [
        And((Equals(Field.parse("a"), value), Equals(Field.parse("b"), other)))
        for value in ("x", None)
        for other in (5, 5.0, "5", True, None, [5])
    ]
    before = [[d.id for d in store.query(collection, f)] for f in filters]
    store.ensure_indexes([IndexSpec(collection, "equality", ("a", "b"))])
    assert "#>" in str(store._sql.find(collection, Query(criteria=filters[0])).query)
    assert [[d.id for d in store.query(collection, f)] for f in filters] == before
    assert list(map(len, before)) == [2, 2, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0]  # 5 and 5.0 are one number
    store.delete_collection(collection)


def test_equality_index_declarations(seeded: tuple[DocumentStore, str]) -> None:
    _, collection = seeded
    catalog = parse(f"indexes:\n  - {{collection: {collection}, equality: [status, profile.city]}}\n")
    assert catalog.indexes == (IndexSpec(collection, "equality", ("status", "profile.city")),)
    for bad in ("[]", "[status, status]", "[id]", "[1]", "status"):
        with pytest.raises(CatalogError, match=r"equality|once|column"):
            parse(f"indexes:\n  - {{collection: {collection}, equality: {bad}}}\n")


def test_the_async_store_plans_for_the_indexes_it_built(database_url: str) -> None:
    """The server builds declared indexes in the background; every tenant's queries use them once built."""
    spec = IndexSpec("async-eq-" + uuid.uuid4().hex[:8], "equality", ("kind",))
    query = Query(criteria=Equals(Field.parse("kind"), "a"), limit=5)

    async def scenario() -> tuple[str, str]:
        store = await AsyncDocumentStore.open(database_url)
        try:
            tenant = store.for_tenant("async-eq")
            before = str(tenant._sql.find(spec.collection, query).query)
            assert await store.ensure_indexes([spec]) == [spec.name]
            return before, str(tenant._sql.find(spec.collection, query).query)
        finally:
            await store.close()

    before, after = asyncio.run(scenario())
    assert "early" in before and "early" not in after  # the walk, then the index range
    assert "#>" in after


def test_a_legacy_equality_query_gets_the_index_its_entry_names() -> None:
    """``indexes: [author_id, created_at]`` on a document_query by author_id: equalities, then the default order."""
    legacy = """
queries:
  by_author:
    table: content_items
    type: document_query
    parameters: [author_id, limit, skip]
    indexes: [author_id, created_at]
  by_author_and_kind:
    table: content_items
    type: document_query
    parameters: [kind, author_id]
    indexes: [author_id, kind]
  ordered_otherwise:
    table: content_items
    type: document_query
    parameters: [author_id]
    indexes: [created_at, author_id]
  other_fields:
    table: content_items
    type: scan_by_index
    parameters: [author_id]
    indexes: [title]
"""
    assert parse(legacy).indexes == (
        IndexSpec("content_items", "equality", ("author_id",)),
        IndexSpec("content_items", "equality", ("kind", "author_id")),
    )


def test_under_row_level_security_queries_keep_the_guarded_shapes(shared_store: DocumentStore) -> None:
    """With a policy in force PostgreSQL uses no condition on data in an index scan: no plan may rely on one."""
    view = own_view(shared_store)
    built = BuiltIndexes(row_level_security=True)  # what a store under row-level security makes
    guarded = DocumentStore(tenant=view._sql.tenant, row_level_security=True, _shared=(view._pool, view._layout, built))
    spec = IndexSpec("rls-eq", "equality", ("kind",))
    query = Query(criteria=Equals(Field.parse("kind"), "a"), limit=5)
    guarded.ensure_indexes([spec])
    assert "#>" not in str(guarded._sql.find(spec.collection, query).query)
    view.ensure_indexes([spec])
    assert "#>" in str(view._sql.find(spec.collection, query).query)
