"""Numbers as a Swedish newsroom prints them: `62 008 165 kr`, `12,3 mnkr` on axes, whole counts; and the axes
(tick values and labels) that Plotly draws with them."""
from __future__ import annotations

import math
from typing import Any

THIN_SPACE = "\u202f"  # the thousands separator: a narrow no-break space (Plotly: separators = ",\u202f")
SEPARATORS = "," + THIN_SPACE
MILLION = 1_000_000


def number(value: Any) -> str:
    """An integer with thousands grouped: 62 008 165; None as –."""
    return "–" if value is None else f"{int(round(value)):,}".replace(",", THIN_SPACE)


def kr(value: Any) -> str:
    """An amount in kronor: 62 008 165 kr; None as –."""
    return "–" if value is None else f"{number(value)} kr"


def mnkr(value: float, decimals: int = 1) -> str:
    """Millions of kronor with a decimal comma: 12,3 mnkr."""
    return f"{value / MILLION:,.{decimals}f}".replace(",", THIN_SPACE).replace(".", ",") + " mnkr"


def nice_step(largest: float, ticks: int = 5) -> float:
    """A round step (1, 2, 2.5 or 5 × a power of ten) that divides 0..largest into about `ticks` parts."""
    raw = largest / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def sek_axis(largest: float | None) -> dict[str, Any]:
    """A Plotly axis for amounts in SEK: ticks at round steps, labelled `12,3 mnkr` (or `400 000 kr` under a million)."""
    if not largest or largest <= 0:
        return {"rangemode": "tozero"}
    step = nice_step(largest)
    values = [i * step for i in range(int(largest // step) + 2)]
    if largest < MILLION:
        text = [kr(v) for v in values]
    else:
        decimals = 0 if step % MILLION == 0 else 1 if step % (MILLION // 10) == 0 else 2
        text = [mnkr(v, decimals) if v else "0" for v in values]
    return {"tickmode": "array", "tickvals": values, "ticktext": text, "rangemode": "tozero"}


def count_axis(largest: float | None) -> dict[str, Any]:
    """A Plotly axis for counts: whole numbers only (no 0.5 ticks), from zero."""
    axis: dict[str, Any] = {"tickformat": "d", "rangemode": "tozero"}
    if largest is None or largest <= 10:
        axis |= {"tick0": 0, "dtick": 1}
    return axis
