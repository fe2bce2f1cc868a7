"""The gRPC front door: ``unhinged.persistence.PersistencePlatformService`` over the store.

Each handler decodes its request, makes one store call and encodes the answer;
rules live in ``server.store``. Every failure is answered in the contract's own
way, ``success=false`` and an ``error_message`` that starts with a stable code
word, and every answer carries ``execution_time_ms``.
"""

from __future__ import annotations

import functools
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import struct_pb2

from server import codec, search_codec
from server.access import AccessTable
from server.auth import current_identity
from server.metrics import Metrics
from server.named.executor import NamedExecutor
from server.platform_info import PlatformInfo
from server.store import AsyncDocumentStore, Document, InvalidArgument, StoreError, Unavailable, Unimplemented
from server.store.async_store import AsyncTransaction
from server.store.deadlines import current_deadline
from server.store.vectors import VectorField, ranks
from stubs import persistence_platform_pb2 as pb
from stubs import persistence_platform_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

Request = TypeVar("Request")
Response = TypeVar("Response")
Context = grpc.aio.ServicerContext[Any, Any]
Answer = TypeVar("Answer")
#: Where a write runs: the store itself, or the transaction of a request id.
Ops = AsyncDocumentStore | AsyncTransaction
Handler = Callable[[Any, Request, Context], Awaitable[Response]]

#: The gRPC status for a code word, where an answer has no error fields to carry it.
STATUS_FOR_CODE = {
    "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "ALREADY_EXISTS": grpc.StatusCode.ALREADY_EXISTS,
    "CONFLICT": grpc.StatusCode.ABORTED,
    "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
    "UNIMPLEMENTED": grpc.StatusCode.UNIMPLEMENTED,
    "INTERNAL": grpc.StatusCode.INTERNAL,
}

#: Query types that run the criteria as a plain filtered, ordered, paged read.
CRITERIA_QUERIES = {pb.POINT_LOOKUP, pb.RANGE_SCAN, pb.DOCUMENT_QUERY, pb.FULL_TEXT_SEARCH, pb.TIME_SERIES}


def _request_id(request: Any) -> str:
    context = getattr(request, "context", None)
    if context is not None and context.request_id:
        return str(context.request_id)
    return uuid.uuid4().hex[:16]


def rpc(response_type: type[Response]) -> Callable[[Handler[Request, Response]], Handler[Request, Response]]:
    """Wrap a handler: errors become contract answers, timing and metrics are recorded."""
    fields = response_type.DESCRIPTOR.fields_by_name  # type: ignore[attr-defined]
    timed = "execution_time_ms" in fields
    # Platform answers (health, info, metrics) have no error fields: they fail with a gRPC status.
    answers_errors = "error_message" in fields

    def decorate(handler: Handler[Request, Response]) -> Handler[Request, Response]:
        method = handler.__name__

        @functools.wraps(handler)
        async def call(self: PersistenceService, request: Request, context: Context) -> Response:
            started = time.perf_counter()
            error_code: str | None = None
            # The caller's deadline reaches the database (server.store.deadlines); calls
            # without one are bounded by the session statement_timeout (--default-deadline).
            left = context.time_remaining()
            deadline = current_deadline.set(None if left is None else time.monotonic() + left)
            try:
                response = await handler(self, request, context)
            except grpc.aio.AbortError:
                raise  # the handler already answered with a gRPC status
            except Exception as exc:
                error = exc if isinstance(exc, StoreError) else None
                error_code = error.code if error is not None else "INTERNAL"
                if error_code == "INTERNAL":
                    request_id = _request_id(request)
                    log.error("%s failed (request %s)", method, request_id, exc_info=exc)
                    message = f"INTERNAL: {error or 'unexpected server error'} (request {request_id})"
                else:
                    message = f"{error_code}: {error}"
                if not answers_errors:
                    self.metrics.observe(method, time.perf_counter() - started, error_code)
                    await context.abort(STATUS_FOR_CODE.get(error_code, grpc.StatusCode.INTERNAL), message)
                response = response_type(success=False, error_message=message)  # type: ignore[call-arg]
            finally:
                current_deadline.reset(deadline)
            elapsed = time.perf_counter() - started
            if timed:
                response.execution_time_ms = math.ceil(elapsed * 1000)  # type: ignore[attr-defined]
            self.metrics.observe(method, elapsed, error_code)
            return response

        return call

    return decorate


