"""GraphTraverse through a client built from the original contract, against a plain Python model.

Graphs are random (seeded) with cycles, self-loops, parallel edges, edges to
missing nodes and a disconnected part. The model below computes what
``server/store/graph.py`` documents: breadth-first levels with a seen set, each
node's lexicographically smallest shortest path (by position), simple paths for
ALL_PATHS. Traversal sets, orders and shortest-path lengths must match it.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import psycopg
import pytest
from google.protobuf import any_pb2, json_format, wrappers_pb2
from psycopg import sql

from server.store import graph as store_graph
from server.store.vectors import index_state
from tests.messages import struct

DEFAULT_DEPTH = 3
MAX_DEPTH = 10


@dataclass(frozen=True)
class E:
    id: str
    source: str
    target: str
    type: str
    w: int


@dataclass
class Graph:
    table: str
    nodes: dict[str, dict[str, Any]]
    edges: list[E]

    def out(self, node: str) -> list[E]:
        return [e for e in self.edges if e.source == node and e.target in self.nodes]


EdgeOk = Callable[[E], bool]
NodeOk = Callable[[str], bool]


# -- the model --------------------------------------------------------------------------------


def levels(
    graph: Graph, start: str, depth: int, edge_ok: EdgeOk, node_ok: NodeOk
) -> dict[str, tuple[int, tuple[int, ...], tuple[str, ...]]]:
    """node → (depth, key, path): level by level, parents by first position, children by id."""
    found = {start: (0, (1,), (start,))}
    frontier = [start]
    level = 0
    while frontier and level < depth:
        best: dict[str, int] = {}
        for position, node in enumerate(frontier, start=1):
            for edge in graph.out(node):
                if edge_ok(edge) and edge.target not in found and node_ok(edge.target):
                    best.setdefault(edge.target, position)
        ordered = sorted(best, key=lambda n: (best[n], n))
        level += 1
        for position, node in enumerate(ordered, start=1):
            parent = frontier[best[node] - 1]
            _, key, path = found[parent]
            found[node] = (level, (*key, position), (*path, node))
        frontier = ordered
    return found


def simple_paths(graph: Graph, start: str, depth: int, edge_ok: EdgeOk) -> list[tuple[list[str], list[str]]]:
    paths = []

    def walk(nodes: list[str], edges: list[str]) -> None:
        paths.append((nodes, edges))
        if len(edges) == depth:
            return
        for edge in graph.out(nodes[-1]):
            if edge_ok(edge) and edge.target not in nodes:
                walk([*nodes, edge.target], [*edges, edge.id])

    walk([start], [])
    return paths


def distances(graph: Graph, start: str, edge_ok: EdgeOk) -> dict[str, int]:
    seen = {start: 0}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for edge in graph.out(node):
                if edge_ok(edge) and edge.target not in seen:
                    seen[edge.target] = seen[node] + 1
                    following.append(edge.target)
        frontier = following
    return seen


# -- helpers ----------------------------------------------------------------------------------


def insert(client: Any, pb: ModuleType, table: str, records: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    answer = client.InsertBatch(
        pb.InsertBatchRequest(
            table_name=table, records=[pb.Record(id=record_id, data=struct(data)) for record_id, data in records]
        )
    )
    assert answer.success, answer.error_message
    return [record.id for record in answer.records]


def packed(value: Any) -> any_pb2.Any:
    message = any_pb2.Any()
    if isinstance(value, str):
        message.Pack(wrappers_pb2.StringValue(value=value))
    else:
        message.Pack(wrappers_pb2.Int64Value(value=value))
    return message


def random_graph(client: Any, pb: ModuleType, seed: int, size: int = 24, edge_count: int = 70) -> Graph:
    """Nodes n00.. with ``kind`` a/b; a disconnected part d0..d4; edges with cycles, self-loops,
    parallel edges, two relationship types and a few edges to nodes that do not exist."""
    rng = random.Random(seed)
    table = "graph-" + uuid.uuid4().hex[:10]
    nodes = {f"n{i:02}": {"label": "Person", "kind": rng.choice("ab"), "i": i} for i in range(size)}
    nodes |= {f"d{i}": {"label": "Island", "kind": "a", "i": 100 + i} for i in range(5)}
    insert(client, pb, table, nodes.items())
    names = [name for name in nodes if name.startswith("n")]
    specs: list[tuple[str, str, str, int]] = []
    for index in range(edge_count):
        source = rng.choice(names)
        target = rng.choice(names)
        specs.append((source, target, rng.choice("FG"), index))
    specs += [("n00", "n00", "F", 900), ("n00", "n01", "F", 901), ("n00", "n01", "G", 902), ("n01", "n00", "F", 903)]
    specs += [("n02", "ghost", "F", 904), ("d0", "d1", "F", 905), ("d1", "d0", "F", 906), ("d2", "n00", "F", 907)]
    records = [
        ("", {"source_id": s, "target_id": t, "relationship_type": kind, "properties": {"w": w}})
        for s, t, kind, w in specs
    ]
    ids = insert(client, pb, table + ".edges", records)
    edges = [E(edge_id, s, t, kind, w) for edge_id, (s, t, kind, w) in zip(ids, specs, strict=True)]
    return Graph(table, nodes, edges)


def traverse(client: Any, pb: ModuleType, table: str, start: str, **spec: Any) -> Any:
    return client.GraphTraverse(
        pb.GraphTraverseRequest(table_name=table, start_node=start, traversal_spec=pb.GraphTraversalSpec(**spec))
    )


def ok(answer: Any) -> Any:
    assert answer.success, answer.error_message
    return answer


# -- filters used by the cases ----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    spec: Callable[[ModuleType], dict[str, Any]]
    edge_ok: EdgeOk
    node_ok: Callable[[Graph, str], bool]


CASES = [
    Case("no filter", lambda pb: {}, lambda e: True, lambda g, n: True),
    Case("type F", lambda pb: {"relationship_types": ["F"]}, lambda e: e.type == "F", lambda g, n: True),
    Case(
        "types F and G, kind a",
        lambda pb: {
            "relationship_types": ["F", "G"],
            "node_filter": pb.QueryCriteria(equals=pb.EqualsFilter(field="kind", value=packed("a"))),
        },
        lambda e: True,
        lambda g, n: g.nodes[n]["kind"] == "a",
    ),
    Case(
        "edge w > 30",
        lambda pb: {
            "edge_filter": pb.QueryCriteria(greater_than=pb.GreaterThanFilter(field="properties.w", value=packed(30)))
        },
        lambda e: e.w > 30,
        lambda g, n: True,
    ),
]


# -- breadth and depth first ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_breadth_and_depth_first_match_the_model(client: Any, pb: ModuleType, seed: int) -> None:
    graph = random_graph(client, pb, seed)
    for case in CASES:
        for start in ("n00", "n05", "d0"):
            for max_depth in (0, 1, 2, 5):
                depth = max_depth or DEFAULT_DEPTH
                node_ok = lambda n, case=case: case.node_ok(graph, n)  # noqa: E731
                model = levels(graph, start, depth, case.edge_ok, node_ok)
                expected_edges = {
                    e.id
                    for node, (level, _, _) in model.items()
                    if level < depth
                    for e in graph.out(node)
                    if case.edge_ok(e) and e.target in model
                }
                breadth = sorted(model, key=model.__getitem__)  # by (depth, key)
                depth_first = [n for _, n in sorted((key, n) for n, (_, key, _) in model.items())]
                for kind, expected in (("BREADTH_FIRST", breadth), ("DEPTH_FIRST", depth_first)):
                    where = f"{case.name}, start {start}, depth {max_depth}, {kind}"
                    answer = ok(
                        traverse(
                            client,
                            pb,
                            graph.table,
                            start,
                            traversal_type=getattr(pb, kind),
                            max_depth=max_depth,
                            **case.spec(pb),
                        )
                    )
                    assert [node.id for node in answer.nodes] == expected, where
                    assert {edge.id for edge in answer.edges} == expected_edges, where
                    assert len(answer.edges) == len(expected_edges), where


def test_nodes_and_edges_carry_their_properties(client: Any, pb: ModuleType) -> None:
    graph = random_graph(client, pb, 7)
    answer = ok(traverse(client, pb, graph.table, "n00", max_depth=1))
    by_id = {e.id: e for e in graph.edges}
    assert answer.nodes[0].id == "n00"
    for node in answer.nodes:
        assert node.label == "Person"
        assert json_format.MessageToDict(node.properties) == graph.nodes[node.id]
    assert answer.edges
    for edge in answer.edges:
        known = by_id[edge.id]
        assert (edge.source_id, edge.target_id, edge.relationship_type) == (known.source, known.target, known.type)
        assert json_format.MessageToDict(edge.properties) == {"w": known.w}
    # The self-loop and both parallel edges n00 → n01 are there; the edge to a missing node is not.
    pairs = [(e.source_id, e.target_id) for e in answer.edges]
    assert ("n00", "n00") in pairs
    assert pairs.count(("n00", "n01")) >= 2


# -- shortest paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_shortest_paths_match_a_python_bfs(client: Any, pb: ModuleType, seed: int) -> None:
    graph = random_graph(client, pb, seed)
    for case in CASES[:2] + CASES[3:]:
        dist = distances(graph, "n00", case.edge_ok)
        for target in ["n03", "n10", "n17", "d1", "n00"]:
            node_filter = pb.QueryCriteria(equals=pb.EqualsFilter(field="id", value=packed(target)))
            answer = ok(
                traverse(
                    client,
                    pb,
                    graph.table,
                    "n00",
                    traversal_type=pb.SHORTEST_PATH,
                    node_filter=node_filter,
                    **case.spec(pb),
                )
            )
            where = f"{case.name}, n00 → {target}"
            if target not in dist or dist[target] > MAX_DEPTH:
                assert list(answer.nodes) == [] and list(answer.edges) == [], where
                continue
            nodes = [node.id for node in answer.nodes]
            edges = list(answer.edges)
            assert len(edges) == dist[target], where
            assert nodes[0] == "n00" and nodes[-1] == target and len(nodes) == dist[target] + 1, where
            for position, edge in enumerate(edges):
                assert (edge.source_id, edge.target_id) == (nodes[position], nodes[position + 1]), where
                assert case.edge_ok(next(e for e in graph.edges if e.id == edge.id)), where


def test_shortest_path_tree_to_every_selected_node(client: Any, pb: ModuleType) -> None:
    graph = random_graph(client, pb, 8)
    dist = distances(graph, "n00", lambda e: True)
    kind_b = pb.QueryCriteria(equals=pb.EqualsFilter(field="kind", value=packed("b")))
    answer = ok(traverse(client, pb, graph.table, "n00", traversal_type=pb.SHORTEST_PATH, node_filter=kind_b))
    targets = {n for n in dist if graph.nodes[n]["kind"] == "b"}
    # Every returned edge is on a shortest path, and following them reaches each target at its distance.
    adjacency: dict[str, list[str]] = defaultdict(list)
    for edge in answer.edges:
        assert dist[edge.target_id] == dist[edge.source_id] + 1
        adjacency[edge.source_id].append(edge.target_id)
    reached = {"n00": 0}
    frontier = ["n00"]
    while frontier:
        frontier = [
            t for n in frontier for t in adjacency[n] if t not in reached and not reached.update({t: reached[n] + 1})
        ]
    assert targets <= set(reached)
    assert all(reached[t] == dist[t] for t in targets)
    assert {node.id for node in answer.nodes} == set(reached)


# -- all paths ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [9, 10])
def test_all_paths_match_the_model(client: Any, pb: ModuleType, seed: int) -> None:
    graph = random_graph(client, pb, seed, size=12, edge_count=22)
    for case in CASES:
        for max_depth in (1, 3):
            paths = simple_paths(graph, "n00", max_depth, case.edge_ok)
            hits = [(nodes, edges) for nodes, edges in paths if case.node_ok(graph, nodes[-1])]
            answer = ok(
                traverse(
                    client, pb, graph.table, "n00", traversal_type=pb.ALL_PATHS, max_depth=max_depth, **case.spec(pb)
                )
            )
            where = f"{case.name}, depth {max_depth}"
            assert {node.id for node in answer.nodes} == {n for nodes, _ in hits for n in nodes}, where
            assert {edge.id for edge in answer.edges} == {e for _, edges in hits for e in edges}, where
            assert len({node.id for node in answer.nodes}) == len(answer.nodes), where


def test_all_paths_refuses_an_explosion(client: Any, pb: ModuleType) -> None:
    table = "graph-" + uuid.uuid4().hex[:10]
    names = [f"k{i:02}" for i in range(12)]
    insert(client, pb, table, [(name, {}) for name in names])
    insert(
        client, pb, table + ".edges", [("", {"source_id": a, "target_id": b}) for a in names for b in names if a != b]
    )

    answer = traverse(client, pb, table, "k00", traversal_type=pb.ALL_PATHS, max_depth=5)

    assert not answer.success
    assert answer.error_message.startswith("INVALID_ARGUMENT:"), answer.error_message
    assert "paths" in answer.error_message
    assert ok(traverse(client, pb, table, "k00", traversal_type=pb.BREADTH_FIRST, max_depth=5)).nodes


# -- refusals -----------------------------------------------------------------------------------------


def test_unknown_start_is_not_found_and_bad_specs_are_invalid(client: Any, pb: ModuleType) -> None:
    graph = random_graph(client, pb, 11, size=4, edge_count=4)
    cases = [
        ("nobody", {}, "NOT_FOUND"),
        ("", {}, "INVALID_ARGUMENT"),
        ("n00", {"max_depth": MAX_DEPTH + 1}, "INVALID_ARGUMENT"),
        ("n00", {"max_depth": -1}, "INVALID_ARGUMENT"),
        ("n00", {"traversal_type": 42}, "INVALID_ARGUMENT"),
        ("n00", {"relationship_types": [""]}, "INVALID_ARGUMENT"),
    ]
    for start, spec, code in cases:
        answer = traverse(client, pb, graph.table, start, **spec)
        assert not answer.success, (start, spec)
        assert answer.error_message.startswith(code + ":"), answer.error_message
    # A start node in another graph is unknown here too.
    assert traverse(client, pb, graph.table + "-other", "n00").error_message.startswith("NOT_FOUND:")


# -- the edge index ------------------------------------------------------------------------------------


def test_first_traversal_builds_the_edge_index_the_plan_can_use(
    client: Any, pb: ModuleType, database_url: str, shared_store: Any
) -> None:
    graph = random_graph(client, pb, 12, size=300, edge_count=3000)
    ok(traverse(client, pb, graph.table, "n00"))  # asks for the index; built in the background
    key = store_graph.EdgeIndexKey("default", graph.table + ".edges")
    deadline = time.monotonic() + 30
    with psycopg.connect(database_url, autocommit=True) as conn:
        while index_state(conn, key) != "valid":
            assert time.monotonic() < deadline, "edge index not built"
            time.sleep(0.1)
        # Probing the index is a plan the planner can choose: with statistics, for a graph of this size,
        # the one it prefers when it may not read the whole edge collection at once.
        conn.execute("ANALYZE documents (tenant, collection)")
        conn.execute("SET enable_hashjoin = off")
        conn.execute("SET enable_mergejoin = off")
        tenant_store = shared_store.for_tenant("default")
        statement = store_graph.traverse(tenant_store._sql, graph.table, "n00", store_graph.Traversal())
        assert statement.query is not None
        plan = "\n".join(row[0] for row in conn.execute(sql.SQL("EXPLAIN ") + statement.query, statement.params))
    assert key.name in plan, plan
