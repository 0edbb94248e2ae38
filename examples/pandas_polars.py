"""Reading the ESF warehouse from pandas or Polars, and always seeing the file most recently published.

    python examples/pandas_polars.py [path/to/esf.duckdb]      (default: $ESF_DB or ./esf.duckdb)

Why `open_current` and not `duckdb.connect(path)`: DuckDB keeps ONE database instance per file per
process. While any connection to `esf.duckdb` is open in your notebook, a later `duckdb.connect("esf.duckdb")`
is handed that same instance — the file as it was when first opened — even after `esf run` has published a
new `esf.duckdb` (publishing renames a new file over the old one; the open instance keeps the old one).
Nothing warns you. `open_current` attaches the file to a fresh in-memory DuckDB instead, which opens whatever
`esf.duckdb` is now. Close connections you no longer need (`con.close()`) either way.
"""
from __future__ import annotations

import os
import sys

import duckdb


def open_current(path: str = "esf.duckdb") -> duckdb.DuckDBPyConnection:
    """A read-only connection to the file now at `path`, never to an instance this process cached earlier."""
    con = duckdb.connect()  # in-memory: a new instance every time, outside DuckDB's per-file cache
    con.execute(f"ATTACH '{str(path).replace(chr(39), chr(39) * 2)}' AS esf (READ_ONLY)")
    con.execute("USE esf")
    return con


def frame(relation: duckdb.DuckDBPyRelation):
    """A pandas DataFrame of a DuckDB result, through Arrow (pyarrow: `pip install -e '.[analysis]'`). DuckDB's own
    `.df()` gives the same frame, but with pandas 3.1 it prints a Pandas4Warning for each time-zone column."""
    return relation.to_arrow_table().to_pandas()


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("ESF_DB", "esf.duckdb")
    con = open_current(path)
    # pandas: frame() turns any query into a DataFrame
    regions = frame(con.sql("SELECT region, projects, esf_grant_sek FROM region_summary "
                            "ORDER BY esf_grant_sek DESC NULLS LAST"))
    print("ESF grant by region (pandas):")
    print(regions.to_string(index=False))
    by_year = frame(con.sql("SELECT year, sum(esf_grant_sek) AS esf_grant_sek FROM funding_by_year GROUP BY year "
                            "ORDER BY year"))
    print(f"\nYears with ESF money: {len(by_year)}, total {int(by_year['esf_grant_sek'].sum()):,} SEK")
    runs = frame(con.sql("SELECT run_id, started_at, status FROM runs ORDER BY run_id"))  # time stamps with a zone
    print(f"Runs: {len(runs)}, the latest started {runs['started_at'].iloc[-1]:%Y-%m-%d %H:%M} UTC")
    # Polars: .pl() does the same where polars is installed (pip install -e '.[analysis]')
    try:
        import polars  # noqa: F401
        areas = con.sql("FROM programme_area_summary").pl()
        print(f"\nProgramme areas (Polars): {areas.height} rows")
    except ImportError:
        print("\n(Polars is not installed: `pip install -e '.[analysis]'`, then `.pl()`.)")
    con.close()


if __name__ == "__main__":
    main()
