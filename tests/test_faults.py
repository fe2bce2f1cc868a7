"""Fault injection: the server killed, the database stopped, the link to it cut or stalled, shutdown under load.

Each test runs a real ``persistence-server`` process against a real PostgreSQL,
loads it from client threads, injects a fault, and afterwards checks what the
clients were told against what the database holds (Jepsen-style, see
``faults.workload``): every acknowledged write is there, nothing appears that
no client attempted, batches are whole or absent, and callers only ever saw
the failures the contract promises for an outage.

Faults that stop or stall PostgreSQL use a dedicated embedded PostgreSQL
(``faults.postgres``), never the session's shared database. Everything is on
loopback and bounded in time (``pytest.mark.timeout`` on each test).
docs/reliability.md maps each guarantee to the test proving it.
"""

from __future__ import annotations

import functools
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest
from conftest import ServerProcess
from faults.postgres import DedicatedPostgres
from faults.proxy import Proxy
from faults.workload import (
    OK,
    OUTAGE_OUTCOMES,
    Call,
    Calls,
    InsertLoad,
    Ledger,
    classify,
    error_text,
    health_status,
    stored_ids,
    wait_until,
)
from google.protobuf import any_pb2, struct_pb2, wrappers_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.store import DocumentStore

#: The deadline every client in these tests sets on its calls.
DEADLINE = 2.0
#: How soon after the database (or the link) is back calls must succeed again.
RECOVERY = 5.0


def new_collection() -> str:
    return "faults-" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def dedicated() -> Iterator[DedicatedPostgres]:
    """A PostgreSQL of this module's own, to stop and start; left running after every test."""
    database = DedicatedPostgres()
    yield database
    database.close()


@pytest.fixture
def running_dedicated(dedicated: DedicatedPostgres) -> Iterator[DedicatedPostgres]:
    """The dedicated PostgreSQL, restarted after the test if the test left it stopped."""
    yield dedicated
    if not dedicated.running:
        dedicated.start()


def stub_for(channel: grpc.Channel, contract: tuple[ModuleType, ModuleType]) -> Any:
    return contract[1].PersistencePlatformServiceStub(channel)


def assert_consistent(ledger: Ledger, url: str, collection: str) -> set[str]:
    """The Jepsen check: read the collection straight from PostgreSQL and compare with the ledger."""
    with DocumentStore(url) as store:
        stored = stored_ids(store, collection)
    assert not ledger.problems(stored), ledger.problems(stored)
    unacknowledged = ledger.attempted - ledger.acked
    print(
        f"ledger: {len(ledger.attempted)} ids attempted, {len(ledger.acked)} acknowledged, all stored;"
        f" of the {len(unacknowledged)} unacknowledged, {len(unacknowledged & stored)} were applied anyway"
    )
    return stored


def describe(calls: list[Call], since: float | None = None) -> str:
    """The first few calls, for an assertion message (start times relative to ``since``)."""
    return "; ".join(
        f"{call.method} {call.outcome} ({call.detail[:80]}) after {call.elapsed:.2f}s"
        + ("" if since is None else f", started at {call.started - since:+.3f}s")
        for call in calls[:5]
    )


def wait_for_acks(ledger: Ledger, at_least: int, timeout: float = 10.0) -> None:
    assert wait_until(lambda: len(ledger.acked) >= at_least, timeout) is not None, "the load made no progress"


def recovery_after(calls: Calls, moment: float, timeout: float = RECOVERY + 1) -> float | None:
    """Seconds from ``moment`` until a call started after it succeeded, or None."""
    wait_until(lambda: bool(calls.successes_started_after(moment)), timeout)
    after = calls.successes_started_after(moment)
    return min(call.ended for call in after) - moment if after else None


# -- 1. the server killed -------------------------------------------------------------


