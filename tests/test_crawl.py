"""The crawler against the local copy of the site (127.0.0.1 only): politeness, faults, incremental runs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import duckdb
import pytest

from test_empty_nights import digest
from conftest import ROOT, esf_command, esf_env
from demo.site import DemoSite, Faults
from extract.polite import Politeness, PoliteClient
from extract.sources import SourceError
from flows import pipeline
from load import work_path_for
from load.warehouse import raw_path_for

FAST = dict(delay_seconds=0.0, retry_backoff_seconds=0.05)
LISTING = "/resultat/projektbanken/"


def crawl(site: DemoSite, db, start: str = LISTING, **kw):
    return pipeline.refresh(sources=[site.url + start], db=str(db), batch_size=kw.pop("batch_size", 200),
                            **{**FAST, **kw})


def rows(db, sql: str):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def project_requests(site: DemoSite) -> list:
    return [r for r in site.requests if "rojekt" in r.path and r.path != LISTING and "sida=" not in r.path]


def test_thousand_pages_with_faults_every_page_accounted_for(prefect_api, tmp_path):
    faults = Faults(seed=3, server_error_share=0.03, rate_limit_share=0.004, retry_after="1", drop_share=0.01,
                    truncate_share=0.01, redirect_share=0.02, alias_share=0.05, slow_share=0.005, slow_seconds=0.2,
                    gone=frozenset({5, 6, 7}), offsite_link=True, redirect_loop=True)
    db = tmp_path / "esf.duckdb"
    with DemoSite(1000, seed=3, faults=faults) as site:
        report = crawl(site, db)
    c = report.counts.as_dict()
    assert c["seen"] == 1000
    assert c["gone"] == 3 and c["failed"] == 0 and c["rejected"] == 0
    assert c["new"] + c["duplicates"] == 997
    assert c["seen"] == sum(c[k] for k in ("new", "changed", "unchanged", "duplicates", "rejected", "failed",
                                            "skipped", "not_modified", "gone"))
    assert rows(db, "SELECT count(*) FROM projects") == [(c["new"],)]
    assert rows(db, "SELECT count(*) FROM crawl_state WHERE gone_since IS NOT NULL") == [(3,)]
    assert any("example.org" in note for note in report.notes)  # the off-site links were seen, not followed
    offsite = [r for r in site.requests if "example.org" in r.headers.get("Host", "")]
    assert offsite == []


def test_second_run_on_an_unchanged_site_downloads_no_page(prefect_api, tmp_path):
    db = tmp_path / "esf.duckdb"
    with DemoSite(300, seed=1) as site:
        first = crawl(site, db)
        first_requests = len(site.requests)
        site.clear_log()
        started = time.monotonic()
        second = crawl(site, db)
        second_seconds = time.monotonic() - started
        full_downloads = [r for r in project_requests(site) if r.status == 200]
        second_requests = len(site.requests)
    assert first.counts.new == 300
    assert full_downloads == []
    assert second.counts.skipped + second.counts.not_modified == 300
    assert second_requests < first_requests / 5
    assert second.counts.new == second.counts.changed == 0
    assert second_seconds < first.durations["total"]


def test_changed_and_disappeared_pages(prefect_api, tmp_path):
    db = tmp_path / "esf.duckdb"
    with DemoSite(200, seed=2) as site:
        crawl(site, db)
        site.set_version(5)  # about 5 % of pages get a new end date and budget
        site.faults.gone = site.faults.unlisted = frozenset({10})  # deleted: off the listing, 410 on its URL
        report = crawl(site, db)
        changed = [i for i in range(200) if site.current(i).html != site.current(i, version=0).html and i != 10]
    assert changed and report.counts.changed == len(changed)
    assert report.counts.gone == 1
    c = report.counts.as_dict()  # the deleted page is off the listing, yet asked for once more: it is seen
    assert c["seen"] == 200 == sum(c[k] for k in ("new", "changed", "unchanged", "duplicates", "rejected", "failed",
                                                  "skipped", "not_modified", "gone"))
    assert rows(db, "SELECT count(*) FROM project_versions WHERE valid_to IS NOT NULL") == [(len(changed),)]
    assert rows(db, "SELECT count(*) FROM projects WHERE gone_since IS NOT NULL") == [(1,)]
    assert rows(db, "SELECT count(*) FROM projects") == [(200,)]  # the gone project stays, with its history


def test_delay_between_requests_is_held(tmp_path):
    with DemoSite(20, seed=4) as site:
        client = PoliteClient(site.url + LISTING, Politeness(delay_seconds=0.2, jitter=0.25))
        for i in range(8):
            client.fetch(site.url + site.current(i).path)
        times = [r.time for r in site.requests]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(gaps) == 8 and min(gaps) >= 0.2 and max(gaps) < 0.2 * 1.25 + 0.15


def test_retry_after_is_obeyed(tmp_path):
    faults = Faults(seed=5, rate_limit_share=1.0, retry_after="1")
    with DemoSite(3, seed=5, faults=faults) as site:
        client = PoliteClient(site.url + LISTING, Politeness(delay_seconds=0.0, backoff_seconds=0.01))
        page = client.fetch(site.url + site.current(0).path)
        hits = [r for r in site.requests if r.path == site.current(0).path]
    assert page.http_status == 200 and not page.failed
    assert [r.status for r in hits] == [429, 200]
    assert hits[1].time - hits[0].time >= 1.0


def test_retry_after_as_http_date():
    from email.utils import format_datetime
    from datetime import datetime, timedelta, timezone
    from extract.polite import retry_after_seconds
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 28 <= retry_after_seconds(when) <= 30
    assert retry_after_seconds("7") == 7.0 and retry_after_seconds("soon") is None


def test_robots_disallowing_project_pages_fetches_nothing(prefect_api, tmp_path):
    faults = Faults(robots="User-agent: *\nDisallow: /resultat/\nDisallow: /sv/\nDisallow: /Projektbanken/\n")
    with DemoSite(30, faults=faults) as site:
        with pytest.raises(SourceError, match="robots.txt .* disallows"):
            crawl(site, tmp_path / "esf.duckdb")
        assert [r.path for r in site.requests] == ["/robots.txt"]
    assert not (tmp_path / "esf.duckdb").exists()


def test_crawl_delay_in_robots_is_honoured():
    with DemoSite(3, faults=Faults(robots="User-agent: *\nCrawl-delay: 2\nAllow: /\n")) as site:
        assert PoliteClient(site.url + LISTING, Politeness(delay_seconds=0.5)).delay == 2.0


def test_redirect_loop_is_stopped_and_reported(tmp_path):
    with DemoSite(3, faults=Faults(redirect_loop=True)) as site:
        page = PoliteClient(site.url + LISTING, Politeness(delay_seconds=0)).fetch(site.url + "/loop/a/")
    assert page.failed and page.error.startswith("redirect loop")


def test_truncated_body_is_a_failed_fetch_then_retried(tmp_path):
    with DemoSite(3, faults=Faults(truncate_share=1.0)) as site:
        client = PoliteClient(site.url + LISTING, Politeness(delay_seconds=0, backoff_seconds=0.01, retries=0))
        first = client.fetch(site.url + site.current(0).path)
        second = client.fetch(site.url + site.current(0).path)
    assert first.failed and first.error.startswith("truncated body") and first.body == b""
    assert not second.failed and len(second.body) > 1000


def test_server_down_fails_the_run_and_keeps_the_published_data(prefect_api, tmp_path):
    db = tmp_path / "esf.duckdb"
    with DemoSite(30, seed=6) as site:
        crawl(site, db)
        before = digest(db)
        site.faults.down = True
        with pytest.raises(Exception, match="does not answer"):
            crawl(site, db)
    assert digest(db) == before  # the published data is the last good night's
    assert rows(work_path_for(db), "SELECT status FROM runs ORDER BY run_id") == [("succeeded",), ("failed",)]
    assert rows(db, "SELECT status FROM runs ORDER BY run_id") == [("succeeded",), ("failed",)]  # and says so


def test_killed_crawl_resumes_without_refetching_what_it_stored(prefect_api, tmp_path):
    db = tmp_path / "esf.duckdb"
    with DemoSite(400, seed=7) as site:
        proc = subprocess.Popen(esf_command() + ["run", "--source", site.url + LISTING, "--db", str(db),
                                                 "--batch-size", "50", "--delay", "0.02", "--no-summary"],
                                cwd=ROOT, env=esf_env(prefect_api), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while len(project_requests(site)) < 180 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        fetched_before = {r.path for r in project_requests(site) if r.status == 200}
        assert 150 <= len(fetched_before) < 400
        site.clear_log()
        report = crawl(site, db)
        fetched_after = {r.path for r in project_requests(site) if r.status == 200}
    stored = rows(raw_path_for(db), "SELECT count(DISTINCT source_key) FROM raw_pages")[0][0]
    assert stored == 400
    refetched = fetched_before & fetched_after
    assert len(refetched) < 50  # at most the batch that was in flight when the process died
    assert report.counts.new == 400, report.counts
    assert rows(work_path_for(db), "SELECT status FROM runs ORDER BY run_id") == [("aborted",), ("succeeded",)]


def test_raw_store_is_keyed_by_canonical_url(prefect_api, tmp_path):
    """Pages listed at an old address (301) or a second one (200, same page) are stored under the URL
    their canonical link names; crawl_state remembers the address each was listed at."""
    db = tmp_path / "esf.duckdb"
    with DemoSite(40, seed=4, faults=Faults(seed=4, redirect_share=0.2, alias_share=0.6)) as site:
        report = crawl(site, db)
        pairs = {(site.url + site.listed_path(i, p.path), site.url + p.path)
                 for i in range(40) for p in [site.current(i)]}
        again = crawl(site, db)
    moved = {listed for listed, canonical in pairs if listed != canonical}
    assert any("/gammal/" in url for url in moved) and any("/sv/Resultat" not in url for url in moved)
    canonical = {c for _, c in pairs}
    work = work_path_for(db)
    assert set(rows(work, "SELECT listed_url, source_key FROM crawl_state")) == pairs
    assert rows(raw_path_for(db), "SELECT count(*), count(DISTINCT source_key) FROM raw_pages") == [(40, 40)]
    assert {k for (k,) in rows(raw_path_for(db), "SELECT source_key FROM raw_pages")} == canonical
    assert {k for (k,) in rows(db, "SELECT source_key FROM projects")} == canonical
    assert rows(db, "SELECT count(*) FROM projects WHERE source_url IS DISTINCT FROM source_key") == [(0,)]
    assert report.counts.new == 40
    assert again.counts.new + again.counts.changed == 0  # the second run matched pages by their keys


def test_two_addresses_of_one_page_store_it_once(prefect_api, tmp_path):
    db = tmp_path / "esf.duckdb"
    with DemoSite(8, seed=4, faults=Faults(alias_share=1.0)) as site:
        page = next(p for p in (site.current(i) for i in range(8)) if p.template == "B")
        short = site.listed_path(page.index, page.path)
        urls = tmp_path / "urls.txt"
        urls.write_text(f"{site.url}{short}\n{site.url}{page.path}\n")
        report = pipeline.refresh(sources=[f"urls:{urls}"], db=str(db), **FAST)
    assert short != page.path
    assert rows(raw_path_for(db), "SELECT source_key, count(*) FROM raw_pages GROUP BY 1") == [(site.url + page.path, 1)]
    assert rows(db, "SELECT count(*) FROM projects") == [(1,)]
    assert (report.counts.seen, report.counts.new, report.counts.duplicates) == (2, 1, 1)


def test_parse_command_keys_a_page_as_the_crawler_does(prefect_api, tmp_path):
    with DemoSite(8, seed=4, faults=Faults(alias_share=1.0)) as site:
        page = next(p for p in (site.current(i) for i in range(8)) if p.template == "B")
        result = subprocess.run(esf_command() + ["parse", site.url + site.listed_path(page.index, page.path)],
                                cwd=ROOT, env=esf_env(prefect_api), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert (record["source_key"], record["source_url"]) == (site.url + page.path, site.url + page.path)


def test_sitemap_index_source(prefect_api, tmp_path):
    db = tmp_path / "esf.duckdb"
    with DemoSite(60, seed=8, faults=Faults(gone=frozenset({1}))) as site:
        report = crawl(site, db, start="/sitemap.xml")
        assert {r.path for r in site.requests if "sitemap" in r.path} == {"/sitemap.xml", "/sitemap-1.xml"}
    assert (report.counts.seen, report.counts.new + report.counts.duplicates) == (59, 59)


def test_url_list_source_via_the_cli(prefect_api, tmp_path):
    db = tmp_path / "esf.duckdb"
    with DemoSite(10, seed=9) as site:
        urls = tmp_path / "urls.txt"
        urls.write_text("# three projects\n" + "".join(f"{site.url}{site.current(i).path}\n" for i in range(3)))
        result = subprocess.run(esf_command() + ["run", "--urls", str(urls), "--db", str(db), "--delay", "0",
                                                 "--no-summary"], cwd=ROOT, env=esf_env(prefect_api),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert sorted(r.path for r in project_requests(site)) == sorted(site.current(i).path for i in range(3))
        assert all(r.headers.get("User-Agent", "").startswith("esf-projektbanken-pipeline") for r in site.requests)
    assert rows(db, "SELECT count(*) FROM projects") == [(3,)]
