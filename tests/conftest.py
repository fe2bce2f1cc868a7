"""Shared fixtures: a real PostgreSQL, a running server, and clients built from the original contract.

The database is the embedded PostgreSQL (started once per session in a
temporary directory) unless ``TEST_DATABASE_URL`` names another one, as
``.ci/run`` does for the machine's PostgreSQL 15. Tests isolate themselves by
unique collection and tenant names instead of wiping the table, so they can
share one server.
"""

from __future__ import annotations

import atexit
import importlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

# The contract exactly as the old platform's callers have it, never the project's copy.
from bench.contract import ORIGINAL_CONTRACT, generate
from server.store import DocumentStore

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that touches PostgreSQL gets the ``database`` mark (``make test-db`` runs those)."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if {"database_url", "store", "client", "server"} & set(fixtures):
            item.add_marker(pytest.mark.database)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    from server import embedded

    # Not under pytest's own temporary root: another pytest session resets its
    # permissions, and the database's OS user would lose its way to the data.
    folder = Path(tempfile.mkdtemp(prefix="persistence-test-pg-"))
    # Registered before the embedded server's own exit handler, so it runs after the server stopped.
    atexit.register(shutil.rmtree, folder, True)
    return embedded.start(folder / "postgres")


@pytest.fixture(scope="session")
def shared_store(database_url: str) -> Iterator[DocumentStore]:
    with DocumentStore(database_url) as store:
        yield store


@pytest.fixture
def tenant() -> str:
    return "t-" + uuid.uuid4().hex[:12]


@pytest.fixture
def store(shared_store: DocumentStore, tenant: str) -> DocumentStore:
    """A store scoped to a fresh tenant: nothing another test wrote is visible."""
    return shared_store.for_tenant(tenant)


@pytest.fixture
def collection() -> str:
    return "c-" + uuid.uuid4().hex[:12]


# -- the contract as callers compiled it ------------------------------------------------


@pytest.fixture(scope="session")
def contract(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, ModuleType]:
    """(messages, grpc) modules generated now from the ORIGINAL contract file."""
    out = generate(tmp_path_factory.mktemp("original_contract"))
    assert out is not None, f"the original contract is missing: {ORIGINAL_CONTRACT}"  # never the stubs here
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module("persistence_platform_pb2"), importlib.import_module(
            "persistence_platform_pb2_grpc"
        )
    finally:
        sys.path.remove(str(out))


@pytest.fixture(scope="session")
def pb(contract: tuple[ModuleType, ModuleType]) -> ModuleType:
    return contract[0]


#: What no error text may show a caller: stack traces, driver names, SQL, file paths.
LEAK = re.compile(r"Traceback|psycopg|SELECT|syntax error|\.py\b|/(usr|home|tmp|work|root|opt)/")


class ErrorTextCheck(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Fails the test that receives an error text leaking internals, on every channel the suite opens."""

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        outcome = continuation(details, request)
        try:
            text = getattr(outcome.result(), "error_message", "")
        except grpc.RpcError as error:
            text = error.details() or ""
        leak = LEAK.search(text)
        assert leak is None, f"{details.method} answered an error text that leaks {leak.group(0)!r}: {text}"
        return outcome


def checked(channel: grpc.Channel) -> grpc.Channel:
    return grpc.intercept_channel(channel, ErrorTextCheck())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """``persistence-server`` in a subprocess, as an operator would run it."""

    def __init__(
        self,
        database_url: str,
        *extra: str,
        env: dict[str, str] | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.credentials = credentials
        # One process unless a test asks for more: per-process metrics and signals stay simple.
        workers = () if "--workers" in extra else ("--workers", "1")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"persistence-server-{self.port}.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server",
                "--listen",
                self.address,
                "--database-url",
                database_url,
                *workers,
                *extra,
            ],
            cwd=ROOT,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        self.wait_serving()

    def wait_serving(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self.channel() as channel:
            probe = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log.read_text()}")
                try:
                    answer = probe.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"server did not start serving:\n{self.log.read_text()}")

    def channel(self) -> grpc.Channel:
        if self.credentials is None:
            return checked(grpc.insecure_channel(self.address))
        return checked(grpc.secure_channel(self.address, self.credentials))

    def stop(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()
        return self.process.returncode


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[ServerProcess]:
    running = ServerProcess(database_url)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with server.channel() as opened:
        yield opened


@pytest.fixture(scope="session")
def client(channel: grpc.Channel, contract: tuple[ModuleType, ModuleType]) -> Any:
    """A PersistencePlatformService stub compiled from the original contract."""
    return contract[1].PersistencePlatformServiceStub(channel)
