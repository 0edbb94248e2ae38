"""One label-driven parser for every template: block lines → labelled raw values, title, sections, lists.

The page's layout is decided once, from how its labels are written:
  glued  — 'ProjektägareArbetslivsförvaltningen' (template A)
  paired — 'Projektägare' on one line, the value on the next (template B)
  colon  — 'Projektägare:' on one line, the value (possibly none) on the next (template C)
Deciding once means a value that starts with a label word ('Region Blekinge') stays a value.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from transform.lines import BULLET
from transform.normalize import MISSING
from transform.reference import Labels, fold, labels

GLUED, PAIRED, COLON = "glued", "paired", "colon"
_HEADING = re.compile(r"^(?P<case>\d{4}/\d{5}|\d{2}-\d{3}-[A-Z]\d{2})\s+[-–]\s+(?P<title>.+)$")
MAX_LAST_VALUE = 300  # no field value is this long; the description's first paragraph often is
MAX_UNKNOWN_VALUE = 60  # longer, and the line after an unknown 'Label:' is text, not a value
MAX_UNKNOWN_WORDS = 5  # 'Total Kostnader', 'Antal deltagande företag': a label never seen before is a few words
_UNKNOWN_COLON_LABEL = re.compile(r"^[^\W\d][^:.!?]{0,60}:$")
_UNKNOWN_LABEL = re.compile(r"^[^\W\d][^:.!?]{0,60}$")  # paired (B): the same, without the colon


@dataclass
class PageFields:
    layout: str | None
    values: dict[str, str | None] = field(default_factory=dict)  # field → raw value (None: empty)
    title: str | None = None
    heading_case_number: str | None = None
    sections: list[tuple[str, str | None, str]] = field(default_factory=list)  # key, heading, text
    lists: dict[str, list[str]] = field(default_factory=dict)
    unknown_labels: list[tuple[str, str]] = field(default_factory=list)  # label, its line(s) as written
    labels: list[tuple[str, str]] = field(default_factory=list)  # field key, label as written: in page order
    chrome: list[str] = field(default_factory=list)  # headings and site chrome lines of the vocabulary
    repeated: list[tuple[str, str | None]] = field(default_factory=list)  # a field given twice


def _glued_match(line: str, vocab: Labels) -> tuple[str, str] | None:
    m = vocab.glued.match(line)  # the alternation is ordered longest label first
    if not m or m.end() == len(line):
        return None
    label, value = m.group(0), line[m.end():]
    key = vocab.fields[fold(label)]
    first = value[0]
    if value.strip().casefold() in MISSING:  # 'Projektägaresaknas'
        return key, value.strip()
    # a lower-case letter or a space continues a word ('Regionala', 'Region Blekinge'); anything else is a value
    if first.isupper() or first.isdigit() or not (first.isalnum() or first.isspace()) \
            or (key == "contact_email" and "@" in value):
        return key, value.strip()
    return None


def _label_at(line: str, layout: str, vocab: Labels) -> str | None:
    if layout != GLUED and len(line) > vocab.longest:
        return None
    if layout == COLON:
        return vocab.fields.get(fold(line[:-1])) if line.endswith(":") else None
    if layout == PAIRED:
        return vocab.fields.get(fold(line))
    match = _glued_match(line, vocab)
    return match[0] if match else None


def _is_heading(line: str, vocab: Labels) -> bool:
    if len(line) > vocab.longest:
        return False
    key = fold(line)
    return key in vocab.sections or key in vocab.lists


def detect_layout(lines: list[str], vocab: Labels) -> str | None:
    """The layout under which the most distinct field labels are found (two at least)."""
    best, best_count = None, 1
    for layout in (COLON, PAIRED, GLUED):
        found = {k for k in (_label_at(line, layout, vocab) for line in lines) if k}
        if len(found) > best_count:
            best, best_count = layout, len(found)
    return best


def parse_lines(lines: list[str], headings: list[str] | None = None) -> PageFields:
    vocab = labels()
    layout = detect_layout(lines, vocab)
    page = PageFields(layout=layout)
    if layout is None:
        return page
    label_rows = [i for i, line in enumerate(lines) if _label_at(line, layout, vocab)]
    start = label_rows[0]
    end = next((i for i in range(start + 1, len(lines)) if _is_heading(lines[i], vocab)), len(lines))
    last = max(i for i in label_rows if i < end)
    if layout != GLUED and last + 1 < end and not _label_at(lines[last + 1], layout, vocab) \
            and not (layout == COLON and len(lines[last + 1]) > MAX_LAST_VALUE):
        last += 1  # the last label's value (a C page's last label may be empty: a paragraph after it is text)
    last = _unknown_fields_after(lines, last, end, layout, vocab)
    _read_fields(lines[start:last + 1], layout, vocab, page)
    _read_title(lines[:start], headings or [], vocab, page)
    _read_body(lines[last + 1:], vocab, page)
    page.chrome = [line for line in lines if len(line) <= vocab.longest and fold(line) in vocab.language
                   and fold(line) not in vocab.fields]
    return page


def _unknown_fields_after(lines: list[str], last: int, end: int, layout: str, vocab: Labels) -> int:
    """The field block's last line, past any field with a label never seen before ('Total Kostnader') that follows
    the last known label: such a field is read as one (and warned about), not as the description's first line."""
    i = last + 1
    while i < end:
        if len(lines[i]) <= vocab.longest and fold(lines[i]) in vocab.noise:
            i += 1  # 'In English' after a template A page's last field
        elif layout == GLUED and split_glued(lines[i]):
            last, i = i, i + 1
        elif layout != GLUED and i + 1 < end and _unknown_field_at(lines, i, layout):
            last, i = i + 1, i + 2
        else:
            break
    return last


