"""Thirty nights in one process: the nightly refresh runs the thirtieth night like the first.

    python bench/soak.py [--pages 1000] [--nights 30] [--mode flow|service] [--source sitemap|listing]

One long-lived process calls the Prefect flow `flows.pipeline.refresh` (default; `--mode service` calls
`service.run.refresh` without Prefect) once for an initial full build (night 0), then once per night
for --nights nights, against the local demo site (demo/site.py, in a child process of its own so that
its page cache is not counted in the pipeline's memory). Before each night the site moves on:

- version = night: ≈ 1 % of the pages change (new end date and budget; `DemoSite.set_version`);
- --new-per-night pages are published after the last one (`DemoSite.add_pages`);
- --gone-per-night live pages are deleted: off the sitemap and listing, 410 or 404 on their URL
  (`Faults.gone` and `Faults.unlisted`, as tests/test_crawl.py deletes a page).

Each night is a new day for the planner: the script replaces `extract.plan.date` with a `date` whose
`today()` is the simulated night (2026-03-01 + night), so the 30-night re-check rotation turns as it
would over a month. That is the only seam touched; nothing in flows/, service/, load/ or extract/ is
changed, and no `today` parameter is added to RunSettings or the flow.

Every night the script checks: the run completed (status 'succeeded', or 'rejects' with its reasons
printed), its counts add up exactly (seen = new + changed + unchanged + duplicates + rejected + failed
+ skipped + not_modified + gone), and new / changed / gone / seen are what the site did that night. It
records the night's wall time, counts, requests served, and this process's RSS (VmRSS), open file
descriptors, threads and live child processes (the demo site, Prefect's local API server and the parse
pool's forkserver are expected children; parse workers end with each run).

After the last night: RSS, open fds, threads and child processes within 10 % of night 5 (PASS/FAIL).

Then a fresh full build of the final site into a new database, compared with the soaked warehouse (the
published files both). "Equal" means:

1. projects: the soaked projects not marked gone (`gone_since IS NULL`) are exactly the fresh build's
   projects (same set of project_id), and the fresh build marks none gone;
2. gone: the soaked projects with `gone_since` set are exactly the pages the site deleted during the
   soak (by source_key), and none of them is in the fresh build;
3. amounts: for every shared project, esf_grant_sek and total_budget_sek are identical (NULL = NULL);
4. every column of `projects` other than first_seen, last_seen, run_id and gone_since is identical
   (content hash record_hash, page hash sha256, title, dates, region, ...);
5. current versions: each soaked project has exactly one row in `project_versions` WHERE valid_to IS
   NULL, and for shared projects that row equals the fresh build's only row in every column other than
   version, valid_from, valid_to and run_id (record_hash included);
6. child rows (organisations, municipalities, sections) of shared projects are identical multisets,
   run_id aside;
7. history: each soaked project has 1 + (the number of times the site changed its page while it was
   listed) versions; the fresh build has 1 each.

Exit status 0 when every check passes, 1 otherwise. Prints a Markdown table of the nights, the checks
and the machine; asserts nothing else and keeps nothing (--keep leaves the work directory).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from bench.machine import machine  # noqa: E402
from records.run import OUTCOMES  # noqa: E402

FIRST_NIGHT = date(2026, 3, 1)  # night 0, the full build; night k is k days later
COUNT_KEYS = OUTCOMES
TOLERANCE = 0.10
BASELINE_NIGHT = 5


# --- the demo site, in a process of its own ---------------------------------------------------------

def _site_process(conn, pages: int, seed: int) -> None:
    """Serve a DemoSite; obey ('state', version, n_pages, deleted), ('requests',) and ('stop',)."""
    from demo.site import DemoSite
    from service.children import die_with_parent
    die_with_parent()
    site = DemoSite(pages, seed=seed).start()
    conn.send(site.url)
    while True:
        command, *args = conn.recv()
        if command == "stop":
            break
        if command == "state":
            version, n_pages, deleted = args
            site.set_version(version)
            site.add_pages(n_pages - site.n_pages)
            site.faults.gone = site.faults.unlisted = frozenset(deleted)
            conn.send(site.n_pages)
        elif command == "requests":
            conn.send(len(site.requests))
            site.clear_log()
    site.stop()
    conn.send("stopped")


class SiteProcess:
    def __init__(self, pages: int, seed: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.proc = context.Process(target=_site_process, args=(child, pages, seed), name="demo-site", daemon=True)
        self.proc.start()
        self.url = self.conn.recv()

    def ask(self, *command):
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        if self.proc.is_alive():
            self.ask("stop")
        self.proc.join(timeout=10)


# --- simulated nights ---------------------------------------------------------------------------------

class SimulatedDate(date):
    """`date` whose today() is the soak's current night: replaces extract.plan.date (the planner's clock)."""
    night = FIRST_NIGHT

    @classmethod
    def today(cls) -> date:
        return cls.night


@dataclass
class Plan:
    """What the site does over the soak, and what each night should therefore report."""
    pages: int
    seed: int
    new_per_night: int
    gone_per_night: int
    n_pages: list[int] = field(default_factory=list)      # per night: pages published (live or deleted)
    deleted: list[set[int]] = field(default_factory=list)  # per night: every page deleted so far
    expect: list[dict[str, int]] = field(default_factory=list)
    changes: dict[int, int] = field(default_factory=dict)  # page → times changed while listed

    def build(self, nights: int) -> None:
        from demo.site import DemoSite
        clock = DemoSite(0, seed=self.seed)  # unstarted: only its lastmod rule (the generator's, unrendered)
        n, deleted = self.pages, set()
        self.n_pages.append(n)
        self.deleted.append(set())
        self.expect.append({"seen": n, "new": n, "changed": 0, "gone": 0})
        for night in range(1, nights + 1):
            live = [i for i in range(n) if i not in deleted]
            gone = set(random.Random(f"{self.seed}:soak:{night}").sample(live, self.gone_per_night))
            changed = [i for i in live if i not in gone and clock.lastmod(i, night) != clock.lastmod(i, night - 1)]
            for i in changed:
                self.changes[i] = self.changes.get(i, 0) + 1
            deleted |= gone
            n += self.new_per_night
            self.n_pages.append(n)
            self.deleted.append(set(deleted))
            # the pages deleted tonight are off the sitemap but asked for once more (to find them gone): seen
            self.expect.append({"seen": n - len(deleted) + len(gone), "new": self.new_per_night,
                                "changed": len(changed), "gone": len(gone)})


# --- what the process holds -----------------------------------------------------------------------------

def status_field(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def children() -> list[tuple[int, str]]:
    """Live (not zombie) descendants of this process: (pid, short command)."""
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if stat[0] != "Z":
                kids.setdefault(int(stat[1]), []).append(int(entry.name))
    found, todo = [], [os.getpid()]
    while todo:
        for pid in kids.get(todo.pop(), []):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            found.append((pid, _describe(cmd)))
            todo.append(pid)
    return found


def _describe(cmd: list[bytes]) -> str:
    text = " ".join(c.decode(errors="replace") for c in cmd if c)
    for needle, name in (("uvicorn", "Prefect API server (uvicorn)"), ("forkserver", "forkserver (parse pool)"),
                         ("resource_tracker", "multiprocessing resource tracker"),
                         ("spawn_main", "demo site (spawned)"), ("multiprocessing", "parse worker")):
        if needle in text:
            return name
    return text[:60]


def snapshot() -> dict[str, float]:
    return {"rss_mb": status_field("VmRSS") / 1024, "fds": len(os.listdir("/proc/self/fd")),
            "threads": status_field("Threads"), "children": len(children())}


# --- one night ------------------------------------------------------------------------------------------

def make_runner(mode: str, url: str, delay: float):
    """A function db → RunReport: the Prefect flow, or the plain service run."""
    if mode == "flow":
        from flows import pipeline

        def run(db: Path):
            return pipeline.refresh(sources=[url], db=str(db), delay_seconds=delay)
    else:
        from extract.polite import Politeness
        from flows.pipeline import DEFAULT_PARSE_WORKERS
        from service import run as service

        def run(db: Path):
            settings = service.RunSettings(db=str(db), sources=(url,), politeness=Politeness(delay_seconds=delay),
                                           parse_workers=DEFAULT_PARSE_WORKERS)
            return service.refresh(settings)
    return run


def check_night(night: int, report, expect: dict[str, int]) -> dict[str, str]:
    """What is wrong with one night's report, by check (empty: the night is fine)."""
    problems = {}
    c = report.counts.as_dict()
    if report.status not in ("succeeded", "rejects"):
        problems["completed"] = f"status {report.status!r}"
    elif report.status == "rejects":
        print(f"  night {night}: status 'rejects': {report.top_rejects} (failed {c.get('failed')}, "
              f"rejected {c.get('rejected')})")
    total = sum(c.get(k, 0) for k in COUNT_KEYS)
    if c.get("seen") != total:
        problems["add up"] = (f"seen {c.get('seen'):,} ≠ {total:,} = "
                              + " + ".join(f"{k} {c.get(k, 0):,}" for k in COUNT_KEYS))
    wrong = [f"{key} {c.get(key)} (the site: {want})" for key, want in expect.items() if c.get(key) != want]
    if wrong:
        problems["as the site did"] = ", ".join(wrong)
    return problems


