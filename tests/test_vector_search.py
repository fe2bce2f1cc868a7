"""VectorSearch, the vector_search filter and the legacy semantic_search, through the original contract.

Two servers on the same database: the session's (HNSW indexes where pgvector
is installed) and one started with ``--vector-index exact`` and the legacy
config file (every search an exact SQL scan, as on PostgreSQL 15 without
pgvector). Exact answers must equal a brute-force computation here, for every
metric; HNSW answers must reach recall@10 ≥ 0.95 against exact search on 10,000
random 64-dimension vectors, and the index must be what the planner uses.
"""

from __future__ import annotations

import math
import random
import struct as binary
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

import grpc
import psycopg
import pytest
from google.protobuf import any_pb2, json_format, wrappers_pb2
from psycopg import sql

from server.store import DocumentStore, Query
from server.store.criteria import Field, VectorNearest
from server.store.vectors import IndexKey, index_state, search_steps
from tests.conftest import ORIGINAL_CONTRACT, ServerProcess
from tests.messages import packed, struct

LEGACY_FILE = ORIGINAL_CONTRACT.parent / "legacy-persistence-platform.yaml"
DIMENSIONS = 16

# -- brute force ----------------------------------------------------------------------------------


def f32(values: Sequence[float]) -> list[float]:
    """What a ``repeated float`` carries: each number rounded to single precision."""
    return [binary.unpack("f", binary.pack("f", x))[0] for x in values]


def score(metric: str, vector: Sequence[float], query: Sequence[float]) -> tuple[float, float] | None:
    """(distance, similarity) as docs/vector-graph.md defines them; None where cosine is undefined."""
    dot = sum(a * b for a, b in zip(vector, query, strict=True))
    if metric == "cosine":
        aa = sum(a * a for a in vector)
        bb = sum(b * b for b in query)
        if aa == 0 or bb == 0:
            return None
        distance = 1 - dot / (math.sqrt(aa) * math.sqrt(bb))
        return distance, 1 - distance
    if metric == "l2":
        distance = math.sqrt(sum((a - b) * (a - b) for a, b in zip(vector, query, strict=True)))
        return distance, 1 / (1 + distance)
    return -dot, dot


def brute_force(
    docs: Mapping[str, Mapping[str, Any]],
    query: Sequence[float],
    metric: str,
    limit: int,
    threshold: float | None = None,
    field: str = "embedding",
    where: Any = None,
) -> list[tuple[str, float, float]]:
    scored = []
    for doc_id, data in docs.items():
        vector = data.get(field)
        if not (isinstance(vector, list) and len(vector) == len(query)):
            continue
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and abs(x) < 1e38 for x in vector):
            continue  # vector elements are 4-byte floats: larger numbers make a document "no vector"
        if where is not None and not where(data):
            continue
        result = score(metric, vector, query)
        if result is None or (threshold is not None and result[1] < threshold):
            continue
        scored.append((result[0], doc_id, result[1]))
    scored.sort()
    return [(doc_id, distance, similarity) for distance, doc_id, similarity in scored[:limit]]


# -- helpers --------------------------------------------------------------------------------------


def insert(client: Any, pb: ModuleType, table: str, docs: Mapping[str, Mapping[str, Any]]) -> None:
    items = list(docs.items())
    for start in range(0, len(items), 5000):
        answer = client.InsertBatch(
            pb.InsertBatchRequest(
                table_name=table,
                records=[pb.Record(id=doc_id, data=struct(data)) for doc_id, data in items[start : start + 5000]],
            )
        )
        assert answer.success, answer.error_message


def random_vector(rng: random.Random, dimensions: int = DIMENSIONS) -> list[float]:
    return [rng.uniform(-1, 1) for _ in range(dimensions)]


