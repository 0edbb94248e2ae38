"""The demo site's faults, switched on per share of page paths and decided deterministically from a seed, and the
record it keeps of each request."""
from __future__ import annotations

import random
from dataclasses import dataclass, field

SERVER_ERRORS = (500, 502, 503, 504)


@dataclass
class Faults:
    seed: int = 0
    server_error_share: float = 0.0     # share of page paths whose first `server_error_burst` requests get a 5xx
    server_error_burst: int = 2
    rate_limit_share: float = 0.0       # share of page paths whose first request gets 429 with Retry-After
    retry_after: str = "1"              # the Retry-After value sent ("1" seconds, or an HTTP-date string)
    slow_share: float = 0.0             # share of page paths answered after `slow_seconds` (every request)
    slow_seconds: float = 0.5
    drop_share: float = 0.0             # share of page paths whose first request is closed without a response
    truncate_share: float = 0.0         # share of page paths whose first response is cut short of its Content-Length
    redirect_share: float = 0.0         # share of pages the listing links at '/gammal<path>', which 301s to <path>
    alias_share: float = 0.0            # share of template B pages the listing links without '/sv/Resultat': the
                                        # same page is served there (200), its canonical link names the full path
    gone: frozenset[int] = frozenset()  # page indices that answer 410 (even indices) or 404 (odd)
    unlisted: frozenset[int] = frozenset()  # page indices left out of listings and sitemaps (deleted pages)
    offsite_link: bool = False          # the first listing page also links two URLs on other hosts
    redirect_loop: bool = False         # the first listing page links /loop/a/ ⇄ /loop/b/ (302s)
    robots: str = "User-agent: *\nAllow: /\n"
    down: bool = False                  # every request is closed without a response

    def hits(self, index: int, name: str, share: float) -> bool:
        """Whether page `index` has fault `name`: deterministic from (seed, index, name)."""
        return share > 0 and random.Random(f"{self.seed}:{index}:{name}").random() < share

    def schedule(self, index: int) -> list[str | int]:
        """What the path's first requests get, in turn: 'drop', 429, 5xx codes, 'truncate'; then normal answers."""
        steps: list[str | int] = []
        if self.hits(index, "drop", self.drop_share):
            steps.append("drop")
        if self.hits(index, "rate_limit", self.rate_limit_share):
            steps.append(429)
        if self.hits(index, "server_error", self.server_error_share):
            code = random.Random(f"{self.seed}:{index}:server_error_status").choice(SERVER_ERRORS)
            steps += [code] * self.server_error_burst
        if self.hits(index, "truncate", self.truncate_share):
            steps.append("truncate")
        return steps


@dataclass(frozen=True)
class RequestRecord:
    time: float                 # time.monotonic() when the request arrived
    method: str
    path: str                   # as requested, query included
    status: int                 # 0 when the connection was closed without a response
    headers: dict[str, str] = field(repr=False)   # the request's headers
    bytes_sent: int = 0         # body bytes written
