"""Normalizers for single values. Each returns a clean value or raises ValueProblem with the reason."""
from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from transform import reference
from transform.limits import (EARLIEST_DATE, LATEST_DATE, MAX_AMOUNT_SEK, MAX_INTEGER, MAX_PARTICIPANTS, MAX_RATE,
                              MIN_RATE)
from transform.reference import Municipality, Region, fold

MISSING = frozenset({"", "-", "–", "—", "saknas", "uppgift saknas", "n/a", "ej angivet"})
_MISSING_LENGTH = max(map(len, MISSING))
# Words kept lower-case when a name written in capitals is re-cased ("MALMÖ KOMMUN" → "Malmö kommun").
LOWER_WORDS = frozenset("kommun stad län landsting och i för av på med till vid samt".split())

QUOTED_CHARS = 80  # a problem's reason quotes this much of a value at most

_AMOUNT = re.compile(
    r"^(?P<minus>[-\u2212]\s*)?(?:sek\s*)?(?P<int>\d{1,3}(?:(?P<sep>[ .])\d{3})(?:(?P=sep)\d{3})*|\d+)"
    r"(?:,(?P<dec>\d{1,2}))?\s*(?:kr|kronor|sek|:-)?\.?$", re.I)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_PERIOD = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*(?:till|to|–|—|-)\s*(\d{4}-\d{2}-\d{2})$", re.I)
_EMAIL = re.compile(r"^[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}$", re.I)
_PERCENT = re.compile(r"^(\d{1,3}(?:[.,]\d+)?)\s*%$")
_CASE_2014 = re.compile(r"^\d{4}/\d{5}$")
_CASE_2021 = re.compile(r"^\d{2}-\d{3}-[A-Z]\d{2}$")
_AREA_2007 = re.compile(r"^(?:programområde|programme area)\s*(?P<code>[1-5])\b\s*[:.–-]?\s*(?P<name>.*)$", re.I)
_OBJECTIVE = re.compile(r"^(?P<code>[1-5])\.(?P<sub>\d)\b\s*(?P<name>.*)$")
_AREA_BARE = re.compile(r"^(?P<code>[1-5A-F])$")
_OBJECTIVE_2021 = re.compile(r"^[A-F]\d[A-Z]?$")


class ValueProblem(ValueError):
    """A value that cannot be read; the message says why."""


def quoted(text: str) -> str:
    """A value as a reason quotes it: cut after QUOTED_CHARS characters (the Problem's value has all of it)."""
    if len(text) <= QUOTED_CHARS:
        return repr(text)
    return f"{text[:QUOTED_CHARS]!r}… ({len(text):,} characters)"


def is_missing(text: str | None) -> bool:
    if text is None:
        return True
    stripped = text.strip()  # (a text longer than every MISSING word is not folded: casefold never shortens)
    return len(stripped) <= _MISSING_LENGTH and stripped.casefold() in MISSING


def _over_limit(what: str, limit: int, unit: str, text: str) -> ValueProblem:
    grouped = f"{limit:,}".replace(",", " ")
    return ValueProblem(f"{what} above the limit of {grouped}{unit}: {quoted(text)}")


def _at_most(digits: str, limit: int, what: str, unit: str, text: str) -> int:
    """ASCII digits → int no larger than limit. The length is checked first: Python refuses to
    convert more than 4,300 digits."""
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(limit)) or int(significant) > limit:
        raise _over_limit(what, limit, unit, text)
    return int(significant)


def parse_amount(text: str | None) -> tuple[int | None, str | None]:
    """'4 719 182 kr' → 4719182. Öre are rounded to whole kronor, with a warning as second value."""
    if text is None or is_missing(text):
        return None, None
    cleaned = " ".join(text.replace("\u00a0", " ").split())
    m = _AMOUNT.match(cleaned)
    if not m:
        raise ValueProblem(f"not an exact amount in kronor: {quoted(text)}")
    if m.group("minus"):
        raise ValueProblem(f"negative amount: {quoted(text)}")
    whole = _at_most(re.sub(r"\D", "", m.group("int")), MAX_AMOUNT_SEK, "amount", " kr", text)
    if m.group("dec") is None:
        return whole, None
    exact = Decimal(f"{whole}.{m.group('dec')}")
    rounded = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if rounded > MAX_AMOUNT_SEK:
        raise _over_limit("amount", MAX_AMOUNT_SEK, " kr", text)
    return rounded, f"amount {quoted(text)} has öre; rounded to {rounded} kr"


