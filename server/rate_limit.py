"""Per-identity rate limits: a token bucket per caller, in the legacy ``1000/hour`` notation.

A bucket holds at most the limit's count and refills continuously, so a caller
can burst up to the whole allowance and then proceeds at the average rate.
Buckets are kept per process; with N replicas the effective limit is N times
higher (``docs/security.md``).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
#: Buckets remembered at most; the least recently used caller is forgotten first.
MAX_BUCKETS = 100_000


@dataclass(frozen=True, slots=True)
class Rate:
    count: int
    period: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(second|minute|hour|day)s?\s*", text)
        if not match or int(match.group(1)) < 1:
            raise ValueError(f"{text!r} is not a rate like 1000/hour or 100/minute")
        return cls(int(match.group(1)), PERIODS[match.group(2)])


class RateLimiter:
    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, caller: str) -> bool:
        """Take one token from the caller's bucket; False when it is empty."""
        now = self._clock()
        tokens, last = self._buckets.pop(caller, (float(self.rate.count), now))
        tokens = min(float(self.rate.count), tokens + (now - last) * self.rate.count / self.rate.period)
        allowed = tokens >= 1.0
        self._buckets[caller] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        return allowed
