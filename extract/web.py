"""Fetch single pages over HTTP with a named user agent, timeouts and a size cap."""
from __future__ import annotations

import os

import requests

from extract.records import RawPage, failed_page, now

USER_AGENT = os.environ.get("ESF_USER_AGENT", "esf-projektbanken-pipeline/0.1 (+contact: set ESF_USER_AGENT)")
TIMEOUT = (5.0, 30.0)  # connect, read
MAX_PAGE_BYTES = 5 * 1024 * 1024
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})


class TransientFetchError(RuntimeError):
    """A fetch worth retrying (connection error, timeout, 5xx, 429)."""


def session() -> requests.Session:
    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    return s


def fetch(url: str, http: requests.Session | None = None, max_bytes: int = MAX_PAGE_BYTES) -> RawPage:
    """One GET. Raises TransientFetchError for faults worth a retry; other failures become failed pages."""
    http = http or session()
    try:
        with http.get(url, timeout=TIMEOUT, stream=True) as resp:
            if resp.status_code in RETRYABLE:
                raise TransientFetchError(f"HTTP {resp.status_code} for {url}")
            if resp.status_code >= 400:
                return failed_page(url, f"HTTP {resp.status_code}", url, resp.status_code)
            body = b""
            for chunk in resp.iter_content(64 * 1024):
                body += chunk
                if len(body) > max_bytes:
                    return failed_page(url, f"page over the {max_bytes:,}-byte limit", url, resp.status_code)
            expected = resp.headers.get("Content-Length")
            if expected and expected.isdigit() and int(expected) != len(body) \
                    and not resp.headers.get("Content-Encoding"):
                return failed_page(url, f"truncated body: {len(body)} of {expected} bytes", url, resp.status_code)
            return RawPage(source_key=url, url=resp.url, fetched_at=now(), body=body,
                           http_status=resp.status_code, etag=resp.headers.get("ETag"),
                           last_modified=resp.headers.get("Last-Modified"),
                           content_type=resp.headers.get("Content-Type"))
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TransientFetchError(f"{type(exc).__name__} for {url}") from exc
    except requests.RequestException as exc:
        return failed_page(url, f"request failed: {exc}", url)
