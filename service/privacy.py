"""The run report without personal data (`--without-contacts`): what the CLI prints and the Prefect artifact shows
are made from the report, so withholding here covers both. The rules are records/personal.py's."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from records.personal import PERSONAL_COLUMNS, is_personal_field, quotable, redact_problem, redact_text
from transform import ParsedPage


def personal_values(pages: list[ParsedPage]) -> dict[str, list[str]]:
    """Per page (source_key): the personal values it holds, as read and, for a problem about a personal field,
    as the page wrote them."""
    found: dict[str, list[str]] = {}
    for page in pages:
        values = [page.project.get(c) for c in PERSONAL_COLUMNS] if page.project else []
        values += [p.value for p in page.problems if is_personal_field(p.field)]
        found[page.source_key] = quotable(values)
    return found


def redact_report(report: Any, values: dict[str, list[str]]) -> None:
    """The run report's texts from pages (top reject reasons, the quality section, notes) without personal data:
    any value of any page of the run, and anything shaped like an address or a phone number, is withheld."""
    every = quotable(v for page_values in values.values() for v in page_values)

    def text(value: Any) -> Any:
        return redact_text(value, every) if isinstance(value, str) else value

    report.top_rejects = [(text(reason), n) for reason, n in report.top_rejects]
    report.notes = [text(note) for note in report.notes]
    quality = report.quality
    if quality is not None:
        report.quality = replace(
            quality,
            top_warnings=[(text(field), redact_problem(field, reason, None, every)[0], n)
                          for field, reason, n in quality.top_warnings],
            new_labels=[(text(label), text(page)) for label, page in quality.new_labels],
            rejects=[(text(reason), n) for reason, n in quality.rejects])
