"""Variants generated from every sample page (the bundled synthetic ones, and the real ones in ../shared/samples
where present): each secondary field dropped in turn, given an odd value, fields reordered, an unknown label
inserted, labels in English. The project always loads with identity, ESF grant, total budget, dates and region
unchanged, and every value that changed is named by a warning."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import REAL_SAMPLES, SAMPLES  # noqa: E402

from schemas.validate import validate  # noqa: E402
from transform import parse_page  # noqa: E402
from transform.lines import page_text  # noqa: E402
from transform.parser import GLUED, _label_at, detect_layout  # noqa: E402
from transform.record import FIELD_OF, problem_columns  # noqa: E402
from transform.reference import labels  # noqa: E402

CORE = ("project_id", "title", "case_number", "esf_grant_sek", "total_budget_sek", "start_date", "end_date",
        "region", "region_code")
NOT_SECONDARY = {"name", "case_number", "esf_grant", "total_budget", "period", "start_date", "end_date", "region"}
# An odd value per field that is read (not free text): each must become NULL with a warning naming the field.
ODD = "###"
FREE_TEXT = {"owner", "contact_name", "call_number", "phase", "owner_org_number", "country", "fund",
             "programme_cci", "secondary_theme_child_poverty", "beneficiary_postcode", "beneficiary_city",
             "beneficiary_address", "intervention_type", "strategic_importance"}
UNKNOWN = "Total Kostnader"
# Fields whose column another written field can still fill: the area from the objective (and the objective from a
# B page's area line), the region code from the region.
ALSO_DERIVED = {"programme_area", "specific_objective", "nuts_code"}


def sample_paths() -> list[Path]:
    paths = [p for p in sorted(SAMPLES.iterdir()) if p.suffix in (".txt", ".html")]
    if REAL_SAMPLES.is_dir():
        paths += [p for p in sorted(REAL_SAMPLES.iterdir()) if p.suffix == ".txt"]
    return paths


PATHS = sample_paths()


class Page:
    """A sample as text lines, with its field entries: (first line, number of lines, field key)."""

    def __init__(self, path: Path):
        text = page_text(path.read_bytes())
        self.name, self.lines, vocab = path.name, text.lines, labels()
        self.layout = detect_layout(self.lines, vocab)
        self.original = self.parse(self.lines)
        self.entries = []
        i = 0
        while i < len(self.lines):
            key = _label_at(self.lines[i], self.layout, vocab)
            if key and self.layout != GLUED:
                has_value = i + 1 < len(self.lines) and not _label_at(self.lines[i + 1], self.layout, vocab)
                self.entries.append((i, 2 if has_value else 1, key))
                i += 2 if has_value else 1
                continue
            if key:
                self.entries.append((i, 1, key))
            i += 1

    def parse(self, lines: list[str]):
        # rendered to a text dump; the canonical link of an HTML page goes with it as the URL
        page = parse_page("\n".join(lines).encode(), f"variant/{self.name}")
        if page.project:
            page.project["source_url"] = None
        return page

    def core(self, page) -> dict:
        return {k: page.project[k] for k in CORE}

    def secondary(self) -> list[tuple[int, int, str]]:
        keyed_by_owner = self.original.project["project_id"].startswith("k-")  # see test_key_rests_on_owner
        return [e for e in self.entries if e[2] not in NOT_SECONDARY and not (keyed_by_owner and e[2] == "owner")]

    def label_line(self, key: str, label: str, value: str | None) -> list[str]:
        if self.layout == GLUED:
            return [label + (value or "")]
        head = label + (":" if self.layout == "colon" else "")
        return [head] + ([value] if value is not None else [])

    def value_of(self, entry: tuple[int, int, str]) -> str | None:
        start, n, key = entry
        if self.layout == GLUED:
            return labels().glued.sub("", self.lines[start], count=1)
        return self.lines[start + 1] if n == 2 else None

    def label_of(self, entry: tuple[int, int, str]) -> str:
        start, _, _ = entry
        if self.layout == GLUED:
            return labels().glued.match(self.lines[start]).group(0)
        return self.lines[start].rstrip(":")

    def replaced(self, entry: tuple[int, int, str], new: list[str]) -> list[str]:
        start, n, _ = entry
        return self.lines[:start] + new + self.lines[start + n:]


PAGES = {p.name: Page(p) for p in PATHS}
IDS = list(PAGES)


def _column(key: str) -> str:
    return FIELD_OF.get(key, key)


def warned_columns(page) -> set[str]:
    return {c for p in page.problems if p.severity == "warning" for c in problem_columns(p)} | \
           {p.field for p in page.problems if p.severity == "warning" and p.field}


def assert_loads_unchanged(sample: Page, variant) -> None:
    assert variant.ok, variant.problems
    assert sample.core(variant) == sample.core(sample.original)


def assert_all_validate(variants: list) -> None:
    """Validation rejects none of the variants (validated together, each under a key of its own)."""
    for i, variant in enumerate(variants):
        variant.project = {**variant.project, "project_id": f"{variant.project['project_id']}#{i}"}
    result = validate(variants)
    assert result.rejects == [] and len(result.projects) == len(variants)


def changed_columns(before: dict, after: dict) -> set[str]:
    return {k for k in before if before[k] != after[k] and k not in ("missing_fields", "sha256")}


def test_samples_found():
    assert len(PAGES) >= 13 and all(p.original.ok for p in PAGES.values())
    assert all(len(p.entries) >= 6 for p in PAGES.values())


def test_real_samples_are_part_of_the_variants(real_samples):
    assert {p.name for p in real_samples.glob("*.txt")} <= set(PAGES)


@pytest.mark.parametrize("name", IDS)
def test_each_secondary_field_dropped(name):
    sample, variants = PAGES[name], []
    for entry in sample.secondary():
        variant = sample.parse(sample.replaced(entry, []))
        assert_loads_unchanged(sample, variant)
        variants.append(variant)
        changed = changed_columns(sample.original.project, variant.project)
        # a value that went away is NULL now; where the template nearly always writes it, a warning says so
        expected_missing = {p.field for p in variant.problems if p.kind == "missing"}
        derived = {"owner_org", "programme_area_name", "programme_area_source", "programme_period_source",
                   "region_source", "specific_objective" if entry[2] == "programme_area" else None}
        assert changed <= {_column(entry[2])} | derived | expected_missing, (entry, changed)
        assert variant.project.get(_column(entry[2])) is None or entry[2] in ALSO_DERIVED, entry
    assert_all_validate(variants)


@pytest.mark.parametrize("name", IDS)
def test_each_secondary_field_with_an_odd_value(name):
    sample, variants = PAGES[name], []
    for entry in sample.secondary():
        key = entry[2]
        odd = "saknas" if key in FREE_TEXT else ODD
        variant = sample.parse(sample.replaced(entry, sample.label_line(key, sample.label_of(entry), odd)))
        assert_loads_unchanged(sample, variant)
        column = _column(key)
        if column in sample.original.project and key not in ALSO_DERIVED:
            assert variant.project[column] is None, (key, variant.project[column])
        if odd == ODD:
            assert column in warned_columns(variant), (key, variant.problems)
        variants.append(variant)
    assert_all_validate(variants)


@pytest.mark.parametrize("name", IDS)
def test_fields_reordered(name):
    sample = PAGES[name]
    first = min(e[0] for e in sample.entries)
    last = max(e[0] + e[1] for e in sample.entries)
    block = [sample.lines[s:s + n] for s, n, _ in sample.entries]
    if last - first != sum(len(b) for b in block):
        pytest.skip("lines between the fields")
    lines = sample.lines[:first] + [line for b in reversed(block) for line in b] + sample.lines[last:]
    variant = sample.parse(lines)
    assert_loads_unchanged(sample, variant)
    assert variant.project == sample.original.project
    assert variant.problems == sample.original.problems
    assert_all_validate([variant])


@pytest.mark.parametrize("name", IDS)
def test_unknown_label_inserted(name):
    sample = PAGES[name]
    middle = sample.entries[len(sample.entries) // 2]
    after_last = sample.entries[-1][0] + sample.entries[-1][1]
    # only 'Label:' (template C) marks a label never seen before; after the last known label of an A or B page
    # the line is indistinguishable from the description and stays there as text
    for at in (middle[0], after_last) if sample.layout == "colon" else (middle[0],):
        lines = sample.lines[:at] + sample.label_line("unknown", UNKNOWN, "1 234 567") + sample.lines[at:]
        variant = sample.parse(lines)
        assert_loads_unchanged(sample, variant)
        assert variant.project == sample.original.project
        assert variant.sections == sample.original.sections
        assert any(p.field and p.field.startswith(UNKNOWN) and p.reason.startswith("unknown label")
                   for p in variant.problems), at
        assert_all_validate([variant])


@pytest.mark.parametrize("name", IDS)
def test_english_labels(name):
    sample = PAGES[name]
    vocab = labels()
    lines = list(sample.lines)
    for entry in reversed(sample.entries):
        written = sample.label_of(entry)
        other = [label for label, key in vocab.by_length if key == entry[2] and label != written and label.isascii()
                 and label[0].isupper()]
        if other:
            lines = lines[:entry[0]] + sample.label_line(entry[2], other[0], sample.value_of(entry)) \
                + lines[entry[0] + entry[1]:]
    variant = sample.parse(lines)
    assert_loads_unchanged(sample, variant)
    assert variant.project == sample.original.project
    assert_all_validate([variant])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_secondary_fields_dropped_in_any_order(data):
    sample = PAGES[data.draw(st.sampled_from(IDS))]
    entries = sample.secondary()
    dropped = data.draw(st.sets(st.sampled_from(entries), max_size=len(entries)) if entries else st.just(set()))
    kept = [e for e in sample.entries if e not in dropped]
    order = data.draw(st.permutations(kept))
    first = min(e[0] for e in sample.entries)
    last = max(e[0] + e[1] for e in sample.entries)
    lines = sample.lines[:first] + [line for s, n, _ in order for line in sample.lines[s:s + n]] + sample.lines[last:]
    variant = sample.parse(lines)
    assert_loads_unchanged(sample, variant)


def test_key_rests_on_owner_where_a_page_has_no_case_number_and_no_url():
    """Template A text pages have neither a case number nor a canonical URL: their key is made of title, owner and
    start date, so an owner that goes missing gives the project a new key (why the drop test keeps it)."""
    sample = PAGES["a-hamnlyftet-blekinge.txt"]
    (owner,) = [e for e in sample.entries if e[2] == "owner"]
    variant = sample.parse(sample.replaced(owner, sample.label_line("owner", "Projektägare", "saknas")))
    assert variant.ok and variant.project["owner"] is None
    assert ("owner", "missing on the page") in [(p.field, p.reason) for p in variant.problems]
    assert variant.project["project_id"] != sample.original.project["project_id"]