@pytest.mark.timeout(90)
def test_kill_9_of_the_server_loses_no_acknowledged_insert(
    database_url: str, contract: tuple[ModuleType, ModuleType]
) -> None:
    """Five cycles of: start the server, insert from 5 threads (single rows and batches of 5,
    ids chosen by the client), ``kill -9`` it mid-load. Afterwards every acknowledged insert is
    stored, every stored id was attempted, and no batch is partly stored."""
    pb = contract[0]
    collection = new_collection()
    ledger, calls = Ledger(), Calls()
    for cycle in range(5):
        server = ServerProcess(database_url)
        try:
            with server.channel() as channel:
                stub = stub_for(channel, contract)
                single = InsertLoad(stub, pb, collection, ledger, calls, threads=3, prefix=f"k{cycle}s")
                batched = InsertLoad(stub, pb, collection, ledger, calls, threads=2, batch=5, prefix=f"k{cycle}b")
                with single, batched:
                    wait_for_acks(ledger, len(ledger.acked) + 100)
                    time.sleep(random.uniform(0, 0.3))
                    server.process.kill()
                    server.process.wait(5)
                    time.sleep(0.2)  # the clients meet the dead server
        finally:
            server.stop()
        assert server.process.returncode == -signal.SIGKILL
    assert_consistent(ledger, database_url, collection)
    print("outcomes:", dict(calls.outcomes()))
    # A dead server can only be unreachable: nothing else may reach the callers.
    assert not calls.unexpected({OK, "status UNAVAILABLE"}), describe(calls.unexpected({OK, "status UNAVAILABLE"}))


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat after the command name: [state, ppid, ...]; empty when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped has stopped serving)."""
    fields = _stat(pid)
    return bool(fields) and fields[0] != "Z"


def children_of(pid: int) -> list[int]:
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _stat(int(entry.name))[1:2] == [str(pid)]
    ]


@pytest.mark.timeout(30)
def test_kill_9_of_the_parent_leaves_no_worker_serving(
    database_url: str, contract: tuple[ModuleType, ModuleType]
) -> None:
    """With --workers 2 (the default on two cores), killing the parent must not leave workers behind."""
    server = ServerProcess(database_url, "--workers", "2")
    workers = children_of(server.process.pid)
    try:
        assert len(workers) == 2
        server.process.kill()
        server.process.wait(5)
        gone = wait_until(lambda: not any(alive(pid) for pid in workers), 3.0)
        assert gone is not None, f"workers {workers} still run after their parent was killed"
        assert fresh_call_refused(server.address, contract)
    finally:
        for pid in workers:  # only the workers this test started, by pid
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        server.stop()


# -- 2. the database stopped -----------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["immediate", "fast"])
def test_database_stopped_mid_load_then_started_again(
    mode: str, running_dedicated: DedicatedPostgres, contract: tuple[ModuleType, ModuleType]
) -> None:
    """``pg_ctl stop -m MODE`` under insert load, then start: callers see only UNAVAILABLE answers or
    UNAVAILABLE/DEADLINE_EXCEEDED statuses, health is NOT_SERVING during the outage, and within
    5 s of the database being back calls succeed and health is SERVING, with no server restart."""
    database = running_dedicated
    pb = contract[0]
    collection = new_collection()
    ledger, calls = Ledger(), Calls()
    server = ServerProcess(database.url)
    try:
        with server.channel() as channel:
            load = InsertLoad(stub_for(channel, contract), pb, collection, ledger, calls, threads=4, deadline=DEADLINE)
            with load:
                wait_for_acks(ledger, 100)
                stopped_at = time.monotonic()
                database.stop(mode)
                try:
                    seen = wait_until(lambda: health_status(channel) == "NOT_SERVING", 10)
                    assert seen is not None, "health stayed SERVING with the database stopped"
                    time.sleep(1.0)
                    assert health_status(channel) == "NOT_SERVING"
                finally:
                    database.start()
                back_at = time.monotonic()
                recovered = recovery_after(calls, back_at)
                serving = wait_until(lambda: health_status(channel) == "SERVING", RECOVERY + 1)
                serving = None if serving is None else time.monotonic() - back_at
                time.sleep(0.3)
        assert server.process.poll() is None, "the server exited"
    finally:
        server.stop()
    assert recovered is not None and recovered <= RECOVERY, f"calls succeeded again only after {recovered} s"
    assert serving is not None and serving <= RECOVERY
    during = [call for call in calls.snapshot() if stopped_at <= call.ended <= back_at]
    assert any(call.outcome != OK for call in during), "the outage was not felt"
    print(
        f"{mode}: NOT_SERVING {seen:.1f} s after the stop, calls succeed {recovered:.2f} s and SERVING"
        f" {serving:.1f} s after the start; outcomes during the outage: {dict(Counter(c.outcome for c in during))}"
    )
    assert not calls.unexpected(OUTAGE_OUTCOMES), describe(calls.unexpected(OUTAGE_OUTCOMES))
    assert_consistent(ledger, database.url, collection)


# -- 3. the link to the database cut or stalled ------------------------------------------


@dataclass
class LinkFaultRun:
    server: ServerProcess
    proxy: Proxy
    channel: grpc.Channel
    stub: Any


@pytest.fixture
def through_proxy(
    running_dedicated: DedicatedPostgres, contract: tuple[ModuleType, ModuleType]
) -> Iterator[LinkFaultRun]:
    """A server whose every database connection goes through a proxy the test controls."""
    with Proxy(running_dedicated.socket_path) as proxy:
        server = ServerProcess(f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres", "--health-interval", "0.5")
        try:
            with server.channel() as channel:
                yield LinkFaultRun(server, proxy, channel, stub_for(channel, contract))
        finally:
            proxy.heal()
            server.stop()


def repeat_health_checks(stub: Any, pb: ModuleType, calls: Calls, stop: threading.Event) -> None:
    """The contract's HealthCheck (it pings the database), with a deadline, over and over."""
    while not stop.is_set():
        started = time.monotonic()
        outcome, _ = classify(lambda: stub.HealthCheck(pb.HealthCheckRequest(), timeout=DEADLINE))
        calls.add(Call("HealthCheck", started, time.monotonic(), outcome))
        stop.wait(0.1)


