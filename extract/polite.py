"""A polite HTTP client for one host: robots.txt, one connection, a delay with jitter, retries, Retry-After.

`fetch` never raises for what a server does: every fault becomes a failed page with its reason."""
from __future__ import annotations

import http.client
import logging
import math
import random
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from protego import Protego
from requests.adapters import HTTPAdapter

from extract.faults import _Failure, _fault, _truncated
from records.pages import RawPage, failed_page, now
from records.status import OK, REDIRECTS, RETRYABLE, is_page_answer
from records.errors import EsfError, RunFailed
from records.run import DELAY_SECONDS

CHUNK_BYTES = 64 * 1024
# The CLI reads $ESF_USER_AGENT (as --user-agent's default); nothing here reads the environment.
DEFAULT_USER_AGENT = "esf-projektbanken-pipeline/0.1 (contact: set --user-agent or ESF_USER_AGENT to your address)"
log = logging.getLogger("esf.fetch")


@dataclass
class Politeness:
    delay_seconds: float = DELAY_SECONDS  # between the end of one request and the start of the next
    jitter: float = 0.25                # up to this share of the delay is added at random
    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 5.0
    read_timeout: float = 30.0          # the longest silence while waiting for any byte
    deadline_seconds: float = 60.0      # one try must have its whole answer within this
    retries: int = 3                    # per request, after the first try
    backoff_seconds: float = 2.0        # first retry waits this long, doubling each time (with jitter)
    max_wait_seconds: float = 300.0     # a Retry-After longer than this fails the request instead
    max_bytes: int = 5 * 1024 * 1024    # a body (after Content-Encoding) longer than this fails, not retried
    max_redirects: int = 5
    breaker_pages: int = 4              # this many pages in a row failing as a dead host fails (timeouts,
                                        # connection errors, 5xx after retries): stop asking the host tonight
    stop_at: float | None = None        # time.monotonic() after which no request starts (the night's deadline,
                                        # set by the run from RunSettings.night_seconds)


class StopRequests(RunFailed):
    """No more requests to a host tonight: it stopped answering, or the night's deadline passed."""
    consequence = "nothing new published (the pages read are kept: the next night goes on from there)"


class HostDown(StopRequests):
    """The circuit breaker: `breaker_pages` pages in a row failed the way a host that stopped answering fails."""


class NightOver(StopRequests):
    """The night's deadline passed: no new request is started."""


class HostUnreachable(EsfError):
    """The host did not answer at all (robots.txt could not be fetched): the run cannot go on."""


class RobotsDisallow(EsfError):
    """robots.txt forbids the start URL."""


@dataclass
class _Answer:
    status: int
    url: str
    headers: dict = field(default_factory=dict)
    body: bytes = b""


