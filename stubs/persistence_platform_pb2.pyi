import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import any_pb2 as _any_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueryType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POINT_LOOKUP: _ClassVar[QueryType]
    RANGE_SCAN: _ClassVar[QueryType]
    FULL_TEXT_SEARCH: _ClassVar[QueryType]
    VECTOR_SIMILARITY: _ClassVar[QueryType]
    GRAPH_TRAVERSAL: _ClassVar[QueryType]
    AGGREGATION: _ClassVar[QueryType]
    TIME_SERIES: _ClassVar[QueryType]
    GEOSPATIAL: _ClassVar[QueryType]
    DOCUMENT_QUERY: _ClassVar[QueryType]

class GraphTraversalType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BREADTH_FIRST: _ClassVar[GraphTraversalType]
    DEPTH_FIRST: _ClassVar[GraphTraversalType]
    SHORTEST_PATH: _ClassVar[GraphTraversalType]
    ALL_PATHS: _ClassVar[GraphTraversalType]
POINT_LOOKUP: QueryType
RANGE_SCAN: QueryType
FULL_TEXT_SEARCH: QueryType
VECTOR_SIMILARITY: QueryType
GRAPH_TRAVERSAL: QueryType
AGGREGATION: QueryType
TIME_SERIES: QueryType
GEOSPATIAL: QueryType
DOCUMENT_QUERY: QueryType
BREADTH_FIRST: GraphTraversalType
DEPTH_FIRST: GraphTraversalType
SHORTEST_PATH: GraphTraversalType
ALL_PATHS: GraphTraversalType