def collection_with_junk(client: Any, pb: ModuleType, seed: int, count: int = 300) -> tuple[str, dict[str, Any]]:
    """``count`` good documents, and documents a search must skip without failing."""
    rng = random.Random(seed)
    table = "vec-" + uuid.uuid4().hex[:10]
    docs: dict[str, Any] = {
        f"d{i:04}": {"embedding": random_vector(rng), "status": rng.choice(["active", "archived"]), "i": i}
        for i in range(count)
    }
    docs |= {
        "no-vector": {"status": "active"},
        "short": {"embedding": [0.5] * (DIMENSIONS - 1), "status": "active"},
        "long": {"embedding": [0.5] * (DIMENSIONS + 1), "status": "active"},
        "words": {"embedding": ["x"] * DIMENSIONS, "status": "active"},
        "nested": {"embedding": [[0.1]] * DIMENSIONS, "status": "active"},
        "booleans": {"embedding": [True] * DIMENSIONS, "status": "active"},
        "huge": {"embedding": [1e300] + [0.0] * (DIMENSIONS - 1), "status": "active"},
        "text": {"embedding": "0.1, 0.2", "status": "active"},
        "object": {"embedding": {"x": 1}, "status": "active"},
        "zeros": {"embedding": [0] * DIMENSIONS, "status": "active"},
    }
    insert(client, pb, table, docs)
    return table, docs


def search(client: Any, pb: ModuleType, table: str, query: Sequence[float], **options: Any) -> Any:
    return client.VectorSearch(pb.VectorSearchRequest(table_name=table, query_vector=query, **options))


def answers(response: Any) -> list[tuple[str, float, float]]:
    assert response.success, response.error_message
    return [(r.record.id, r.distance, r.similarity_score) for r in response.results]


def assert_same(got: list[tuple[str, float, float]], expected: list[tuple[str, float, float]], where: str) -> None:
    assert [g[0] for g in got] == [e[0] for e in expected], where
    for (_, distance, similarity), (_, want_distance, want_similarity) in zip(got, expected, strict=True):
        assert distance == pytest.approx(want_distance, rel=1e-9, abs=1e-12), where
        assert similarity == pytest.approx(want_similarity, rel=1e-9, abs=1e-12), where


def refused(response: Any, code: str, *words: str) -> None:
    assert not response.success
    assert response.error_message.startswith(code + ":"), response.error_message
    for word in words:
        assert word in response.error_message, response.error_message


@pytest.fixture(scope="module")
def exact(database_url: str, contract: tuple[ModuleType, ModuleType]) -> Iterator[Any]:
    """A server whose vector searches always scan, with the legacy named queries and vector fields."""
    server = ServerProcess(database_url, "--vector-index", "exact", "--config", str(LEGACY_FILE))
    channel = grpc.insecure_channel(server.address)
    yield contract[1].PersistencePlatformServiceStub(channel)
    channel.close()
    server.stop()


@pytest.fixture(scope="module")
def pgvector(shared_store: DocumentStore) -> bool:
    return shared_store._layout.pgvector


# -- exact search equals brute force ----------------------------------------------------------------


METRICS = [
    ("cosine", "cosine"),
    ("", "cosine"),
    ("l2", "l2"),
    ("euclidean", "l2"),
    ("dot", "dot"),
    ("inner_product", "dot"),
]


@pytest.mark.parametrize(("name", "metric"), METRICS)
def test_exact_search_equals_brute_force(exact: Any, pb: ModuleType, name: str, metric: str) -> None:
    table, docs = collection_with_junk(exact, pb, seed=11)
    rng = random.Random(12)
    for _ in range(5):
        query = f32(random_vector(rng))
        for limit in (0, 1, 25, 400):  # 0 means 10; 400 is more than there are
            got = answers(search(exact, pb, table, query, limit=limit, distance_metric=name))
            assert_same(got, brute_force(docs, query, metric, limit or 10), f"{name} limit {limit}")


