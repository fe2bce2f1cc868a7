"""What the server says about itself in HealthCheck and GetPlatformInfo."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

PLATFORM_NAME = "unhinged-persistence (PostgreSQL documents)"

#: Features a caller can rely on, as listed by GetPlatformInfo.
FEATURES = (
    "crud",
    "batch_insert",
    "optimistic_concurrency",
    "criteria_queries",
    "full_text_search",
    "aggregation_count",
    "grpc_health",
    "grpc_reflection",
    "metrics_prometheus",
    "metrics_json",
)


def package_version() -> str:
    try:
        return metadata.version("unhinged-persistence")
    except metadata.PackageNotFoundError:
        return "0.0.0+unknown"


@dataclass
class PlatformInfo:
    configuration: dict[str, Any]
    name: str = PLATFORM_NAME
    version: str = field(default_factory=package_version)
    features: tuple[str, ...] = FEATURES
    started: float = field(default_factory=time.monotonic)

    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started
