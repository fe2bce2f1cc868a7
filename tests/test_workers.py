"""Several server processes: workers sharing one port, replicas sharing one database."""

from __future__ import annotations

import os
import uuid
from types import ModuleType
from typing import Any

import grpc
from google.protobuf import struct_pb2

from tests.conftest import ServerProcess, checked


def test_workers_share_the_port_and_stop_together(database_url: str, contract: tuple[ModuleType, ModuleType]) -> None:
    pb, pb_grpc = contract
    running = ServerProcess(database_url, "--workers", "2")
    try:
        seen = set()
        for _ in range(40):  # a new connection each time: the kernel spreads them over the workers
            with checked(grpc.insecure_channel(running.address, options=[("grpc.use_local_subchannel_pool", 1)])) as ch:
                info = pb_grpc.PersistencePlatformServiceStub(ch).GetPlatformInfo(pb.GetPlatformInfoRequest())
                seen.add(int(info.configuration["worker"]))
            if seen == {0, 1}:
                break
        assert seen == {0, 1}
        children = _children(running.process.pid)
        assert len(children) == 2
    finally:
        assert running.stop() == 0
    assert not any(os.path.exists(f"/proc/{pid}") and _alive(pid) for pid in children)


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return [int(child) for child in listing.read().split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_write_through_one_replica_is_read_through_the_other_at_once(
    database_url: str, contract: tuple[ModuleType, ModuleType]
) -> None:
    pb, pb_grpc = contract
    first, second = ServerProcess(database_url), ServerProcess(database_url)
    try:
        one = pb_grpc.PersistencePlatformServiceStub(first.channel())
        other = pb_grpc.PersistencePlatformServiceStub(second.channel())
        table = "replicas-" + uuid.uuid4().hex[:8]
        for n in range(20):
            data = struct_pb2.Struct()
            data.update({"n": n})
            written = one.Insert(pb.InsertRequest(table_name=table, record=pb.Record(data=data)))
            assert written.success
            spec = pb.QuerySpec(table_name=table, query_type=pb.AGGREGATION)
            answer: Any = other.ExecuteRawQuery(pb.ExecuteRawQueryRequest(query_spec=spec))
            assert answer.results[0].data["count"] == n + 1
    finally:
        first.stop()
        second.stop()
