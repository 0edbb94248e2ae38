"""Flow runs of `esf serve` start from a warm process, not a fresh interpreter.

Prefect's runner starts each flow run as a `spawn` child: a new Python that imports Prefect and the
pipeline again (2–3 s of CPU every night, about as much as a 1 %-changed night's own work). Here the
runner's children come from a forkserver that imported them once, when `esf serve` started. Each night
is still a process of its own (nothing one night leaks reaches the next); only the imports are shared.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
from collections.abc import Iterator
from typing import Any

PRELOAD = ("flows.pipeline",)  # Prefect, the run service, DuckDB, the parser and its vocabularies


class _SpawnFromForkserver:
    """Stands in for the `multiprocessing` module inside Prefect's flow engine: its 'spawn' context is the
    forkserver's. Everything else is the real module."""

    def get_context(self, method: str | None = None) -> Any:
        return multiprocessing.get_context("forkserver" if method == "spawn" else method)

    def __getattr__(self, name: str) -> Any:
        return getattr(multiprocessing, name)


def start_forkserver(preload: tuple[str, ...] = PRELOAD) -> None:
    """Start this process's forkserver now, with `preload` imported in it, so the first night is warm too."""
    multiprocessing.set_forkserver_preload(list(preload))
    multiprocessing.forkserver.ensure_running()


@contextlib.contextmanager
def warm_flow_runs(preload: tuple[str, ...] = PRELOAD) -> Iterator[None]:
    """Within: the flow runs Prefect's runner starts are forked from a forkserver with `preload` imported.
    The forkserver ends by itself when this process does."""
    import prefect.flow_engine as engine
    start_forkserver(preload)
    original = engine.multiprocessing
    engine.multiprocessing = _SpawnFromForkserver()  # read by run_flow_in_subprocess at each call
    try:
        yield
    finally:
        engine.multiprocessing = original
