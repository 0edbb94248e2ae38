"""The parse step on a local Dask cluster (only where the optional extra 'dask' is installed)."""
from __future__ import annotations

import pytest

from conftest import SAMPLES

pytest.importorskip("prefect_dask", reason="the optional extra 'dask' is not installed (pip install -e '.[dask]')")


def test_refresh_on_a_local_dask_cluster(prefect_api, tmp_path):
    import duckdb
    from flows.pipeline import refresh, with_runner
    db = tmp_path / "esf.duckdb"
    report = with_runner(refresh, "dask", workers=2)(sources=[str(SAMPLES)], db=str(db), parse_workers=1, batch_size=4)
    assert report.status == "succeeded" and report.counts.new == 13
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM projects").fetchone()[0] == 13
    con.close()