@pytest.mark.parametrize("metric", ["cosine", "l2", "dot"])
def test_threshold_drops_results_below_that_similarity(exact: Any, pb: ModuleType, metric: str) -> None:
    table, docs = collection_with_junk(exact, pb, seed=13)
    query = f32(random_vector(random.Random(14)))
    everything = brute_force(docs, query, metric, 1000)
    for threshold in (everything[5][2], everything[40][2], everything[0][2] + 1):
        got = answers(search(exact, pb, table, query, limit=100, threshold=threshold, distance_metric=metric))
        assert_same(got, brute_force(docs, query, metric, 100, threshold), f"{metric} threshold {threshold}")
        assert all(similarity >= threshold for _, _, similarity in got)


def test_default_server_answers_the_same_documents_with_true_scores(client: Any, pb: ModuleType) -> None:
    """Without pgvector this server scans too; with it the answers may come from HNSW (approximate)."""
    table, docs = collection_with_junk(client, pb, seed=15)
    rng = random.Random(16)
    for metric in ("cosine", "l2", "dot"):
        query = f32(random_vector(rng))
        expected = brute_force(docs, query, metric, 10)
        got = answers(search(client, pb, table, query, limit=10, distance_metric=metric))
        assert len(got) == 10
        overlap = len({g[0] for g in got} & {e[0] for e in expected})
        assert overlap >= 9, metric
        truth = {
            doc_id: (distance, similarity) for doc_id, distance, similarity in brute_force(docs, query, metric, 999)
        }
        for doc_id, distance, similarity in got:  # pgvector computes in single precision
            assert distance == pytest.approx(truth[doc_id][0], abs=1e-4), metric
            assert similarity == pytest.approx(truth[doc_id][1], abs=1e-4), metric
        assert [d for _, d, _ in got] == sorted(d for _, d, _ in got)


# -- refusals ------------------------------------------------------------------------------------------


def test_bad_requests_are_invalid_arguments(exact: Any, client: Any, pb: ModuleType) -> None:
    table, _ = collection_with_junk(client, pb, seed=17, count=20)
    for server in (exact, client):
        refused(search(server, pb, table, [0.1, 0.2, 0.3]), "INVALID_ARGUMENT", "3", str(DIMENSIONS))
        refused(search(server, pb, table, []), "INVALID_ARGUMENT", "empty")
        refused(search(server, pb, table, [0.1] * DIMENSIONS, distance_metric="hamming"), "INVALID_ARGUMENT")
        refused(search(server, pb, table, [math.nan] * DIMENSIONS), "INVALID_ARGUMENT")
        refused(search(server, pb, table, [0.0] * DIMENSIONS), "INVALID_ARGUMENT", "zeros")
        refused(search(server, pb, table, [0.1] * DIMENSIONS, limit=-1), "INVALID_ARGUMENT", "limit")
        refused(search(server, pb, table, [0.1] * DIMENSIONS, limit=10001), "INVALID_ARGUMENT", "limit")
        # An empty collection, or one without vectors, just has no answers.
        assert answers(search(server, pb, "vec-empty-" + uuid.uuid4().hex, [0.1, 0.2])) == []


# -- the vector_search filter ---------------------------------------------------------------------------


def vector_filter(pb: ModuleType, query: Sequence[float], **options: Any) -> Any:
    return pb.QueryCriteria(vector_search=pb.VectorSearchFilter(query_vector=query, **options))


def raw(client: Any, pb: ModuleType, table: str, criteria: Any, **spec: Any) -> list[str]:
    answer = client.ExecuteRawQuery(
        pb.ExecuteRawQueryRequest(query_spec=pb.QuerySpec(table_name=table, criteria=criteria, **spec))
    )
    assert answer.success, answer.error_message
    return [record.id for record in answer.results]