def _expected_version(context: pb.ExecutionContext) -> int | None:
    """``context.metadata["expected_version"]``: a number or its decimal text."""
    if not context.HasField("metadata") or "expected_version" not in context.metadata.fields:
        return None
    value = codec.value_to_python(context.metadata.fields["expected_version"])
    if isinstance(value, bool) or value is None:
        raise InvalidArgument("expected_version must be a whole number")
    try:
        version = int(value) if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        raise InvalidArgument(f"expected_version {value!r} is not a whole number") from None
    if isinstance(value, float) or version < 1:
        raise InvalidArgument(f"expected_version {value!r} is not a version (1 or more)")
    return version


def _encode_query_answer(result: list[Document] | int) -> bytes:
    """A named query's answer as wire bytes: what the query cache keeps."""
    response = pb.ExecuteQueryResponse(success=True)
    if isinstance(result, int):
        response.results.add().data.update({"count": result})
    else:
        for document in result:
            codec.to_record(document, response.results.add())
    response.count = len(response.results)
    return response.SerializeToString()


class PersistenceService(pb_grpc.PersistencePlatformServiceServicer):
    def __init__(
        self,
        store: AsyncDocumentStore,
        metrics: Metrics,
        info: PlatformInfo,
        named: NamedExecutor,
        access: AccessTable | None = None,
    ) -> None:
        self._store = store
        self.metrics = metrics
        self.info = info
        self.named = named
        self.access = access
        #: Kept by the health watcher (server.app): False while the database does not answer.
        self.database_available = True
        #: Tenants whose request ids the server must eventually forget (``forget_old_requests``).
        self.request_tenants: set[str] = set()

    async def forget_old_requests(self, window: float) -> int:
        """Drop request-id outcomes older than ``window`` seconds, tenant by tenant.

        Under row-level security the server sees one tenant at a time, so it
        remembers which tenants used request ids since the last sweep.
        """
        tenants, self.request_tenants = self.request_tenants, set()
        forgotten = 0
        for tenant in tenants | {self._store.statements.tenant}:
            forgotten += await self._store.for_tenant(tenant).forget_requests(window)
        return forgotten

    @property
    def store(self) -> AsyncDocumentStore:
        """The store scoped to the caller's tenant: from the verified token, else the server's."""
        if not self.database_available:
            # Known down (the health watcher's last ping failed): answer at once instead
            # of letting every call wait for a pooled connection until its deadline.
            raise Unavailable("the database is not reachable (retry shortly)")
        identity = current_identity.get()
        return self._store if identity is None else self._store.for_tenant(identity.tenant)

    async def _permit(self, kind: str, name: str, context: Context) -> None:
        """Named entries follow the role table too; refused ones never run."""
        identity = current_identity.get()
        if identity is not None and self.access is not None and not self.access.permits(identity, kind, name):
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"no role of this caller may call {name}")

    # -- CRUD -----------------------------------------------------------------
    # Each write decodes its request first (bad input changes nothing), then does
    # its work through ``_once``, which makes it safe to retry with a request id.

    async def _once(
        self, request: Any, rpc_name: str, answer_type: type[Answer], work: Callable[[Ops], Awaitable[Answer]]
    ) -> Answer:
        """Run ``work`` once per ``context.request_id`` (any number of times without one).

        With a request id, the write and its encoded answer commit in one
        transaction; a repeat of an id already applied returns that first answer
        and applies nothing (docs/reliability.md).
        """
        request_id = request.context.request_id if request.HasField("context") else ""
        if not request_id:
            return await work(self.store)
        store = self.store
        self.request_tenants.add(store.statements.tenant)
        async with store.once(request_id, rpc_name) as once:
            if once.previous is not None:
                return answer_type.FromString(once.previous)  # type: ignore[attr-defined, no-any-return]
            answer = await work(once.tx)
            await once.remember(answer.SerializeToString())  # type: ignore[attr-defined]
            return answer

    @rpc(pb.InsertResponse)
    async def Insert(self, request: pb.InsertRequest, context: Context) -> pb.InsertResponse:
        new = [codec.new_document(request.record)]

        async def work(ops: Ops) -> pb.InsertResponse:
            (document,) = await ops.create_many(request.table_name, new)
            response = pb.InsertResponse(success=True)
            codec.to_record(document, response.record, request.record.data)
            return response

        return await self._once(request, "Insert", pb.InsertResponse, work)

    @rpc(pb.InsertBatchResponse)
    async def InsertBatch(self, request: pb.InsertBatchRequest, context: Context) -> pb.InsertBatchResponse:
        new = [codec.new_document(record) for record in request.records]

        async def work(ops: Ops) -> pb.InsertBatchResponse:
            documents = await ops.create_many(request.table_name, new)
            response = pb.InsertBatchResponse(success=True, inserted_count=len(documents))
            for document, record in zip(documents, request.records, strict=True):
                codec.to_record(document, response.records.add(), record.data)
            return response

        return await self._once(request, "InsertBatch", pb.InsertBatchResponse, work)

    @rpc(pb.UpdateResponse)
    async def Update(self, request: pb.UpdateRequest, context: Context) -> pb.UpdateResponse:
        updates = codec.struct_to_dict(request.updates)
        expected = _expected_version(request.context)

        async def work(ops: Ops) -> pb.UpdateResponse:
            document = await ops.update(request.table_name, request.id, updates, expected_version=expected)
            response = pb.UpdateResponse(success=True)
            codec.to_record(document, response.record)
            return response

        return await self._once(request, "Update", pb.UpdateResponse, work)

    @rpc(pb.DeleteResponse)
    async def Delete(self, request: pb.DeleteRequest, context: Context) -> pb.DeleteResponse:
        if not request.HasField("criteria") or request.criteria.WhichOneof("criteria") is None:
            raise InvalidArgument("Delete needs criteria; to empty a collection, match its documents explicitly")
        query = codec.query_from_spec(pb.QuerySpec(criteria=request.criteria))

        async def work(ops: Ops) -> pb.DeleteResponse:
            deleted = await ops.delete_where(request.table_name, query)
            return pb.DeleteResponse(success=True, deleted_count=deleted)

        return await self._once(request, "Delete", pb.DeleteResponse, work)

    # -- queries --------------------------------------------------------------

    @rpc(pb.ExecuteRawQueryResponse)
    async def ExecuteRawQuery(self, request: pb.ExecuteRawQueryRequest, context: Context) -> pb.ExecuteRawQueryResponse:
        spec = request.query_spec
        if spec.query_type not in pb.QueryType.values():
            raise InvalidArgument(f"query_type {spec.query_type} is not a QueryType")
        query = codec.query_from_spec(spec)
        query = search_codec.with_vector_defaults(query, self._vectors(spec.table_name))
        if spec.query_type == pb.VECTOR_SIMILARITY and not ranks(query.criteria):
            raise InvalidArgument("VECTOR_SIMILARITY needs a vector_search in criteria (alone or in and_filter)")
        response = pb.ExecuteRawQueryResponse(success=True)
        if spec.query_type == pb.AGGREGATION:
            total = await self.store.count(spec.table_name, query)
            response.results.add().data.update({"count": total})
        elif spec.query_type in CRITERIA_QUERIES or spec.query_type == pb.VECTOR_SIMILARITY:
            for document in await self.store.find(spec.table_name, query):
                codec.to_record(document, response.results.add())
        else:
            raise Unimplemented(f"query_type {pb.QueryType.Name(spec.query_type)} is not supported yet")
        response.count = len(response.results)
        return response

    @rpc(pb.ExecuteQueryResponse)
    async def ExecuteQuery(self, request: pb.ExecuteQueryRequest, context: Context) -> pb.ExecuteQueryResponse:
        await self._permit("queries", request.query_name, context)
        answer = await self.named.query(
            self.store, request.query_name, codec.struct_to_dict(request.parameters), _encode_query_answer
        )
        response = pb.ExecuteQueryResponse.FromString(answer.payload)
        response.from_cache = answer.from_cache
        return response

    @rpc(pb.VectorSearchResponse)
    async def VectorSearch(self, request: pb.VectorSearchRequest, context: Context) -> pb.VectorSearchResponse:
        config = self._vectors(request.table_name)
        hits = await self.store.vector_search(request.table_name, search_codec.vector_query(request, config))
        return search_codec.vector_answer(hits)

    def _vectors(self, table: str) -> VectorField:
        """The table's vector field, dimensions and metric from the config file (``embedding`` otherwise)."""
        return search_codec.vector_config(self.named.catalog.vector_fields, table)

    @rpc(pb.GraphTraverseResponse)
    async def GraphTraverse(self, request: pb.GraphTraverseRequest, context: Context) -> pb.GraphTraverseResponse:
        traversal = search_codec.traversal(request.traversal_spec)
        result = await self.store.traverse(request.table_name, request.start_node, traversal)
        return search_codec.graph_answer(result)

    @rpc(pb.ExecuteOperationResponse)
    async def ExecuteOperation(
        self, request: pb.ExecuteOperationRequest, context: Context
    ) -> pb.ExecuteOperationResponse:
        await self._permit("operations", request.operation_name, context)
        parameters = codec.struct_to_dict(request.parameters)

        async def work(ops: Ops) -> pb.ExecuteOperationResponse:
            assert isinstance(ops, AsyncDocumentStore | AsyncTransaction)
            steps, touched = await self.named.operation(ops, request.operation_name, parameters)
            result = struct_pb2.Struct()
            result.update(steps)
            response = pb.ExecuteOperationResponse(success=True, affected_tables=touched)
            response.result.Pack(result)
            return response

        return await self._once(request, "ExecuteOperation", pb.ExecuteOperationResponse, work)

    # -- platform -------------------------------------------------------------

    @rpc(pb.HealthCheckResponse)
    async def HealthCheck(self, request: pb.HealthCheckRequest, context: Context) -> pb.HealthCheckResponse:
        database = pb.TechnologyHealth(technology="postgresql")
        try:
            seconds = await self.store.ping()
        except StoreError as exc:
            database.healthy = False
            database.status = "unavailable"
            database.error_message = f"{exc.code}: {exc}"
        else:
            database.healthy = True
            database.status = "serving"
            database.response_time_ms = math.ceil(seconds * 1000)
        return pb.HealthCheckResponse(
            healthy=database.healthy,
            version=self.info.version,
            uptime_seconds=int(self.info.uptime_seconds()),
            technology_health=[database],
        )

    @rpc(pb.GetPlatformInfoResponse)
    async def GetPlatformInfo(self, request: pb.GetPlatformInfoRequest, context: Context) -> pb.GetPlatformInfoResponse:
        configuration = struct_pb2.Struct()
        configuration.update(self.info.configuration)
        return pb.GetPlatformInfoResponse(
            platform_name=self.info.name,
            version=self.info.version,
            supported_technologies=["postgresql"],
            supported_features=list(self.info.features),
            configuration=configuration,
        )

    @rpc(pb.GetMetricsResponse)
    async def GetMetrics(self, request: pb.GetMetricsRequest, context: Context) -> pb.GetMetricsResponse:
        chosen = request.format.lower() or "prometheus"
        if chosen == "prometheus":
            data = self.metrics.prometheus()
        elif chosen == "json":
            data = self.metrics.as_json()
        else:
            raise InvalidArgument(f"format {request.format!r}: use 'prometheus' or 'json'")
        response = pb.GetMetricsResponse(format=chosen, metrics_data=data)
        response.collected_at.GetCurrentTime()
        return response
