"""What the `esf` command shows on the terminal, and how it turns SIGINT/SIGTERM into a clean stop."""
from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from service.run import Interrupted

EXIT_CODE_OF_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}


class ConsoleHandler(logging.StreamHandler):
    """The terminal's handler of the `esf` logger (set up once however often the output is set up)."""


def setup_output(quiet: bool = False, debug: bool = False) -> None:
    """esf's own lines on stderr ('HH:MM:SS message'); Prefect's per-task state lines and tracebacks off the
    terminal unless --debug (they still reach the Prefect API and its UI). --quiet: warnings and errors only."""
    esf = logging.getLogger("esf")
    esf.handlers[:] = [h for h in esf.handlers if not isinstance(h, ConsoleHandler)]
    handler = ConsoleHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    esf.addHandler(handler)
    esf.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)
    esf.propagate = False
    if not debug:
        quiet_prefect_console()


def quiet_prefect_console() -> None:
    """Raise Prefect's console handlers above CRITICAL (Prefect configures logging when it is imported)."""
    import prefect.main  # noqa: F401  (configures Prefect's logging, so there is something to quiet)
    from prefect.logging.handlers import PrefectConsoleHandler
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler):
                handler.setLevel(logging.CRITICAL + 1)


@contextmanager
def interrupts(always: bool = False) -> Iterator[list[str]]:
    """SIGINT and SIGTERM raise `Interrupted` in the main thread, once: a second signal during the cleanup
    is noted and ignored, so the run can still record itself and close what it started. A SIGINT that was
    ignored when we started (a background job) stays ignored, unless `always` (`esf serve &` from a script
    must stop on SIGINT too). Yields the names of the signals received."""
    fired: list[str] = []

    def handler(signum, frame):
        name = signal.Signals(signum).name
        if fired:
            return
        fired.append(name)
        raise Interrupted(name)

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig, old in previous.items():
        if always or not (sig == signal.SIGINT and old == signal.SIG_IGN):
            signal.signal(sig, handler)
    try:
        yield fired
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
