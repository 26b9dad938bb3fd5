"""The in-memory rate limiter (jikimi/ratelimit.py), on a clock the test moves."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jikimi.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_up_to_the_limit_passes_and_the_next_is_refused():
    clock = Clock()
    limiter = RateLimiter(5, window_s=60, clock=clock)
    assert [limiter.allow("a") for _ in range(6)] == [True] * 5 + [False]
    assert limiter.allow("b"), "another key has its own budget"


def test_budget_comes_back_at_the_steady_rate():
    clock = Clock()
    limiter = RateLimiter(6, window_s=60, clock=clock)  # one every 10 s after the burst
    assert all(limiter.allow("a") for _ in range(6))
    clock.now += 9
    assert not limiter.allow("a")
    clock.now += 1
    assert limiter.allow("a") and not limiter.allow("a")
    clock.now += 60
    assert all(limiter.allow("a") for _ in range(6)) and not limiter.allow("a")


def test_refused_calls_do_not_use_up_budget():
    clock = Clock()
    limiter = RateLimiter(2, window_s=60, clock=clock)
    assert limiter.allow("a") and limiter.allow("a")
    for _ in range(100):
        assert not limiter.allow("a")
    clock.now += 30
    assert limiter.allow("a")


def test_zero_turns_it_off_and_bad_arguments_are_refused():
    assert all(RateLimiter(0).allow("a") for _ in range(1000))
    for args in ((-1,), (1, 0), (1, 60, 0)):
        with pytest.raises(ValueError):
            RateLimiter(*args)


def test_memory_is_bounded_by_max_keys():
    clock = Clock()
    limiter = RateLimiter(1, window_s=60, max_keys=3, clock=clock)
    for key in "abcd":
        assert limiter.allow(key)
    assert limiter.keys_remembered() == 3
    assert limiter.allow("a"), "the oldest key was forgotten, so it starts afresh"
    assert not limiter.allow("d")


@given(
    limit=st.integers(1, 20),
    gaps=st.lists(st.floats(0, 30, allow_nan=False), min_size=1, max_size=200),
)
def test_never_more_than_twice_the_limit_in_any_window(limit, gaps):
    """A token bucket lets a full burst follow a full minute's refill, so any 60 s
    holds at most 2 x limit allowed calls; and a steady client under the rate is
    never refused."""
    clock = Clock()
    limiter = RateLimiter(limit, window_s=60, clock=clock)
    allowed = []
    for gap in gaps:
        clock.now += gap
        if limiter.allow("k"):
            allowed.append(clock.now)
    for i, start in enumerate(allowed):
        assert sum(1 for t in allowed[i:] if t < start + 60) <= 2 * limit

    steady = RateLimiter(limit, window_s=60, clock=clock)
    for _ in range(50):
        clock.now += 60 / limit
        assert steady.allow("k")
