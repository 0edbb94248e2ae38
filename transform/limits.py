"""What a project's figures can plausibly be, declared once: the parser reports a value outside these
ranges as a problem on its field, and schemas.models checks the same ranges."""
from __future__ import annotations

from datetime import date

# The 2000–2006 period's first projects to the 2021–2027 period's last closing year.
EARLIEST_DATE, LATEST_DATE = date(2000, 1, 1), date(2035, 12, 31)
# A trillion kronor: far beyond any project's budget; the limit only stops absurd values.
MAX_AMOUNT_SEK = 10**12
MAX_PARTICIPANTS = 1_000_000
MAX_INTEGER = 2**63 - 1  # the largest whole number a warehouse column (BIGINT) holds
MIN_RATE, MAX_RATE = 0.0, 1.0  # the EU co-financing rate, a share
# A project page is 5–60 KB; a section longer than this is page furniture or a fault, not a description.
# Kept to this length (with a warning) so one hostile page cannot fill the load's memory.
MAX_SECTION_CHARS = 200_000
