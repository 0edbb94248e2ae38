"""How well search finds a word in whichever form a page wrote it, on the real project pages (../shared/samples),
and in whichever form an English summary of the official lists wrote it, on synthetic summaries.

The test set is tests/fixtures/wordforms.csv: per word, the forms a user may type (`queries`) and the forms the
real pages write (`on_pages`). Two measures:
- words: every (query form, page form) pair should make the same term (recall); of the page words that make a
  query's term, the share that are forms of its word (precision);
- projects: `esf search` for each query form on a warehouse of the real pages should find every project whose text
  holds a form of the word (recall), and only such projects (precision).

The English set is tests/fixtures/wordforms_en.csv over tests/fixtures/summaries_en.txt (summaries written for
it; `on_pages` are the forms those summaries write): the same two measures, the second on a warehouse of one
synthetic ESF+ page per summary and a list of operations that gives each its summary in English (`english_site`).
A word's forms are its inflections and the derivations that keep its sense (employ, employed, employment; equal,
equality); the person who does it (employer, employee, trainee, participant), its negation (unemployment), a
word of another sense (personal for person, marketing for market) and another word (youth for young) are not.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDFORMS = ROOT / "tests" / "fixtures" / "wordforms.csv"
WORDFORMS_EN = ROOT / "tests" / "fixtures" / "wordforms_en.csv"
SUMMARIES_EN = ROOT / "tests" / "fixtures" / "summaries_en.txt"
REAL_SAMPLES = ROOT.parent / "shared" / "samples"
WORD = re.compile(r"[0-9A-Za-zÅÄÖåäöÉéÜüÆæØø]+")


@dataclass(frozen=True)
class WordForms:
    word: str
    queries: tuple[str, ...]
    on_pages: frozenset[str]


@dataclass(frozen=True)
class Score:
    found: int
    expected: int
    true_hits: int
    hits: int

    @property
    def recall(self) -> float:
        return self.found / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.true_hits / self.hits if self.hits else 1.0

    def line(self, what: str) -> str:
        return (f"{what}: recall {self.recall:.1%} ({self.found}/{self.expected}), "
                f"precision {self.precision:.1%} ({self.true_hits}/{self.hits})")


def word_forms(path: Path = WORDFORMS) -> list[WordForms]:
    with open(path, encoding="utf-8", newline="") as fh:
        return [WordForms(r["word"], tuple(r["queries"].split("|")), frozenset(filter(None, r["on_pages"].split("|"))))
                for r in csv.DictReader(fh)]


def words_of(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text)}


def page_words(folder: Path = REAL_SAMPLES) -> set[str]:
    return set().union(*(words_of(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.txt"))))


def by_words(term: Callable[[str], str], vocabulary: Iterable[str], cases: list[WordForms]) -> Score:
    """The word-level measure, for a function that makes a word's term."""
    vocabulary = set(vocabulary)
    terms = {w: term(w) for w in vocabulary | {q for c in cases for q in c.queries}}
    found = expected = true_hits = hits = 0
    for case in cases:
        for query in case.queries:
            expected += len(case.on_pages)
            found += sum(terms[query] == terms[form] for form in case.on_pages)
            matched = {w for w in vocabulary if terms[w] == terms[query]}
            hits += len(matched)
            true_hits += len(matched & case.on_pages)
    return Score(found, expected, true_hits, hits)


def by_projects(search: Callable[[str], set[str]], texts: dict[str, str], cases: list[WordForms]) -> Score:
    """The project-level measure: `search(query)` → project ids found; `texts`: each project's indexed text."""
    words = {pid: words_of(text) for pid, text in texts.items()}
    found = expected = true_hits = hits = 0
    for case in cases:
        holding = {pid for pid, w in words.items() if w & case.on_pages}
        for query in case.queries:
            got = search(query)
            expected += len(holding)
            found += len(got & holding)
            hits += len(got)
            true_hits += len(got & holding)
    return Score(found, expected, true_hits, hits)


def summaries(path: Path = SUMMARIES_EN) -> list[str]:
    """The synthetic English summaries: one a paragraph, comment lines left out."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return [" ".join(p.split()) for p in "\n".join(lines).split("\n\n") if p.strip()]


def summary_words(path: Path = SUMMARIES_EN) -> set[str]:
    return set().union(*(words_of(text) for text in summaries(path)))


OPS_HEADINGS = ["Diarienummer / Operation ID", "Namn på insatsen / Operation Name",
                "Projektägare organisationsnummer / Beneficiary ID", "Startdatum / Start date",
                "Slutdatum / End date", "Sammanfattning engelsk / Summary in english", "EU-fond / EU fund",
                "Program CCI / Program CCI"]


def english_site(folder: Path, path: Path = SUMMARIES_EN) -> tuple[Path, Path]:
    """One synthetic ESF+ page per English summary (a Swedish sentence of its own) and a list of operations that
    links a row to each by case number, with the summary in English: (pages folder, list file)."""
    pages = folder / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    rows = [";".join(OPS_HEADINGS)]
    for i, text in enumerate(summaries(path)):
        case, title, org = f"26-{100 + i:03d}-S01", f"Provprojekt {i + 1}", f"21200{i:05d}"
        (pages / f"p{i:03d}.txt").write_text(
            f"{case} - {title}\n\nDiarienummer:\n{case}\nNamn:\n{title}\nStartdatum:\n2026-01-01\n"
            f"Slutdatum:\n2027-12-31\nBerörd fond:\nESF+\nProgram CCI:\n2021SE05SFPR\n"
            f"Projektägare organisationsnummer:\n{org}\nProjektägare:\nExempelkommunen\nProgramområde:\nC\n"
            f"Specifikt mål:\nC1\nRegion:\nÖvre Norrland\nNUTS-2 kod:\nSE33\n\nEtt påhittat projekt för prov.\n",
            encoding="utf-8")
        rows.append(";".join([case, title, org, "2026-01-01", "2027-12-31", text.replace(";", ","), "ESF+",
                              "2021SE05SFPR001"]))
    operations = folder / "operations.csv"
    operations.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return pages, operations