def nights_text(nights: list[int]) -> str:
    """[1, 2, 3, 5] → '1–3, 5'."""
    spans: list[list[int]] = []
    for n in nights:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"{a}–{b}" if b > a else f"{a}" for a, b in spans)


def night_checks(rows: list[dict], nights: int, raised: str | None) -> list[tuple[str, bool, str]]:
    """The per-night checks over the whole soak, one line each."""
    out = []
    done = len(rows) == nights + 1 and not raised
    bad = [r for r in rows if "completed" in r["problems"]]
    out.append((f"all {nights + 1} runs completed (status succeeded, or rejects with a reason)", done and not bad,
                raised or "; ".join(f"night {r['night']}: {r['problems']['completed']}" for r in bad)
                or f"{len(rows)} runs, statuses {sorted({r['status'] for r in rows})}"))
    bad = [r for r in rows if "add up" in r["problems"]]
    detail = "every night"
    if bad:
        by_gone = all(r["excess"] == r["gone"] for r in bad)
        detail = (f"the nine counts exceed seen on {len(bad)} of {len(rows)} nights "
                  f"({nights_text([r['night'] for r in bad])})"
                  + (", each time by exactly that night's gone count" if by_gone else "")
                  + f"; first: night {bad[0]['night']}: {bad[0]['problems']['add up']}")
    out.append(("counts add up (seen = new + changed + unchanged + duplicates + rejected + failed + skipped + "
                "not_modified + gone)", not bad, detail))
    bad = [r for r in rows if "as the site did" in r["problems"]]
    out.append(("seen, new, changed and gone are what the site did each night", not bad,
                "; ".join(f"night {r['night']}: {r['problems']['as the site did']}" for r in bad[:5]) or "every night"))
    return out