def parse_integer(text: str | None, limit: int = MAX_INTEGER, what: str = "number") -> int | None:
    """'1 200' → 1200; negative numbers, and numbers over limit, raise."""
    if text is None or is_missing(text):
        return None
    digits = text.replace("\u00a0", " ").replace(" ", "")
    negative = digits[:1] in ("-", "\u2212")
    digits = digits[1:] if negative else digits
    if not digits.isdigit() or not digits.isascii():
        raise ValueProblem(f"not a whole number: {quoted(text)}")
    if negative:
        raise ValueProblem(f"negative number: {quoted(text)}")
    return _at_most(digits, limit, what, "", text)


def parse_participants(text: str | None) -> int | None:
    """A planned number of participants: a whole number no larger than MAX_PARTICIPANTS."""
    return parse_integer(text, MAX_PARTICIPANTS, "participant count")


_COUNT_IN_WORDS = re.compile(r"^(?P<before>[^\d-]*?)\s*(?P<num>\d{1,3}(?:[ \u00a0]\d{3})+|\d+)\s*(?P<after>[^\d]*)$")


def read_participants(text: str | None) -> tuple[int | None, str | None]:
    """A participant count, leniently: 'ca 120 personer' → (120, note saying words were dropped)."""
    try:
        return parse_participants(text), None
    except ValueProblem:
        m = _COUNT_IN_WORDS.match(" ".join((text or "").split()))
        if not m or not (m.group("before") + m.group("after")).strip() or m.group("before").strip().startswith("-"):
            raise
    value = parse_participants(m.group("num"))
    return value, f"words around the number dropped: {quoted(text or '')} read as {value}"


def parse_rate(text: str | None) -> float | None:
    """'40%' → 0.4."""
    if text is None or is_missing(text):
        return None
    m = _PERCENT.match(text.strip())
    if not m:
        raise ValueProblem(f"not a percentage: {quoted(text)}")
    value = Decimal(m.group(1).replace(",", ".")) / 100
    if not MIN_RATE <= value <= MAX_RATE:
        raise ValueProblem(f"percentage outside 0–100: {quoted(text)}")
    return float(value)


def parse_date(text: str | None) -> date | None:
    """'2011-02-28' → date; impossible or out-of-range dates raise."""
    if text is None or is_missing(text):
        return None
    m = _DATE.match(text.strip())
    if not m:
        raise ValueProblem(f"not a date (YYYY-MM-DD): {quoted(text)}")
    try:
        value = date(*map(int, m.groups()))
    except ValueError:
        raise ValueProblem(f"impossible date: {quoted(text)}") from None
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueProblem(f"date outside {EARLIEST_DATE.year}–{LATEST_DATE.year}: {quoted(text)}")
    return value


def parse_period(text: str | None) -> tuple[date | None, date | None]:
    """'2008-08-01 till 2008-11-30', '2015-11-01-2018-10-31', '2015-05-01 - 2018-06-30'."""
    if text is None or is_missing(text):
        return None, None
    m = _PERIOD.match(text.strip())
    if not m:
        raise ValueProblem(f"not a period 'YYYY-MM-DD till YYYY-MM-DD': {quoted(text)}")
    return parse_date(m.group(1)), parse_date(m.group(2))


def normalize_email(text: str | None) -> str | None:
    if text is None or is_missing(text):
        return None
    value = text.strip().removeprefix("mailto:").strip().lower()
    if not _EMAIL.match(value):
        raise ValueProblem(f"not an e-mail address: {quoted(text)}")
    return value


def normalize_phone(text: str | None) -> str | None:
    """Any Swedish way of writing a number → E.164 ('019 - 19 44 14' → '+4619194414')."""
    if text is None or is_missing(text):
        return None
    raw = text.strip().replace("(0)", "")
    if re.search(r"[^\d\s+()./-]", raw) or raw.count("+") > 1 or ("+" in raw and not raw.startswith("+")):
        raise ValueProblem(f"not a phone number: {quoted(text)}")
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+"):
        international = digits
    elif digits.startswith("00"):
        international = digits[2:]
    elif digits.startswith("0"):
        international = "46" + digits[1:]
    else:
        raise ValueProblem(f"phone number without area code: {quoted(text)}")
    national = international[2:] if international.startswith("46") else international
    if not 6 <= len(national) <= 12 or national.startswith("0"):
        raise ValueProblem(f"phone number of implausible length: {quoted(text)}")
    return "+" + international


def clean_text(text: str | None) -> str | None:
    """Whitespace-normalized text; None for the site's ways of writing 'missing'."""
    if text is None or is_missing(text):
        return None
    return squash(text)


def squash(text: str) -> str:
    """Runs of whitespace as one space, none at the ends."""
    return " ".join(text.split())


