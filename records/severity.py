"""A problem's severity: an 'error' makes a reject (the page or row is not loaded); a 'warning' a row of `warnings`
(it loads, the field NULL or read leniently); a 'note' a field its pages often leave out, counted in
`project_quality` and written to neither table. Typed, so no fourth spelling can reach the load unseen."""
from __future__ import annotations

from typing import Literal

Severity = Literal["error", "warning", "note"]