# --- the fresh build and the comparison -------------------------------------------------------------------

def compare(soaked: Path, fresh: Path, gone_keys: set[str], changes: dict[str, int]) -> list[tuple[str, bool, str]]:
    """(check, passed, detail) for each point of "equal" in the docstring."""
    import duckdb
    con = duckdb.connect(str(soaked), read_only=True)
    con.execute(f"ATTACH '{fresh}' AS f (READ_ONLY)")
    q = lambda sql, *p: con.execute(sql, list(p)).fetchall()  # noqa: E731
    out = []

    def sample(rows) -> str:
        """' (first, second, … )' of rows, or nothing."""
        if not rows:
            return ""
        return " (" + ", ".join(str(r[0] if len(r) == 1 else r) for r in rows[:5]) + (", …)" if len(rows) > 5 else ")")

    only_soak = q("SELECT project_id FROM projects WHERE gone_since IS NULL EXCEPT SELECT project_id FROM f.projects "
                  "ORDER BY 1")
    only_fresh = q("SELECT project_id FROM f.projects EXCEPT SELECT project_id FROM projects WHERE gone_since IS NULL "
                   "ORDER BY 1")
    (live,), (fresh_n,), (fresh_gone,) = (q("SELECT count(*) FROM projects WHERE gone_since IS NULL")[0],
                                          q("SELECT count(*) FROM f.projects")[0],
                                          q("SELECT count(*) FROM f.projects WHERE gone_since IS NOT NULL")[0])
    out.append(("same projects (soaked, not gone) as the fresh build",
                not only_soak and not only_fresh and not fresh_gone,
                f"{live:,} soaked vs {fresh_n:,} fresh; only soaked: {len(only_soak)}{sample(only_soak)}; "
                f"only fresh: {len(only_fresh)}{sample(only_fresh)}; marked gone in the fresh build: {fresh_gone}"))

    marked = {k for (k,) in q("SELECT source_key FROM projects WHERE gone_since IS NOT NULL")}
    in_fresh = q("SELECT source_key FROM f.projects WHERE list_contains(?, source_key)", sorted(gone_keys))
    out.append(("deleted pages marked gone (projects.gone_since)", marked == gone_keys and not in_fresh,
                f"{len(marked)} marked, {len(gone_keys)} deleted by the site; marked but not deleted: "
                f"{sorted(marked - gone_keys)[:5]}; deleted but not marked: {sorted(gone_keys - marked)[:5]}; "
                f"deleted yet in the fresh build: {len(in_fresh)}"))

    amounts = q("""SELECT s.project_id, s.esf_grant_sek, f.esf_grant_sek, s.total_budget_sek, f.total_budget_sek
                   FROM projects s JOIN f.projects f USING (project_id)
                   WHERE s.esf_grant_sek IS DISTINCT FROM f.esf_grant_sek
                      OR s.total_budget_sek IS DISTINCT FROM f.total_budget_sek ORDER BY 1""")
    sums = q("""SELECT sum(s.esf_grant_sek), sum(f.esf_grant_sek), sum(s.total_budget_sek), sum(f.total_budget_sek)
                FROM projects s JOIN f.projects f USING (project_id)""")[0]
    out.append(("same amounts (esf_grant_sek, total_budget_sek)", not amounts,
                f"{len(amounts)} projects differ{sample(amounts)}; sums soaked/fresh: grant {sums[0]:,}/{sums[1]:,}, "
                f"budget {sums[2]:,}/{sums[3]:,} SEK"))

    def columns(table: str, leave: set[str]) -> list[str]:
        return [r[0] for r in q(f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}' "
                                "AND table_catalog = current_database() ORDER BY ordinal_position")
                if r[0] not in leave]

    def differing(table: str, cols: list[str], soak_where: str, fresh_where: str) -> tuple[int, dict[str, int]]:
        per_column = ", ".join(f"count(*) FILTER (WHERE s.{c} IS DISTINCT FROM f.{c}) AS {c}" for c in cols)
        any_col = " OR ".join(f"s.{c} IS DISTINCT FROM f.{c}" for c in cols)
        row = q(f"""SELECT count(*) FILTER (WHERE {any_col}), {per_column}
                    FROM (SELECT * FROM {table} WHERE {soak_where}) s
                    JOIN (SELECT * FROM f.{table} WHERE {fresh_where}) f USING (project_id)""")[0]
        return row[0], {c: n for c, n in zip(cols, row[1:]) if n}

    cols = columns("projects", {"project_id", "first_seen", "last_seen", "run_id", "gone_since"})
    n, per = differing("projects", cols, "true", "true")
    out.append((f"same project rows ({len(cols)} columns, record_hash included)", n == 0,
                f"{n} rows differ; by column: {per or 'none'}"))

    not_one = q("""SELECT p.project_id, count(v.project_id) FROM projects p
                   LEFT JOIN project_versions v ON v.project_id = p.project_id AND v.valid_to IS NULL
                   GROUP BY 1 HAVING count(v.project_id) <> 1 ORDER BY 1""")
    vcols = columns("project_versions", {"project_id", "version", "valid_from", "valid_to", "run_id"})
    n, per = differing("project_versions", vcols, "valid_to IS NULL", "valid_to IS NULL")
    out.append((f"same current versions (valid_to IS NULL; {len(vcols)} columns, record_hash included)",
                n == 0 and not not_one,
                f"{n} differ; by column: {per or 'none'}; projects without exactly one current version: "
                f"{len(not_one)}{sample(not_one)}"))

    child_problems = []
    for table in ("project_organisations", "project_municipalities", "project_sections"):
        ccols = ", ".join(columns(table, {"run_id"}))
        shared = "project_id IN (SELECT project_id FROM f.projects)"
        a = q(f"SELECT count(*) FROM (SELECT {ccols} FROM {table} WHERE {shared} "
              f"EXCEPT ALL SELECT {ccols} FROM f.{table})")[0][0]
        b = q(f"SELECT count(*) FROM (SELECT {ccols} FROM f.{table} "
              f"EXCEPT ALL SELECT {ccols} FROM {table} WHERE {shared})")[0][0]
        if a or b:
            child_problems.append(f"{table}: {a} rows only soaked, {b} only fresh")
            if table == "project_organisations":
                diff = q(f"""SELECT s.project_id, s.name, s.organisation AS soaked, f.organisation AS fresh
                             FROM {table} s JOIN f.{table} f USING (project_id, role, name)
                             WHERE s.organisation IS DISTINCT FROM f.organisation ORDER BY 1 LIMIT 3""")
                child_problems.append(f"e.g. {diff}")
    out.append(("same child rows (organisations, municipalities, sections)", not child_problems,
                "; ".join(child_problems) or "identical"))

    versions = dict(q("SELECT p.source_key, count(*) FROM project_versions v JOIN projects p USING (project_id) "
                      "GROUP BY 1"))
    wrong = sorted((k, v, 1 + changes.get(k, 0)) for k, v in versions.items() if v != 1 + changes.get(k, 0))
    fresh_hist = q("SELECT count(*) FROM (SELECT project_id FROM f.project_versions "
                   "GROUP BY 1 HAVING count(*) <> 1)")[0][0]
    histogram = q("SELECT n, count(*) FROM (SELECT count(*) AS n FROM project_versions GROUP BY project_id) "
                  "GROUP BY 1 ORDER BY 1")
    out.append(("history: one version per change the site made", not wrong and not fresh_hist,
                f"versions per project {dict(histogram)}; {len(wrong)} projects off{sample(wrong)} "
                f"(source_key, versions, expected); fresh projects with ≠ 1 version: {fresh_hist}"))
    con.close()
    return out


