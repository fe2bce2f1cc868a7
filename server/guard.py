"""The gate every call passes before a handler runs: authentication, the role
table for RPCs, and the per-caller rate limit.

Refused calls end here with a gRPC status (``UNAUTHENTICATED``,
``PERMISSION_DENIED``, ``RESOURCE_EXHAUSTED``); they never reach a handler, so
nothing they carry is decoded further or touches the database. Health checks
stay open for probes. The verified identity is handed to the handler through
``server.auth.current_identity``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Optional

import grpc

from server.access import AccessTable
from server.auth import AuthenticationError, Identity, TokenVerifier, bearer_token, current_identity
from server.rate_limit import RateLimiter

log = logging.getLogger(__name__)

Handler = Optional["grpc.RpcMethodHandler[Any, Any]"]

HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_SERVICES = ("grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection")


class Guard(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    def __init__(
        self,
        service_name: str,
        verifier: TokenVerifier | None,
        access: AccessTable | None,
        limiter: RateLimiter | None,
    ) -> None:
        self.service_name = service_name
        self.verifier = verifier
        self.access = access
        self.limiter = limiter

    @property
    def checks_anything(self) -> bool:
        """Without tokens or a rate limit every call passes unchanged, and the server needs no guard."""
        return self.verifier is not None or self.limiter is not None

    async def intercept_service(  # type: ignore[override]  # grpc returns None for unknown methods
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(details)
        service, _, method = details.method.lstrip("/").rpartition("/")
        if handler is None or service == HEALTH_SERVICE:
            return handler
        if self.verifier is None and self.limiter is None:
            return handler  # nothing to check: no wrapper on the hot path
        if service != self.service_name:
            # Reflection: only registered when it was asked for (docs/security.md).
            return handler if self.verifier is None or service in REFLECTION_SERVICES else None
        if handler.unary_unary is None:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            self._guarded(method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _guarded(
        self, method: str, inner: Callable[[Any, Any], Awaitable[Any]]
    ) -> Callable[[Any, Any], Awaitable[Any]]:
        async def guarded(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            identity = None
            if self.verifier is not None:
                identity = self._authenticate(context)
                if identity is None:
                    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid credentials")
                elif self.access is not None and not self.access.permits(identity, "rpcs", method):
                    await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"no role of this caller may call {method}")
            if self.limiter is not None:
                caller = f"{identity.tenant}/{identity.subject}" if identity is not None else context.peer()
                if not self.limiter.allow(caller):
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "rate limit exceeded; retry later")
            token = current_identity.set(identity)
            try:
                return await inner(request, context)
            finally:
                current_identity.reset(token)

        return guarded

    def _authenticate(self, context: grpc.aio.ServicerContext[Any, Any]) -> Identity | None:
        assert self.verifier is not None
        try:
            return self.verifier.verify(bearer_token(tuple(context.invocation_metadata() or ())))
        except AuthenticationError as exc:
            log.info("refused %s: %s", context.peer(), exc)
            return None
