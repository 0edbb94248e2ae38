"""Commands for developing and trying the pipeline: parse one page, serve a synthetic site."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from cli.options import EXIT_OK, EXIT_REJECTS, EsfError, UsageError

@click.command()
@click.argument("page", metavar="PATH|URL")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True)
@click.option("--user-agent", envvar="ESF_USER_AGENT", default=None,
              help="User agent when PAGE is a URL. [env: ESF_USER_AGENT]")
def parse(page: str, fmt: str, user_agent: str | None) -> None:
    """Parse one page and print the normalized record and its problems (no database).

    Exit code 3 when the page would be rejected (not a project page, or no identity).

    \b
    Example:
      esf parse data/samples/b-steget-vidare.txt --format text
    """
    from extract.files import FileItem, read_item
    from extract.polite import Politeness
    from extract.sources import WebSource, is_url
    from schemas.validate import validate
    from transform import parse_page
    if is_url(page):
        # fetched and keyed as a crawl would (a host that cannot be reached is an EsfError: one line)
        politeness = Politeness(user_agent=user_agent) if user_agent else Politeness()
        raw = WebSource.single(page, politeness).read_one()
    else:
        if not Path(page).is_file():
            raise UsageError(f"no such file: {page}")
        raw = read_item(FileItem(Path(page).name, page))
    if raw.failed:
        raise EsfError(f"cannot read {page}: {raw.error}")
    parsed = parse_page(raw.body, raw.source_key, url=raw.url, content_type=raw.content_type, sha256=raw.sha256)
    out = parsed.to_json()
    if parsed.ok:
        result = validate([parsed])
        for row in result.rejects + result.warnings:
            out["problems"].append({"field": row.field, "reason": row.reason, "value": row.value,
                                    "severity": row.severity, "stage": "validate"})
    if fmt == "json":
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        _print_text(out)
    sys.exit(EXIT_REJECTS if any(p["severity"] == "error" for p in out["problems"]) else EXIT_OK)


def _print_text(out: dict) -> None:
    for key, value in out.items():
        if key in ("organisations", "municipalities", "sections", "problems"):
            continue
        click.echo(f"{key:22} {'' if value is None else value}")
    for o in out["organisations"]:
        click.echo(f"organisation           {o['role']}: {o['name']}" + (" (truncated)" if o["truncated"] else ""))
    for m in out["municipalities"]:
        click.echo(f"municipality           {m['name_as_written']} → {m['municipality'] or '?'} {m['municipality_code'] or ''}")
    for s in out["sections"]:
        click.echo(f"section                {s['section']}: {len(s['text'])} characters")
    for p in out["problems"]:
        click.echo(f"{p['severity']:22} {p['field'] or '(page)'}: {p['reason']}")


@click.command(name="demo-site")
@click.option("--pages", default=1000, show_default=True, type=click.IntRange(1, 1_000_000), help="Number of project pages.")
@click.option("--seed", default=0, show_default=True, help="Same seed, same site.")
@click.option("--version", "site_version", default=0, show_default=True, type=click.IntRange(0, 100),
              help="Site version: each step changes about 1 % of pages (new end date and budget).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--faults", is_flag=True, help="Turn on a mix of faults: 5xx bursts, 429 with Retry-After, drops, "
                                             "truncated bodies, redirects, second addresses of pages, a redirect loop, "
                                             "off-site links.")
def demo_site(pages: int, seed: int, site_version: int, port: int, faults: bool) -> None:
    """Serve a synthetic copy of the project bank on 127.0.0.1, to try the crawler without the internet.

    It has listing pages with pagination (/resultat/projektbanken/), a sitemap (/sitemap.xml),
    robots.txt, ETags and Last-Modified, and project pages in all three templates.

    \b
    Example:
      esf demo-site --pages 500 --port 8000 &
      esf run --source http://127.0.0.1:8000/resultat/projektbanken/ --delay 0.1 --db demo.duckdb
    """
    from demo.site import DemoSite, Faults
    mix = Faults(seed=seed, server_error_share=0.02, rate_limit_share=0.005, drop_share=0.01, truncate_share=0.01,
                 redirect_share=0.02, alias_share=0.05, offsite_link=True, redirect_loop=True) \
        if faults else Faults(seed=seed)
    site = DemoSite(pages, seed=seed, version=site_version, faults=mix, port=port)
    try:
        site.start()
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    click.echo(f"Serving {pages} synthetic project pages on {site.url} (listing {site.url}/resultat/projektbanken/, "
               f"sitemap {site.url}/sitemap.xml). Ctrl-C stops.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()
