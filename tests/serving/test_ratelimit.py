"""Token buckets, with a fake clock: exact properties, checked over generated request times."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.serving.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.check("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.check("a") == pytest.approx(0.5)  # one token comes back in 1/rate seconds
    assert limiter.check("b") == 0.0  # another client has its own bucket
    clock.now = 0.5
    assert limiter.check("a") == 0.0
    assert limiter.check("a") == pytest.approx(0.5)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        RateLimiter(rate=0, burst=1)


def test_clients_beyond_the_cap_are_forgotten_oldest_first() -> None:
    limiter = RateLimiter(rate=1, burst=1, clock=Clock(), max_clients=2)
    for client in ("a", "b", "a", "c"):
        limiter.check(client)
    assert len(limiter) == 2
    assert limiter.check("a") > 0  # still remembered (recently seen), so still empty
    assert limiter.check("b") == 0.0  # forgotten, so back with a full bucket


@given(
    rate=st.floats(0.1, 100),
    burst=st.integers(1, 20),
    gaps=st.lists(st.floats(0, 2), min_size=1, max_size=200),
)
def test_never_more_than_burst_plus_rate_times_elapsed(rate: float, burst: int, gaps: list[float]) -> None:
    clock = Clock()
    limiter = RateLimiter(rate=rate, burst=burst, clock=clock)
    granted = 0
    for gap in gaps:
        clock.now += gap
        granted += limiter.check("c") == 0.0
        assert granted <= burst + rate * clock.now + 1e-6


@given(rate=st.floats(0.1, 100), burst=st.integers(1, 20), extra=st.integers(1, 30))
def test_waiting_as_told_is_enough(rate: float, burst: int, extra: int) -> None:
    clock = Clock()
    limiter = RateLimiter(rate=rate, burst=burst, clock=clock)
    for _ in range(burst + extra):
        wait = limiter.check("c")
        if wait:
            clock.now += wait * (1 + 1e-9)
            assert limiter.check("c") == 0.0
