"""Parsing speed on one core: text dumps and ~40 KB HTML pages, pages/s (median of 5 runs).

    python bench/bench_parse.py
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench import machine  # noqa: E402
from demo.generator import pages  # noqa: E402
from transform import parse_page  # noqa: E402
from transform.lines import html_to_page_text, text_to_lines  # noqa: E402


def rate(bodies: list[bytes], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        for body in bodies:
            parse_page(body, "bench")
        times.append(time.perf_counter() - started)
    return len(bodies) / statistics.median(times)


def main() -> None:
    html_pages = [p.html.encode() for p in pages(1000)]
    text_pages = ["\n".join(text_to_lines("\n".join(html_to_page_text(b.decode()).lines))).encode()
                  for b in html_pages]
    samples = [p.read_bytes() for p in sorted((ROOT / "data" / "samples").glob("*.txt"))] * 50
    print(machine())
    print(f"text pages (the generator's pages as text dumps, {statistics.median(map(len, text_pages)) / 1024:.0f} KB): "
          f"{rate(text_pages):.0f} pages/s")
    print(f"bundled sample text pages ({len(samples)} parses): {rate(samples):.0f} pages/s")
    print(f"HTML pages ({statistics.median(map(len, html_pages)) / 1024:.0f} KB): {rate(html_pages):.0f} pages/s")


if __name__ == "__main__":
    main()
