"""Property tests on whole pages: whatever an amount, count or date field holds, parse_page and validate
never raise; a bad value is a problem on its field."""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.validate import validate
from transform import parse_page

BASE = (Path(__file__).resolve().parent / "fixtures" / "pages" / "b-base.txt").read_text(encoding="utf-8")
GRANT, BUDGET, PARTICIPANTS, PERIOD = "3 200 000 kr", "6 400 000 kr", "\n140\n", "2017-03-01-2019-02-28"

AMOUNTS = st.one_of(
    st.text(alphabet="0123456789 \u00a0.,-\u2212", max_size=40),
    st.text(alphabet="0123456789 ", min_size=20, max_size=6000),
    st.builds(lambda digits, unit: digits + unit, st.text(alphabet="0123456789 .,", min_size=1, max_size=40),
              st.sampled_from(["", " kr", " SEK", ":-", " kronor"])),
    st.integers(min_value=-10**30, max_value=10**30).map(lambda n: f"{n:,}".replace(",", " ") + " kr"),
)
DATES = st.one_of(
    st.text(alphabet="0123456789-/ .:T", max_size=30),
    st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}", st.integers(0, 99999), st.integers(0, 99),
              st.integers(0, 99)),
)
PERIODS = st.one_of(
    DATES, st.builds(lambda a, sep, b: a + sep + b, DATES, st.sampled_from(["-", " - ", " till ", " – "]), DATES))


def check(body: str) -> None:
    page = parse_page(body.encode("utf-8"), "property")
    validate([page])
    for problem in page.problems:
        assert problem.severity in ("error", "warning") and problem.reason


def fill(grant: str, budget: str, participants: str, period: str) -> str:
    line = lambda value: value.replace("\n", " ")  # noqa: E731  (a value stays on its line)
    return (BASE.replace(GRANT, line(grant)).replace(BUDGET, line(budget))
            .replace(PARTICIPANTS, f"\n{line(participants)}\n").replace(PERIOD, line(period)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(AMOUNTS, AMOUNTS, AMOUNTS)
def test_any_amount_or_count_never_raises(grant, budget, participants):
    check(fill(grant, budget, participants, PERIOD))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PERIODS)
def test_any_period_never_raises(period):
    check(fill(GRANT, BUDGET, "140", period))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DATES, DATES)
def test_any_start_and_end_date_never_raise(start, end):
    check(fill(GRANT, BUDGET, "140", PERIOD).replace(f"Projektperiod\n{PERIOD}",
                                                     f"Startdatum\n{start}\nSlutdatum\n{end}"))


PIECES = st.sampled_from([
    "Projektägare", "Region:", "Projektperiod", "Beviljat ESF-stöd", "Sammanfattning", "Samarbetspartners",
    "Kommuner", "• ", "Västsverige", "2017/00345 - Bänkeby", "1 000 kr", "2017-03-01-2019-02-28", "\n", "\n",
    "<li>", "<h1>", "<br>", "</div>", "<div>", "<html>", "<dt>", "<dd>", "&amp;", "\x00", "é", "\u00a0", ":",
])
BODIES = st.one_of(
    st.binary(max_size=400),
    st.lists(PIECES | st.text(max_size=6), max_size=80).map(lambda parts: "".join(parts).encode("utf-8")),
    st.lists(PIECES | st.text(max_size=6), max_size=80).map(lambda parts: "".join(parts).encode("cp1252", "replace")),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES, st.sampled_from([None, "text/html", "text/plain; charset=latin-1", "text/html; charset=nonsense"]))
def test_any_bytes_never_raise(body, content_type):
    page = parse_page(body, "fuzz", content_type=content_type)
    validate([page])