class ExecutionContext(_message.Message):
    __slots__ = ("request_id", "user_id", "session_id", "trace_id", "span_id", "timestamp", "metadata")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    user_id: str
    session_id: str
    trace_id: str
    span_id: str
    timestamp: _timestamp_pb2.Timestamp
    metadata: _struct_pb2.Struct
    def __init__(self, request_id: _Optional[str] = ..., user_id: _Optional[str] = ..., session_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., span_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("id", "data", "created_at", "updated_at", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    data: _struct_pb2.Struct
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    version: str
    def __init__(self, id: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[str] = ...) -> None: ...

class QueryCriteria(_message.Message):
    __slots__ = ("equals", "greater_than", "less_than", "in_filter", "range", "text_search", "vector_search", "and_filter", "or_filter")
    EQUALS_FIELD_NUMBER: _ClassVar[int]
    GREATER_THAN_FIELD_NUMBER: _ClassVar[int]
    LESS_THAN_FIELD_NUMBER: _ClassVar[int]
    IN_FILTER_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    TEXT_SEARCH_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SEARCH_FIELD_NUMBER: _ClassVar[int]
    AND_FILTER_FIELD_NUMBER: _ClassVar[int]
    OR_FILTER_FIELD_NUMBER: _ClassVar[int]
    equals: EqualsFilter
    greater_than: GreaterThanFilter
    less_than: LessThanFilter
    in_filter: InFilter
    range: RangeFilter
    text_search: TextSearchFilter
    vector_search: VectorSearchFilter
    and_filter: AndFilter
    or_filter: OrFilter
    def __init__(self, equals: _Optional[_Union[EqualsFilter, _Mapping]] = ..., greater_than: _Optional[_Union[GreaterThanFilter, _Mapping]] = ..., less_than: _Optional[_Union[LessThanFilter, _Mapping]] = ..., in_filter: _Optional[_Union[InFilter, _Mapping]] = ..., range: _Optional[_Union[RangeFilter, _Mapping]] = ..., text_search: _Optional[_Union[TextSearchFilter, _Mapping]] = ..., vector_search: _Optional[_Union[VectorSearchFilter, _Mapping]] = ..., and_filter: _Optional[_Union[AndFilter, _Mapping]] = ..., or_filter: _Optional[_Union[OrFilter, _Mapping]] = ...) -> None: ...

class EqualsFilter(_message.Message):
    __slots__ = ("field", "value")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    field: str
    value: _any_pb2.Any
    def __init__(self, field: _Optional[str] = ..., value: _Optional[_Union[_any_pb2.Any, _Mapping]] = ...) -> None: ...

class GreaterThanFilter(_message.Message):
    __slots__ = ("field", "value")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    field: str
    value: _any_pb2.Any
    def __init__(self, field: _Optional[str] = ..., value: _Optional[_Union[_any_pb2.Any, _Mapping]] = ...) -> None: ...

class LessThanFilter(_message.Message):
    __slots__ = ("field", "value")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    field: str
    value: _any_pb2.Any
    def __init__(self, field: _Optional[str] = ..., value: _Optional[_Union[_any_pb2.Any, _Mapping]] = ...) -> None: ...

class InFilter(_message.Message):
    __slots__ = ("field", "values")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    field: str
    values: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, field: _Optional[str] = ..., values: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class RangeFilter(_message.Message):
    __slots__ = ("field", "min_value", "max_value")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    field: str
    min_value: _any_pb2.Any
    max_value: _any_pb2.Any
    def __init__(self, field: _Optional[str] = ..., min_value: _Optional[_Union[_any_pb2.Any, _Mapping]] = ..., max_value: _Optional[_Union[_any_pb2.Any, _Mapping]] = ...) -> None: ...

class TextSearchFilter(_message.Message):
    __slots__ = ("fields", "query", "analyzer")
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.RepeatedScalarFieldContainer[str]
    query: str
    analyzer: str
    def __init__(self, fields: _Optional[_Iterable[str]] = ..., query: _Optional[str] = ..., analyzer: _Optional[str] = ...) -> None: ...

class VectorSearchFilter(_message.Message):
    __slots__ = ("field", "query_vector", "limit", "threshold", "distance_metric")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    QUERY_VECTOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_METRIC_FIELD_NUMBER: _ClassVar[int]
    field: str
    query_vector: _containers.RepeatedScalarFieldContainer[float]
    limit: int
    threshold: float
    distance_metric: str
    def __init__(self, field: _Optional[str] = ..., query_vector: _Optional[_Iterable[float]] = ..., limit: _Optional[int] = ..., threshold: _Optional[float] = ..., distance_metric: _Optional[str] = ...) -> None: ...

class AndFilter(_message.Message):
    __slots__ = ("filters",)
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    filters: _containers.RepeatedCompositeFieldContainer[QueryCriteria]
    def __init__(self, filters: _Optional[_Iterable[_Union[QueryCriteria, _Mapping]]] = ...) -> None: ...

class OrFilter(_message.Message):
    __slots__ = ("filters",)
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    filters: _containers.RepeatedCompositeFieldContainer[QueryCriteria]
    def __init__(self, filters: _Optional[_Iterable[_Union[QueryCriteria, _Mapping]]] = ...) -> None: ...

class OrderBy(_message.Message):
    __slots__ = ("field", "ascending")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    ASCENDING_FIELD_NUMBER: _ClassVar[int]
    field: str
    ascending: bool
    def __init__(self, field: _Optional[str] = ..., ascending: _Optional[bool] = ...) -> None: ...

class QuerySpec(_message.Message):
    __slots__ = ("table_name", "query_type", "criteria", "projections", "order_by", "limit", "offset")
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    QUERY_TYPE_FIELD_NUMBER: _ClassVar[int]
    CRITERIA_FIELD_NUMBER: _ClassVar[int]
    PROJECTIONS_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    table_name: str
    query_type: QueryType
    criteria: QueryCriteria
    projections: _containers.RepeatedScalarFieldContainer[str]
    order_by: _containers.RepeatedCompositeFieldContainer[OrderBy]
    limit: int
    offset: int
    def __init__(self, table_name: _Optional[str] = ..., query_type: _Optional[_Union[QueryType, str]] = ..., criteria: _Optional[_Union[QueryCriteria, _Mapping]] = ..., projections: _Optional[_Iterable[str]] = ..., order_by: _Optional[_Iterable[_Union[OrderBy, _Mapping]]] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class InsertRequest(_message.Message):
    __slots__ = ("table_name", "record", "context")
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    table_name: str
    record: Record
    context: ExecutionContext
    def __init__(self, table_name: _Optional[str] = ..., record: _Optional[_Union[Record, _Mapping]] = ..., context: _Optional[_Union[ExecutionContext, _Mapping]] = ...) -> None: ...

class InsertResponse(_message.Message):
    __slots__ = ("success", "record", "error_message", "execution_time_ms")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    record: Record
    error_message: str
    execution_time_ms: int
    def __init__(self, success: _Optional[bool] = ..., record: _Optional[_Union[Record, _Mapping]] = ..., error_message: _Optional[str] = ..., execution_time_ms: _Optional[int] = ...) -> None: ...

class InsertBatchRequest(_message.Message):
    __slots__ = ("table_name", "records", "context")
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    table_name: str
    records: _containers.RepeatedCompositeFieldContainer[Record]
    context: ExecutionContext
    def __init__(self, table_name: _Optional[str] = ..., records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ..., context: _Optional[_Union[ExecutionContext, _Mapping]] = ...) -> None: ...

class InsertBatchResponse(_message.Message):
    __slots__ = ("success", "records", "inserted_count", "error_message", "execution_time_ms")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    INSERTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    records: _containers.RepeatedCompositeFieldContainer[Record]
    inserted_count: int
    error_message: str
    execution_time_ms: int
    def __init__(self, success: _Optional[bool] = ..., records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ..., inserted_count: _Optional[int] = ..., error_message: _Optional[str] = ..., execution_time_ms: _Optional[int] = ...) -> None: ...

class UpdateRequest(_message.Message):
    __slots__ = ("table_name", "id", "updates", "context")
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    table_name: str
    id: str
    updates: _struct_pb2.Struct
    context: ExecutionContext
    def __init__(self, table_name: _Optional[str] = ..., id: _Optional[str] = ..., updates: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., context: _Optional[_Union[ExecutionContext, _Mapping]] = ...) -> None: ...

class UpdateResponse(_message.Message):
    __slots__ = ("success", "record", "error_message", "execution_time_ms")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    record: Record
    error_message: str
    execution_time_ms: int
    def __init__(self, success: _Optional[bool] = ..., record: _Optional[_Union[Record, _Mapping]] = ..., error_message: _Optional[str] = ..., execution_time_ms: _Optional[int] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("table_name", "criteria", "context")
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    CRITERIA_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    table_name: str
    criteria: QueryCriteria
    context: ExecutionContext
    def __init__(self, table_name: _Optional[str] = ..., criteria: _Optional[_Union[QueryCriteria, _Mapping]] = ..., context: _Optional[_Union[ExecutionContext, _Mapping]] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("success", "deleted_count", "error_message", "execution_time_ms")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    DELETED_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    deleted_count: int
    error_message: str
    execution_time_ms: int
    def __init__(self, success: _Optional[bool] = ..., deleted_count: _Optional[int] = ..., error_message: _Optional[str] = ..., execution_time_ms: _Optional[int] = ...) -> None: ...

class ExecuteQueryRequest(_message.Message):
    __slots__ = ("query_name", "parameters", "context")
    QUERY_NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    query_name: str
    parameters: _struct_pb2.Struct
    context: ExecutionContext
    def __init__(self, query_name: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., context: _Optional[_Union[ExecutionContext, _Mapping]] = ...) -> None: ...

class ExecuteQueryResponse(_message.Message):
    __slots__ = ("success", "results", "count", "error_message", "execution_time_ms", "from_cache")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    FROM_CACHE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    results: _containers.RepeatedCompositeFieldContainer[Record]
    count: int
    error_message: str
    execution_time_ms: int
    from_cache: bool
    def __init__(self, success: _Optional[bool] = ..., results: _Optional[_Iterable[_Union[Record, _Mapping]]] = ..., count: _Optional[int] = ..., error_message: _Optional[str] = ..., execution_time_ms: _Optional[int] = ..., from_cache: _Optional[bool] = ...) -> None: ...

class ExecuteRawQueryRequest(_message.Message):
    __slots__ = ("query_spec", "context")
    QUERY_SPEC_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    query_spec: QuerySpec
    context: ExecutionContext
    def __init__(self, query_spec: _Optional[_Union[QuerySpec, _Mapping]] = ..., context: _Optional[_Union[ExecutionContext, _Mapping]] = ...) -> None: ...

class ExecuteRawQueryResponse(_message.Message):
    __slots__ = ("success", "results", "count", "error_message", "execution_time_ms")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    results: _containers.RepeatedCompositeFieldContainer[Record]
    count: int
    error_message: str
    execution_time_ms: int
    def __init__(self, success: _Optional[bool] = ..., results: _Optional[_Iterable[_Union[Record, _Mapping]]] = ..., count: _Optional[int] = ..., error_message: _Optional[str] = ..., execution_time_ms: _Optional[int] = ...) -> None: ...

class VectorSearchRequest(_message.Message):
    __slots__ = ("table_name", "query_vector", "limit", "threshold", "distance_metric", "context")
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    QUERY_VECTOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_METRIC_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    table_name: str
    query_vector: _containers.RepeatedScalarFieldContainer[float]
    limit: int
    threshold: float
    distance_metric: str
    context: ExecutionContext
    def __init__(self, table_name: _Optional[str] = ..., query_vector: _Optional[_Iterable[float]] = ..., limit: _Optional[int] = ..., threshold: _Optional[float] = ..., distance_metric: _Optional[str] = ..., context: _Optional[_Union[ExecutionContext, _Mapping]] = ...) -> None: ...

class VectorSearchResponse(_message.Message):
    __slots__ = ("success", "results", "error_message", "execution_time_ms")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    results: _containers.RepeatedCompositeFieldContainer[VectorSearchResult]
    error_message: str
    execution_time_ms: int
    def __init__(self, success: _Optional[bool] = ..., results: _Optional[_Iterable[_Union[VectorSearchResult, _Mapping]]] = ..., error_message: _Optional[str] = ..., execution_time_ms: _Optional[int] = ...) -> None: ...

class VectorSearchResult(_message.Message):
    __slots__ = ("record", "similarity_score", "distance")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    record: Record
    similarity_score: float
    distance: float
    def __init__(self, record: _Optional[_Union[Record, _Mapping]] = ..., similarity_score: _Optional[float] = ..., distance: _Optional[float] = ...) -> None: ...

class GraphTraverseRequest(_message.Message):
    __slots__ = ("table_name", "start_node", "traversal_spec", "context")
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    START_NODE_FIELD_NUMBER: _ClassVar[int]
    TRAVERSAL_SPEC_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    table_name: str
    start_node: str
    traversal_spec: GraphTraversalSpec
    context: ExecutionContext
    def __init__(self, table_name: _Optional[str] = ..., start_node: _Optional[str] = ..., traversal_spec: _Optional[_Union[GraphTraversalSpec, _Mapping]] = ..., context: _Optional[_Union[ExecutionContext, _Mapping]] = ...) -> None: ...

class GraphTraverseResponse(_message.Message):
    __slots__ = ("success", "nodes", "edges", "error_message", "execution_time_ms")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    nodes: _containers.RepeatedCompositeFieldContainer[GraphNode]
    edges: _containers.RepeatedCompositeFieldContainer[GraphEdge]
    error_message: str
    execution_time_ms: int
    def __init__(self, success: _Optional[bool] = ..., nodes: _Optional[_Iterable[_Union[GraphNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[GraphEdge, _Mapping]]] = ..., error_message: _Optional[str] = ..., execution_time_ms: _Optional[int] = ...) -> None: ...

class GraphTraversalSpec(_message.Message):
    __slots__ = ("traversal_type", "max_depth", "relationship_types", "node_filter", "edge_filter")
    TRAVERSAL_TYPE_FIELD_NUMBER: _ClassVar[int]
    MAX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_TYPES_FIELD_NUMBER: _ClassVar[int]
    NODE_FILTER_FIELD_NUMBER: _ClassVar[int]
    EDGE_FILTER_FIELD_NUMBER: _ClassVar[int]
    traversal_type: GraphTraversalType
    max_depth: int
    relationship_types: _containers.RepeatedScalarFieldContainer[str]
    node_filter: QueryCriteria
    edge_filter: QueryCriteria
    def __init__(self, traversal_type: _Optional[_Union[GraphTraversalType, str]] = ..., max_depth: _Optional[int] = ..., relationship_types: _Optional[_Iterable[str]] = ..., node_filter: _Optional[_Union[QueryCriteria, _Mapping]] = ..., edge_filter: _Optional[_Union[QueryCriteria, _Mapping]] = ...) -> None: ...

class GraphNode(_message.Message):
    __slots__ = ("id", "label", "properties")
    ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    label: str
    properties: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., label: _Optional[str] = ..., properties: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class GraphEdge(_message.Message):
    __slots__ = ("id", "source_id", "target_id", "relationship_type", "properties")
    ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    source_id: str
    target_id: str
    relationship_type: str
    properties: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., source_id: _Optional[str] = ..., target_id: _Optional[str] = ..., relationship_type: _Optional[str] = ..., properties: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ExecuteOperationRequest(_message.Message):
    __slots__ = ("operation_name", "parameters", "context")
    OPERATION_NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    operation_name: str
    parameters: _struct_pb2.Struct
    context: ExecutionContext
    def __init__(self, operation_name: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., context: _Optional[_Union[ExecutionContext, _Mapping]] = ...) -> None: ...

class ExecuteOperationResponse(_message.Message):
    __slots__ = ("success", "result", "error_message", "execution_time_ms", "affected_tables")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    AFFECTED_TABLES_FIELD_NUMBER: _ClassVar[int]
    success: bool
    result: _any_pb2.Any
    error_message: str
    execution_time_ms: int
    affected_tables: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, success: _Optional[bool] = ..., result: _Optional[_Union[_any_pb2.Any, _Mapping]] = ..., error_message: _Optional[str] = ..., execution_time_ms: _Optional[int] = ..., affected_tables: _Optional[_Iterable[str]] = ...) -> None: ...

class HealthCheckRequest(_message.Message):
    __slots__ = ("include_details",)
    INCLUDE_DETAILS_FIELD_NUMBER: _ClassVar[int]
    include_details: bool
    def __init__(self, include_details: _Optional[bool] = ...) -> None: ...

class HealthCheckResponse(_message.Message):
    __slots__ = ("healthy", "version", "uptime_seconds", "technology_health")
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TECHNOLOGY_HEALTH_FIELD_NUMBER: _ClassVar[int]
    healthy: bool
    version: str
    uptime_seconds: int
    technology_health: _containers.RepeatedCompositeFieldContainer[TechnologyHealth]
    def __init__(self, healthy: _Optional[bool] = ..., version: _Optional[str] = ..., uptime_seconds: _Optional[int] = ..., technology_health: _Optional[_Iterable[_Union[TechnologyHealth, _Mapping]]] = ...) -> None: ...

class TechnologyHealth(_message.Message):
    __slots__ = ("technology", "healthy", "status", "response_time_ms", "error_message")
    TECHNOLOGY_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    technology: str
    healthy: bool
    status: str
    response_time_ms: int
    error_message: str
    def __init__(self, technology: _Optional[str] = ..., healthy: _Optional[bool] = ..., status: _Optional[str] = ..., response_time_ms: _Optional[int] = ..., error_message: _Optional[str] = ...) -> None: ...

class GetPlatformInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPlatformInfoResponse(_message.Message):
    __slots__ = ("platform_name", "version", "supported_technologies", "supported_features", "configuration")
    PLATFORM_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_TECHNOLOGIES_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_FEATURES_FIELD_NUMBER: _ClassVar[int]
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    platform_name: str
    version: str
    supported_technologies: _containers.RepeatedScalarFieldContainer[str]
    supported_features: _containers.RepeatedScalarFieldContainer[str]
    configuration: _struct_pb2.Struct
    def __init__(self, platform_name: _Optional[str] = ..., version: _Optional[str] = ..., supported_technologies: _Optional[_Iterable[str]] = ..., supported_features: _Optional[_Iterable[str]] = ..., configuration: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class GetMetricsRequest(_message.Message):
    __slots__ = ("format",)
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    format: str
    def __init__(self, format: _Optional[str] = ...) -> None: ...

class GetMetricsResponse(_message.Message):
    __slots__ = ("format", "metrics_data", "collected_at")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    METRICS_DATA_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_AT_FIELD_NUMBER: _ClassVar[int]
    format: str
    metrics_data: str
    collected_at: _timestamp_pb2.Timestamp
    def __init__(self, format: _Optional[str] = ..., metrics_data: _Optional[str] = ..., collected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
