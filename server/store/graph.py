"""Graph traversal over documents: nodes are a collection's documents, edges another's.

The nodes of graph ``people`` are the documents of collection ``people``; its
edges are the documents of collection ``people.edges``, written with the
ordinary insert::

    {"source_id": "alice", "target_id": "bob", "relationship_type": "FOLLOWS",
     "properties": {"since": "2020"}}

Edges are directed (source → target); ids are strings; an edge whose target is
not a (live) node is ignored. Every traversal is ONE recursive SQL statement:

- ``breadth_first`` / ``depth_first``: the start node and every node reachable
  within ``max_depth`` edges over edges that pass ``relationship_types`` and
  ``edge_filter``, through nodes that pass ``node_filter``; plus every such edge
  leaving a returned node that is less than ``max_depth`` away and arriving at a
  returned node (self-loops, parallel edges and edges back included). The search
  goes level by level and keeps a set of seen nodes, so every node is expanded
  once, whatever cycles the graph has. Each node's path is the
  lexicographically smallest (by position) shortest path; breadth first lists
  nodes by (depth, path), depth first by path (a pre-order walk).
- ``shortest_path``: to every node ``node_filter`` selects (every node when it
  is empty), one shortest path (fewest edges; ties broken as above, parallel
  edges by smallest edge id). Nodes between need not pass ``node_filter``. The
  answer is the union of those paths' nodes and edges, in path order. The search
  stops at the level where the last selected node was found.
- ``all_paths``: every simple path (no node twice) of at most ``max_depth``
  edges from the start to a node ``node_filter`` selects; the nodes and edges on
  any of them, each once, by first position on a path.

Limits: ``max_depth`` 0 means :data:`DEFAULT_DEPTH` (:data:`MAX_DEPTH` for
shortest paths), more than :data:`MAX_DEPTH` is refused; a traversal reaching
more than :data:`MAX_NODES` nodes, or enumerating more than :data:`MAX_PATHS`
paths, is refused rather than cut short.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from server.store.compiler import Compiler
from server.store.criteria import Criteria, MatchAll
from server.store.errors import InvalidArgument, NotFound
from server.store.statements import DELETED_KEY, Rows, Statement, Statements, check_name

BREADTH_FIRST = "breadth_first"
DEPTH_FIRST = "depth_first"
SHORTEST_PATH = "shortest_path"
ALL_PATHS = "all_paths"
KINDS = (BREADTH_FIRST, DEPTH_FIRST, SHORTEST_PATH, ALL_PATHS)

#: The edges of graph ``X`` are the documents of collection ``X`` + this.
EDGES_SUFFIX = ".edges"
#: A node's label (GraphNode.label) is this data key, when it holds a string.
LABEL_KEY = "label"
#: Edge document keys.
SOURCE_KEY, TARGET_KEY, TYPE_KEY, PROPERTIES_KEY = "source_id", "target_id", "relationship_type", "properties"
DEFAULT_DEPTH = 3
MAX_DEPTH = 10
MAX_NODES = 10000
MAX_PATHS = 10000


@dataclass(frozen=True, slots=True)
class Traversal:
    kind: str = BREADTH_FIRST
    max_depth: int = 0
    relationship_types: tuple[str, ...] = ()
    node_filter: Criteria = field(default_factory=MatchAll)
    edge_filter: Criteria = field(default_factory=MatchAll)


@dataclass(frozen=True, slots=True)
class Node:
    """A node document: ``properties`` is its data."""

    id: str
    properties: dict[str, Any]

    @property
    def label(self) -> str:
        label = self.properties.get(LABEL_KEY)
        return label if isinstance(label, str) else ""


@dataclass(frozen=True, slots=True)
class Edge:
    """An edge document, ``data`` as stored."""

    id: str
    data: dict[str, Any]

    def _text(self, key: str) -> str:
        value = self.data.get(key)
        return value if isinstance(value, str) else ""

    @property
    def source_id(self) -> str:
        return self._text(SOURCE_KEY)

    @property
    def target_id(self) -> str:
        return self._text(TARGET_KEY)

    @property
    def relationship_type(self) -> str:
        return self._text(TYPE_KEY)

    @property
    def properties(self) -> dict[str, Any]:
        """``data.properties`` when it is an object; otherwise every key but the three structural ones."""
        data = self.data
        if isinstance(data.get(PROPERTIES_KEY), dict):
            return dict(data[PROPERTIES_KEY])
        return {k: v for k, v in data.items() if k not in (SOURCE_KEY, TARGET_KEY, TYPE_KEY)}


@dataclass(frozen=True, slots=True)
class GraphResult:
    nodes: list[Node]
    edges: list[Edge]


def edges_collection(collection: str) -> str:
    return check_name(collection + EDGES_SUFFIX, "edge collection")


#: How an edge names its source; the expression edge indexes are built on.
_SOURCE = "(data ->> 'source_id')"
EDGE_INDEX_PREFIX = "documents_edges_"


@dataclass(frozen=True, slots=True)
class EdgeIndexKey:
    """The btree index on ``data ->> 'source_id'`` of one tenant's edge collection.

    Built on demand (the first traversal of a graph asks for it; see
    ``vectors.Indexer``); until it exists, traversals hash-join each level with
    the edge collection instead of probing it.
    """

    tenant: str
    collection: str

    @property
    def name(self) -> str:
        text = json.dumps([self.tenant, self.collection])
        return EDGE_INDEX_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:24]

    def describe(self) -> str:
        return json.dumps({"tenant": self.tenant, "collection": self.collection, "field": SOURCE_KEY})

    def scope(self) -> sql.Composed:
        return sql.SQL("tenant = {} AND collection = {}").format(sql.Literal(self.tenant), sql.Literal(self.collection))

    def definition(self, settings: Any) -> sql.Composed:
        return sql.SQL("CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON documents ({}) WHERE {}").format(
            sql.Identifier(self.name), sql.SQL(_SOURCE), self.scope()
        )


def edge_index(st: Statements, collection: str) -> EdgeIndexKey:
    """The edge index a traversal of graph ``collection`` uses."""
    return EdgeIndexKey(st.tenant, edges_collection(check_name(collection, "table")))


class _Text:
    """SQL text and its bind parameters, appended together so they never get out of order."""

    def __init__(self, id_is_uuid: bool) -> None:
        self.parts: list[sql.Composable] = []
        self.params: list[Any] = []
        self.id_is_uuid = id_is_uuid

    def add(self, text: str, *params: Any) -> None:
        self.parts.append(sql.SQL(text))
        self.params.extend(params)

    def criteria(self, criteria: Criteria) -> None:
        compiler = Compiler(id_is_uuid=self.id_is_uuid)
        self.parts.append(compiler.where(criteria))
        self.params.extend(compiler.params)

    def composed(self) -> sql.Composed:
        return sql.Composed(self.parts)


_LIVE = f"NOT (data ? '{DELETED_KEY}')"


class _Graph:
    """Fragments of one traversal's statement."""

    def __init__(self, st: Statements, collection: str, spec: Traversal) -> None:
        self.tenant = st.tenant
        self.nodes = collection
        self.edges = edges_collection(collection)
        self.spec = spec
        self.id_is_uuid = st.layout.id_is_uuid
        self.q = _Text(self.id_is_uuid)

    def id_equals(self, expression: str) -> str:
        return f"id::text = {expression}" if self.id_is_uuid else f"id = {expression}"

    def join_edges(self, alias: str, source: str, extra: str = "") -> None:
        """``JOIN`` the live, matching edges (edge_id, src, dst, edge_data) leaving node ``source``.

        An equality on ``data ->> 'source_id'``, so the planner may hash-join a whole
        level at once, or probe the graph's edge index (:class:`EdgeIndexKey`, whose
        partial predicate the literal tenant and collection here repeat).
        """
        q = self.q
        scope = EdgeIndexKey(self.tenant, self.edges).scope()
        q.parts.append(
            sql.SQL(
                ' JOIN (SELECT id::text COLLATE "C" AS edge_id, {source} AS src,'
                " (data ->> 'target_id') COLLATE \"C\" AS dst, data AS edge_data FROM documents"
                " WHERE {scope} AND {live}"
            ).format(source=sql.SQL(_SOURCE), scope=scope, live=sql.SQL(_LIVE))
        )
        if self.spec.relationship_types:
            q.add(" AND (data ->> 'relationship_type') = ANY (%s::text[])", list(self.spec.relationship_types))
        q.add(" AND ")
        q.criteria(self.spec.edge_filter)
        q.add(f') AS {alias} ON {alias}.src = ({source}) COLLATE "default"{extra}')

    def node_ok(self, node: str, filtered: bool) -> None:
        """True when ``node`` is a live node (passing node_filter when ``filtered``)."""
        self.q.add(
            f"EXISTS (SELECT 1 FROM documents WHERE tenant = %s AND collection = %s AND {self.id_equals(node)}"
            f" AND {_LIVE}",
            self.tenant,
            self.nodes,
        )
        if filtered:
            self.q.add(" AND ")
            self.q.criteria(self.spec.node_filter)
        self.q.add(")")

    def start(self, start: str) -> None:
        self.q.add(
            'WITH RECURSIVE start AS (SELECT id::text COLLATE "C" AS id FROM documents'
            f" WHERE tenant = %s AND collection = %s AND {self.id_equals('%s')} AND {_LIVE}),",
            self.tenant,
            self.nodes,
            start,
        )

    def document_join(self, alias: str, collection: str, id_expression: str) -> None:
        expression = f"{alias}.id::text = {id_expression}" if self.id_is_uuid else f"{alias}.id = {id_expression}"
        self.q.add(
            f" JOIN documents {alias} ON {alias}.tenant = %s AND {alias}.collection = %s AND {expression}",
            self.tenant,
            collection,
        )


