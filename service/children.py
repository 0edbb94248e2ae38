"""Processes a run starts die with it: even a `kill -9` of the run leaves none behind (Linux)."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send `sig` to this process when its parent exits (no-op off Linux)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the run's own cleanup still stops children
        pass


def exit_with(pid: int) -> None:
    """End this process as soon as process `pid` ends, whoever our parent is (a forkserver's workers keep
    the forkserver alive, so a parent-death signal alone never fires for them)."""
    def watch() -> None:
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # no pidfd here: poll
            while _exists(pid):
                time.sleep(1.0)
        else:
            select.select([fd], [], [])
        os._exit(1)
    threading.Thread(target=watch, name=f"exit-with-{pid}", daemon=True).start()


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_init(run_pid: int) -> None:
    """A parse worker: ends with the run that started it; Ctrl-C on the terminal is the run's to handle."""
    exit_with(run_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def end_children(grace: float = 4.0, term_wait: float = 2.0) -> list[int]:
    """Wait up to `grace` seconds for this process's multiprocessing children (Prefect's runner starts each
    flow run as one) to end on their own, then terminate, then kill them; → the pids that had to be stopped.
    Left alone, a child stuck in start-up or retrying a stopped API keeps us from exiting: multiprocessing
    joins its children at exit."""
    import multiprocessing
    children = multiprocessing.active_children()
    deadline = time.monotonic() + grace
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
    stopped = [child for child in children if child.is_alive()]
    for child in stopped:
        child.terminate()
    for child in stopped:
        child.join(term_wait)
        if child.is_alive():
            child.kill()
            child.join(1.0)
    return [child.pid for child in stopped if child.pid is not None]
