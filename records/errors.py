"""The errors a user is told about, and the exit codes schedulers see. Every error the `esf` command reports is an
EsfError: its message is the one line printed, its `exit_code` the code the command ends with (the CLI maps both in
one place, cli/__init__.py). Bugs are not EsfErrors: they keep their traceback."""
from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REJECTS = 0, 1, 2, 3


class EsfError(Exception):
    """Something went wrong that the user should read about in one line."""
    exit_code: int = EXIT_FAILED
    consequence: str = ""  # what it means for the published file, said after the message ('nothing new published')

    def line(self) -> str:
        """The line the user reads: the message, then its consequence."""
        return f"{self}; {self.consequence}" if self.consequence else str(self)


class UsageError(EsfError):
    """What was asked cannot be done as asked: a bad option, a missing file, a refused query."""
    exit_code = EXIT_USAGE


class RunFailed(EsfError):
    """A run ended without publishing anything new: the previous published file is intact."""
    exit_code = EXIT_FAILED


def mark_run(exc: BaseException, run_id: int | None) -> None:
    """Note on the error which run it ended (for the failed night's alert): a run's own failures carry its id, a
    failure before the run had one (the warehouse locked by another) carries none."""
    try:
        exc.esf_run_id = run_id  # type: ignore[attr-defined]
    except AttributeError:  # an exception type that takes no attributes
        pass


def run_of(exc: BaseException) -> int | None:
    """The run a failure ended (mark_run), or None."""
    run_id = getattr(exc, "esf_run_id", None)
    return run_id if isinstance(run_id, int) else None
