"""How the stores open their connection pools: one place for both front doors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Set on every new connection: timestamps without a zone (the seed's columns) mean UTC.
SESSION_SETUP = "SET TIME ZONE 'UTC'"


@dataclass(frozen=True, slots=True)
class PoolSettings:
    min_size: int = 1
    max_size: int = 10
    #: Seconds a call may wait for a free connection before it is answered UNAVAILABLE.
    timeout: float = 5.0


def connection_kwargs() -> dict[str, Any]:
    # Autocommit: every store operation is a single statement, so the pool's
    # default per-checkout transaction would only add two round trips.
    return {"autocommit": True, "application_name": "persistence-server"}
