"""Platform RPCs and the operational surface: health, info, metrics, reflection, shutdown.

Calls go through the stub compiled from the ORIGINAL contract; the standard gRPC
services (health, reflection) through their own published stubs.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import grpc
import pytest
from conftest import ServerProcess
from google.protobuf import descriptor_pb2, json_format, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from psycopg.conninfo import conninfo_to_dict, make_conninfo

SERVICE = "unhinged.persistence.PersistencePlatformService"
SECRET = "s3cret-value"
GRACE_SECONDS = 5.0


# -- HealthCheck and GetPlatformInfo ------------------------------------------------------


def test_health_check_reports_a_healthy_postgresql(client: Any, pb: ModuleType) -> None:
    answer = client.HealthCheck(pb.HealthCheckRequest(include_details=True))

    assert answer.healthy
    assert answer.version
    assert answer.uptime_seconds >= 0
    assert [item.technology for item in answer.technology_health] == ["postgresql"]
    (database,) = answer.technology_health
    assert database.healthy
    assert database.error_message == ""
    assert database.response_time_ms >= 0


def test_platform_info_describes_this_server(client: Any, pb: ModuleType, server: ServerProcess) -> None:
    answer = client.GetPlatformInfo(pb.GetPlatformInfoRequest())

    assert answer.platform_name
    assert answer.version
    assert list(answer.supported_technologies) == ["postgresql"]
    assert len(answer.supported_features) > 0
    assert isinstance(answer.configuration, struct_pb2.Struct)
    assert answer.configuration["listen"] == server.address
    assert answer.configuration["database_url"]
    assert answer.configuration["protobuf_backend"] == "upb"  # checked at start-up; pure Python is far slower
    assert answer.configuration["event_loop"] == "uvloop"


@dataclass(frozen=True)
class PasswordRun:
    """What a server started with a password in its database URL showed, once stopped."""

    secret: str
    configuration: str
    database_url_shown: str
    log: str
    exit_code: int


@pytest.fixture(scope="module")
def password_run(database_url: str, contract: tuple[ModuleType, ModuleType]) -> PasswordRun:
    """Start a server whose URL carries a password, use it, stop it.

    The embedded database trusts local connections, so any password works there;
    a database that checks passwords (CI's PostgreSQL 15) is used with its own.
    """
    pb, pb_grpc = contract
    secret = conninfo_to_dict(database_url).get("password") or SECRET
    url = make_conninfo(database_url, password=secret)
    running = ServerProcess(url, "--log-level", "DEBUG")
    try:
        with running.channel() as channel:
            stub = pb_grpc.PersistencePlatformServiceStub(channel)
            info = stub.GetPlatformInfo(pb.GetPlatformInfoRequest())
            # Some work and an error, so the log has more than its start lines.
            stub.Insert(pb.InsertRequest(table_name="password-check", record=pb.Record()))
            stub.Insert(pb.InsertRequest(table_name="", record=pb.Record()))
            stub.HealthCheck(pb.HealthCheckRequest(include_details=True))
    finally:
        exit_code = running.stop()
    return PasswordRun(
        secret=secret,
        configuration=json_format.MessageToJson(info.configuration),
        database_url_shown=info.configuration["database_url"],
        log=running.log.read_text(),
        exit_code=exit_code,
    )


def test_platform_info_never_shows_the_database_password(password_run: PasswordRun) -> None:
    assert password_run.database_url_shown  # the URL is shown, only without its password
    assert password_run.secret not in password_run.configuration


def test_the_log_never_shows_the_database_password(password_run: PasswordRun) -> None:
    assert "serving" in password_run.log  # the log is not simply empty
    assert password_run.secret not in password_run.log
    assert password_run.exit_code == 0


# -- GetMetrics -------------------------------------------------------------------------


def metric_families(text: str) -> dict[str, Metric]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample_value(families: dict[str, Metric], family: str, sample: str, **labels: str) -> float:
    for item in families[family].samples:
        if item.name == sample and all(item.labels.get(key) == value for key, value in labels.items()):
            return float(item.value)
    return 0.0


def scrape(client: Any, pb: ModuleType, format_name: str = "prometheus") -> dict[str, Metric]:
    answer = client.GetMetrics(pb.GetMetricsRequest(format=format_name))
    assert answer.format == "prometheus"
    assert answer.collected_at.seconds > 0
    return metric_families(answer.metrics_data)


@pytest.mark.parametrize("format_name", ["", "prometheus"], ids=["default", "prometheus"])
def test_prometheus_metrics_count_calls_and_show_latency_and_pool(
    client: Any, pb: ModuleType, collection: str, format_name: str
) -> None:
    before = scrape(client, pb, format_name)
    calls_before = sample_value(before, "persistence_rpc_calls", "persistence_rpc_calls_total", method="Insert")

    for _ in range(3):
        assert client.Insert(pb.InsertRequest(table_name=collection, record=pb.Record())).success

    after = scrape(client, pb, format_name)
    calls = sample_value(after, "persistence_rpc_calls", "persistence_rpc_calls_total", method="Insert")
    assert calls - calls_before == 3
    latency = after["persistence_rpc_latency_seconds"]
    assert latency.type == "histogram"
    assert any(s.name.endswith("_bucket") and s.labels.get("method") == "Insert" for s in latency.samples)
    count = sample_value(
        after, "persistence_rpc_latency_seconds", "persistence_rpc_latency_seconds_count", method="Insert"
    )
    assert count == calls
    pool = [family for name, family in after.items() if name.startswith("persistence_pool_")]
    assert pool, "no persistence_pool_* gauges"
    assert all(family.type == "gauge" for family in pool)


def test_prometheus_metrics_count_errors_by_code(client: Any, pb: ModuleType) -> None:
    labels = {"method": "Insert", "code": "INVALID_ARGUMENT"}
    before = sample_value(scrape(client, pb), "persistence_rpc_errors", "persistence_rpc_errors_total", **labels)

    assert not client.Insert(pb.InsertRequest(table_name="", record=pb.Record())).success

    after = sample_value(scrape(client, pb), "persistence_rpc_errors", "persistence_rpc_errors_total", **labels)
    assert after - before == 1


def test_json_metrics_are_valid_json(client: Any, pb: ModuleType) -> None:
    client.HealthCheck(pb.HealthCheckRequest())

    answer = client.GetMetrics(pb.GetMetricsRequest(format="json"))

    assert answer.format == "json"
    parsed = json.loads(answer.metrics_data)
    assert isinstance(parsed, dict) and parsed
    assert "HealthCheck" in answer.metrics_data


def test_an_unknown_metrics_format_is_invalid_argument(client: Any, pb: ModuleType) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        client.GetMetrics(pb.GetMetricsRequest(format="xml"))

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "xml" in (raised.value.details() or "")


# -- grpc.health.v1 and reflection ------------------------------------------------------


@pytest.mark.parametrize("service", ["", SERVICE], ids=["server", "contract"])
def test_grpc_health_is_serving(channel: grpc.Channel, service: str) -> None:
    answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)

    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_grpc_health_of_an_unknown_service_is_not_found(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def reflect(channel: grpc.Channel, request: reflection_pb2.ServerReflectionRequest) -> Any:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    (answer,) = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
    return answer


def test_reflection_lists_the_contract_service(channel: grpc.Channel) -> None:
    answer = reflect(channel, reflection_pb2.ServerReflectionRequest(list_services=""))

    names = {service.name for service in answer.list_services_response.service}
    assert SERVICE in names
    assert "grpc.health.v1.Health" in names


def test_reflection_describes_every_contract_method(channel: grpc.Channel, pb: ModuleType) -> None:
    answer = reflect(channel, reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE))

    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in answer.file_descriptor_response.file_descriptor_proto
    ]
    (contract_file,) = [item for item in files if item.package == "unhinged.persistence"]
    (served,) = [item for item in contract_file.service if item.name == "PersistencePlatformService"]
    original = pb.DESCRIPTOR.services_by_name["PersistencePlatformService"]
    assert {method.name for method in served.method} == set(original.methods_by_name)


# -- named entries the server was not configured with ------------------------------------


@pytest.mark.parametrize(
    ("method", "request_type", "field"),
    [
        ("ExecuteQuery", "ExecuteQueryRequest", "query_name"),
        ("ExecuteOperation", "ExecuteOperationRequest", "operation_name"),
    ],
)
def test_unknown_named_entries_answer_not_found(
    client: Any, pb: ModuleType, method: str, request_type: str, field: str
) -> None:
    """Without --config no names are defined; a name nobody defined is NOT_FOUND."""
    answer = getattr(client, method)(getattr(pb, request_type)(**{field: "never_defined"}))

    assert not answer.success
    assert answer.error_message.startswith("NOT_FOUND:"), answer.error_message
    assert "never_defined" in answer.error_message
    assert answer.execution_time_ms >= 1


# -- graceful shutdown ------------------------------------------------------------------


@pytest.fixture
def disposable_server(database_url: str) -> Iterator[ServerProcess]:
    running = ServerProcess(database_url, "--grace-period", str(GRACE_SECONDS))
    yield running
    running.stop()


def test_sigterm_shuts_down_gracefully_and_exits_zero(
    disposable_server: ServerProcess, contract: tuple[ModuleType, ModuleType]
) -> None:
    pb, pb_grpc = contract
    with disposable_server.channel() as channel:
        stub = pb_grpc.PersistencePlatformServiceStub(channel)
        assert stub.HealthCheck(pb.HealthCheckRequest()).healthy

    started = time.monotonic()
    disposable_server.process.send_signal(signal.SIGTERM)
    exit_code = disposable_server.process.wait(timeout=GRACE_SECONDS + 10)
    elapsed = time.monotonic() - started

    assert exit_code == 0
    assert elapsed < GRACE_SECONDS
    disposable_server.stop()  # closes the log file
    assert "shutting down" in disposable_server.log.read_text()