# --- the soak -------------------------------------------------------------------------------------------

def soak_nights(run, db: Path, site: SiteProcess, plan: Plan, nights: int) -> tuple[list[dict], str | None]:
    """Night 0 (the full build) and `nights` nights; → (a row per night, how the soak ended early or None)."""
    rows: list[dict] = []
    for night in range(nights + 1):
        SimulatedDate.night = FIRST_NIGHT + timedelta(days=night)
        site.ask("state", night, plan.n_pages[night], sorted(plan.deleted[night]))
        site.ask("requests")  # the request log starts empty each night
        t0 = time.perf_counter()
        try:
            report = run(db)
        except Exception as exc:  # a run that raises ends the soak: say which night and why
            return rows, f"night {night}: the run raised {type(exc).__name__}: {exc}"
        row = {"night": night, "day": SimulatedDate.night, "wall": time.perf_counter() - t0,
               "run": report.durations.get("total", 0.0), "status": report.status,
               **{k: getattr(report.counts, k) for k in ("seen", *COUNT_KEYS)},
               "requests": site.ask("requests"), "db_mb": db.stat().st_size / 2**20, **snapshot()}
        row["excess"] = sum(row[k] for k in COUNT_KEYS) - row["seen"]
        row["problems"] = check_night(night, report, plan.expect[night])
        rows.append(row)
        print(f"night {night:2d} {row['day']} {row['wall']:5.1f} s (run {row['run']:4.1f} s) {row['status']} "
              f"seen {row['seen']:,} new {row['new']:,} changed {row['changed']} skipped {row['skipped']:,} "
              f"304 {row['not_modified']} gone {row['gone']}  RSS {row['rss_mb']:.1f} MB fds {row['fds']} "
              f"threads {row['threads']} children {row['children']}"
              + "".join(f"  [{p}]" for p in row["problems"].values()), flush=True)
    return rows, None