def _levels(g: _Graph, depth: int, shortest: bool) -> None:
    """``levels``: one row per depth (its nodes in path order, their parents' positions), then ``tree``."""
    q = g.q
    if shortest:
        q.add(
            " goal AS (SELECT count(*) AS wanted FROM documents WHERE tenant = %s AND collection = %s",
            g.tenant,
            g.nodes,
        )
        q.add(f" AND {_LIVE} AND ")
        q.criteria(g.spec.node_filter)
        q.add("),")
    q.add(
        " levels(depth, nodes, parents, seen, total, found) AS ("
        " SELECT 0, ARRAY[s.id], ARRAY[0::bigint], jsonb_build_object(s.id, true), 1::bigint, "
    )
    if shortest:
        q.add("(CASE WHEN ")
        g.node_ok("s.id", True)
        q.add(" THEN 1 ELSE 0 END)::bigint")
    else:
        q.add("0::bigint")
    q.add(
        " FROM start s"
        " UNION ALL"
        " SELECT l.depth + 1, n.nodes, n.parents, l.seen || n.seen, l.total + cardinality(n.nodes), l.found + n.hits"
        " FROM levels l CROSS JOIN LATERAL ("
        " SELECT array_agg(c.dst ORDER BY c.parent, c.dst) AS nodes,"
        " array_agg(c.parent ORDER BY c.parent, c.dst) AS parents,"
        " jsonb_object_agg(c.dst, true) AS seen, count(*) FILTER (WHERE c.hit) AS hits"
        " FROM (SELECT c0.dst, c0.parent, "
    )
    if shortest:
        g.node_ok("c0.dst", True)
    else:
        q.add("false")
    q.add(" AS hit FROM ( SELECT e.dst, min(f.pos) AS parent FROM unnest(l.nodes) WITH ORDINALITY AS f(id, pos)")
    g.join_edges("e", "f.id")
    q.add(" WHERE e.dst IS NOT NULL AND NOT (l.seen ? e.dst) AND ")
    g.node_ok("e.dst", not shortest)
    q.add(
        " GROUP BY 1) AS c0) AS c) AS n WHERE l.depth < %s AND l.total <= %s AND n.nodes IS NOT NULL", depth, MAX_NODES
    )
    if shortest:
        q.add(" AND l.found < (SELECT wanted FROM goal)")
    q.add(
        "),"
        " flat AS (SELECT l.depth, f.id, f.parent, f.pos FROM levels l"
        " CROSS JOIN LATERAL unnest(l.nodes, l.parents) WITH ORDINALITY AS f(id, parent, pos)),"
        " tree(depth, id, pos, key, path) AS ("
        " SELECT depth, id, pos, ARRAY[pos], ARRAY[id] FROM flat WHERE depth = 0"
        " UNION ALL"
        " SELECT f.depth, f.id, f.pos, t.key || f.pos, t.path || f.id"
        " FROM tree t JOIN flat f ON f.depth = t.depth + 1 AND f.parent = t.pos)"
    )


