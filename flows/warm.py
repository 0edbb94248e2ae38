"""Flow runs of `esf serve` start from a warm process, not a fresh interpreter.

Prefect's runner starts each flow run as a `spawn` child: a new Python that imports Prefect and the
pipeline again (2–3 s of CPU every night, about as much as a 1 %-changed night's own work). Here the
runner's children come from a forkserver that imported them once, when `esf serve` started. Each night
is still a process of its own (nothing one night leaks reaches the next); only the imports are shared.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import os
from collections.abc import Iterator
from typing import Any

from service.children import exit_with

PRELOAD = ("flows.pipeline",)  # Prefect, the run service, DuckDB, the parser and its vocabularies


class NightProcess(multiprocessing.context.ForkServerProcess):
    """A night's flow run: forked by the forkserver, and ended when `esf serve` ends, even by `kill -9` (its
    parent is the forkserver, which in turn waits for it, so no parent-death signal would reach it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.serve_pid = os.getpid()

    def run(self) -> None:
        exit_with(self.serve_pid)
        super().run()


class _NightContext(multiprocessing.context.ForkServerContext):
    Process = NightProcess


class _SpawnFromForkserver:
    """Stands in for the `multiprocessing` module inside Prefect's flow engine: its 'spawn' context makes
    night processes of the forkserver. Everything else is the real module."""

    def get_context(self, method: str | None = None) -> Any:
        return _NightContext() if method == "spawn" else multiprocessing.get_context(method)

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
    engine.multiprocessing = _SpawnFromForkserver()  # type: ignore[assignment]  # read by run_flow_in_subprocess
    try:
        yield
    finally:
        engine.multiprocessing = original
