"""How a word becomes a search-index term, per language: its inflection endings taken off by a table of endings,
the reference files data/reference/suffixes_<lang>.csv and stopwords_<lang>.txt.

Swedish (`sv`) is the pages' language (title and sections); English (`en`) is the official lists' summaries. The
two keep apart term spaces: an English term is stored with the mark `en:` (no word holds a colon), so a Swedish and
an English word that happen to end up alike (`men`: but / plural of man) never count as one. A query looks in both.
The English table also replaces endings (`companies` → `company`, `women` → `woman`), which Swedish needs not."""
from __future__ import annotations

import csv
from dataclasses import dataclass

from records.data import data_dir

SWEDISH, ENGLISH = "sv", "en"
LANGUAGES = (SWEDISH, ENGLISH)
MARK = {SWEDISH: "", ENGLISH: "en:"}  # an index term is its language's mark + the word's term
MIN_STEM = 3     # an ending is taken off only where at least this many letters stay
ROUNDS = 8       # endings taken off one after another, at most (kompetensens → kompetensen → kompetens → kompeten → kompet)


@dataclass(frozen=True)
class Terms:
    """How words become terms: the inflection endings, longest first, and the two limits; `becomes`, where given,
    is what each ending is replaced by ('' takes it off; an ending that becomes itself keeps the word as it is)."""
    suffixes: tuple[str, ...]
    min_stem: int = MIN_STEM
    rounds: int = ROUNDS
    becomes: tuple[str, ...] = ()

    def term(self, word: str) -> str:
        """`word` (lower-case) without its inflection endings: the longest ending that leaves `min_stem` letters,
        then again on what is left, at most `rounds` times, so a base form and its inflected forms meet."""
        rules = tuple(zip(self.suffixes, self.becomes or ("",) * len(self.suffixes)))
        for _ in range(self.rounds):
            cut = next(((s, b) for s, b in rules
                        if word.endswith(s) and len(word) - len(s) + len(b) >= self.min_stem), None)
            if cut is None or cut[0] == cut[1]:
                break
            word = word[:-len(cut[0])] + cut[1]
        return word


def reference_terms(lang: str = SWEDISH) -> Terms:
    """The endings of data/reference/suffixes_<lang>.csv (and what each becomes, where it says), longest first."""
    with open(data_dir() / "reference" / f"suffixes_{lang}.csv", encoding="utf-8", newline="") as fh:
        rules = {row["suffix"].strip().lower(): (row.get("becomes") or "").strip().lower()
                 for row in csv.DictReader(fh) if row["suffix"].strip()}
    ordered = sorted(rules, key=lambda s: (-len(s), s))
    return Terms(tuple(ordered), becomes=tuple(rules[s] for s in ordered) if any(rules.values()) else ())


def suffixes(lang: str = SWEDISH) -> tuple[str, ...]:
    """The inflection endings of data/reference/suffixes_<lang>.csv, longest first."""
    return reference_terms(lang).suffixes


def stopwords(lang: str = SWEDISH) -> list[str]:
    """The stop words of data/reference/stopwords_<lang>.txt."""
    lines = (data_dir() / "reference" / f"stopwords_{lang}.txt").read_text(encoding="utf-8").splitlines()
    return sorted({w.strip().lower() for w in lines if w.strip() and not w.startswith("#")})