@pytest.mark.timeout(90)
def test_cut_or_stalled_link_never_holds_a_call_past_its_deadline(
    through_proxy: LinkFaultRun, running_dedicated: DedicatedPostgres, contract: tuple[ModuleType, ModuleType]
) -> None:
    """Through a TCP proxy: stall the link (nothing forwarded, connections open), reset every
    connection and refuse new ones, reset them only, stall then reset. Calls carry a 2 s deadline:
    none takes more than deadline + 1 s, callers see only outage outcomes, and after each heal
    calls succeed again within 5 s."""
    run, pb = through_proxy, contract[0]
    collection = new_collection()
    ledger, calls = Ledger(), Calls()
    stop = threading.Event()
    checker = threading.Thread(target=repeat_health_checks, args=(run.stub, pb, calls, stop), daemon=True)

    def stall() -> None:
        run.proxy.stall()
        time.sleep(3.0)

    def down() -> None:
        run.proxy.cut(refuse=True)
        time.sleep(2.0)

    def reset() -> None:
        run.proxy.cut()

    def stall_then_reset() -> None:
        run.proxy.stall()
        time.sleep(2.0)
        run.proxy.cut()

    recoveries: dict[str, float | None] = {}
    with InsertLoad(run.stub, pb, collection, ledger, calls, threads=4, deadline=DEADLINE):
        checker.start()
        try:
            for name, fault in (("stall", stall), ("down", down), ("reset", reset), ("stall+reset", stall_then_reset)):
                wait_for_acks(ledger, len(ledger.acked) + 20)
                fault()
                run.proxy.heal()
                recoveries[name] = recovery_after(calls, time.monotonic())
        finally:
            stop.set()
            checker.join(DEADLINE + 2)
    longest = max(call.elapsed for call in calls.snapshot())
    print(f"recovery after heal (s): {recoveries}; longest call {longest:.2f} s; outcomes {dict(calls.outcomes())}")
    slow = [call for call in calls.snapshot() if call.elapsed > DEADLINE + 1.0]
    assert not slow, describe(slow)
    assert all(seconds is not None and seconds <= RECOVERY for seconds in recoveries.values()), recoveries
    assert not calls.unexpected(OUTAGE_OUTCOMES), describe(calls.unexpected(OUTAGE_OUTCOMES))
    assert calls.outcomes()["status DEADLINE_EXCEEDED"] > 0, "the stall was not felt"
    assert_consistent(ledger, running_dedicated.url, collection)


