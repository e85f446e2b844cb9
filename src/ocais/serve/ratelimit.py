"""Token-bucket rate limits, in memory, per worker process.

Each key (a user, or a client address + name for logins) has a bucket of ``burst`` tokens that
refills at ``rate_per_minute / 60`` tokens per second; a request takes one token or is refused
with the seconds to wait. With N worker processes a user may get up to N times the rate: the
limit protects the service from floods, it is not a quota.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

MAX_BUCKETS = 100_000


class TokenBucketLimiter:
    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_minute <= 0 or burst < 1:
            raise ValueError("rate_per_minute must be positive and burst at least 1")
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated)
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Take a token for ``key``: ``None`` if allowed, else seconds until one is free."""
        now = self._clock()
        with self._lock:
            tokens, updated = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - updated) * self.rate)
            if tokens >= 1.0:
                if len(self._buckets) >= MAX_BUCKETS and key not in self._buckets:
                    self._prune(now)
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        """Forget buckets that are full again (they behave exactly like new ones)."""
        full_after = self.burst / self.rate
        for key in [k for k, (_, t) in self._buckets.items() if now - t >= full_after]:
            del self._buckets[key]


def retry_after_seconds(wait: float) -> int:
    """Whole seconds for a ``Retry-After`` header (at least 1)."""
    return max(1, math.ceil(wait))
