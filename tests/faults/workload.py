"""Client load for fault tests, and the bookkeeping to check it afterwards (Jepsen-style).

Every call is recorded with its start, end and outcome. Inserts use ids the
client chose, written down *before* the call (``attempted``) and again when a
``success=true`` answer came back (``acked``). After the faults, the database
must hold every acknowledged id, nothing that was never attempted, and each
batch whole or not at all. Calls that failed are indeterminate: their rows may
or may not be there, both are correct.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.store import DocumentStore

OK = "ok"


def classify(call: Callable[[], Any]) -> tuple[str, Any]:
    """Run one call: ``("ok", answer)``, ``("answer CODE", answer)`` for success=false,
    ``("status CODE", error)`` for a gRPC error, ``("exception ...", exc)`` for anything else
    (the suite's error-text leak check raises AssertionError in the calling thread)."""
    try:
        answer = call()
    except grpc.RpcError as error:
        return f"status {error.code().name}", error
    except Exception as exc:
        return f"exception {type(exc).__name__}: {exc}", exc
    if getattr(answer, "success", True):
        return OK, answer
    code = str(answer.error_message).split(":", 1)[0]
    return f"answer {code}", answer


def error_text(answer: Any) -> str:
    """The error a classified call carried: success=false's message, a status's details, an exception."""
    if isinstance(answer, grpc.RpcError):
        return str(answer.details() or "")
    if isinstance(answer, Exception):
        return str(answer)
    return str(getattr(answer, "error_message", ""))


#: What a caller may see while the database or the link to it is down.
OUTAGE_OUTCOMES = frozenset({OK, "answer UNAVAILABLE", "status UNAVAILABLE", "status DEADLINE_EXCEEDED"})


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    started: float
    ended: float
    outcome: str
    #: The error text, for failures.
    detail: str = ""
    #: The ids an insert carried.
    ids: tuple[str, ...] = ()

    @property
    def elapsed(self) -> float:
        return self.ended - self.started


class Calls:
    """Every call a load made, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[Call] = []

    def add(self, call: Call) -> None:
        with self._lock:
            self.items.append(call)

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.items)

    def outcomes(self) -> Counter[str]:
        return Counter(call.outcome for call in self.snapshot())

    def unexpected(self, allowed: Iterable[str]) -> list[Call]:
        permitted = set(allowed)
        return [call for call in self.snapshot() if call.outcome not in permitted]

    def successes_started_after(self, moment: float) -> list[Call]:
        return [call for call in self.snapshot() if call.outcome == OK and call.started >= moment]


@dataclass
class Ledger:
    """Which ids the clients attempted, and which the server acknowledged."""

    attempted: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)
    batches: list[tuple[str, ...]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attempt(self, ids: tuple[str, ...]) -> None:
        with self._lock:
            self.attempted.update(ids)
            if len(ids) > 1:
                self.batches.append(ids)

    def ack(self, ids: tuple[str, ...]) -> None:
        with self._lock:
            self.acked.update(ids)

    def problems(self, stored: set[str]) -> list[str]:
        """What the database holds that contradicts the answers the clients got; empty when consistent."""
        found: list[str] = []
        lost = self.acked - stored
        if lost:
            found.append(f"{len(lost)} acknowledged inserts are missing, e.g. {sorted(lost)[:5]}")
        phantom = stored - self.attempted
        if phantom:
            found.append(f"{len(phantom)} stored ids were never attempted, e.g. {sorted(phantom)[:5]}")
        torn = [batch for batch in self.batches if 0 < len(stored.intersection(batch)) < len(batch)]
        if torn:
            found.append(f"{len(torn)} batches are partly stored, e.g. {torn[:2]}")
        return found


class InsertLoad:
    """``threads`` clients inserting (``batch`` records per call) with ids they chose, until stopped."""

    def __init__(
        self,
        stub: Any,
        pb: ModuleType,
        collection: str,
        ledger: Ledger,
        calls: Calls,
        *,
        threads: int = 4,
        batch: int = 1,
        deadline: float = 2.0,
        prefix: str = "",
        pause_after_error: float = 0.02,
    ) -> None:
        self.stub = stub
        self.pb = pb
        self.collection = collection
        self.ledger = ledger
        self.calls = calls
        self.batch = batch
        self.deadline = deadline
        self.prefix = prefix
        self.pause_after_error = pause_after_error
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(number,), name=f"insert-load-{prefix}{number}", daemon=True)
            for number in range(threads)
        ]

    def __enter__(self) -> InsertLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.deadline + 5)
            assert not thread.is_alive(), f"{thread.name} did not stop"

    def _run(self, worker: int) -> None:
        pb = self.pb
        sequence = 0
        while not self._stop.is_set():
            sequence += 1
            ids = tuple(f"{self.prefix}{worker}-{sequence}-{k}" for k in range(self.batch))
            records = [pb.Record(id=doc_id) for doc_id in ids]
            for record in records:
                record.data.update({"writer": worker})
            self.ledger.attempt(ids)
            started = time.monotonic()
            if self.batch == 1:
                method = "Insert"
                request: Any = pb.InsertRequest(table_name=self.collection, record=records[0])
            else:
                method = "InsertBatch"
                request = pb.InsertBatchRequest(table_name=self.collection, records=records)
            outcome, answer = classify(functools.partial(getattr(self.stub, method), request, timeout=self.deadline))
            self.calls.add(Call(method, started, time.monotonic(), outcome, error_text(answer), ids))
            if outcome == OK:
                self.ledger.ack(ids)
            else:
                self._stop.wait(self.pause_after_error)


def stored_ids(store: DocumentStore, collection: str) -> set[str]:
    """Every id in ``collection``, read directly through the library (not through the server)."""
    found: set[str] = set()
    page = 10_000
    while True:
        documents = store.query(collection, order_by=["id"], limit=page, offset=len(found))
        found.update(document.id for document in documents)
        if len(documents) < page:
            return found


def health_status(channel: grpc.Channel, timeout: float = 1.0) -> str:
    """grpc.health.v1 for the whole server: SERVING, NOT_SERVING, or the gRPC error's code."""
    try:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
    except grpc.RpcError as error:
        return str(error.code().name)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status))


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> float | None:
    """Seconds until ``predicate()`` held, or None if it did not within ``timeout``."""
    started = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - started
        if time.monotonic() - started >= timeout:
            return None
        time.sleep(interval)
