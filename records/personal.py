"""Personal data, defined once: the columns marked `personal=True` where they are declared (records/project.py), and
how a text that may quote them is withheld under `--without-contacts`.

Every place personal data could travel reads this module: the published file and exports (load/redact.py builds
the SQL from it), the run report and its Prefect artifact (service/privacy.py), the data dictionary's example rows.
Three rules, in this order:
1. a column marked personal is emptied (NULL), wherever a table or view has a column of that name;
2. a problem about a personal field (its `field` names one: `contact_email`, `projects.contact_email`, a list of
   fields with one among them) keeps its row but not its text: `reason` becomes WITHHELD_PROBLEM, `value` NULL;
3. any other problem text (`reason`, `value`, and `field` where it is an unknown label as written) has the
   personal values of its own page and project replaced by WITHHELD (the values as the page wrote them, where a
   problem kept them, and as they were read), and anything shaped like an e-mail address or a Swedish phone number
   too (a contact written under a label nobody knows).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from records.project import PERSONAL

PERSONAL_COLUMNS: tuple[str, ...] = PERSONAL
WITHHELD = "[personal data withheld]"
WITHHELD_PROBLEM = "a problem with personal data (text withheld: --without-contacts)"
MIN_QUOTED = 3  # a personal value shorter than this is not looked for inside other texts (it would match words)
# Columns of a problem table whose text may quote a value from the page.
PROBLEM_TEXT_COLUMNS: tuple[str, ...] = ("reason", "value")

# The shapes, in syntax both Python's `re` and DuckDB's RE2 read alike (no look-around, no \w: RE2's is ASCII).
_ATOM = r"[^\s'\"<>(),;:\[\]{}]+"
EMAIL_LIKE = (rf"{_ATOM}\s*(@|[(\[{{]\s*(at|snabel-a|snabela)\s*[)\]}}])\s*{_ATOM}"
              rf"(\s*(\.|[(\[{{]\s*(dot|punkt)\s*[)\]}}])\s*{_ATOM})*")
# A phone number begins a word, not after a digit, '-', '.' or '/' (the group before it is put back): so a date
# range (2019-01-01 - 2020-12-31) or a case number is never taken for one.
PHONE_LIKE = r"(^|[^0-9./-])(\+\s?46|0[1-9])[0-9]{0,3}\s?[-/]?\s?[0-9]{2,3}([\s-]?[0-9]{2,3}){1,3}\b"
_EMAIL = re.compile(f"(?i){EMAIL_LIKE}")
_PHONE = re.compile(PHONE_LIKE)
_FIELD = re.compile(r"(^|[.,\s])(" + "|".join(map(re.escape, PERSONAL_COLUMNS)) + r")($|[,\s])")


def personal_field_pattern() -> str:
    """The pattern `is_personal_field` matches with (load/redact.py tests the same in SQL)."""
    return _FIELD.pattern


def is_personal_field(field: object) -> bool:
    """Whether a problem's field names a personal column ('contact_email', 'projects.contact_email',
    'projects.contact_email,projects.contact_phone')."""
    return isinstance(field, str) and _FIELD.search(field) is not None


def quotable(values: Iterable[object]) -> list[str]:
    """The values worth looking for inside other texts: text of MIN_QUOTED characters or more, longest first
    (a whole address is replaced before the name inside it)."""
    found = {str(v).strip() for v in values if v is not None}
    return sorted((v for v in found if len(v) >= MIN_QUOTED), key=lambda v: (-len(v), v))


def redact_text(text: str | None, values: Iterable[object] = ()) -> str | None:
    """`text` with each of the personal `values` and every e-mail- or phone-shaped run replaced by WITHHELD."""
    if text is None:
        return None
    for value in quotable(values):
        text = text.replace(value, WITHHELD)
    return _PHONE.sub(lambda m: m.group(1) + WITHHELD, _EMAIL.sub(WITHHELD, text))


def redact_problem(field: str | None, reason: str, value: str | None,
                   values: Iterable[object] = ()) -> tuple[str, str | None]:
    """A problem's (reason, value) as it may leave the run without personal data."""
    if is_personal_field(field):
        return WITHHELD_PROBLEM, None
    values = list(values)
    return redact_text(reason, values) or "", redact_text(value, values)

