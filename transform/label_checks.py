"""What a page's labels say about how it was written, beyond the values they give: labels in the other language
than the page's, fields in another order than the template's usual one. Each is a warning; no value changes."""
from __future__ import annotations

from records.project import Problem
from transform import reference
from transform.parser import PageFields
from transform.reference import fold

LANGUAGE_NAMES = {"sv": "Swedish", "en": "English"}
MAX_ORDER_VALUE = 160  # the order seen, as field keys, shortened to this many characters


def label_problems(fields: PageFields, template: str, field_of: dict[str, str]) -> list[Problem]:
    """Warnings about the labels of a parsed page (field_of: label key → the column it fills, where they differ)."""
    return _parse_language(fields, field_of) + _parse_order(fields, template)


def page_language(fields: PageFields) -> str:
    """The page's language, from its headings and site chrome ('Sammanfattning', 'In English'): Swedish unless most
    of them are English. Labels do not vote: an English label on a Swedish page is what this is to find."""
    language = reference.labels().language
    votes = [language.get(fold(line), frozenset()) for line in fields.chrome]
    english = sum(1 for v in votes if v == {"en"})
    swedish = sum(1 for v in votes if v == {"sv"})
    return "en" if english > swedish else "sv"


def _parse_language(fields: PageFields, field_of: dict[str, str]) -> list[Problem]:
    """A label written in the other language than the page's (`Name:` on a Swedish page): the value is read, and a
    warning names the field and the label as written."""
    language, page = reference.labels().language, page_language(fields)
    problems = []
    for key, written in fields.labels:
        spoken = language.get(fold(written), frozenset())
        if spoken and page not in spoken:
            other = "/".join(LANGUAGE_NAMES[s] for s in sorted(spoken))
            problems.append(Problem(field_of.get(key, key), f"{other} label on a {LANGUAGE_NAMES[page]} page",
                                    written, "warning", kind=f"{other.lower()}_label"))
    return problems


def in_usual_order(keys: list[str], order: tuple[str, ...]) -> bool:
    """Whether the keys the usual order knows come in that order (a key it does not know, or a field left out,
    is no change of order)."""
    position = {key: i for i, key in enumerate(order)}
    seen = [position[k] for k in keys if k in position]
    return seen == sorted(seen)


def _parse_order(fields: PageFields, template: str) -> list[Problem]:
    """Fields in another order than the template's usual one (`data/reference/field_order.csv`; the order of the
    programme period that knows most of the page's fields): one warning per page, its value the order seen."""
    keys = list(dict.fromkeys(key for key, _ in fields.labels))
    orders = reference.field_orders().get(template, ())
    if not orders:
        return []
    best = max(len(set(keys) & set(order)) for order in orders)
    if any(in_usual_order(keys, order) for order in orders if len(set(keys) & set(order)) == best):
        return []
    seen = ", ".join(keys)
    if len(seen) > MAX_ORDER_VALUE:
        seen = seen[:MAX_ORDER_VALUE - 1].rsplit(", ", 1)[0] + ", …"
    return [Problem(None, f"fields in another order than template {template}'s usual one", seen, "warning",
                    kind="fields_reordered")]
