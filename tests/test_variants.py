"""Variants generated from every sample page (the bundled synthetic ones, and the real ones in ../shared/samples
where present): each secondary field dropped in turn, given an odd value, fields reordered, an unknown label
inserted, labels in English. The project always loads with identity, ESF grant, total budget, dates and region
unchanged, and every change is named by a warning (a note, for a field its pages often leave out).

`python tests/test_variants.py` prints how many variants each kind gives and how many keep the property."""
from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import FIXTURES, REAL_SAMPLES, SAMPLES  # noqa: E402

from schemas.validate import validate  # noqa: E402
from transform import parse_page  # noqa: E402
from transform.lines import page_text  # noqa: E402
from transform.parser import GLUED, _label_at, detect_layout  # noqa: E402
from transform.label_checks import in_usual_order, page_language  # noqa: E402
from transform.parser import parse_lines  # noqa: E402
from transform.record import FIELD_OF, UNKNOWN_LABEL, detect_template, problem_columns  # noqa: E402
from transform.reference import field_orders, fold, labels  # noqa: E402

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
    paths += [p for p in sorted((FIXTURES / "pages").iterdir()) if p.suffix in (".txt", ".html")
              and not p.name.startswith("not-a-project")]
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
        fields = parse_lines(self.lines, text.headings)
        self.template, self.language = detect_template(fields), page_language(fields)
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
        """The secondary fields the page gives a value (one it leaves empty cannot go missing)."""
        return [e for e in self.entries if e[2] not in NOT_SECONDARY and self.value_of(e)]

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


@dataclass
class Variant:
    kind: str
    detail: str
    lines: list[str]
    named: Callable[[object], bool]  # whether the parsed variant names the change in a warning (or a note)


def _names_field(key: str) -> Callable[[object], bool]:
    """A warning or a note on the field's column or on the label key itself."""
    wanted = {_column(key), key}
    return lambda page: any(p.severity in ("warning", "note") and (p.field in wanted or wanted & set(problem_columns(p)))
                            for p in page.problems)


def _names(kind: str, value: str | None = None) -> Callable[[object], bool]:
    return lambda page: any(p.kind == kind and (value is None or p.value == value) for p in page.problems)


def _reordered(sample: Page, order: list[tuple[int, int, str]]) -> list[str]:
    first = min(e[0] for e in sample.entries)
    last = max(e[0] + e[1] for e in sample.entries)
    return sample.lines[:first] + [line for s, n, _ in order for line in sample.lines[s:s + n]] + sample.lines[last:]


def _contiguous(sample: Page) -> bool:
    first = min(e[0] for e in sample.entries)
    last = max(e[0] + e[1] for e in sample.entries)
    return last - first == sum(n for _, n, _ in sample.entries)


def _other_language_label(sample: Page, key: str, written: str) -> str | None:
    """A label of the same field in the other language than the page's ('Project owner' for 'Projektägare')."""
    vocab, page = labels(), sample.language
    return next((label for label, k in vocab.by_length if k == key and label != written
                 and page not in vocab.language[fold(label)] and label[0].isupper()), None)


