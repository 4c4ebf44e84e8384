"""Per-client token buckets (``QA_RATE_LIMIT``, ``QA_RATE_BURST``), framework-free.

A client (an API key, or an IP address when keys are off) holds up to ``burst`` tokens; each
request takes one, and tokens come back at ``rate`` per second. A request that finds no token
is refused with the exact wait until the next one, which the HTTP layer sends as
``Retry-After``. Buckets live in one process: with ``qa serve --workers N`` each worker keeps
its own, so a client gets up to N times the rate (put a shared limiter in the load balancer
when that matters).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Bucket:
    tokens: float
    updated: float


def take(bucket: Bucket, now: float, rate: float, burst: float) -> float:
    """Take one token from ``bucket`` at time ``now``: 0.0 if granted, else the seconds until a
    token is available (the bucket is then left as it was, apart from the refill)."""
    elapsed = max(0.0, now - bucket.updated)
    bucket.tokens = min(burst, bucket.tokens + elapsed * rate)
    bucket.updated = max(bucket.updated, now)
    if bucket.tokens >= 1.0:
        bucket.tokens -= 1.0
        return 0.0
    return (1.0 - bucket.tokens) / rate


class RateLimiter:
    """Token buckets by client id. At most ``max_clients`` buckets are kept: the least recently
    seen client is forgotten first (it comes back with a full bucket), which bounds memory when
    addresses are many."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 100_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a rate limit needs rate > 0 and burst >= 1, got rate={rate}, burst={burst}")
        self.rate, self.burst = float(rate), float(burst)
        self._clock = clock
        self._max = max_clients
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, client: str) -> float:
        """0.0 if ``client`` may go ahead now, else the seconds it should wait."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(client)
            if bucket is None:
                bucket = self._buckets[client] = Bucket(self.burst, now)
                if len(self._buckets) > self._max:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(client)
            return take(bucket, now, self.rate, self.burst)

    def __len__(self) -> int:
        return len(self._buckets)
