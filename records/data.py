"""Where the reference data and vocabularies are: the one place that reads $ESF_DATA_DIR (at each call, never at
import, so parse workers started later see what the run was given)."""
from __future__ import annotations

import os
from pathlib import Path

BUNDLED_DATA = Path(__file__).resolve().parents[1] / "data"


def data_dir() -> Path:
    """The data folder: $ESF_DATA_DIR when set, else the one bundled with the code."""
    return Path(os.environ.get("ESF_DATA_DIR") or BUNDLED_DATA)


def missing_files() -> list[str]:
    """The reference files this release reads that the data folder lacks (an $ESF_DATA_DIR made for an older
    release), as paths relative to it; none for the bundled folder."""
    folder = data_dir()
    bundled = sorted(p.relative_to(BUNDLED_DATA) for p in (BUNDLED_DATA / "reference").iterdir() if p.is_file())
    return [str(path) for path in bundled if not (folder / path).is_file()]
