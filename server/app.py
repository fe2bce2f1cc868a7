"""Assembling and running the gRPC server: the contract, health, reflection, shutdown.

``grpc.health.v1`` answers SERVING for ``""`` and for the contract's service
while the database answers a ping, NOT_SERVING otherwise and from the moment
shutdown begins, so load balancers stop sending calls before the port closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf.internal import api_implementation
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from grpc_reflection.v1alpha import reflection

from server import embedded
from server.config import Settings, mask_password
from server.guard import Guard
from server.metrics import Metrics
from server.named import loader as named_loader
from server.named.definitions import Catalog
from server.named.executor import NamedExecutor
from server.platform_info import PlatformInfo
from server.query_cache import QueryCache
from server.security import SecurityConfigError, build_guard, server_credentials
from server.service import PersistenceService
from server.store import AsyncDocumentStore, Limits, PoolSettings, StoreError, vectors
from server.store.changes import ChangeFeed
from stubs import persistence_platform_pb2 as pb
from stubs import persistence_platform_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PersistencePlatformService"].full_name
HEALTH_NAMES = ("", SERVICE_NAME)


@dataclass
class Running:
    server: grpc.aio.Server
    store: AsyncDocumentStore
    health: health_aio.HealthServicer
    port: int
    named: NamedExecutor
    feed: ChangeFeed
    config: Path | None
    service: PersistenceService
    #: Health watching and request-id sweeping; cancelled on stop.
    background: list[asyncio.Task[None]] = field(default_factory=list)

    def reload(self) -> None:
        """Swap in the named queries and operations from the config file; keep the old on error.

        In-flight calls hold the catalog they started with, so no call is dropped.
        """
        if self.config is None:
            log.info("reload asked, but no --config file is in use")
            return
        try:
            catalog = named_loader.load(self.config)
        except named_loader.CatalogError as exc:
            log.error("reload failed, keeping the previous definitions: %s", exc)
            return
        self.named.catalog = catalog
        if self.named.cache is not None:
            self.named.cache.reset()
        log.info("reloaded %s: %d queries, %d operations", self.config, len(catalog.queries), len(catalog.operations))
        _warn_unsupported(catalog)

    async def set_health(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in HEALTH_NAMES:
            await self.health.set(name, status)

    async def stop(self, grace: float) -> None:
        """Refuse new calls, let in-flight ones finish within ``grace``, then close the pool."""
        for task in self.background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.set_health(False)
        await self.server.stop(grace)
        await self.feed.close()
        vectors.detach(self.store.pool)
        await self.store.close()


def worker_count(settings: Settings) -> int:
    return settings.workers if settings.workers > 0 else (os.cpu_count() or 1)


def database_url(settings: Settings) -> str:
    if settings.resolved_database_url:
        return settings.resolved_database_url
    if settings.database_url:
        return settings.database_url
    return embedded.start(settings.data_dir)


def load_catalog(settings: Settings) -> Catalog:
    if settings.config is None:
        return Catalog()
    try:
        catalog = named_loader.load(settings.config)
    except named_loader.CatalogError as exc:
        raise SystemExit(f"persistence-server: {exc}") from None
    log.info("loaded %s: %d queries, %d operations", settings.config, len(catalog.queries), len(catalog.operations))
    _warn_unsupported(catalog)
    return catalog


def _warn_unsupported(catalog: Catalog) -> None:
    unsupported = catalog.unsupported()
    if unsupported:
        log.warning(
            "%d definitions cannot run on the documents table and answer UNIMPLEMENTED:\n%s",
            len(unsupported),
            "\n".join(f"  {entry.name} ({entry.source}): {entry.reason}" for entry in unsupported),
        )


def check_settings(settings: Settings) -> tuple[Guard, grpc.ServerCredentials | None, Catalog]:
    """Everything that can be wrong with the settings, found before serving (and before forking)."""
    try:
        guard = build_guard(settings, SERVICE_NAME)
        credentials = server_credentials(settings)
    except SecurityConfigError as exc:
        raise SystemExit(f"persistence-server: {exc}") from None
    return guard, credentials, load_catalog(settings)


async def start(settings: Settings) -> Running:
    guard, credentials, catalog = check_settings(settings)
    url = database_url(settings)
    store = await AsyncDocumentStore.open(
        url,
        tenant=settings.tenant,
        limits=Limits(settings.default_page, settings.max_page, settings.max_batch),
        pool=PoolSettings(settings.pool_min, settings.pool_max, settings.pool_timeout, settings.default_deadline),
        # With tokens, tenants are separated by PostgreSQL itself as well (docs/security.md).
        row_level_security=settings.authenticated,
        schema_conninfo=settings.schema_database_url,
        grant_to=settings.grant_to,
    )
    # Vector searches scan exactly, or use HNSW indexes the table owner's connection builds (docs/vector-graph.md).
    vectors.attach(store.pool, settings.schema_database_url or url, exact=settings.vector_index == "exact")
    vectors.request_configured(store.pool, store.statements, catalog.vector_fields)
    cache = QueryCache(max_entries=settings.cache_entries, max_bytes=settings.cache_bytes)
    feed = ChangeFeed(url, on_change=cache.changed, on_reset=cache.reset)
    await feed.sync()
    named = NamedExecutor(catalog, cache, feed)
    metrics = Metrics(stats={"pool": store.pool.get_stats, "cache": lambda: cache.stats.as_dict()})
    durability = await store.durability()
    # upb (C) decodes and encodes messages several times faster than protobuf's pure-Python
    # backend, which an install without a matching wheel silently falls back to.
    backend = api_implementation.Type()
    if backend != "upb":
        log.warning("protobuf runs on its %r backend, far slower than 'upb': install protobuf from a wheel", backend)
    info = PlatformInfo(configuration={**settings.public(url), "durability": durability, "protobuf_backend": backend})
    if durability.get("fsync") == "off" or durability.get("synchronous_commit") == "off":
        log.warning("the database may lose acknowledged commits on a crash: %s", durability)
    else:
        log.info("database commits are durable: %s", durability)
    server = grpc.aio.server(
        # An interceptor costs every call a coroutine even when it lets everything through.
        interceptors=[guard] if guard.checks_anything else [],
        maximum_concurrent_rpcs=settings.max_concurrent_calls,
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            # Room for large bearer tokens (gRPC's default header budget is 8 KiB).
            ("grpc.max_metadata_size", 16 * 1024),
            # Only workers share a port; a second server on a taken port must fail, not share it.
            ("grpc.so_reuseport", 1 if worker_count(settings) > 1 else 0),
        ],
    )
    service = PersistenceService(store, metrics, info, named, guard.access)
    pb_grpc.add_PersistencePlatformServiceServicer_to_server(service, server)
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.reflection_enabled:
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            server,
        )
    if credentials is None:
        port = server.add_insecure_port(settings.listen)
    else:
        port = server.add_secure_port(settings.listen, credentials)
    if port == 0:
        await store.close()
        raise SystemExit(f"persistence-server: cannot listen on {settings.listen}")
    await server.start()
    running = Running(server, store, health_servicer, port, named, feed, settings.config, service)
    await running.set_health(True)
    running.background = [
        asyncio.create_task(_build_indexes(store, settings.schema_database_url or url, catalog)),
        asyncio.create_task(_watch_database(running, settings.health_interval)),
        asyncio.create_task(_sweep_request_ids(service, settings.request_id_window)),
    ]
    host = settings.listen.rsplit(":", 1)[0]
    log.info(
        "serving %s on %s:%d (%s, authentication %s)",
        SERVICE_NAME,
        host,
        port,
        "plaintext" if credentials is None else "TLS" + (" with client certificates" if settings.tls_client_ca else ""),
        settings.auth,
    )
    log.info("database: %s%s", mask_password(url), " (embedded)" if settings.database_url is None else "")
    return running


async def _build_indexes(store: AsyncDocumentStore, schema_conninfo: str, catalog: Catalog) -> None:
    """Build the indexes the configuration declares, in the background: serving starts at once."""
    if not catalog.indexes:
        return
    try:
        created = await store.ensure_indexes(catalog.indexes, schema_conninfo=schema_conninfo)
    except StoreError as exc:
        log.warning("could not build the declared indexes (queries still work, unindexed): %s", exc)
        return
    log.info("indexes ready: %d declared, %d built now", len(catalog.indexes), len(created))


async def _sweep_request_ids(service: PersistenceService, window: float) -> None:
    """Forget request-id outcomes past the retry window, once a minute."""
    while True:
        await asyncio.sleep(min(60.0, window))
        try:
            forgotten = await service.forget_old_requests(window)
        except StoreError as exc:
            log.warning("could not forget old request ids (will retry): %s", exc)
        else:
            if forgotten:
                log.info("forgot %d request ids older than %.0f s", forgotten, window)


async def _watch_database(running: Running, interval: float) -> None:
    """Keep grpc.health.v1 in step with whether the database answers.

    A ping that does not answer within the interval counts as an outage at
    once: the watcher does not wait for psycopg to cancel it (which can take
    seconds on a stalled link), and starts no second ping while one hangs.
    """
    serving = True
    pending: asyncio.Task[float] | None = None
    while True:
        await asyncio.sleep(interval)
        if pending is None or pending.done():
            if pending is not None and not pending.cancelled():
                pending.exception()  # a late outcome of a ping already counted as an outage
            pending = asyncio.ensure_future(running.store.ping())
        done, _ = await asyncio.wait({pending}, timeout=max(interval, 1.0))
        healthy = bool(done) and not pending.cancelled() and pending.exception() is None
        if done and pending.exception() is not None and not isinstance(pending.exception(), StoreError):
            log.error("health ping failed unexpectedly", exc_info=pending.exception())
        running.service.database_available = healthy
        if healthy != serving:
            serving = healthy
            log.warning("database %s", "answers again: SERVING" if healthy else "does not answer: NOT_SERVING")
            await running.set_health(healthy)
        # Also drains change notifications that arrived while no cached read synced.
        await running.feed.sync()


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    running = await start(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, running.reload)
    await stop.wait()
    log.info("shutting down: finishing in-flight calls (up to %.1f s)", settings.grace_period)
    await running.stop(settings.grace_period)
    log.info("stopped")