def test_vector_filter_ranks_within_the_other_filters(exact: Any, client: Any, pb: ModuleType) -> None:
    table, docs = collection_with_junk(exact, pb, seed=19)
    query = f32(random_vector(random.Random(20)))
    active = pb.QueryCriteria(equals=pb.EqualsFilter(field="status", value=packed("active")))
    both = pb.QueryCriteria(and_filter=pb.AndFilter(filters=[active, vector_filter(pb, query, limit=7)]))

    def expected(**options: Any) -> list[str]:
        return [
            d
            for d, _, _ in brute_force(docs, query, "cosine", where=lambda data: data["status"] == "active", **options)
        ]

    for query_type in ("VECTOR_SIMILARITY", "DOCUMENT_QUERY"):
        assert raw(exact, pb, table, both, query_type=getattr(pb, query_type)) == expected(limit=7)
    # Paging walks down the ranking; the smaller of the two limits wins; projections still apply.
    assert raw(exact, pb, table, both, query_type=pb.VECTOR_SIMILARITY, offset=7) == expected(limit=14)[7:]
    assert raw(exact, pb, table, both, query_type=pb.VECTOR_SIMILARITY, limit=3) == expected(limit=3)
    # order_by sorts the nearest ones it selected.
    ordered = raw(
        exact, pb, table, both, query_type=pb.VECTOR_SIMILARITY, order_by=[pb.OrderBy(field="i", ascending=True)]
    )
    assert ordered == sorted(expected(limit=7), key=lambda d: docs[d]["i"])
    # A field other than the default, a metric, a threshold.
    loose = vector_filter(pb, query, field="embedding", distance_metric="l2", limit=5, threshold=0.2)
    assert raw(exact, pb, table, loose) == [d for d, _, _ in brute_force(docs, query, "l2", 5, 0.2)]
    # The default server finds as many active documents (filtered HNSW scans read on until they have them).
    found = raw(client, pb, table, both, query_type=pb.VECTOR_SIMILARITY)
    assert len(found) == 7 and all(docs[d]["status"] == "active" for d in found)


# -- the legacy file: document_embeddings (field "vector", 768 dimensions) and semantic_search ----------


def test_legacy_semantic_search_and_find_similar(exact: Any, pb: ModuleType) -> None:
    rng = random.Random(21)
    anchor = random_vector(rng, 768)
    docs: dict[str, Any] = {}
    for i in range(40):  # near the anchor at various distances, so similarities spread over 0..1
        noise = i / 20
        docs[str(uuid.uuid4())] = {"vector": [a + rng.gauss(0, noise) for a in anchor], "content": f"doc {i}"}
    docs[str(uuid.uuid4())] = {"vector": [0.5] * 384, "content": "another model's vector"}
    insert(exact, pb, "document_embeddings", docs)
    query = f32([a + rng.gauss(0, 0.05) for a in anchor])

    def named(name: str, **parameters: Any) -> Any:
        return exact.ExecuteQuery(pb.ExecuteQueryRequest(query_name=name, parameters=struct(parameters)))

    def ids(response: Any) -> list[str]:
        assert response.success, response.error_message
        return [record.id for record in response.results]

    everyone = _all_of(exact, pb)  # this test's documents, and any an earlier run left in this fixed table
    # The table's access pattern sets a 0.7 threshold unless the caller gives one.
    default = ids(named("semantic_search", query_vector=query, limit=50))
    expected = brute_force(everyone, query, "cosine", 50, 0.7, field="vector")
    assert default == [d for d, _, _ in expected]
    assert 0 < len([d for d in default if d in docs]) < 40
    given = ids(named("semantic_search", query_vector=query, limit=5, threshold=0.0))
    assert given == [d for d, _, _ in brute_force(everyone, query, "cosine", 5, 0.0, "vector")]
    refused(named("semantic_search", query_vector=[0.1, 0.2]), "INVALID_ARGUMENT", "768")
    # VectorSearch on the table uses its configured field and dimensions too.
    got = answers(search(exact, pb, "document_embeddings", query, limit=3))
    assert [g[0] for g in got] == given[:3]
    refused(search(exact, pb, "document_embeddings", query[:384]), "INVALID_ARGUMENT", "768")
    # find_similar_documents: the nearest to a stored document's vector, that document left out.
    first = next(iter(docs))
    similar = ids(named("find_similar_documents", document_id=first, limit=4))
    others = {k: v for k, v in everyone.items() if k != first}
    assert similar == [d for d, _, _ in brute_force(others, everyone[first]["vector"], "cosine", 4, field="vector")]
    refused(named("find_similar_documents", document_id=str(uuid.uuid4())), "NOT_FOUND")


