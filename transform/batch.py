"""Whole-run rules over many parsed pages (still pure: records in, records out)."""
from __future__ import annotations

from records.problems import ProblemRow
from records.project import ParsedPage, Problem

TEMPLATE_RANK = {"C": 3, "B": 2, "A": 1}  # the newer site's page carries the later figures


def resolve_duplicates(pages: list[ParsedPage]) -> tuple[list[ParsedPage], list[ParsedPage]]:
    """Keep one page per project_id: newest template first, then the page read last (in a crawl the
    latest fetch; in a re-parse the latest stored, so an old address's bytes never beat the new one's).

    Returns (kept, superseded); each superseded page gets a warning naming the page that won.
    """
    best: dict[str, ParsedPage] = {}
    superseded: list[ParsedPage] = []
    for page in pages:
        if not page.ok:
            continue
        pid = page.project_id
        if pid is None:
            continue
        other = best.get(pid)
        if other is None:
            best[pid] = page
            continue
        winner, loser = (page, other) if _rank(page) >= _rank(other) else (other, page)
        best[pid] = winner
        loser.problems.append(Problem("project_id", f"same project as {winner.source_key}, which is kept "
                                                    f"(newer template or read later)", pid, "warning", "dedupe"))
        superseded.append(loser)
    kept_ids = {id(p) for p in best.values()}
    return [p for p in pages if id(p) in kept_ids], superseded


def _rank(page: ParsedPage) -> int:
    return TEMPLATE_RANK.get(page.template or "", 0)


def problem_rows(page: ParsedPage) -> list[ProblemRow]:
    """A page's problems as rows for the `rejects` (errors) and `warnings` tables."""
    return [ProblemRow.of_page_problem(page.source_key, page.project_id, p) for p in page.problems]