def _meta(g: _Graph, amount: str) -> None:
    g.q.add(
        " SELECT 'meta' AS kind, NULL::text AS id, NULL::jsonb AS data, NULL::bigint[] AS sort,"
        ' NULL::text COLLATE "C" AS tie,'
        f" ({amount})::bigint AS amount FROM start"
    )


def _walk(g: _Graph, depth: int) -> None:
    """Breadth or depth first: the tree's nodes, and the edges explored from them."""
    q = g.q
    _levels(g, depth, shortest=False)
    by_depth = g.spec.kind == BREADTH_FIRST
    sort = "ARRAY[t.depth::bigint] || t.key" if by_depth else "t.key"
    _meta(g, "SELECT max(total) FROM levels")
    q.add(f" UNION ALL SELECT 'node', t.id, d.data, {sort}, t.id, NULL FROM tree t")
    g.document_join("d", g.nodes, "t.id")
    q.add(f" UNION ALL SELECT 'edge', e.edge_id, e.edge_data, {sort}, e.edge_id, NULL FROM tree t")
    g.join_edges("e", "t.id")
    q.add(" JOIN tree t2 ON t2.id = e.dst WHERE t.depth < %s", depth)


def _shortest(g: _Graph, depth: int) -> None:
    q = g.q
    _levels(g, depth, shortest=True)
    q.add(", targets AS (SELECT t.path FROM tree t WHERE ")
    g.node_ok("t.id", True)
    q.add(
        "), on_path AS (SELECT t.* FROM tree t"
        " WHERE t.id IN (SELECT p.id FROM targets g CROSS JOIN LATERAL unnest(g.path) AS p(id)))"
    )
    _meta(g, "SELECT max(total) FROM levels")
    q.add(" UNION ALL SELECT 'node', t.id, d.data, t.key, t.id, NULL FROM on_path t")
    g.document_join("d", g.nodes, "t.id")
    q.add(
        " UNION ALL (SELECT DISTINCT ON (t.id) 'edge', e.edge_id, e.edge_data, t.key, e.edge_id, NULL::bigint"
        " FROM on_path t"
    )
    g.join_edges("e", "t.path[t.depth]", " AND e.dst = t.id")
    q.add(" WHERE t.depth > 0 ORDER BY t.id, e.edge_id)")