def _all_of(client: Any, pb: ModuleType) -> dict[str, Any]:
    """Every document_embeddings document (other tests may have added some)."""
    answer = client.ExecuteRawQuery(
        pb.ExecuteRawQueryRequest(query_spec=pb.QuerySpec(table_name="document_embeddings", limit=10000))
    )
    assert answer.success, answer.error_message
    return {record.id: json_format.MessageToDict(record.data) for record in answer.results}


# -- HNSW: recall, and the planner using the index -------------------------------------------------------------


def wait_for_index(database_url: str, key: IndexKey, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while index_state(conn, key) != "valid":
            assert time.monotonic() < deadline, f"index {key.name} was not built in {timeout} s"
            time.sleep(0.2)


def test_hnsw_recall_on_10k_random_vectors(
    client: Any, exact: Any, pb: ModuleType, database_url: str, shared_store: DocumentStore, pgvector: bool
) -> None:
    """10,000 uniformly random 64-dimension vectors (hard for any ANN index: no clusters to exploit)."""
    if not pgvector:
        pytest.skip("no pgvector on this database: every search is exact (tested above)")
    rng = random.Random(23)
    table = "vec-hnsw-" + uuid.uuid4().hex[:8]
    docs = {f"h{i:05}": {"embedding": random_vector(rng, 64), "active": i % 10 == 0} for i in range(10_000)}
    insert(client, pb, table, docs)
    queries = [f32(random_vector(rng, 64)) for _ in range(20)]
    # The first search asks for the index (built in the background; this search scans).
    assert len(answers(search(client, pb, table, queries[0]))) == 10
    key = IndexKey("default", table, ("embedding",), 64, "cosine")
    wait_for_index(database_url, key)

    hits = 0
    for query in queries:  # exact search here is the brute force (the exact server equals it, tested above)
        truth = {doc_id for doc_id, _, _ in brute_force(docs, query, "cosine", 10)}
        got = {doc_id for doc_id, _, _ in answers(search(client, pb, table, query, limit=10))}
        hits += len(truth & got)
    recall = hits / (10 * len(queries))
    assert recall >= 0.95, recall

    # The planner uses the index for the statement the store sends, filtered or not.
    store = shared_store.for_tenant("default")
    for criteria in (VectorNearest(Field.parse("embedding"), tuple(queries[0]), 10),):
        statement = next(search_steps(store._sql, table, Query(criteria=criteria)))
        assert statement.query is not None
        with psycopg.connect(database_url, autocommit=True) as conn:
            plan = "\n".join(row[0] for row in conn.execute(sql.SQL("EXPLAIN ") + statement.query, statement.params))
        assert key.name in plan, plan
    # A selective filter (1 in 10) still gets its 10 nearest (iterative index scans).
    active = pb.QueryCriteria(equals=pb.EqualsFilter(field="active", value=_packed_bool(True)))
    nearest = vector_filter(pb, queries[1], limit=10)
    found = raw(client, pb, table, pb.QueryCriteria(and_filter=pb.AndFilter(filters=[active, nearest])))
    truth = raw(exact, pb, table, pb.QueryCriteria(and_filter=pb.AndFilter(filters=[active, nearest])))
    assert len(found) == 10 and all(docs[d]["active"] for d in found)
    assert len(set(found) & set(truth)) >= 8


def _packed_bool(value: bool) -> any_pb2.Any:
    message = any_pb2.Any()
    message.Pack(wrappers_pb2.BoolValue(value=value))
    return message
