"""What went wrong on the way to an answer: a failed try (`_Failure`) with its reason, whether trying again at
once may help, whether it was a timeout (tried once more later in the night) and whether it is the kind of
fault that means the host rather than the page (counted by the circuit breaker)."""
from __future__ import annotations

import http.client

import requests
import urllib3.exceptions


class _Failure(Exception):
    """No usable answer and why; `retry`: may trying again help; `status`: only when the status is the fault."""

    def __init__(self, reason: str, retry: bool = True, status: int | None = None, slow: bool = False,
                 host: bool = False):
        super().__init__(reason)
        self.reason, self.retry, self.status = reason, retry, status
        self.slow = slow  # a timeout or the deadline: not tried again at once (the page gets one try later)
        self.host = host or (status is not None and status >= 500)  # the kind of fault that means the host


def _fault(exc: BaseException) -> _Failure:
    """What went wrong on the way to an answer, as a reason the run report can group by."""
    chain = _causes(exc)
    if _any(chain, ConnectionRefusedError):
        return _Failure("connection refused", host=True)
    if _any(chain, http.client.RemoteDisconnected):
        return _Failure("connection closed without an answer", host=True)
    if _any(chain, ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        return _Failure("connection reset", host=True)
    if _any(chain, urllib3.exceptions.NameResolutionError):
        return _Failure("host name not found", host=True)
    if _any(chain, requests.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError):
        timed_out = _any(chain, TimeoutError) or not _any(chain, urllib3.exceptions.NewConnectionError)
        return _Failure("connect timed out", slow=True, host=True) if timed_out else \
            _Failure("cannot connect", host=True)
    if _any(chain, requests.ReadTimeout, urllib3.exceptions.ReadTimeoutError, TimeoutError):
        return _Failure("read timed out", slow=True, host=True)
    if _any(chain, requests.exceptions.SSLError, urllib3.exceptions.SSLError):
        return _Failure("TLS error", host=True)
    if _any(chain, requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError):
        return _Failure("body does not decode as its Content-Encoding says", retry=False)
    if _any(chain, ValueError) and not _any(chain, http.client.HTTPException):
        return _Failure("invalid URL", retry=False)
    if _any(chain, http.client.HTTPException):
        return _Failure("malformed answer")
    return _Failure(f"connection failed ({type(chain[-1]).__name__})", host=True)


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and every exception it wraps (causes, contexts, urllib3 reasons and arguments)."""
    found: list[BaseException] = []
    todo: list[object] = [exc]
    while todo:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is f for f in found):
            continue
        found.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
    return found


def _any(chain: list[BaseException], *kinds: type) -> bool:
    return any(isinstance(e, kinds) for e in chain)


def _truncated(received: int, expected: int | None) -> str:
    if expected is None:
        return f"truncated body: connection closed after {received} bytes"
    return f"truncated body: {received} of {expected} bytes"
