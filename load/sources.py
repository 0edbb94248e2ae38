"""What each source yielded per run (`run_sources`), to notice a night that finds nothing."""
from __future__ import annotations

from load.warehouse import Warehouse


def last_discovered(wh: Warehouse, source: str) -> int | None:
    """Pages the source yielded in the last run that finished (succeeded or with rejects)."""
    row = wh.con.execute("""SELECT s.discovered FROM run_sources s JOIN runs r USING (run_id)
                            WHERE s.source = ? AND r.status IN ('succeeded', 'rejects')
                            ORDER BY s.run_id DESC LIMIT 1""", [source]).fetchone()
    return row[0] if row else None


def record_discovered(wh: Warehouse, run_id: int, source: str, discovered: int) -> None:
    wh.con.execute("INSERT INTO run_sources VALUES (?, ?, ?)", [run_id, source, discovered])