@pytest.mark.timeout(30)
def test_health_turns_not_serving_soon_after_the_link_stalls(through_proxy: LinkFaultRun) -> None:
    """With --health-interval 0.5, a database that no longer answers should show as NOT_SERVING
    within 3 s, also when the link is silent rather than broken."""
    run = through_proxy
    assert health_status(run.channel) == "SERVING"
    run.proxy.stall()
    seen = wait_until(lambda: health_status(run.channel) == "NOT_SERVING", 3.0, interval=0.1)
    run.proxy.heal()
    assert seen is not None, "health still SERVING 3 s into the stall"


# -- 4. no lost updates across database restarts ----------------------------------------

CLIENTS = 16
#: The issue asks for 16 x 200 increments; each costs about 16 attempts under this contention, which
#: is ~1 min per variant on two cores. FAULT_INCREMENTS=200 runs the full size.
INCREMENTS = int(os.environ.get("FAULT_INCREMENTS", "30"))
#: Where in the run the database restarts: after this share of the increments, and how.
RESTARTS = ((0.3, "fast"), (0.65, "immediate"))
RETRYABLE = frozenset({"answer UNAVAILABLE", "status UNAVAILABLE", "status DEADLINE_EXCEEDED"})


class CounterClient:
    """Increments one document's ``n`` with Update + ``expected_version``, re-reading on CONFLICT.

    With request ids, an attempt (one expected version) keeps its id across retries after
    UNAVAILABLE, so it applies at most once and is eventually acknowledged. Without them, an
    attempt whose answer was lost is indeterminate: it may have applied.
    """

    def __init__(self, stub: Any, pb: ModuleType, collection: str, request_ids: bool) -> None:
        self.stub, self.pb, self.collection, self.request_ids = stub, pb, collection, request_ids
        self.acked = 0
        self.indeterminate = 0
        self.unexpected: list[str] = []

    def read(self) -> tuple[int, int]:
        """(version, n) of the counter, retrying through outages."""
        pb = self.pb
        key = any_pb2.Any()
        key.Pack(wrappers_pb2.StringValue(value="counter"))
        spec = pb.QuerySpec(
            table_name=self.collection,
            query_type=pb.POINT_LOOKUP,
            criteria=pb.QueryCriteria(equals=pb.EqualsFilter(field="id", value=key)),
        )
        give_up = time.monotonic() + 30
        while time.monotonic() < give_up:
            request = pb.ExecuteRawQueryRequest(query_spec=spec)
            outcome, answer = classify(functools.partial(self.stub.ExecuteRawQuery, request, timeout=DEADLINE))
            if outcome == OK:
                return int(answer.results[0].version), int(answer.results[0].data["n"])
            if outcome not in RETRYABLE:
                self.unexpected.append(f"read: {outcome}")
            time.sleep(0.05)
        raise TimeoutError("the counter could not be read for 30 s")

    def increment(self, tally: Callable[[], None]) -> None:
        pb = self.pb
        version, value = self.read()
        while True:
            metadata = struct_pb2.Struct()
            metadata.update({"expected_version": version})
            updates = struct_pb2.Struct()
            updates.update({"n": value + 1})
            context = pb.ExecutionContext(request_id=uuid.uuid4().hex if self.request_ids else "", metadata=metadata)
            request = pb.UpdateRequest(table_name=self.collection, id="counter", updates=updates, context=context)
            while True:
                outcome, answer = classify(functools.partial(self.stub.Update, request, timeout=DEADLINE))
                in_progress = outcome == "answer CONFLICT" and "being applied" in answer.error_message
                if self.request_ids and (outcome in RETRYABLE or in_progress):
                    time.sleep(0.05)  # the same request id: applies at most once
                    continue
                break
            if outcome == OK:
                self.acked += 1
                tally()
                return
            if outcome in RETRYABLE:
                self.indeterminate += 1
                time.sleep(0.05)
            elif outcome != "answer CONFLICT":
                self.unexpected.append(f"update: {outcome} {error_text(answer)}")
            version, value = self.read()


