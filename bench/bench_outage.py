"""A bad night's length at the real politeness settings (1 s delay, 30 s read timeout, 60 s deadline, 3 retries):

    python bench/bench_outage.py [--scale 1.0] [--pages 36]

  outage     the site answers 10 pages, then goes silent (headers, then nothing): the breaker ends the night
  two-slow   one silent page and one dripping page among --pages: each tried once more after the others

--scale multiplies every time setting (0.1 runs it in a tenth of the time, to try the script). The site is
tests/test_bad_nights.py's NightSite on 127.0.0.1; the night is service.run.refresh in this process.
Targets (issue #19): the outage night under 5 minutes, the two slow pages' night under 4 minutes.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from extract.polite import HostDown, Politeness  # noqa: E402
from service.run import RunSettings, refresh  # noqa: E402
from test_bad_nights import LISTING, NightSite  # noqa: E402


def real(scale: float) -> Politeness:
    p = Politeness()
    return Politeness(delay_seconds=p.delay_seconds * scale, read_timeout=p.read_timeout * scale,
                      deadline_seconds=p.deadline_seconds * scale, backoff_seconds=p.backoff_seconds * scale,
                      connect_timeout=p.connect_timeout * scale)


def one_night(site: NightSite, politeness: Politeness) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        try:
            report = refresh(RunSettings(db=str(Path(tmp) / "esf.duckdb"), sources=(site.url + LISTING,),
                                         politeness=politeness))
            outcome = f"{report.status}: {report.counts.new} new, {report.counts.failed} failed"
        except HostDown as exc:
            outcome = f"failed: {exc}"
        return time.monotonic() - started, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--pages", type=int, default=36)
    args = parser.parse_args()
    politeness = real(args.scale)
    print(f"politeness: delay {politeness.delay_seconds:g} s, read timeout {politeness.read_timeout:g} s, "
          f"deadline {politeness.deadline_seconds:g} s, retries {politeness.retries}, "
          f"breaker {politeness.breaker_pages} pages", flush=True)
    for name, site, target in (
            ("outage", NightSite(args.pages, outage="silent", answered_before_outage=10), 300),
            ("two-slow", NightSite(args.pages, kinds={3: "silent", 4: "drip"}), 240)):
        with site:
            took, outcome = one_night(site, politeness)
        print(f"{name:9} {took:7.1f} s (target {target * args.scale:g} s), {len(site.log)} requests; {outcome}",
              flush=True)


if __name__ == "__main__":
    main()