class _HostSession(requests.Session):
    """A session that reads the environment's proxy and certificate settings (HTTPS_PROXY, NO_PROXY,
    REQUESTS_CA_BUNDLE, …) once per scheme and host, not for every request as requests does: with a few
    hundred conditional requests a night that was a tenth of the time of a quick local round trip."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple, dict] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # noqa: ANN001, ANN201
        if proxies:  # settings given for this request: nothing to reuse
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert)
        if key not in self._environment:
            self._environment[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings = self._environment[key]
        return {**settings, "proxies": dict(settings["proxies"])}


class PoliteClient:
    """GETs against one host, never faster than the delay, never two at once, always identified."""

    def __init__(self, start_url: str, settings: Politeness | None = None, sleep=time.sleep):
        self.settings = settings or Politeness()
        parts = urlsplit(start_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc
        self.http = _HostSession()
        self.http.headers["User-Agent"] = self.settings.user_agent
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0, pool_block=True)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        self._sleep = sleep
        self._last_request_end = 0.0
        self.requests_made = 0
        self.pages_answered = 0      # requests (after retries) that got an answer from the host
        self.failures_in_row = 0     # pages in a row that failed as a dead host fails (the breaker's count)
        self.stopped: StopRequests | None = None  # set when the breaker trips or the night's deadline passes
        self.robots = Protego.parse("")
        self.delay = self.settings.delay_seconds
        self._load_robots()

    # --- robots.txt --------------------------------------------------------------------------
    def _load_robots(self) -> None:
        """RFC 9309: a 4xx means no rules; no answer or a 5xx means the host cannot be crawled."""
        _, result = self._follow(urljoin(self.origin, "/robots.txt"), {}, self.settings.max_bytes,
                                 check_robots=False)
        if isinstance(result, _Failure) or result.status >= 500:
            why = result.reason if isinstance(result, _Failure) else f"HTTP {result.status}"
            raise HostUnreachable(f"{self.host} does not answer (robots.txt could not be fetched: {why})")
        text = result.body.decode("utf-8", "replace") if result.status == OK else ""
        self.robots = Protego.parse(text)
        crawl_delay = self.robots.crawl_delay(self.settings.user_agent)
        if crawl_delay and math.isfinite(crawl_delay):
            self.delay = max(self.delay, float(crawl_delay))

    def allowed(self, url: str) -> bool:
        return self.robots.can_fetch(url, self.settings.user_agent)

    def same_host(self, url: str) -> bool:
        return urlsplit(url).netloc == self.host

    # --- requests ----------------------------------------------------------------------------
    def fetch(self, url: str, key: str | None = None, etag: str | None = None,
              last_modified: str | None = None, max_bytes: int | None = None,
              timeout_later: bool = False) -> RawPage:
        """GET a page (conditionally when etag/last_modified are known), following redirects on this host.
        `max_bytes` overrides the settings' size cap for this page (a sitemap may be larger than a page).
        A timeout is tried once more at once (unless the host failed the page before too); with
        `timeout_later` not at all: the page comes back `slow`, for the caller to try after its other pages."""
        key = key or url
        self._may_ask()
        if not self.allowed(url):
            return failed_page(key, "disallowed by robots.txt", url)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        url, result = self._follow(url, headers, max_bytes or self.settings.max_bytes,
                                   timeout_tries=1 if timeout_later or self.failures_in_row else 2)
        self._count(result)
        if isinstance(result, _Failure):
            return failed_page(key, result.reason, url, result.status, slow=result.slow)
        ok = is_page_answer(result.status)
        return RawPage(source_key=key, url=url, fetched_at=now(), body=result.body, http_status=result.status,
                       etag=result.headers.get("etag"), last_modified=result.headers.get("last-modified"),
                       content_type=result.headers.get("content-type"),
                       error=None if ok else f"HTTP {result.status}")

    # --- the circuit breaker and the night's deadline ----------------------------------------
    def _may_ask(self) -> None:
        """Raise StopRequests when this host is not to be asked again tonight."""
        if self.stopped is None and self.settings.stop_at is not None and time.monotonic() >= self.settings.stop_at:
            self.stopped = NightOver(f"the night's deadline passed after {self.pages_answered} pages from "
                                     f"{self.host}; no new request was started")
        if self.stopped is not None:
            raise self.stopped

    def _count(self, result: _Answer | _Failure) -> None:
        """A page's outcome, for the breaker: any answer but a 5xx shows the host alive (a 404 too)."""
        if isinstance(result, _Failure) and result.host:
            self.failures_in_row += 1
            if self.failures_in_row >= self.settings.breaker_pages:
                self.stopped = HostDown(f"{self.host} stopped answering after {self.pages_answered} pages: "
                                        f"{self.failures_in_row} in a row failed, the last with: {result.reason}")
                log.error("%s", self.stopped)
        else:
            self.failures_in_row = 0
            self.pages_answered += 1

    def _follow(self, url: str, headers: dict, limit: int, check_robots: bool = True,
                timeout_tries: int = 2) -> tuple[str, _Answer | _Failure]:
        """GET with retries, following redirects on this host: (the last URL asked, its answer or failure)."""
        seen = [url]
        while True:
            result = self._send(url, headers, limit, timeout_tries)
            if isinstance(result, _Failure) or result.status not in REDIRECTS or "location" not in result.headers:
                return url, result
            try:
                target = urljoin(url, result.headers["location"])
                off_host = not self.same_host(target)
            except ValueError:
                return url, _Failure("redirect to an invalid URL", status=result.status)
            problem = self._redirect_problem(target, off_host, seen, check_robots)
            if problem:
                return url, _Failure(problem, status=result.status)
            seen.append(target)
            url = target

    def _redirect_problem(self, target: str, off_host: bool, seen: list[str], check_robots: bool) -> str | None:
        if off_host:
            return f"redirect off the host to {target}"
        if target in seen:
            return f"redirect loop: {' → '.join(seen + [target])}"
        if len(seen) > self.settings.max_redirects:
            return f"more than {self.settings.max_redirects} redirects"
        if check_robots and not self.allowed(target):
            return f"redirect to {target}, disallowed by robots.txt"
        return None

    def _send(self, url: str, headers: dict, limit: int, timeout_tries: int = 2) -> _Answer | _Failure:
        """One request, tried again on faults worth retrying and on RETRYABLE statuses."""
        s = self.settings
        tries = s.retries + 1
        for attempt in range(1, tries + 1):
            result = self._attempt(url, headers, limit)
            if isinstance(result, _Answer) and result.status not in RETRYABLE:
                return result
            if isinstance(result, _Failure) and not result.retry:
                return result
            if isinstance(result, _Failure) and result.slow and attempt >= timeout_tries:  # waited out enough
                return result if attempt == 1 else _Failure(f"{result.reason} after {attempt} tries", slow=True,
                                                            host=True)
            if attempt == tries:
                break
            wait = self._retry_wait(url, result, attempt)
            if wait is None:
                return _Failure(f"Retry-After longer than {s.max_wait_seconds:.0f} s", retry=False,
                                status=result.status)
            self._sleep(wait)
        reason = f"HTTP {result.status}" if isinstance(result, _Answer) else result.reason
        host = isinstance(result, _Failure) and result.host
        return _Failure(f"{reason} after {tries} tries" if tries > 1 else reason, status=result.status, host=host)

    def _attempt(self, url: str, headers: dict, limit: int) -> _Answer | _Failure:
        self._wait_turn()
        try:
            return self._once(url, headers, limit)
        except _Failure as failure:
            return failure
        finally:
            self._last_request_end = time.monotonic()

    def _once(self, url: str, headers: dict, limit: int) -> _Answer:
        """One try; raises _Failure for anything short of a whole answer."""
        s = self.settings
        self.requests_made += 1
        deadline = time.monotonic() + s.deadline_seconds
        try:
            with self.http.get(url, headers=headers, timeout=(s.connect_timeout, s.read_timeout), stream=True,
                               allow_redirects=False) as resp:
                headers = {k.lower(): v for k, v in resp.headers.items()}
                if 300 <= resp.status_code < 400:  # urllib3 has already drained a redirect's body
                    return _Answer(resp.status_code, resp.url, headers)
                return _Answer(resp.status_code, resp.url, headers, self._read_body(resp, deadline, limit))
        except (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException,
                OSError, ValueError) as exc:
            raise _fault(exc) from None

    def _read_body(self, resp: requests.Response, deadline: float, limit: int) -> bytes:
        """The whole body, decoded, within `limit` bytes and the deadline, and as long as it said it was."""
        expected = _content_length(resp.headers) if resp.status_code not in (204, 304) else None
        if expected is not None and expected > limit and not resp.headers.get("content-encoding"):
            raise _Failure(f"over the {limit:,}-byte size limit", retry=False)
        # a read still blocked at the deadline is ended by shutting the socket, which looks like the end of
        # the body or a truncation: `fired` tells them apart
        fired = threading.Event()
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, args=(resp.raw, fired))
        watchdog.daemon = True
        watchdog.start()
        try:
            body = self._read_chunks(resp, deadline, limit)
        except urllib3.exceptions.DecodeError:
            raise _Failure("body does not decode as its Content-Encoding says", retry=False) from None
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            if fired.is_set():
                raise self._late() from None
            if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
                raise _Failure("read timed out", slow=True, host=True) from None
            raise _Failure(_truncated(resp.raw.tell(), expected), host=True) from None
        finally:
            watchdog.cancel()
        if fired.is_set():
            raise self._late()
        if expected is not None and resp.raw.tell() < expected:  # raw bytes: Content-Length counts those
            raise _Failure(_truncated(resp.raw.tell(), expected), host=True)
        return body

    def _read_chunks(self, resp: requests.Response, deadline: float, limit: int) -> bytes:
        """The body as it arrives (each read returns as soon as any bytes do), within size and deadline."""
        chunks, size = [], 0
        while chunk := resp.raw.read1(CHUNK_BYTES, decode_content=True):
            size += len(chunk)
            if size > limit:
                raise _Failure(f"over the {limit:,}-byte size limit", retry=False)
            if time.monotonic() >= deadline:
                raise self._late()
            chunks.append(chunk)
        return b"".join(chunks)

    def _late(self) -> _Failure:
        return _Failure(f"no complete answer within {self.settings.deadline_seconds:g} s", slow=True, host=True)

    def _wait_turn(self) -> None:
        delay = self.delay * (1 + random.uniform(0, self.settings.jitter)) if self.delay else 0.0
        wait = self._last_request_end + delay - time.monotonic()
        if self.requests_made and wait > 0:
            self._sleep(wait)

    def _retry_wait(self, url: str, result: _Answer | _Failure, attempt: int) -> float | None:
        """Seconds to wait before try `attempt + 1` (logged), or None when Retry-After asks too long."""
        s = self.settings
        why = f"HTTP {result.status}" if isinstance(result, _Answer) else result.reason
        of = f"try {attempt + 1} of {s.retries + 1}"
        asked = retry_after_seconds(result.headers["retry-after"]) \
            if isinstance(result, _Answer) and "retry-after" in result.headers else None
        if asked is not None:
            if asked > s.max_wait_seconds:
                log.warning("%s: Retry-After %s s is longer than %s s, giving up (%s)", url, _seconds(asked),
                            _seconds(s.max_wait_seconds), why)
                return None
            log.warning("%s: Retry-After %s s, waiting (%s, %s)", url, _seconds(asked), why, of)
            return asked
        base = s.backoff_seconds * (2 ** (attempt - 1))
        wait = min(base * (1 + random.uniform(0, 0.5)), s.max_wait_seconds)
        log.warning("retrying %s in %s s (%s, %s)", url, _seconds(wait), why, of)
        return wait

    def close(self) -> None:
        self.http.close()


def _shut(raw, fired: threading.Event) -> None:
    fired.set()
    try:
        raw.shutdown()
    except (ValueError, RuntimeError, OSError):  # the answer is complete and its connection released
        pass


def _content_length(headers) -> int | None:
    value = (headers.get("content-length") or "").strip()
    return int(value) if value.isdigit() else None


def _seconds(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def retry_after_seconds(value: str) -> float | None:
    """Retry-After as seconds: '120' or an HTTP-date."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
