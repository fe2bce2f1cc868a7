"""Authentication, roles, tenant isolation, TLS and abuse limits, against real servers.

The server under test connects as a plain role (not superuser, not the table's
owner) so that PostgreSQL's row-level security really applies; the table is
prepared through an owner connection (``--schema-database-url``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from psycopg.conninfo import make_conninfo

from server.access import DEFAULT_TABLE, AccessTable
from server.auth import Identity
from server.store import DocumentStore
from stubs import persistence_platform_pb2 as contract_pb2
from tests.conftest import ORIGINAL_CONTRACT, ROOT, ServerProcess, free_port
from tests.messages import packed, struct

SECRET = "test-secret-that-is-long-enough-0123456789"
ISSUER, AUDIENCE = "https://issuer.test", "persistence"
APP_ROLE, APP_PASSWORD = "persistence_app", "app-password-for-tests"
LEGACY_FILE = ORIGINAL_CONTRACT.parent / "legacy-persistence-platform.yaml"
#: Every RPC of the contract (the project's copy has the same methods as the original: tests/test_stubs.py).
RPCS = tuple(method.name for method in contract_pb2.DESCRIPTOR.services_by_name["PersistencePlatformService"].methods)


# -- tokens ------------------------------------------------------------------------------


def claims(tenant: str = "tenant-a", roles: tuple[str, ...] = ("user",), **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": f"{tenant}-caller", "tenant": tenant, "roles": list(roles), "iss": ISSUER, "aud": AUDIENCE,
            "iat": now, "exp": now + 600, **extra}  # fmt: skip


def token(**kwargs: Any) -> str:
    return jwt.encode(claims(**kwargs), SECRET, algorithm="HS256")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], body: dict[str, Any], key: bytes | None) -> str:
    """A JWT built by hand, for what PyJWT refuses to make (alg=none, HS256 keyed with a public key)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def bearer(value: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {value}"),)


# -- the database role and the servers ------------------------------------------------------


@pytest.fixture(scope="module")
def app_url(shared_store: DocumentStore, database_url: str) -> str:
    """A login role that is no superuser, owns nothing and cannot bypass row-level security."""
    with shared_store._pool.connection() as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone()
        if not exists:
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '{APP_PASSWORD}'")
    return make_conninfo(database_url, user=APP_ROLE, password=APP_PASSWORD)


def secure_server(database_url: str, app_url: str, *extra: str, **kwargs: Any) -> ServerProcess:
    return ServerProcess(
        app_url,
        "--auth",
        "jwt",
        "--schema-database-url",
        database_url,
        "--grant-to",
        APP_ROLE,
        *extra,
        env={"JWT_SECRET": SECRET, **kwargs.pop("env", {})},
        **kwargs,
    )


@pytest.fixture(scope="module")
def hs_server(database_url: str, app_url: str) -> Iterator[ServerProcess]:
    running = secure_server(
        database_url, app_url, "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE, "--config", str(LEGACY_FILE)
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def hs(hs_server: ServerProcess, contract: tuple[ModuleType, ModuleType]) -> Any:
    return contract[1].PersistencePlatformServiceStub(hs_server.channel())


@dataclass(frozen=True)
class RsaKeys:
    private_pem: bytes
    public_pem: bytes
    public_file: Path


@pytest.fixture(scope="module")
def rsa_keys(tmp_path_factory: pytest.TempPathFactory) -> RsaKeys:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path = tmp_path_factory.mktemp("rsa") / "public.pem"
    path.write_bytes(public_pem)
    return RsaKeys(private_pem, public_pem, path)


@pytest.fixture(scope="module")
def rs(database_url: str, app_url: str, rsa_keys: RsaKeys, contract: tuple[ModuleType, ModuleType]) -> Iterator[Any]:
    running = ServerProcess(app_url, "--auth", "jwt", "--jwt-public-key-file", str(rsa_keys.public_file))
    yield contract[1].PersistencePlatformServiceStub(running.channel())
    running.stop()


# -- requests --------------------------------------------------------------------------------


def minimal_request(pb: ModuleType, rpc: str, table: str = "sec") -> Any:
    by_id = pb.QueryCriteria(equals=pb.EqualsFilter(field="id", value=packed("nothing")))
    return {
        "Insert": pb.InsertRequest(table_name=table, record=pb.Record(data=struct({"n": 1}))),
        "InsertBatch": pb.InsertBatchRequest(table_name=table, records=[pb.Record(data=struct({"n": 1}))]),
        "Update": pb.UpdateRequest(table_name=table, id="missing", updates=struct({"n": 2})),
        "Delete": pb.DeleteRequest(table_name=table, criteria=by_id),
        "ExecuteQuery": pb.ExecuteQueryRequest(query_name="get_user_by_id", parameters=struct({"user_id": "x"})),
        "ExecuteRawQuery": pb.ExecuteRawQueryRequest(query_spec=pb.QuerySpec(table_name=table)),
        "VectorSearch": pb.VectorSearchRequest(table_name=table, query_vector=[0.1, 0.2]),
        "GraphTraverse": pb.GraphTraverseRequest(table_name=table, start_node="n"),
        "ExecuteOperation": pb.ExecuteOperationRequest(operation_name="update_user_profile"),
        "HealthCheck": pb.HealthCheckRequest(),
        "GetPlatformInfo": pb.GetPlatformInfoRequest(),
        "GetMetrics": pb.GetMetricsRequest(),
    }[rpc]


def call(client: Any, pb: ModuleType, rpc: str, metadata: Any) -> grpc.StatusCode:
    try:
        getattr(client, rpc)(minimal_request(pb, rpc), metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def handler_calls(client: Any, pb: ModuleType) -> dict[str, float]:
    """How often each handler ran, from GetMetrics (read with an admin token)."""
    text = client.GetMetrics(pb.GetMetricsRequest(), metadata=bearer(token(roles=("admin",)))).metrics_data
    counts = {}
    for line in text.splitlines():
        if line.startswith("persistence_rpc_calls_total{"):
            method = line.split('method="', 1)[1].split('"', 1)[0]
            counts[method] = float(line.rsplit(" ", 1)[1])
    counts.pop("GetMetrics", None)
    return counts


# -- authentication -----------------------------------------------------------------------------


def bad_credentials(rsa_keys: RsaKeys) -> dict[str, Any]:
    now = int(time.time())
    return {
        "no token": (),
        "malformed": bearer("not.a.jwt"),
        "not bearer": (("authorization", f"Basic {token()}"),),
        "bad signature": bearer(jwt.encode(claims(), "another-secret-that-is-long-enough-000", algorithm="HS256")),
        "expired": bearer(jwt.encode(claims(exp=now - 10), SECRET, algorithm="HS256")),
        "no exp": bearer(jwt.encode({k: v for k, v in claims().items() if k != "exp"}, SECRET, algorithm="HS256")),
        "nbf in the future": bearer(jwt.encode(claims(nbf=now + 600), SECRET, algorithm="HS256")),
        "wrong iss": bearer(jwt.encode(claims(iss="https://evil.test"), SECRET, algorithm="HS256")),
        "wrong aud": bearer(jwt.encode(claims(aud="someone-else"), SECRET, algorithm="HS256")),
        "alg none": bearer(hand_signed({"alg": "none", "typ": "JWT"}, claims(), None)),
        "no tenant": bearer(jwt.encode({k: v for k, v in claims().items() if k != "tenant"}, SECRET, "HS256")),
        "two authorization entries": (*bearer(token()), *bearer(token())),
    }


@pytest.mark.parametrize("rpc", RPCS)
def test_every_rpc_refuses_every_bad_credential_before_any_handler(
    hs: Any, pb: ModuleType, rsa_keys: RsaKeys, rpc: str
) -> None:
    before = handler_calls(hs, pb)
    for name, metadata in bad_credentials(rsa_keys).items():
        assert call(hs, pb, rpc, metadata) == grpc.StatusCode.UNAUTHENTICATED, name
    assert handler_calls(hs, pb) == before


def test_hs256_signed_with_the_rsa_public_key_is_refused(rs: Any, pb: ModuleType, rsa_keys: RsaKeys) -> None:
    confused = hand_signed({"alg": "HS256", "typ": "JWT"}, claims(), rsa_keys.public_pem)
    assert call(rs, pb, "HealthCheck", bearer(confused)) == grpc.StatusCode.UNAUTHENTICATED
    good = jwt.encode(claims(), rsa_keys.private_pem, algorithm="RS256")
    assert call(rs, pb, "HealthCheck", bearer(good)) == grpc.StatusCode.OK


def test_a_valid_7kb_token_is_accepted(hs: Any, pb: ModuleType) -> None:
    big = token(padding="x" * 5250)
    assert 7 * 1024 <= len(big) < 8 * 1024
    assert call(hs, pb, "HealthCheck", bearer(big)) == grpc.StatusCode.OK


def test_health_stays_open_and_reflection_is_off(hs_server: ServerProcess) -> None:
    with hs_server.channel() as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            list(reflect.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED


# -- roles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(DEFAULT_TABLE))
def test_role_matrix_matches_the_table(hs: Any, pb: ModuleType, role: str) -> None:
    table = AccessTable.default()
    identity = Identity("x", "tenant-roles", frozenset({role}))
    metadata = bearer(token(tenant="tenant-roles", roles=(role,)))
    for rpc in RPCS:
        allowed = table.permits(identity, "rpcs", rpc)
        code = call(hs, pb, rpc, metadata)
        assert (code != grpc.StatusCode.PERMISSION_DENIED) == allowed, (role, rpc, code)
    from server.named.loader import load

    catalog = load(LEGACY_FILE)
    for kind, names in (("queries", catalog.queries), ("operations", catalog.operations)):
        for name in names:
            if kind == "queries":
                request, method = pb.ExecuteQueryRequest(query_name=name), hs.ExecuteQuery
            else:
                request, method = pb.ExecuteOperationRequest(operation_name=name), hs.ExecuteOperation
            try:
                method(request, metadata=metadata, timeout=10)
                code = grpc.StatusCode.OK
            except grpc.RpcError as error:
                code = error.code()
            expected = table.permits(identity, kind, name) and table.permits(
                identity, "rpcs", "ExecuteQuery" if kind == "queries" else "ExecuteOperation"
            )
            assert (code != grpc.StatusCode.PERMISSION_DENIED) == expected, (role, kind, name, code)


def test_unknown_roles_get_nothing(hs: Any, pb: ModuleType) -> None:
    metadata = bearer(token(roles=("intern",)))
    assert all(call(hs, pb, rpc, metadata) == grpc.StatusCode.PERMISSION_DENIED for rpc in RPCS)


# -- tenants ----------------------------------------------------------------------------------


def test_the_server_role_is_plain_and_row_level_security_is_forced(
    hs_server: ServerProcess, shared_store: DocumentStore
) -> None:
    with shared_store._pool.connection() as conn:
        superuser, bypass = conn.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", (APP_ROLE,)
        ).fetchone()  # type: ignore[misc]
        owner, enabled, forced = conn.execute(
            "SELECT pg_get_userbyid(relowner), relrowsecurity, relforcerowsecurity FROM pg_class"
            " WHERE oid = to_regclass('documents')"
        ).fetchone()  # type: ignore[misc]
    assert not superuser and owner != APP_ROLE
    assert enabled and (forced or not bypass)


def test_a_thousand_random_operations_never_cross_tenants(hs: Any, pb: ModuleType, shared_store: DocumentStore) -> None:
    rng = random.Random(20261128)
    tenants = {
        name: bearer(token(tenant=name)) for name in ("iso-a-" + uuid.uuid4().hex[:6], "iso-b-" + uuid.uuid4().hex[:6])
    }
    table = "iso-" + uuid.uuid4().hex[:8]
    model: dict[str, dict[str, int]] = {name: {} for name in tenants}
    shared_ids = [f"doc-{n}" for n in range(12)]  # both tenants use the same ids
    for _ in range(1000):
        name = rng.choice(list(tenants))
        metadata, mine = tenants[name], model[name]
        doc_id = rng.choice(shared_ids)
        action = rng.choice(("insert", "batch", "update", "delete", "query", "count"))
        if action == "insert":
            answer = hs.Insert(
                pb.InsertRequest(table_name=table, record=pb.Record(id=doc_id, data=struct({"v": 1, "t": name}))),
                metadata=metadata,
            )
            assert answer.success == (doc_id not in mine), answer.error_message
            if answer.success:
                mine[doc_id] = 1
        elif action == "batch":
            fresh = [i for i in rng.sample(shared_ids, 3) if i not in mine]
            records = [pb.Record(id=i, data=struct({"v": 1, "t": name})) for i in fresh]
            answer = hs.InsertBatch(pb.InsertBatchRequest(table_name=table, records=records), metadata=metadata)
            assert answer.success and answer.inserted_count == len(fresh), answer.error_message
            mine.update(dict.fromkeys(fresh, 1))
        elif action == "update":
            answer = hs.Update(
                pb.UpdateRequest(table_name=table, id=doc_id, updates=struct({"v": mine.get(doc_id, 0) + 1})),
                metadata=metadata,
            )
            if doc_id in mine:
                assert answer.success and answer.record.data["t"] == name
                mine[doc_id] += 1
            else:
                assert answer.error_message == f"NOT_FOUND: no document {doc_id!r} in collection {table!r}"
        elif action == "delete":
            criteria = pb.QueryCriteria(equals=pb.EqualsFilter(field="id", value=packed(doc_id)))
            answer = hs.Delete(pb.DeleteRequest(table_name=table, criteria=criteria), metadata=metadata)
            assert answer.deleted_count == (1 if mine.pop(doc_id, None) is not None else 0)
        else:
            query_type = pb.AGGREGATION if action == "count" else pb.DOCUMENT_QUERY
            spec = pb.QuerySpec(table_name=table, query_type=query_type)
            answer = hs.ExecuteRawQuery(pb.ExecuteRawQueryRequest(query_spec=spec), metadata=metadata)
            if action == "count":
                assert answer.results[0].data["count"] == len(mine)
            else:
                assert {r.id: int(r.data["v"]) for r in answer.results} == mine
                assert {r.data["t"] for r in answer.results} <= {name}
    for name, mine in model.items():
        stored = shared_store.for_tenant(name).query(table)
        assert {d.id: d.data["v"] for d in stored} == mine


def test_direct_sql_as_the_server_role_sees_no_row_without_a_tenant(app_url: str, hs: Any, pb: ModuleType) -> None:
    """The rule holds underneath the server: the same role, no tenant set, sees nothing."""
    hs.Insert(
        pb.InsertRequest(table_name="rls-probe", record=pb.Record(data=struct({"x": 1}))),
        metadata=bearer(token(tenant="rls-probe")),
    )
    import psycopg

    with psycopg.connect(app_url) as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (0,)
        conn.execute("SELECT set_config('persistence.tenant', 'rls-probe', false)")
        assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] >= 1  # type: ignore[index]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO documents (id, collection, tenant, data) VALUES ('x', 'c', 'other', '{}')")


# -- TLS --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: bytes
    server_cert: Path
    server_key: Path
    ca_file: Path
    client_cert: bytes
    client_key: bytes


def _issue(name: str, issuer_key: Any, issuer: x509.Name | None, ca: bool = False) -> tuple[Any, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        import ipaddress

        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    certificate = builder.sign(issuer_key or key, hashes.SHA256())
    return key, certificate


def _pem(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = _issue("test CA", None, None, ca=True)
    server_key, server_cert = _issue("localhost", ca_key, ca_cert.subject)
    client_key, client_cert = _issue("client", ca_key, ca_cert.subject)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    (folder / "server.pem").write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(_pem(server_key))
    (folder / "ca.pem").write_bytes(ca_pem)
    return Pki(
        ca_pem,
        folder / "server.pem",
        folder / "server.key",
        folder / "ca.pem",
        client_cert.public_bytes(serialization.Encoding.PEM),
        _pem(client_key),
    )


def _health(channel: grpc.Channel) -> int:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5).status  # type: ignore[no-any-return]


def test_tls_connects_and_plaintext_to_the_tls_port_fails(database_url: str, pki: Pki) -> None:
    credentials = grpc.ssl_channel_credentials(root_certificates=pki.ca)
    running = ServerProcess(
        database_url, "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key), credentials=credentials
    )
    try:
        with running.channel() as channel:
            assert _health(channel) == health_pb2.HealthCheckResponse.SERVING
        with grpc.insecure_channel(running.address) as plain, pytest.raises(grpc.RpcError):
            _health(plain)
    finally:
        running.stop()


def test_mtls_requires_a_client_certificate(database_url: str, pki: Pki) -> None:
    with_cert = grpc.ssl_channel_credentials(pki.ca, private_key=pki.client_key, certificate_chain=pki.client_cert)
    running = ServerProcess(
        database_url,
        "--tls-cert",
        str(pki.server_cert),
        "--tls-key",
        str(pki.server_key),
        "--tls-client-ca",
        str(pki.ca_file),
        credentials=with_cert,
    )
    try:
        with running.channel() as channel:
            assert _health(channel) == health_pb2.HealthCheckResponse.SERVING
        without = grpc.ssl_channel_credentials(root_certificates=pki.ca)
        with grpc.secure_channel(running.address, without) as channel, pytest.raises(grpc.RpcError):
            _health(channel)
    finally:
        running.stop()


def test_plaintext_off_loopback_needs_to_be_asked_for(database_url: str) -> None:
    address = f"0.0.0.0:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "server", "--listen", address, "--database-url", database_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "refusing plaintext" in result.stderr


# -- limits -----------------------------------------------------------------------------------


def test_rate_limit_per_identity(database_url: str, app_url: str, contract: tuple[ModuleType, ModuleType]) -> None:
    pb, pb_grpc = contract
    running = secure_server(database_url, app_url, "--rate-limit", "5/minute")
    try:
        client = pb_grpc.PersistencePlatformServiceStub(running.channel())
        first, second = bearer(token(tenant="rate-a")), bearer(token(tenant="rate-b"))
        codes = [call(client, pb, "HealthCheck", first) for _ in range(7)]
        assert codes[:5] == [grpc.StatusCode.OK] * 5
        assert codes[5:] == [grpc.StatusCode.RESOURCE_EXHAUSTED] * 2
        assert call(client, pb, "HealthCheck", second) == grpc.StatusCode.OK  # another caller, another bucket
    finally:
        running.stop()


def test_excess_concurrent_calls_are_refused_at_once(
    database_url: str, contract: tuple[ModuleType, ModuleType]
) -> None:
    pb, pb_grpc = contract
    running = ServerProcess(database_url, "--max-concurrent-calls", "2")
    try:
        client = pb_grpc.PersistencePlatformServiceStub(running.channel())
        records = [pb.Record(data=struct({"blob": "x" * 2000, "n": n})) for n in range(2000)]
        request = pb.InsertBatchRequest(table_name="concurrency-" + uuid.uuid4().hex[:6], records=records)

        def one() -> tuple[grpc.StatusCode, float]:
            started = time.monotonic()
            try:
                client.InsertBatch(request, timeout=60)
                return grpc.StatusCode.OK, time.monotonic() - started
            except grpc.RpcError as error:
                return error.code(), time.monotonic() - started

        with ThreadPoolExecutor(12) as pool:
            outcomes = list(pool.map(lambda _: one(), range(12)))
        refused = [seconds for code, seconds in outcomes if code == grpc.StatusCode.RESOURCE_EXHAUSTED]
        assert refused, outcomes
        assert max(refused) < 5.0  # refused at once, not queued until a deadline
    finally:
        running.stop()


def test_messages_over_the_size_limit_are_refused(database_url: str, contract: tuple[ModuleType, ModuleType]) -> None:
    pb, pb_grpc = contract
    running = ServerProcess(database_url, "--max-message-bytes", "65536")
    try:
        client = pb_grpc.PersistencePlatformServiceStub(running.channel())
        big = pb.InsertRequest(table_name="big", record=pb.Record(data=struct({"blob": "x" * 100_000})))
        with pytest.raises(grpc.RpcError) as refused:
            client.Insert(big, timeout=10)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert client.HealthCheck(pb.HealthCheckRequest(), timeout=10).healthy
    finally:
        running.stop()