@pytest.mark.timeout(max(120, 5 * INCREMENTS))
@pytest.mark.parametrize("request_ids", [False, True], ids=["expected-version", "expected-version+request-id"])
def test_concurrent_increments_across_database_restarts(
    request_ids: bool, running_dedicated: DedicatedPostgres, contract: tuple[ModuleType, ModuleType]
) -> None:
    """16 clients increment one counter through Update with ``expected_version`` while the database
    restarts twice (fast, then immediate). The issue asks for 16 x 200; we run 16 x INCREMENTS
    (30 unless $FAULT_INCREMENTS says otherwise) to stay within seconds.

    No update is lost: every committed update moved the version by one (n == version - 1), and the
    final value is at least the acknowledged count. Without request ids an update whose answer was
    lost may have applied, so the value is at most acknowledged + indeterminate; with request ids
    (retried with the same id) it is exactly 16 x INCREMENTS.
    """
    database, pb = running_dedicated, contract[0]
    collection = new_collection()
    total = CLIENTS * INCREMENTS
    server = ServerProcess(database.url)
    try:
        with server.channel() as channel:
            stub = stub_for(channel, contract)
            counter = pb.Record(id="counter")
            counter.data.update({"n": 0})
            created = stub.Insert(pb.InsertRequest(table_name=collection, record=counter))
            assert created.success, created.error_message
            lock = threading.Lock()
            done = [0]

            def tally() -> None:
                with lock:
                    done[0] += 1

            def reached(count: float) -> bool:
                return done[0] >= count

            def restarter() -> None:
                for share, mode in RESTARTS:
                    if wait_until(functools.partial(reached, share * total), 60) is None:
                        return
                    database.stop(mode)
                    time.sleep(0.5)
                    database.start()

            clients = [CounterClient(stub, pb, collection, request_ids) for _ in range(CLIENTS)]

            def work(client: CounterClient) -> None:
                for _ in range(INCREMENTS):
                    client.increment(tally)

            restarts = threading.Thread(target=restarter, daemon=True)
            restarts.start()
            with ThreadPoolExecutor(CLIENTS) as pool:
                list(pool.map(work, clients))
            restarts.join(30)
            assert not restarts.is_alive()
            version, value = clients[0].read()
    finally:
        server.stop()
    acked = sum(client.acked for client in clients)
    indeterminate = sum(client.indeterminate for client in clients)
    print(
        f"request ids {request_ids}: {acked} acknowledged, {indeterminate} indeterminate attempts,"
        f" counter {value} at version {version}"
    )
    assert not [problem for client in clients for problem in client.unexpected]
    assert acked == total
    assert value == version - 1, "a committed update did not build on the version it expected"
    if request_ids:
        assert value == total
    else:
        assert acked <= value <= acked + indeterminate, (value, acked, indeterminate)


# -- 5. batches are seen whole -----------------------------------------------------------


