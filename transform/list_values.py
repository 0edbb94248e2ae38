"""Normalisers for the official lists' cells (the list of operations, Kohesio's export).

Each takes a cell as the file gives it (text from a CSV; text, a number or a datetime from an XLSX) and returns
the normalised value, None for an empty cell or a placeholder (`-`, `saknas`: no alarm), or raises
transform.normalize.ValueProblem whose message says why (the row becomes that field NULL plus a warning).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from transform import normalize as nz
from transform.limits import EARLIEST_DATE, LATEST_DATE, MAX_AMOUNT_SEK
from transform.fragments import simple_fragment_lines
from transform.lines import html_fragment_lines, text_to_lines

Cell = str | int | float | date | datetime | None

EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 is 1900-01-01 in Excel's (Lotus's) calendar with its 1900-02-29
_FIRST_SERIAL = (EARLIEST_DATE - EXCEL_EPOCH).days
_LAST_SERIAL = (LATEST_DATE - EXCEL_EPOCH).days
CENT = Decimal("0.01")
MONTHS = {name: i for i, names in enumerate((
    ("januari", "jan", "january"), ("februari", "feb", "february"), ("mars", "mar", "march"),
    ("april", "apr"), ("maj", "may"), ("juni", "jun", "june"), ("juli", "jul", "july"),
    ("augusti", "aug", "august"), ("september", "sep", "sept"), ("oktober", "okt", "oct", "october"),
    ("november", "nov"), ("december", "dec")), start=1) for name in names}

_SPACES = re.compile(r"[\s\u00a0\u202f\u2007\u2009\u200a]+")
_NUMBER = re.compile(r"^(?P<sign>[-\u2212+])?(?P<body>\d[\d.,]*)$")
_PLAIN_AMOUNT = re.compile(r"^(\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:[.,](\d{1,2}))?$")  # '1 234,5', '7657289.97'
_DIGIT_SPACE_DIGIT = re.compile(r"\d \d")
_SPACE_GROUPED = re.compile(r"^[-\u2212+]? ?\d{1,3}(?: \d{3})+(?:[.,]\d+)?$")
_GROUPED = re.compile(r"^\d{1,3}(?:[.,]\d{3})+$")
# A time of day after the date is dropped.
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})"
                       r"(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?$")
_WORD_DATE = re.compile(r"^(\d{1,2})\.?\s+([a-zåäö]+)\.?\s+(\d{4})$")
_SERIAL = re.compile(r"^\d{4,6}(?:\.0+)?$")
_CURRENCY_WORDS = re.compile(r"(?i)^(?:sek|eur|kr|kronor|€)\s*|\s*(?:sek|eur|kr|kronor|€|:-)$")
_PERCENT = re.compile(r"^(?P<num>\d+(?:[.,]\d+)?)\s*(?P<pct>%)?$")
_CASE_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
_INTERVENTION = re.compile(r"^(?P<code>\d{1,3})(?:\.0+)?(?:\s*(?:[-–—:.)]\s*|\s+)\D.*)?$")
_CCI = re.compile(r"^(?P<year>(?:19|20)\d{2})[A-Z]{2}\d{2}[A-Z0-9]{1,12}$")
_PERIOD = re.compile(r"^(?P<a>(?:19|20)\d{2})\s*[-–/]\s*(?P<b>(?:19|20)\d{2})$")
_AREA = re.compile(r"(?i)^(?:programområde|priority|prioritet|prioriteringsområde)?\s*(?P<code>[1-5A-F])"
                   r"(?:\s*[:.–—-]\s*\D.*|\s+\D.*)?$")
_HTMLISH = re.compile(r"<[a-zA-Z/!]|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_ORG_VAT = re.compile(r"^SE(\d{10})01$")
_ORG_PLAIN = re.compile(r"(\d{6})-?(\d{4})")
_ORG_DIGITS = re.compile(r"^(?:16|19|20)?(\d{10})$")  # 16: an organisation; 19/20: a sole trader's century
PERIODS = (("2007-2013", 2007, 2013), ("2014-2020", 2014, 2020), ("2021-2027", 2021, 2027))


def cell_text(cell: Cell) -> str | None:
    """A cell as text: None for empty; a whole float without its '.0'; a date as YYYY-MM-DD."""
    if cell is None:
        return None
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return str(cell)
    if isinstance(cell, float):
        return str(int(cell)) if cell.is_integer() else repr(cell)
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == datetime.min.time() else cell.isoformat(sep=" ")
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


def present(cell: Cell) -> str:
    """A cell known not to be empty, as text."""
    return cell_text(cell) or ""


def is_placeholder(cell: Cell) -> bool:
    """An empty cell or one of the ways a list writes 'no value' (-, saknas …)."""
    return cell is None or (isinstance(cell, str) and nz.is_missing(cell))


def text(cell: Cell) -> str | None:
    """Free text with its whitespace normalised."""
    if cell is None:
        return None
    value = " ".join((cell if isinstance(cell, str) else present(cell)).split())
    return None if not value or value.casefold() in nz.MISSING else value


def plain_text(cell: Cell) -> str | None:
    """A summary: HTML rendered to lines as the page parser does (transform.lines), one paragraph a line."""
    if is_placeholder(cell):
        return None
    value = present(cell)
    if _HTMLISH.search(value):
        lines = simple_fragment_lines(value)
        if lines is None:
            lines = [" ".join(line.split()) for line in html_fragment_lines(value)]  # a newline in HTML is a space
    else:
        lines = text_to_lines(value)
    return "\n".join(lines) or None


def case_number(cell: Cell) -> str | None:
    """' 2015 / 00738' → '2015/00738', '22-002-s01' → '22-002-S01'; anything else raises."""
    if isinstance(cell, str) and nz.case_number_period(cell):
        return cell
    if is_placeholder(cell):
        return None
    value = _CASE_DASHES.sub("-", _SPACES.sub("", present(cell))).upper()
    if nz.case_number_period(value) is None:
        raise nz.ValueProblem(f"not a case number: {nz.quoted(present(cell))}")
    return value


def identifier(cell: Cell) -> str | None:
    """An identifier as written, without spaces at its ends (None when empty)."""
    return None if is_placeholder(cell) else (present(cell).strip() or None)


def kohesio_case_number(local_identifier: str | None) -> str | None:
    """'2021SE05SFPR001_22-002-S01' → '22-002-S01' (after the last '_', or the whole identifier); None when
    that part is no case number (Kohesio's items of other programmes carry other local identifiers)."""
    if not local_identifier:
        return None
    try:
        return case_number(local_identifier.rsplit("_", 1)[-1])
    except nz.ValueProblem:
        return None


def kohesio_item(uri: str | None) -> str | None:
    """'https://linkedopendata.eu/entity/Q4039171' → 'Q4039171' (the text after the last '/')."""
    if not uri:
        return None
    item = uri.rstrip("/").rsplit("/", 1)[-1].strip()
    return item or None


def read_amount(cell: Cell, decimal_comma: bool) -> tuple[Decimal | None, str | None]:
    """amount(), and a note when decimals written past öre were rounded away ('1,234' in the list of operations →
    1.23). A number cell's float noise is rounded without one."""
    if isinstance(cell, str) and (m := _PLAIN_AMOUNT.match(cell)) and (number := _plain_amount(m)) is not None:
        return number, None  # the common forms, read at once
    value = amount(cell, decimal_comma)
    if value is None or not isinstance(cell, str) or _PLAIN_AMOUNT.match(cell):
        return value, None
    exact = _exact(cell, decimal_comma)
    if exact == value:
        return value, None
    return value, f"amount {nz.quoted(cell)} has more than two decimals: rounded to {value}"


def amount(cell: Cell, decimal_comma: bool) -> Decimal | None:
    """'1 234 567,50' → 1234567.50; '7657289.97' → 7657289.97; a number cell as it is.

    `decimal_comma` settles '1,234': True (the list of operations, Swedish) reads it as 1.234, False (Kohesio,
    which writes dot decimals) as 1234. Two kinds of separator: the last is the decimal one. A separator that
    occurs twice groups thousands. The value is held to two decimals (more are a float's noise, rounded), so
    '7657289.97', 7657289.97 and '7 657 289,970' are one Decimal('7657289.97')."""
    if isinstance(cell, str) and (m := _PLAIN_AMOUNT.match(cell)) and (number := _plain_amount(m)) is not None:
        return number  # the common forms, read at once
    if is_placeholder(cell):
        return None
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return _in_range(Decimal(repr(cell)) if isinstance(cell, float) else Decimal(cell), present(cell))
    written = present(cell)
    return _in_range(_exact(written, decimal_comma), written)


def _plain_amount(m: re.Match[str]) -> Decimal | None:
    """An amount _PLAIN_AMOUNT matched ('1 234,5', '7657289.97'), or None past MAX_AMOUNT_SEK."""
    whole, decimals = m.groups()
    if len(whole) > 3:  # (the pattern groups thousands with these three spaces only)
        whole = whole.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    number = Decimal(f"{whole}.{(decimals or '').ljust(2, '0')}")
    return number if number <= MAX_AMOUNT_SEK else None


def _exact(written: str, decimal_comma: bool) -> Decimal:
    """An amount written as text, as written (not yet held to öre)."""
    spaced = _CURRENCY_WORDS.sub("", _SPACES.sub(" ", written).strip())
    if _DIGIT_SPACE_DIGIT.search(spaced) and not _SPACE_GROUPED.match(spaced):
        raise nz.ValueProblem(f"not an amount (spaces not between thousands): {nz.quoted(written)}")
    m = _NUMBER.match(spaced.replace(" ", ""))
    if not m:
        raise nz.ValueProblem(f"not an amount: {nz.quoted(written)}")
    number = _decimal(m.group("body"), decimal_comma, written)
    if m.group("sign") in ("-", "\u2212") and number:
        raise nz.ValueProblem(f"negative amount: {nz.quoted(written)}")
    return number


def _decimal(body: str, decimal_comma: bool, written: str) -> Decimal:
    commas, dots = body.count(","), body.count(".")
    if commas and dots:
        decimal_mark = "," if body.rfind(",") > body.rfind(".") else "."
        whole, _, fraction = body.rpartition(decimal_mark)
        if body.count(decimal_mark) > 1 or not _GROUPED.match(whole):
            raise nz.ValueProblem(f"not an amount (separators): {nz.quoted(written)}")
        digits = re.sub(r"\D", "", whole) + "." + fraction
    elif commas + dots == 0:
        digits = body
    elif commas + dots > 1 or (commas and not decimal_comma and re.fullmatch(r"\d{1,3},\d{3}", body)):
        if not _GROUPED.match(body) or (commas and dots):
            raise nz.ValueProblem(f"not an amount (separators): {nz.quoted(written)}")
        digits = re.sub(r"\D", "", body)
    else:
        digits = body.replace(",", ".")
    if len(digits) > 40:
        raise _over_limit(written)
    try:
        return Decimal(digits)
    except InvalidOperation:
        raise nz.ValueProblem(f"not an amount: {nz.quoted(written)}") from None


def _in_range(number: Decimal, written: str) -> Decimal:
    if not number.is_finite() or number < 0:
        raise nz.ValueProblem(f"not a plausible amount: {nz.quoted(written)}")
    if number > MAX_AMOUNT_SEK:
        raise _over_limit(written)
    return number.quantize(CENT, rounding=ROUND_HALF_UP) + 0  # to öre/cents, always: one value, one form; no -0


def _over_limit(written: str) -> nz.ValueProblem:
    limit = f"{MAX_AMOUNT_SEK:,}".replace(",", " ")
    return nz.ValueProblem(f"amount above the limit of {limit}: {nz.quoted(written)}")


def rate(cell: Cell) -> Decimal | None:
    """The EU co-financing rate as a share: '90 %', '90%', '0,9', '0.9', '90.0', '40' → 0.9, 0.4.
    A number above 1 and up to 100 is a percentage; 1 itself is 100 %."""
    if is_placeholder(cell):
        return None
    written = present(cell)
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        number, percent = Decimal(written), False
    else:
        m = _PERCENT.match(_SPACES.sub("", written))
        if not m:
            raise nz.ValueProblem(f"not a rate: {nz.quoted(written)}")
        number, percent = Decimal(m.group("num").replace(",", ".")), bool(m.group("pct"))
    if percent or number > 1:
        number = number / 100
    if not 0 <= number <= 1:
        raise nz.ValueProblem(f"rate outside 0–100 %: {nz.quoted(written)}")
    return number.normalize() if number else Decimal(0)


def list_date(cell: Cell) -> date | None:
    """'2023-09-01', '2023-09-01 00:00:00', '1 september 2023', an Excel serial '45170', a datetime cell."""
    if is_placeholder(cell):
        return None
    if isinstance(cell, datetime):
        return _in_period(cell.date(), present(cell))
    if isinstance(cell, date):
        return _in_period(cell, present(cell))
    written = present(cell)
    value = written.strip().lower()
    if m := _ISO_DATE.match(value):
        return _calendar(int(m.group(1)), int(m.group(2)), int(m.group(3)), written)
    if m := _WORD_DATE.match(" ".join(value.split())):
        month = MONTHS.get(m.group(2))
        if month is None:
            raise nz.ValueProblem(f"not a month: {nz.quoted(written)}")
        return _calendar(int(m.group(3)), month, int(m.group(1)), written)
    if _SERIAL.match(value):
        serial = int(value.split(".")[0])
        if not _FIRST_SERIAL <= serial <= _LAST_SERIAL:
            raise nz.ValueProblem(f"date outside {EARLIEST_DATE.year}–{LATEST_DATE.year}: {nz.quoted(written)}")
        return EXCEL_EPOCH + timedelta(days=serial)
    raise nz.ValueProblem(f"not a date: {nz.quoted(written)}")


def _calendar(year: int, month: int, day: int, written: str) -> date:
    try:
        value = date(year, month, day)
    except ValueError:
        raise nz.ValueProblem(f"impossible date: {nz.quoted(written)}") from None
    return _in_period(value, written)


def _in_period(value: date, written: str) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise nz.ValueProblem(f"date outside {EARLIEST_DATE.year}–{LATEST_DATE.year}: {nz.quoted(written)}")
    return value


def org_number(cell: Cell) -> str | None:
    """A Swedish organisation number as the project bank's pages write it (owner_org_number): ten digits.
    '212000-1124', '212000 1124', 'SE212000112401' (VAT), '16212000-1124' → '2120001124'."""
    if isinstance(cell, str) and (plain := _ORG_PLAIN.fullmatch(cell)):  # as nearly every row writes it
        return plain[1] + plain[2]
    return _org_number(cell)


def _org_number(cell: Cell) -> str | None:
    if is_placeholder(cell):
        return None
    written = present(cell)
    compact = re.sub(r"[\s\u00a0\u202f-]", "", written).upper()
    m = _ORG_VAT.match(compact) or _ORG_DIGITS.match(compact)
    if not m:
        raise nz.ValueProblem(f"not a Swedish organisation number: {nz.quoted(written)}")
    return m.group(1)


def intervention(cell: Cell) -> str | None:
    """The intervention field's code: '109', '109.0', 109.0, '109 Åtgärder för …' → '109'."""
    if is_placeholder(cell):
        return None
    written = present(cell)
    m = _INTERVENTION.match(" ".join(written.split()))
    if not m:
        raise nz.ValueProblem(f"not an intervention field code: {nz.quoted(written)}")
    return str(int(m.group("code")))


def programme_area(cell: Cell) -> str | None:
    """'A', 'Programområde 2', '2.1 Öka …', 'B - Öka möjligheten till arbete' → the area code (1..5, A..F)."""
    if is_placeholder(cell):
        return None
    written = " ".join(present(cell).split())
    try:
        code, _, _ = nz.parse_programme_area(written)
        return code
    except nz.ValueProblem:
        pass
    m = _AREA.match(written)
    if not m:
        raise nz.ValueProblem(f"not a programme area: {nz.quoted(written)}")
    return m.group("code").upper()


def objective(cell: Cell) -> str | None:
    """A specific objective as the pages write it ('2.2', 'A2A', 'C1'), its name dropped."""
    if is_placeholder(cell):
        return None
    value, bare_area, _ = nz.read_objective(present(cell))
    if value is None:
        raise nz.ValueProblem(f"a programme area, not a specific objective: {nz.quoted(present(cell))}")
    return value


def cci(cell: Cell) -> str | None:
    """A programme's CCI code: '2021SE05SFPR001', '2014se05m9op001' → upper case, no spaces."""
    if is_placeholder(cell):
        return None
    value = _SPACES.sub("", present(cell)).upper()
    if not _CCI.match(value):
        raise nz.ValueProblem(f"not a programme CCI code: {nz.quoted(present(cell))}")
    return value


def period_of_cci(code: str | None) -> str | None:
    """'2021SE05SFPR001' → '2021-2027': the period the CCI's year falls in."""
    if not code:
        return None
    return _period_of_year(int(code[:4]))


def _period_of_year(year: int) -> str | None:
    return next((name for name, first, last in PERIODS if first <= year <= last), None)


def period(cell: Cell) -> str | None:
    """Kohesio's Programming_Period: '2021-2027', '2014 – 2020', '2021' → '2021-2027'."""
    if is_placeholder(cell):
        return None
    written = present(cell)
    value = " ".join(written.split())
    m = _PERIOD.match(value)
    found = _period_of_year(int(m.group("a"))) if m else (_period_of_year(int(value)) if value.isdigit() else None)
    if found is None or (m and _period_of_year(int(m.group("b"))) != found):
        raise nz.ValueProblem(f"not a programme period: {nz.quoted(written)}")
    return found


def currency(cell: Cell) -> str | None:
    """'SEK', 'sek', 'kr' → 'SEK'; 'EUR', '€' → 'EUR'; any other three-letter code upper-cased."""
    if is_placeholder(cell):
        return None
    written = present(cell)
    value = written.strip().upper()
    value = {"KR": "SEK", "KRONOR": "SEK", "€": "EUR", "EURO": "EUR"}.get(value, value)
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise nz.ValueProblem(f"not a currency code: {nz.quoted(written)}")
    return value