def variants(sample: Page) -> Iterator[Variant]:
    """Every variant of one sample: secondary fields dropped in turn and given an odd value, fields reordered (each
    neighbouring pair swapped, and the whole block reversed), an unknown label inserted (in the middle of the fields
    and after the last), each label in the other language in turn, and all of them at once."""
    for entry in sample.secondary():
        yield Variant("dropped", entry[2], sample.replaced(entry, []), _names_field(entry[2]))
        odd = "saknas" if entry[2] in FREE_TEXT else ODD
        yield Variant("odd value", f"{entry[2]} = {odd}",
                      sample.replaced(entry, sample.label_line(entry[2], sample.label_of(entry), odd)),
                      _names_field(entry[2]))
    if _contiguous(sample):
        for i in range(len(sample.entries) - 1):
            order = list(sample.entries)
            order[i], order[i + 1] = order[i + 1], order[i]
            keys = [k for _, _, k in order]
            if any(in_usual_order(keys, usual) for usual in field_orders()[sample.template]):
                continue  # two fields the usual order does not place (or one twice): no change of order
            yield Variant("reordered", f"{order[i][2]} <> {order[i + 1][2]}", _reordered(sample, order),
                          _names("fields_reordered"))
        yield Variant("reordered", "all reversed", _reordered(sample, list(reversed(sample.entries))),
                      _names("fields_reordered"))
    middle = sample.entries[len(sample.entries) // 2]
    after_last = sample.entries[-1][0] + sample.entries[-1][1]
    inserted = sample.label_line("unknown", UNKNOWN, "1 234 567")
    for where, at in (("middle", middle[0]), ("after the last field", after_last)):
        yield Variant("unknown label", where, sample.lines[:at] + inserted + sample.lines[at:],
                      lambda page: any(p.field == UNKNOWN and p.reason == UNKNOWN_LABEL and "1 234 567" in p.value
                                       for p in page.problems))
    every, swapped = list(sample.lines), []
    for entry in reversed(sample.entries):
        other = _other_language_label(sample, entry[2], sample.label_of(entry))
        if other is None:
            continue
        line = sample.label_line(entry[2], other, sample.value_of(entry))
        yield Variant("other language", f"{sample.label_of(entry)} -> {other}", sample.replaced(entry, line),
                      _names(f"{'english' if sample.language == 'sv' else 'swedish'}_label", other))
        every = every[:entry[0]] + line + every[entry[0] + entry[1]:]
        swapped.append(other)
    if swapped:
        yield Variant("other language", f"all {len(swapped)} labels", every,
                      lambda page: sorted(p.value for p in page.problems if p.kind and p.kind.endswith("_label")
                                          and p.kind != "unknown_label") == sorted(swapped))


def failures(sample: Page, variant: Variant, parsed) -> list[str]:
    """What the variant breaks of the property (nothing: it passes)."""
    if not parsed.ok:
        return [f"rejected: {parsed.problems}"]
    out = []
    if sample.core(parsed) != sample.core(sample.original):
        changed = {k: (v, parsed.project[k]) for k, v in sample.core(sample.original).items() if parsed.project[k] != v}
        out.append(f"core changed: {changed}")
    if not variant.named(parsed):
        out.append("change not named by a warning")
    return out


def census(pages: dict[str, Page] | None = None) -> tuple[Counter, Counter, list[str]]:
    """Every variant of every sample against the property: (variants per kind, passed per kind, failures)."""
    made, passed, failed = Counter(), Counter(), []
    for name, sample in (pages or PAGES).items():
        parsed_all = []
        for variant in variants(sample):
            parsed = sample.parse(variant.lines)
            made[variant.kind] += 1
            problems = failures(sample, variant, parsed)
            if problems:
                failed.append(f"{name}: {variant.kind} ({variant.detail}): {'; '.join(problems)}")
            else:
                passed[variant.kind] += 1
                parsed_all.append(parsed)
        assert_all_validate(parsed_all)
    return made, passed, failed


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
def test_the_samples_themselves_are_written_as_usual(name):
    """No sample warns about its labels (language, order, unknown ones): a variant's warning is its own change."""
    sample = PAGES[name]
    assert not [p for p in sample.original.problems if p.kind in ("english_label", "swedish_label", "fields_reordered")]


@pytest.mark.parametrize("name", IDS)
def test_every_variant_loads_unchanged_and_names_its_change(name):
    made, passed, failed = census({name: PAGES[name]})
    assert failed == [], "\n".join(failed)
    assert sum(made.values()) >= 10 and made["dropped"] == made["odd value"] == len(PAGES[name].secondary())


@pytest.mark.parametrize("name", IDS)
def test_each_secondary_field_dropped_changes_only_that_field(name):
    sample = PAGES[name]
    for entry in sample.secondary():
        variant = sample.parse(sample.replaced(entry, []))
        changed = changed_columns(sample.original.project, variant.project)
        expected_missing = {p.field for p in variant.problems if p.kind == "missing"}
        derived = {"owner_org", "programme_area_name", "programme_area_source", "programme_period_source",
                   "region_source", "specific_objective" if entry[2] == "programme_area" else None}
        assert changed <= {_column(entry[2])} | derived | expected_missing, (entry, changed)
        assert variant.project.get(_column(entry[2])) is None or entry[2] in ALSO_DERIVED, entry


@pytest.mark.parametrize("name", IDS)
def test_an_odd_value_is_null(name):
    sample = PAGES[name]
    for entry in sample.secondary():
        key = entry[2]
        odd = "saknas" if key in FREE_TEXT else ODD
        variant = sample.parse(sample.replaced(entry, sample.label_line(key, sample.label_of(entry), odd)))
        column = _column(key)
        if column in sample.original.project and key not in ALSO_DERIVED:
            assert variant.project[column] is None, (key, variant.project[column])


@pytest.mark.parametrize("name", IDS)
def test_reordered_fields_give_the_same_record_and_one_warning(name):
    sample = PAGES[name]
    if not _contiguous(sample):
        pytest.skip("lines between the fields")
    variant = sample.parse(_reordered(sample, list(reversed(sample.entries))))
    assert variant.project == sample.original.project
    extra = [p for p in variant.problems if p not in sample.original.problems]
    assert [(p.field, p.kind) for p in extra] == [(None, "fields_reordered")]
    assert extra[0].value.startswith(", ".join(k for _, _, k in reversed(sample.entries))[:40])


@pytest.mark.parametrize("name", IDS)
def test_an_unknown_label_keeps_the_record_and_the_description(name):
    sample = PAGES[name]
    after_last = sample.entries[-1][0] + sample.entries[-1][1]
    for at in (sample.entries[len(sample.entries) // 2][0], after_last):
        variant = sample.parse(sample.lines[:at] + sample.label_line("unknown", UNKNOWN, "1 234 567") + sample.lines[at:])
        assert variant.project == sample.original.project
        assert variant.sections == sample.original.sections


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_secondary_fields_dropped_in_any_order(data):
    """Any fields dropped, the rest in any order: the project loads unchanged, and an order the template does not
    use is a warning (once), an order it uses is none."""
    sample = PAGES[data.draw(st.sampled_from(IDS))]
    entries = sample.secondary()
    dropped = data.draw(st.sets(st.sampled_from(entries), max_size=len(entries)) if entries else st.just(set()))
    kept = [e for e in sample.entries if e not in dropped]
    order = data.draw(st.permutations(kept))
    variant = sample.parse(_reordered(sample, order))
    assert_loads_unchanged(sample, variant)
    keys = list(dict.fromkeys(k for _, _, k in order))
    warned = sum(p.kind == "fields_reordered" for p in variant.problems)
    assert warned <= 1
    if in_usual_order(keys, tuple(k for _, _, k in sample.entries)):  # the sample's own order, fields left out
        assert warned == 0
    if not any(in_usual_order(keys, usual) for usual in field_orders()[sample.template]):
        assert warned == 1


def test_a_lost_owner_keeps_the_key_of_a_page_without_case_number_or_url():
    """Template A text pages have neither a case number nor a canonical URL: their key is made of title, start date
    and region code, so an owner that goes missing (`Projektägaresaknas`) leaves the project the same project."""
    sample = PAGES["a-hamnlyftet-blekinge.txt"]
    assert sample.original.project["project_id"].startswith("k-")
    (owner,) = [e for e in sample.entries if e[2] == "owner"]
    variant = sample.parse(sample.replaced(owner, sample.label_line("owner", "Projektägare", "saknas")))
    assert variant.ok and variant.project["owner"] is None
    assert ("owner", "missing on the page") in [(p.field, p.reason) for p in variant.problems]
    assert variant.project["project_id"] == sample.original.project["project_id"]


if __name__ == "__main__":
    made, passed, failed = census()
    for kind in made:
        print(f"{kind:15} {made[kind]:4} variants, {passed[kind]:4} pass")
    print(f"{'all':15} {sum(made.values()):4} variants, {sum(passed.values()):4} pass "
          f"({len(PAGES)} samples)")
    print("\n".join(failed))