def _all_paths(g: _Graph, depth: int) -> None:
    q = g.q
    q.add(
        " walk(node, depth, nodes, edges) AS ("
        ' SELECT s.id, 0, ARRAY[s.id], ARRAY[]::text[] COLLATE "C" FROM start s'
        " UNION ALL"
        " SELECT e.dst, w.depth + 1, w.nodes || e.dst, w.edges || e.edge_id FROM walk w"
    )
    g.join_edges("e", "w.node")
    q.add(" WHERE w.depth < %s AND e.dst IS NOT NULL AND NOT (e.dst = ANY (w.nodes)) AND ", depth)
    g.node_ok("e.dst", False)
    q.add(
        "), capped AS MATERIALIZED (SELECT * FROM walk LIMIT %s), hits AS (SELECT c.* FROM capped c WHERE ",
        MAX_PATHS + 1,
    )
    g.node_ok("c.node", True)
    q.add(
        "), node_rows AS (SELECT p.id, min(p.ord) AS first"
        " FROM hits h CROSS JOIN LATERAL unnest(h.nodes) WITH ORDINALITY AS p(id, ord) GROUP BY p.id),"
        " edge_rows AS (SELECT p.id, min(p.ord) AS first"
        " FROM hits h CROSS JOIN LATERAL unnest(h.edges) WITH ORDINALITY AS p(id, ord) GROUP BY p.id)"
    )
    _meta(g, "SELECT count(*) FROM capped")
    q.add(" UNION ALL SELECT 'node', n.id, d.data, ARRAY[n.first], n.id, NULL FROM node_rows n")
    g.document_join("d", g.nodes, "n.id")
    q.add(" UNION ALL SELECT 'edge', x.id, d.data, ARRAY[x.first], x.id, NULL FROM edge_rows x")
    g.document_join("d", g.edges, "x.id")