def canonical_organisation(text: str | None) -> str | None:
    """'Region Blekinge, Region Blekinge' → 'Region Blekinge'; 'MALMÖ KOMMUN' → 'Malmö kommun'."""
    name = clean_text(text)
    if name is None:
        return None
    parts: list[str] = []
    for part in (p.strip() for p in name.split(",")):
        if part and (not parts or fold(part) != fold(parts[-1])):
            parts.append(part)
    return ", ".join(_fix_case(p) for p in parts) or None


def _fix_case(name: str) -> str:
    letters = [c for c in name if c.isalpha()]
    if len(letters) > 4 and all(c.isupper() for c in letters):
        words = name.lower().split(" ")
        return " ".join(w if (i and w in LOWER_WORDS) else w[:1].upper() + w[1:]
                        for i, w in enumerate(words))
    # 'KOmmunstyrelseförvaltningen': a stuck shift key, not an acronym.
    return re.sub(r"\b([A-ZÅÄÖ])([A-ZÅÄÖ])(?=[a-zåäö]{3})", lambda m: m.group(1) + m.group(2).lower(), name)


def organisation_group(name: str) -> str:
    """The name analysts group by: a national agency's local office under the agency."""
    key = fold(name)
    for national in reference.national_organisations():
        n = fold(national)
        if key == n or key.startswith(n + " ") or key.startswith(n + ","):
            return national
    return name


def match_municipality(text: str) -> Municipality | None:
    """The official municipality for a name as the site writes it ('Marks', 'Lilla-Edet')."""
    table = reference.municipalities()
    key = fold(text)
    for candidate in (key, re.sub(r"\s+(kommun|stad|municipality)$", "", key)):
        if candidate in table:
            return table[candidate]
        if candidate.endswith("s") and candidate[:-1] in table:  # genitive: 'Marks kommun'
            return table[candidate[:-1]]
    return None


def normalize_region(text: str | None) -> Region | None:
    if text is None or is_missing(text):
        return None
    table = reference.regions()
    key = fold(text)
    region = table.get(key) or table.get(key.removeprefix("esf ").strip())
    if region is None:
        raise ValueProblem(f"unknown region: {quoted(text)}")
    return region


def normalize_nuts(text: str | None) -> str | None:
    """'SE0' → 'SE' (national), 'SE22' → 'SE22'."""
    if text is None or is_missing(text):
        return None
    code = reference.nuts_codes().get(text.strip().upper())
    if code is None:
        raise ValueProblem(f"unknown NUTS-2 code: {quoted(text)}")
    return code


def case_number_period(case_number: str) -> str | None:
    """The programme period a case number's format belongs to."""
    if _CASE_2014.match(case_number):
        return "2014-2020"
    if _CASE_2021.match(case_number):
        return "2021-2027"
    return None


def parse_programme_area(text: str | None) -> tuple[str | None, str | None, str | None]:
    """→ (area code, objective, name as written): 'Programområde 2 Ökat arbetskraftsutbud',
    '2.2 Öka övergångarna till arbete', '2', 'C'."""
    if text is None or is_missing(text):
        return None, None, None
    value = squash(text)
    if m := _AREA_2007.match(value):
        return m.group("code"), None, m.group("name") or None
    if m := _OBJECTIVE.match(value):
        return m.group("code"), f"{m.group('code')}.{m.group('sub')}", m.group("name") or None
    if m := _AREA_BARE.match(value.upper()):
        return m.group("code"), None, None
    raise ValueProblem(f"not a programme area: {quoted(text)}")


def normalize_objective(text: str | None) -> str | None:
    """'2.2', 'A2A', 'C1'."""
    if text is None or is_missing(text):
        return None
    value = text.strip().upper()
    if re.fullmatch(r"[1-5]\.\d", value) or _OBJECTIVE_2021.match(value):
        return value
    raise ValueProblem(f"not a specific objective: {quoted(text)}")


_OBJECTIVE_NAMED = re.compile(r"^(?P<code>[1-5]\.\d|[A-F]\d[A-Z]?)(?:\s*[:.–-]\s*|\s+)(?P<name>\D.*)$", re.I)


def read_objective(text: str | None) -> tuple[str | None, str | None, str | None]:
    """A specific objective, leniently → (objective, bare area number, note): '2.2' → ('2.2', None, None);
    '2.2 Öka övergångarna till arbete' → ('2.2', None, note); '3' (a bare area number) → (None, '3', note)."""
    if text is None or is_missing(text):
        return None, None, None
    value = squash(text)
    try:
        return normalize_objective(value), None, None
    except ValueProblem:
        pass
    if m := _AREA_BARE.match(value.upper()):
        return None, m.group("code"), f"a programme area number, not an objective: {quoted(text)}"
    if m := _OBJECTIVE_NAMED.match(value):
        code = m.group("code").upper()
        return code, None, f"objective read without its name: {quoted(text)} read as {code}"
    raise ValueProblem(f"not a specific objective: {quoted(text)}")