@pytest.mark.timeout(30)
def test_readers_never_see_part_of_a_batch(client: Any, pb: ModuleType) -> None:
    """Writers insert batches of 10 while readers count the collection and list it: every count
    is a multiple of 10 and every listed batch is complete."""
    collection, size = new_collection(), 10
    stop = threading.Event()
    counts: list[int] = []
    partial: list[str] = []
    failures: list[str] = []

    def write(writer: int) -> None:
        batch = 0
        while not stop.is_set():
            batch += 1
            records = [pb.Record(id=f"w{writer}-b{batch}-{k}") for k in range(size)]
            answer = client.InsertBatch(pb.InsertBatchRequest(table_name=collection, records=records))
            if not answer.success:
                failures.append(answer.error_message)

    def count() -> None:
        spec = pb.QuerySpec(table_name=collection, query_type=pb.AGGREGATION)
        while not stop.is_set():
            answer = client.ExecuteRawQuery(pb.ExecuteRawQueryRequest(query_spec=spec))
            if not answer.success:
                failures.append(answer.error_message)
                continue
            counts.append(int(answer.results[0].data["count"]))

    def list_all() -> None:
        spec = pb.QuerySpec(table_name=collection, query_type=pb.RANGE_SCAN, limit=10_000)
        while not stop.is_set():
            answer = client.ExecuteRawQuery(pb.ExecuteRawQueryRequest(query_spec=spec))
            if not answer.success:
                failures.append(answer.error_message)
                continue
            batches: dict[str, int] = {}
            for record in answer.results:
                prefix = record.id.rsplit("-", 1)[0]
                batches[prefix] = batches.get(prefix, 0) + 1
            partial.extend(f"{prefix}: {seen}" for prefix, seen in batches.items() if seen != size)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    threads += [threading.Thread(target=count) for _ in range(3)]
    threads += [threading.Thread(target=list_all)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    stop.set()
    for thread in threads:
        thread.join(10)
    assert not failures, failures[:3]
    assert len(counts) > 20 and max(counts) > 0
    assert all(seen % size == 0 for seen in counts), sorted({seen for seen in counts if seen % size})[:5]
    assert not partial, partial[:5]


# -- 6. optimistic concurrency -------------------------------------------------------------


@pytest.mark.timeout(30)
def test_one_of_50_concurrent_updates_with_the_same_expected_version_wins(client: Any, pb: ModuleType) -> None:
    collection = new_collection()
    created = client.Insert(pb.InsertRequest(table_name=collection, record=pb.Record(id="contended")))
    assert created.success and created.record.version == "1"
    contenders = 50
    barrier = threading.Barrier(contenders)

    def update(number: int) -> Any:
        metadata = struct_pb2.Struct()
        metadata.update({"expected_version": 1})
        updates = struct_pb2.Struct()
        updates.update({"winner": number})
        request = pb.UpdateRequest(
            table_name=collection,
            id="contended",
            updates=updates,
            context=pb.ExecutionContext(metadata=metadata),
        )
        barrier.wait(10)
        return client.Update(request, timeout=10)

    with ThreadPoolExecutor(contenders) as pool:
        answers = list(pool.map(update, range(contenders)))
    winners = [number for number, answer in enumerate(answers) if answer.success]
    losers = [answer.error_message for answer in answers if not answer.success]
    assert len(winners) == 1, f"{len(winners)} updates won"
    assert len(losers) == contenders - 1
    assert all(message.startswith("CONFLICT:") for message in losers), losers[:3]
    assert answers[winners[0]].record.version == "2"
    key = any_pb2.Any()
    key.Pack(wrappers_pb2.StringValue(value="contended"))
    spec = pb.QuerySpec(
        table_name=collection,
        query_type=pb.POINT_LOOKUP,
        criteria=pb.QueryCriteria(equals=pb.EqualsFilter(field="id", value=key)),
    )
    (stored,) = client.ExecuteRawQuery(pb.ExecuteRawQueryRequest(query_spec=spec)).results
    assert stored.version == "2" and int(stored.data["winner"]) == winners[0]


# -- 7. graceful shutdown under load ------------------------------------------------------

GRACE = 5.0
#: Seconds around SIGTERM within which a call may or may not have reached the server before it stopped.
RACE = 0.2


def fresh_call_refused(address: str, contract: tuple[ModuleType, ModuleType]) -> bool:
    """Whether a call on a new connection is refused (UNAVAILABLE): no process listens any more."""
    pb = contract[0]
    with grpc.insecure_channel(address) as fresh:
        outcome, _ = classify(lambda: stub_for(fresh, contract).HealthCheck(pb.HealthCheckRequest(), timeout=1))
    return outcome == "status UNAVAILABLE"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_under_load_finishes_in_flight_calls_and_refuses_new_ones(
    workers: int, database_url: str, contract: tuple[ModuleType, ModuleType], shared_store: DocumentStore
) -> None:
    """Calls held in the database (rows locked by another transaction) when SIGTERM arrives finish
    successfully once the lock goes; health turns NOT_SERVING (seen by a Watch stream); new calls are
    refused with UNAVAILABLE; the background load sees only successes or refusals and loses no
    acknowledged insert; the process exits 0 before the grace period is over. With one process, and
    with two workers (the default on this two-core machine is one per core)."""
    pb = contract[0]
    collection, loaded, blocked_ids = new_collection(), new_collection(), [f"held-{n}" for n in range(4)]
    server = ServerProcess(database_url, "--grace-period", str(GRACE), "--workers", str(workers))
    ledger, calls = Ledger(), Calls()
    try:
        with server.channel() as channel:
            stub = stub_for(channel, contract)
            for doc_id in blocked_ids:
                assert stub.Insert(pb.InsertRequest(table_name=collection, record=pb.Record(id=doc_id))).success
            statuses: list[tuple[float, int]] = []

            def watch() -> None:
                stream = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
                try:
                    for event in stream:
                        statuses.append((time.monotonic(), event.status))
                        if event.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                            stream.cancel()  # an open stream would hold the server until the grace ends
                            return
                except grpc.RpcError:
                    return

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            assert wait_until(lambda: bool(statuses), 5) is not None

            def held_update(doc_id: str) -> tuple[str, Any]:
                updates = struct_pb2.Struct()
                updates.update({"finished": True})
                request = pb.UpdateRequest(table_name=collection, id=doc_id, updates=updates)
                return classify(lambda: stub.Update(request, timeout=GRACE + 5))

            load = InsertLoad(stub, pb, loaded, ledger, calls, threads=3, deadline=GRACE + 5)
            with load, ThreadPoolExecutor(len(blocked_ids)) as pool, shared_store.transaction() as holder:
                for doc_id in blocked_ids:  # lock the rows: the updates below wait in the database
                    holder.update(collection, doc_id, {"held": True})
                held = [pool.submit(held_update, doc_id) for doc_id in blocked_ids]
                assert wait_until(lambda: waiting_on_locks(shared_store) >= len(blocked_ids), 10) is not None
                sigterm_at = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                # Polled, not slept: on a busy machine the server may take a moment to act on the signal.
                refusing = wait_until(lambda: fresh_call_refused(server.address, contract), 3.0, interval=0.05)
                refused_at = time.monotonic()
                refused_on_open_channel, _ = classify(lambda: stub.HealthCheck(pb.HealthCheckRequest(), timeout=2))
                time.sleep(max(0.0, sigterm_at + 1.0 - time.monotonic()))
                assert not any(future.done() for future in held), "a held call ended before its lock was released"
            # the lock holder committed: the held updates may finish now
            finished = [future.result(GRACE + 5) for future in held]
            exit_code = server.process.wait(GRACE + 5)
            exited_after = time.monotonic() - sigterm_at
            watcher.join(5)
    finally:
        server.stop()
    assert [outcome for outcome, _ in finished] == [OK] * len(blocked_ids), finished
    assert all(answer.record.data["finished"] and answer.record.data["held"] for _, answer in finished)
    assert refusing is not None, "new connections were still served 3 s after SIGTERM"
    assert refused_on_open_channel == "status UNAVAILABLE"
    assert statuses[-1][1] == health_pb2.HealthCheckResponse.NOT_SERVING
    assert statuses[-1][0] > sigterm_at
    assert exit_code == 0
    lingering = [call for call in calls.snapshot() if call.ended > sigterm_at + 1.0 and call.started < sigterm_at]
    assert exited_after < GRACE, f"exited {exited_after:.1f} s after SIGTERM; " + describe(lingering, sigterm_at)
    stored = assert_consistent(ledger, database_url, loaded)
    # The background load. Calls well under way before SIGTERM all succeed. Calls racing the shutdown
    # may be served, refused (UNAVAILABLE), or, when gRPC had received one but not yet handed it to
    # the server, answered CANCELLED: such a call never ran, so its insert is not stored.
    before = [call for call in calls.snapshot() if call.started < sigterm_at - RACE]
    assert all(call.outcome == OK for call in before), describe([c for c in before if c.outcome != OK], sigterm_at)
    odd = calls.unexpected({OK, "status UNAVAILABLE", "status CANCELLED"})
    assert not odd, describe(odd, sigterm_at)
    cancelled = [call for call in calls.snapshot() if call.outcome == "status CANCELLED"]
    assert not [call for call in cancelled if stored.intersection(call.ids)], "a CANCELLED insert was applied"
    late = [call for call in calls.snapshot() if call.started > refused_at + RACE and call.outcome == OK]
    assert not late, describe(late, sigterm_at)
    assert "shutting down" in Path(server.log).read_text()
    print(f"workers {workers}: new calls refused {refusing:.2f} s after SIGTERM, exit 0 after {exited_after:.2f} s")


def waiting_on_locks(store: DocumentStore) -> int:
    """Backends of this database waiting for a row lock."""
    with store._pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0
