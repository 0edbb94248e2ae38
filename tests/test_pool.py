"""The run's parse pool starts worker processes only for a run that expects enough pages to repay them."""
from __future__ import annotations

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
