"""VectorSearch and GraphTraverse messages ↔ the store's vector search and graph traversal.

Kept apart from ``codec`` (records and criteria) so the two RPCs' shapes live in
one small place; criteria, records and Struct conversions come from ``codec``.
"""

from __future__ import annotations

from collections.abc import Mapping

from server import codec
from server.store import Field, InvalidArgument, MatchAll, Query
from server.store.criteria import VectorNearest
from server.store.graph import ALL_PATHS, BREADTH_FIRST, DEPTH_FIRST, SHORTEST_PATH, GraphResult, Traversal
from server.store.vectors import Scored, VectorField, with_defaults
from stubs import persistence_platform_pb2 as pb

TRAVERSALS = {
    pb.BREADTH_FIRST: BREADTH_FIRST,
    pb.DEPTH_FIRST: DEPTH_FIRST,
    pb.SHORTEST_PATH: SHORTEST_PATH,
    pb.ALL_PATHS: ALL_PATHS,
}


def vector_config(fields: Mapping[str, VectorField], table: str) -> VectorField:
    """The table's configured vector field (``embedding``, any length, cosine when not configured)."""
    return fields.get(table) or VectorField()


def vector_query(request: pb.VectorSearchRequest, config: VectorField) -> Query:
    near = VectorNearest(
        field=Field.parse(config.field),
        vector=tuple(request.query_vector),
        limit=request.limit,
        threshold=request.threshold or None,
        metric=request.distance_metric,
    )
    return Query(criteria=with_defaults(near, config))


def with_vector_defaults(query: Query, config: VectorField) -> Query:
    """A query whose ``vector_search`` leaves field, metric or dimensions to the table's configuration."""
    criteria = with_defaults(query.criteria, config)
    if criteria is query.criteria:
        return query
    return Query(
        criteria=criteria,
        order_by=query.order_by,
        limit=query.limit,
        offset=query.offset,
        projections=query.projections,
        include_deleted=query.include_deleted,
    )


def vector_answer(hits: list[Scored]) -> pb.VectorSearchResponse:
    response = pb.VectorSearchResponse(success=True)
    for hit in hits:
        result = response.results.add(similarity_score=hit.similarity, distance=hit.distance)
        codec.to_record(hit.document, result.record)
    return response


def traversal(spec: pb.GraphTraversalSpec) -> Traversal:
    if spec.traversal_type not in TRAVERSALS:
        raise InvalidArgument(f"traversal_type {spec.traversal_type} is not a GraphTraversalType")
    node_filter = codec.criteria_from_proto(spec.node_filter) if spec.HasField("node_filter") else MatchAll()
    edge_filter = codec.criteria_from_proto(spec.edge_filter) if spec.HasField("edge_filter") else MatchAll()
    return Traversal(
        kind=TRAVERSALS[spec.traversal_type],
        max_depth=spec.max_depth,
        relationship_types=tuple(spec.relationship_types),
        node_filter=node_filter,
        edge_filter=edge_filter,
    )


def graph_answer(result: GraphResult) -> pb.GraphTraverseResponse:
    response = pb.GraphTraverseResponse(success=True)
    for node in result.nodes:
        codec.dict_to_struct(node.properties, response.nodes.add(id=node.id, label=node.label).properties)
    for edge in result.edges:
        added = response.edges.add(
            id=edge.id,
            source_id=edge.source_id,
            target_id=edge.target_id,
            relationship_type=edge.relationship_type,
        )
        codec.dict_to_struct(edge.properties, added.properties)
    return response
