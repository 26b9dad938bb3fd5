"""Rate limits kept in memory: at most N events per key per minute, in bursts of N.

A GCRA (generic cell rate algorithm, the token bucket written as one number per
key): each key remembers only the time at which its bucket will be full again,
so a million senders cost a million floats, and a key whose bucket is full
again is the same as a key never seen, which lets old keys be dropped at will.

Limits are per process: several Rasa instances behind a load balancer each
allow N, which still stops one client from flooding any of them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Hashable


class RateLimiter:
    """`allow(key)` is True for at most `limit` calls per `window_s` seconds per key.

    A burst of `limit` calls is allowed at once; after that one call per
    `window_s / limit` seconds. `limit` 0 turns the limiter off. At most
    `max_keys` keys are remembered (the least recently used go first).
    """

    def __init__(
        self,
        limit: int,
        window_s: float = 60.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 0 or window_s <= 0 or max_keys < 1:
            raise ValueError("limit >= 0, window_s > 0 and max_keys >= 1 are required.")
        self.limit = limit
        self.window_s = window_s
        self._interval = window_s / limit if limit else 0.0
        self._tolerance = window_s - self._interval
        self._max_keys = max_keys
        self._clock = clock
        self._full_again: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()

    def keys_remembered(self) -> int:
        """How many keys the limiter holds (at most max_keys)."""
        with self._lock:
            return len(self._full_again)

    def allow(self, key: Hashable) -> bool:
        if not self.limit:
            return True
        now = self._clock()
        with self._lock:
            full_again = max(self._full_again.get(key, now), now)
            if full_again - now > self._tolerance:
                return False
            self._full_again[key] = full_again + self._interval
            self._full_again.move_to_end(key)
            while len(self._full_again) > self._max_keys:
                self._full_again.popitem(last=False)
            return True
