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