def traverse(st: Statements, collection: str, start: str, spec: Traversal) -> Statement[GraphResult]:
    """One statement: the traversal ``spec`` describes from node ``start`` of graph ``collection``."""
    check_name(collection, "table")
    if not start:
        raise InvalidArgument("start_node is empty")
    check_name(start, "start_node")
    if spec.kind not in KINDS:
        raise InvalidArgument(f"traversal type {spec.kind!r}: use one of {', '.join(KINDS)}")
    if spec.max_depth < 0 or spec.max_depth > MAX_DEPTH:
        raise InvalidArgument(f"max_depth must be 0 to {MAX_DEPTH} (0 means {DEFAULT_DEPTH})")
    depth = spec.max_depth or (MAX_DEPTH if spec.kind == SHORTEST_PATH else DEFAULT_DEPTH)
    for name in spec.relationship_types:
        if not name or "\x00" in name:
            raise InvalidArgument("relationship_types may not hold empty names")
    g = _Graph(st, collection, spec)
    if st.layout.id_is_uuid:
        try:
            start = str(uuid.UUID(start))
        except ValueError:
            return Statement(None, (), lambda _rows, _count: _no_start(collection, start))
    g.start(start)
    if spec.kind in (BREADTH_FIRST, DEPTH_FIRST):
        _walk(g, depth)
    elif spec.kind == SHORTEST_PATH:
        _shortest(g, depth)
    else:
        _all_paths(g, depth)
    g.q.add(" ORDER BY kind, sort, tie")  # tie (an id) is COLLATE "C" in every branch
    limit, what = (MAX_PATHS, "paths") if spec.kind == ALL_PATHS else (MAX_NODES, "nodes")

    def result(rows: Rows, _count: int) -> GraphResult:
        meta = [row for row in rows if row[0] == "meta"]
        if not meta:
            _no_start(collection, start)
        if int(meta[0][5] or 0) > limit:
            raise InvalidArgument(
                f"this traversal reaches more than {limit} {what}; lower max_depth or narrow"
                " relationship_types, edge_filter or node_filter"
            )
        nodes = [Node(str(row[1]), row[2]) for row in rows if row[0] == "node"]
        edges = [Edge(str(row[1]), row[2]) for row in rows if row[0] == "edge"]
        return GraphResult(nodes, edges)

    return Statement(g.q.composed(), g.q.params, result)


def _no_start(collection: str, start: str) -> Any:
    raise NotFound(f"no node {start!r} in graph {collection!r}")
