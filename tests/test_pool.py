"""The run's parse pool starts worker processes only for a run that expects enough pages to repay them, or, warmed
up, before a large list's first block; it stops them however it is closed."""
from __future__ import annotations

import time

import pytest

from conftest import SAMPLES
from service.pool import MIN_PAGES_FOR_WORKERS, ParsePool


def work() -> list[tuple]:
    return [(p.read_bytes(), p.name, None, "text/plain", None) for p in sorted(SAMPLES.glob("*.txt"))]


def test_a_small_run_parses_inline_and_starts_no_workers():
    with ParsePool(2) as pool:
        pool.expect(MIN_PAGES_FOR_WORKERS - 1)
        parsed = pool.parse(work())
        assert pool._pool is None
    assert [p.source_key for p in parsed] == [w[1] for w in work()]


def test_a_large_run_parses_in_the_workers():
    with ParsePool(2) as pool:
        pool.expect(MIN_PAGES_FOR_WORKERS)
        parsed = pool.parse(work())
        assert pool._pool is not None
    assert pool._pool is None  # closed with the run
    assert [p.source_key for p in parsed] == [w[1] for w in work()]


def live_workers(pool: ParsePool) -> list:
    return [p for p in (pool._pool._processes or {}).values() if p.is_alive()] if pool._pool else []


def test_warm_starts_the_workers_in_the_background_and_close_stops_them():
    with ParsePool(2) as pool:
        pool.warm()
        deadline = time.monotonic() + 60
        while len(live_workers(pool)) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        started = live_workers(pool)
        assert list(pool.map_ordered(abs, [-1, -2, -3])) == [1, 2, 3]
        assert live_workers(pool) == started  # the same workers, not new ones
    assert pool._pool is None and not any(p.is_alive() for p in started)


@pytest.mark.parametrize("wait", [True, False])
def test_a_pool_closed_while_it_warms_up_ends_cleanly(wait):
    pool = ParsePool(2)
    pool.warm()
    warming = pool._warming
    pool.close(wait=wait)  # (an interrupt closes without waiting) the forkserver may still be importing
    assert warming is not None and not warming.is_alive() and pool._pool is None and pool._warming is None


def test_one_worker_or_a_started_pool_is_not_warmed():
    with ParsePool(1) as pool:
        pool.warm()
        assert pool._pool is None and pool._warming is None