def print_table(rows: list[dict]) -> None:
    head = ("night", "wall s", "run s", "status", "seen", "new", "changed", "unchanged", "skipped", "304", "gone",
            "Σ − seen", "requests", "RSS MB", "open fds", "threads", "children", "warehouse MB")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        cells = (f"{r['night']}{' (full build)' if r['night'] == 0 else ''}", f"{r['wall']:.1f}", f"{r['run']:.1f}",
                 r["status"], *(f"{r[k]:,}" for k in ("seen", "new", "changed", "unchanged", "skipped",
                                                      "not_modified", "gone", "excess", "requests")),
                 f"{r['rss_mb']:.1f}", str(r["fds"]), str(r["threads"]), str(r["children"]), f"{r['db_mb']:.1f}")
        print("| " + " | ".join(cells) + " |")
    nightly = [r["wall"] for r in rows[1:]]
    if len(nightly) >= 10:
        print(f"\nWall time per night: median {_median(nightly[:5]):.1f} s over nights 1–5, "
              f"{_median(nightly[-5:]):.1f} s over the last 5; the full build {rows[0]['wall']:.1f} s.")


def resource_checks(rows: list[dict], nights: int) -> list[tuple[str, bool, str]]:
    base, last = rows[BASELINE_NIGHT], rows[nights]
    out = []
    for key, label, unit in (("rss_mb", "RSS", " MB"), ("fds", "open file descriptors", ""),
                             ("threads", "threads", ""), ("children", "child processes", "")):
        ok = abs(last[key] - base[key]) <= TOLERANCE * base[key]
        out.append((f"{label} night {nights} within 10 % of night {BASELINE_NIGHT}", ok,
                    f"{base[key]:.1f}{unit} → {last[key]:.1f}{unit} ({_change(base[key], last[key])})" if unit else
                    f"{base[key]} → {last[key]} ({_change(base[key], last[key])})"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=1000, help="pages of the site at night 0 (default 1000)")
    ap.add_argument("--nights", type=int, default=30)
    ap.add_argument("--mode", choices=("flow", "service"), default="flow",
                    help="flow: the Prefect flow flows.pipeline.refresh (default); service: service.run.refresh")
    ap.add_argument("--source", choices=("sitemap", "listing"), default="sitemap",
                    help="crawl from /sitemap.xml (default, as the nightly schedule in the README) or the listing")
    ap.add_argument("--new-per-night", type=int, default=5)
    ap.add_argument("--gone-per-night", type=int, default=2)
    ap.add_argument("--delay", type=float, default=0.0, help="politeness delay between requests, seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the work directory (warehouses, Prefect's state)")
    a = ap.parse_args()
    if a.nights < BASELINE_NIGHT:
        ap.error(f"--nights must be at least {BASELINE_NIGHT} (night {BASELINE_NIGHT} is the baseline)")
    started = time.perf_counter()
    print(f"`python bench/soak.py {' '.join(sys.argv[1:])}`".replace(" `", "`") + f"\n\nMachine: {machine()}\n")
    plan = Plan(a.pages, a.seed, a.new_per_night, a.gone_per_night)
    plan.build(a.nights)
    work = Path(tempfile.mkdtemp(prefix="esf-soak-"))
    site = SiteProcess(a.pages, a.seed)
    import extract.plan
    real_date, extract.plan.date = extract.plan.date, SimulatedDate  # the planner's today: the simulated night
    try:
        with ExitStack() as stack:
            db, fresh = work / "soak" / "esf.duckdb", work / "fresh" / "esf.duckdb"
            db.parent.mkdir()
            fresh.parent.mkdir()
            if a.mode == "flow":
                from cli.console import setup_output
                from flows.server import prefect_api
                setup_output(quiet=True)  # esf's warnings only; Prefect's per-task lines off the terminal
                stack.enter_context(prefect_api(db))  # our own Prefect API server, as `esf run` starts it
            start = site.url + ("/sitemap.xml" if a.source == "sitemap" else "/resultat/projektbanken/")
            run = make_runner(a.mode, start, a.delay)
            print(f"{a.pages:,} pages at night 0; {a.nights} nights, each: site version +1 (≈ 1 % of pages "
                  f"changed), +{a.new_per_night} pages, −{a.gone_per_night} pages; source "
                  f"{start.removeprefix(site.url)}; mode {a.mode}; politeness delay {a.delay:g} s\n", flush=True)
            rows, raised = soak_nights(run, db, site, plan, a.nights)
            soak_seconds = time.perf_counter() - started
            print("\nChild processes after the last night: "
                  + ", ".join(f"{name} [{pid}]" for pid, name in children()) + "\n", flush=True)
            print_table(rows)
            print()
            checks = night_checks(rows, a.nights, raised)
            if not raised:
                checks += resource_checks(rows, a.nights)
                t0 = time.perf_counter()
                report = run(fresh)
                print(f"Fresh full build of the final site into a new database: {time.perf_counter() - t0:.1f} s, "
                      f"{report.status}, {report.counts.new:,} projects\n")
                from demo.generator import page
                from extract.discover import normalize_url
                key = {i: normalize_url(site.url + page(i, a.seed).path) for i in range(plan.n_pages[-1])}
                checks += compare(db, fresh, {key[i] for i in plan.deleted[a.nights]},
                                  {key[i]: n for i, n in plan.changes.items()})
            for name, ok, detail in checks:
                print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
            print(f"\nSoak ({a.nights + 1} runs) {soak_seconds / 60:.1f} min; with the fresh build and the "
                  f"comparison {(time.perf_counter() - started) / 60:.1f} min.")
            return 0 if all(ok for _, ok, _ in checks) else 1
    finally:
        extract.plan.date = real_date
        site.stop()
        if a.keep:
            print(f"(work directory kept: {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _median(values: list[float]) -> float:
    s = sorted(values)
    return (s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2


def _change(before: float, after: float) -> str:
    return f"{(after - before) / before:+.1%}" if before else "n/a"


if __name__ == "__main__":
    sys.exit(main())
