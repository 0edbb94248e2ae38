"""Property tests: normalizers raise nothing but ValueProblem on any input, and round trips hold."""
from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from transform import normalize as nz
from transform.limits import MAX_AMOUNT_SEK, MAX_PARTICIPANTS
from transform.reference import municipalities

SEPARATORS = st.sampled_from([" ", "\u00a0", "."])


def total(fn, text):
    """Call fn; the only exception allowed is the project's own ValueProblem."""
    try:
        return fn(text)
    except nz.ValueProblem:
        return None


@given(st.text())
def test_amount_never_crashes(text):
    total(nz.parse_amount, text)


@given(st.integers(min_value=0, max_value=10**12), SEPARATORS, st.sampled_from(["", " kr", " SEK", "kr"]))
def test_amount_round_trip(n, sep, unit):
    written = f"{n:,}".replace(",", sep) + unit
    assert nz.parse_amount(written) == (n, None)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=99))
def test_amount_with_ore_rounds_half_up(kr, ore):
    value, note = nz.parse_amount(f"{kr:,}".replace(",", " ") + f",{ore:02d} kr")
    assert value == kr + (1 if ore >= 50 else 0)
    assert note is not None


@given(st.text())
def test_dates_and_periods_never_crash(text):
    total(nz.parse_date, text)
    total(nz.parse_period, text)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31)),
       st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31)),
       st.sampled_from([" till ", "-", " - ", " – "]))
def test_period_round_trip(a, b, sep):
    assert nz.parse_period(f"{a.isoformat()}{sep}{b.isoformat()}") == (a, b)


@given(st.text())
def test_phone_never_crashes_and_is_idempotent(text):
    once = total(nz.normalize_phone, text)
    if once is not None:
        assert nz.normalize_phone(once) == once
        assert once.startswith("+") and once[1:].isdigit()


@given(st.from_regex(r"0[1-9]\d{1,2}", fullmatch=True), st.from_regex(r"\d{5,7}", fullmatch=True),
       st.sampled_from(["-", " - ", " ", ""]))
def test_phone_forms_agree(area, number, sep):
    spaced = " ".join([number[:2], number[2:]])
    forms = {f"{area}{sep}{number}", f"{area}{sep}{spaced}", f"+46 {area[1:]} {number}"}
    assert len({nz.normalize_phone(f) for f in forms}) == 1


@given(st.text())
def test_names_never_crash_and_are_idempotent(text):
    name = nz.canonical_organisation(text)
    if name is not None:
        assert nz.canonical_organisation(name) == name
        assert name == name.strip() and "  " not in name
        nz.organisation_group(name)
    nz.match_municipality(text)


@given(st.sampled_from(sorted({m.name for m in municipalities().values()})),
       st.sampled_from(["{}", "{} kommun", "{} KOMMUN", "{}s kommun", "{} stad"]))
def test_every_official_municipality_matches_in_common_spellings(name, form):
    written = form.format(name)
    if form == "{}s kommun" and name.endswith("s"):
        return  # 'Borås kommun' is written without a genitive s
    assert nz.match_municipality(written).name == name


@given(st.text(alphabet=st.characters(categories=["Lu", "Ll", "Zs"]), min_size=1, max_size=40))
def test_repeated_name_parts_collapse(text):
    name = nz.canonical_organisation(text)
    if name and "," not in name:
        assert nz.canonical_organisation(f"{name}, {name}") == name


@given(st.text(alphabet="0123456789 \u00a0.,-\u2212", max_size=6000))
def test_long_numbers_raise_only_value_problems(text):
    total(nz.parse_amount, text)
    total(nz.parse_integer, text)
    total(nz.parse_participants, text)


@given(st.integers(min_value=MAX_AMOUNT_SEK + 1, max_value=10**200))
def test_amount_over_the_limit_is_a_value_problem(n):
    written = f"{n:,}".replace(",", " ") + " kr"
    try:
        nz.parse_amount(written)
    except nz.ValueProblem as exc:
        assert str(exc).startswith("amount above the limit of 1 000 000 000 000 kr")
    else:
        raise AssertionError(f"{written[:40]}… was read")


@given(st.integers(min_value=0, max_value=MAX_PARTICIPANTS))
def test_participants_round_trip(n):
    assert nz.parse_participants(f"{n:,}".replace(",", " ")) == n