def _unknown_field_at(lines: list[str], i: int, layout: str) -> bool:
    """A label never seen before ('Total Kostnader:', or 'Total Kostnader' on a paired page) followed by a short
    value line."""
    label, value = lines[i], lines[i + 1]
    pattern = _UNKNOWN_COLON_LABEL if layout == COLON else _UNKNOWN_LABEL
    return bool(pattern.match(label)) and len(label.split()) <= MAX_UNKNOWN_WORDS \
        and len(value) <= MAX_UNKNOWN_VALUE and not value.endswith((":", "."))


def split_glued(line: str) -> tuple[str, str] | None:
    """'Total Kostnader1 234 567' → ('Total Kostnader', '1 234 567'): a label never seen before, glued to its value
    as template A glues every label (a lower-case letter followed by a capital or a digit is the seam)."""
    if len(line) > MAX_UNKNOWN_VALUE * 2 or not line[:1].isupper():
        return None
    for i in range(1, min(len(line), MAX_UNKNOWN_VALUE + 1)):
        before, at = line[i - 1], line[i]
        if not (before.isalpha() or before in " -"):
            return None
        if before.islower() and (at.isupper() or at.isdigit()):
            label, value = line[:i], line[i:]
            if len(label.split()) <= MAX_UNKNOWN_WORDS and len(value) <= MAX_UNKNOWN_VALUE \
                    and not value.endswith((":", ".")):
                return label, value
            return None
    return None


def _read_fields(block: list[str], layout: str, vocab: Labels, page: PageFields) -> None:
    def store(key: str, value: str | None) -> None:
        if key in page.values and page.values[key] is not None:
            page.repeated.append((key, value))
        else:
            page.values[key] = value or None

    def label_like(line: str) -> bool:
        return bool(_label_at(line, layout, vocab)) or (layout == COLON and bool(_UNKNOWN_COLON_LABEL.match(line)))

    i = 0
    while i < len(block):
        line = block[i]
        if layout == GLUED:
            match = _glued_match(line, vocab)
            if match:
                written = vocab.glued.match(line)
                page.labels.append((match[0], written.group(0) if written else line))
                store(*match)
            elif fold(line) not in vocab.noise:
                page.unknown_labels.append(((split_glued(line) or (line,))[0], line))
            i += 1
            continue
        key = _label_at(line, layout, vocab)
        has_value = i + 1 < len(block) and not label_like(block[i + 1])
        if key:
            page.labels.append((key, line.removesuffix(":") if layout == COLON else line))
            store(key, block[i + 1] if has_value else None)
        elif fold(line) not in vocab.noise:
            # an unknown 'Label:' (C) or a label-like line before a value (B) takes its value line with it
            pair = has_value and (layout == COLON or _unknown_field_at(block, i, layout))
            page.unknown_labels.append((line.rstrip(":"), "\n".join(block[i:i + 2] if pair else [line])))
            i += 2 if pair else 1
            continue
        i += 2 if has_value and key else 1


def _read_title(before: list[str], headings: list[str], vocab: Labels, page: PageFields) -> None:
    candidates = [line for line in before if fold(line) not in vocab.noise and not line.startswith(BULLET)]
    for line in reversed(candidates):
        if m := _HEADING.match(line):
            page.heading_case_number, page.title = m.group("case"), m.group("title").strip()
            return
    heading_set = set(headings)
    titled = [line for line in candidates if line in heading_set]
    if titled:
        page.title = titled[-1]
    elif candidates:
        page.title = candidates[-1]


def _read_body(rest: list[str], vocab: Labels, page: PageFields) -> None:
    kind, key, heading = "section", "description", None
    buffer: list[str] = []
    listed: dict[str, set[str]] = {}  # the items of each list, for a constant-time duplicate test

    def close() -> None:
        if kind == "section":
            text = "\n".join(buffer).strip()
            if text:
                page.sections.append((key, heading, text))
        buffer.clear()

    for line in rest:
        folded = fold(line) if len(line) <= vocab.longest else ""
        if folded in vocab.noise:
            continue
        if folded in vocab.sections or folded in vocab.lists:
            close()
            if folded in vocab.sections:
                kind, key, heading = "section", vocab.sections[folded], line
            else:
                kind, key, heading = "list", vocab.lists[folded], line
                page.lists.setdefault(key, [])
                listed.setdefault(key, set())
            continue
        if kind == "section":
            if not buffer and heading is not None and folded == fold(heading):
                continue  # 'Syfte' repeated as the first line of its own section
            buffer.append(line)
        elif line.startswith(BULLET) or not page.lists[key]:
            item = line.removeprefix(BULLET).strip()
            if item and item not in listed[key]:
                listed[key].add(item)
                page.lists[key].append(item)
        else:  # text after a bulleted list is not part of it
            kind, key, heading = "section", "other", None
            buffer.append(line)
    close()
