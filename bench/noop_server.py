"""gRPC's floor: a ``grpc.aio`` server of the same service that answers canned responses.

    python -m bench.noop_server --listen 127.0.0.1:PORT --answers answers.json [--stubs DIR] [--reuse-port]

Each handler decodes its request (as any servicer does), picks the canned
answer for it and returns it as a message, which gRPC serializes: everything a
real handler costs except the handler's own work and the database. The canned
answers are real answers of the server under test, captured by the benchmark,
so messages have the same sizes. RPCs sharing a method (the ExecuteRawQuery
queries, the two InsertBatch sizes, the named queries) are told apart by
:func:`bench.catalogue.discriminator`. ``--reuse-port`` lets several processes
share the port, as ``persistence-server --workers`` does. ``--database-url``
makes each handler first run ``SELECT 1`` through a psycopg pool: the least
any database-backed handler costs, a reference between the two floors.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from psycopg_pool import AsyncConnectionPool

from bench import contract
from bench.catalogue import discriminator


def _handler(
    method: str, answers: dict[str, Any], default: Any, pool: AsyncConnectionPool[Any] | None
) -> Callable[[Any, Any], Awaitable[Any]]:
    if pool is None:

        async def handle(request: Any, _context: Any) -> Any:
            return answers.get(discriminator(method, request), default)

        return handle

    async def handle_after_a_round_trip(request: Any, _context: Any) -> Any:
        # The least a database-backed handler does: one prepared statement on a pooled connection.
        async with pool.connection() as conn:
            await (await conn.execute("SELECT 1", prepare=True)).fetchall()
        return answers.get(discriminator(method, request), default)

    return handle_after_a_round_trip


async def serve(
    listen: str, answers_file: Path, stubs: Path | None, reuse_port: bool, database_url: str | None = None
) -> None:
    pool: AsyncConnectionPool[Any] | None = None
    if database_url is not None:
        # As the server's pool: up to 10 autocommit connections.
        pool = AsyncConnectionPool(database_url, min_size=10, max_size=10, kwargs={"autocommit": True}, open=False)
        await pool.open(wait=True)
    pb, _pb_grpc = contract.load(stubs)
    canned: dict[str, dict[str, str]] = json.loads(answers_file.read_text())
    service = pb.DESCRIPTOR.services_by_name["PersistencePlatformService"]
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in service.methods:
        request_type = getattr(pb, method.input_type.name)
        response_type = getattr(pb, method.output_type.name)
        answers = {
            key: response_type.FromString(base64.b64decode(text)) for key, text in canned.get(method.name, {}).items()
        }
        default = next(iter(answers.values()), response_type())
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            _handler(method.name, answers, default, pool),
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.so_reuseport", 1 if reuse_port else 0),
        ]
    )
    # As generated code registers a servicer: a generic handler plus registered methods.
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(service.full_name, handlers)])
    server.add_registered_method_handlers(service.full_name, handlers)  # type: ignore[attr-defined]
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    if server.add_insecure_port(listen) == 0:
        raise SystemExit(f"noop server: cannot listen on {listen}")
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    print(f"noop server serving on {listen}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--answers", type=Path, required=True)
    parser.add_argument("--stubs", type=Path)
    parser.add_argument("--reuse-port", action="store_true")
    parser.add_argument("--database-url", help="before answering, run SELECT 1 through a psycopg pool on this database")
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.answers, args.stubs, args.reuse_port, args.database_url))


if __name__ == "__main__":
    main()
