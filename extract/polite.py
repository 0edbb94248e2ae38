"""A polite HTTP client for one host: robots.txt, one connection, a delay with jitter, retries, Retry-After."""
from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import requests
from protego import Protego
from requests.adapters import HTTPAdapter

from extract.records import RawPage, failed_page, now

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
GONE = frozenset({404, 410})
DEFAULT_USER_AGENT = os.environ.get("ESF_USER_AGENT") or \
    "esf-projektbanken-pipeline/0.1 (contact: set --user-agent or ESF_USER_AGENT to your address)"


@dataclass
class Politeness:
    delay_seconds: float = 1.0          # between the end of one request and the start of the next
    jitter: float = 0.25                # up to this share of the delay is added at random
    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    retries: int = 3                    # per request, after the first try
    backoff_seconds: float = 2.0        # first retry waits this long, doubling each time (with jitter)
    max_wait_seconds: float = 300.0     # a Retry-After longer than this fails the request instead
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5


class HostUnreachable(RuntimeError):
    """The host did not answer at all (robots.txt could not be fetched): the run cannot go on."""


class RobotsDisallow(RuntimeError):
    """robots.txt forbids the start URL."""


@dataclass
class _Answer:
    status: int
    url: str
    headers: dict = field(default_factory=dict)
    body: bytes = b""


class PoliteClient:
    """GETs against one host, never faster than the delay, never two at once, always identified."""

    def __init__(self, start_url: str, settings: Politeness | None = None, sleep=time.sleep):
        self.settings = settings or Politeness()
        parts = urlsplit(start_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc
        self.http = requests.Session()
        self.http.headers["User-Agent"] = self.settings.user_agent
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0, pool_block=True)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        self._sleep = sleep
        self._last_request_end = 0.0
        self.requests_made = 0
        self.robots = Protego.parse("")
        self.delay = self.settings.delay_seconds
        self._load_robots()

    # --- robots.txt --------------------------------------------------------------------------
    def _load_robots(self) -> None:
        answer = self._send(urljoin(self.origin, "/robots.txt"), {}, allow_retry=True)
        if answer is None:
            raise HostUnreachable(f"{self.host} does not answer (robots.txt could not be fetched)")
        if answer.status >= 400:
            self.robots = Protego.parse("")  # no robots.txt: everything is allowed
        else:
            self.robots = Protego.parse(answer.body.decode("utf-8", "replace"))
        crawl_delay = self.robots.crawl_delay(self.settings.user_agent)
        if crawl_delay and math.isfinite(crawl_delay):
            self.delay = max(self.delay, float(crawl_delay))

    def allowed(self, url: str) -> bool:
        return self.robots.can_fetch(url, self.settings.user_agent)

    def same_host(self, url: str) -> bool:
        return urlsplit(url).netloc == self.host

    # --- requests ----------------------------------------------------------------------------
    def fetch(self, url: str, key: str | None = None, etag: str | None = None,
              last_modified: str | None = None) -> RawPage:
        """GET a page (conditionally when etag/last_modified are known), following redirects on this host."""
        key = key or url
        if not self.allowed(url):
            return failed_page(key, "disallowed by robots.txt", url)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen = [url]
        while True:
            answer = self._send(url, headers, allow_retry=True)
            if answer is None:
                return failed_page(key, f"no answer after {self.settings.retries + 1} tries", url)
            if isinstance(answer, str):
                return failed_page(key, answer, url)
            if answer.status in (301, 302, 303, 307, 308) and "location" in answer.headers:
                target = urljoin(url, answer.headers["location"])
                if not self.same_host(target):
                    return failed_page(key, f"redirect off the host to {target}", url, answer.status)
                if target in seen:
                    return failed_page(key, f"redirect loop: {' → '.join(seen + [target])}", url, answer.status)
                if len(seen) > self.settings.max_redirects:
                    return failed_page(key, f"more than {self.settings.max_redirects} redirects", url, answer.status)
                seen.append(target)
                url = target
                continue
            return RawPage(source_key=key, url=url, fetched_at=now(), body=answer.body, http_status=answer.status,
                           etag=answer.headers.get("etag"), last_modified=answer.headers.get("last-modified"),
                           content_type=answer.headers.get("content-type"),
                           error=None if answer.status in (200, 304) or answer.status in GONE
                           else f"HTTP {answer.status}")

    def _send(self, url: str, headers: dict, allow_retry: bool) -> _Answer | str | None:
        """One request with retries. None: no answer at all; str: a failure worth naming."""
        s = self.settings
        problem: str | None = None
        for attempt in range(s.retries + 1):
            self._wait_turn()
            try:
                answer = self._once(url, headers)
            except (requests.ConnectionError, requests.Timeout) as exc:
                answer, problem = None, f"{type(exc).__name__}"
            except _Truncated as exc:
                answer, problem = None, str(exc)
            finally:
                self._last_request_end = time.monotonic()
            if answer is not None and answer.status not in RETRYABLE:
                return answer
            if attempt == s.retries or not allow_retry:
                break
            wait = self._retry_wait(answer, attempt)
            if wait is None:
                return f"Retry-After longer than {s.max_wait_seconds:.0f} s"
            self._sleep(wait)
        if answer is not None:
            return f"HTTP {answer.status} after {s.retries + 1} tries"
        return problem if problem and problem.startswith("truncated") else None

    def _once(self, url: str, headers: dict) -> _Answer:
        s = self.settings
        self.requests_made += 1
        with self.http.get(url, headers=headers, timeout=(s.connect_timeout, s.read_timeout), stream=True,
                           allow_redirects=False) as resp:
            headers = {k.lower(): v for k, v in resp.headers.items()}
            if 300 <= resp.status_code < 400:  # urllib3 has already drained a redirect's body
                return _Answer(resp.status_code, resp.url, headers)
            chunks, size = [], 0
            try:
                for chunk in resp.raw.stream(64 * 1024, decode_content=True):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > s.max_bytes:
                        raise _Truncated(f"page over the {s.max_bytes:,}-byte limit")
            except requests.packages.urllib3.exceptions.ProtocolError as exc:
                raise _Truncated(f"truncated body: {exc.__class__.__name__}") from None
            body = b"".join(chunks)
            expected = resp.headers.get("Content-Length")
            if expected and expected.isdigit() and not resp.headers.get("Content-Encoding") \
                    and int(expected) != len(body) and resp.status_code != 304:
                raise _Truncated(f"truncated body: {len(body)} of {expected} bytes")
            return _Answer(resp.status_code, resp.url, headers, body)

    def _wait_turn(self) -> None:
        delay = self.delay * (1 + random.uniform(0, self.settings.jitter)) if self.delay else 0.0
        wait = self._last_request_end + delay - time.monotonic()
        if self.requests_made and wait > 0:
            self._sleep(wait)

    def _retry_wait(self, answer: _Answer | None, attempt: int) -> float | None:
        s = self.settings
        if answer is not None and "retry-after" in answer.headers:
            wait = retry_after_seconds(answer.headers["retry-after"])
            if wait is not None:
                return wait if wait <= s.max_wait_seconds else None
        base = s.backoff_seconds * (2 ** attempt)
        return min(base * (1 + random.uniform(0, 0.5)), s.max_wait_seconds)

    def close(self) -> None:
        self.http.close()


class _Truncated(Exception):
    pass


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
