"""Per-RPC call, error and latency metrics, plus pool statistics (prometheus_client).

Each server owns its registry, so two servers in one process (tests) never mix
their numbers. ``GetMetrics`` renders it as Prometheus text or as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _StatsCollector(Collector):
    """Reads a component's statistics (pool, query cache) at scrape time."""

    def __init__(self, prefix: str, stats: Callable[[], Mapping[str, int]]) -> None:
        self._prefix = prefix
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        for key, value in sorted(self._stats().items()):
            yield GaugeMetricFamily(f"persistence_{self._prefix}_{key}", f"{self._prefix} statistic {key}", value=value)


class Metrics:
    def __init__(self, stats: Mapping[str, Callable[[], Mapping[str, int]]] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter("persistence_rpc_calls", "RPC calls handled", ["method"], registry=self.registry)
        self.errors = Counter(
            "persistence_rpc_errors", "RPC calls answered with an error", ["method", "code"], registry=self.registry
        )
        self.latency = Histogram(
            "persistence_rpc_latency_seconds",
            "Time spent handling an RPC",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[str, tuple[Any, Any]] = {}
        for prefix, source in (stats or {}).items():
            self.registry.register(_StatsCollector(prefix, source))

    def observe(self, method: str, seconds: float, error_code: str | None) -> None:
        children = self._children.get(method)
        if children is None:  # labels() looks the series up under a lock: once per method is enough
            children = self._children[method] = (self.calls.labels(method), self.latency.labels(method))
        calls, latency = children
        calls.inc()
        latency.observe(seconds)
        if error_code is not None:
            self.errors.labels(method, error_code).inc()

    def prometheus(self) -> str:
        return generate_latest(self.registry).decode()

    def as_json(self) -> str:
        families: dict[str, Any] = {}
        for family in self.registry.collect():
            families[family.name] = {
                "type": family.type,
                "help": family.documentation,
                "samples": [
                    {"name": sample.name, "labels": dict(sample.labels), "value": sample.value}
                    for sample in family.samples
                ],
            }
        return json.dumps(families, sort_keys=True)
