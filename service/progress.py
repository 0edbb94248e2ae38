"""How a run says how far it is: the protocol the CLI's bar, the log lines and Prefect's artifact meet, and the
silent one tests and library callers get."""
from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Where a run says how far it is. The CLI shows a bar or log lines; tests pass nothing."""
    def discovering(self, source: str, documents: int, found: int) -> None: ...
    def total(self, pages: int) -> None: ...
    def advance(self, pages: int = 1) -> None: ...
    def skip(self, pages: int) -> None: ...


class NoProgress:
    def discovering(self, source: str, documents: int, found: int) -> None:
        pass

    def total(self, pages: int) -> None:
        pass

    def advance(self, pages: int = 1) -> None:
        pass

    def skip(self, pages: int) -> None:
        pass
