"""The dbt project builds with its data tests and unit tests (each rule worked by hand in YAML)."""
import json

import duckdb

from poverty_warning.ingest import landing
from poverty_warning.transform import transform
from poverty_warning.workspace import Workspace

from .conftest import EXAMPLES


def test_build_runs_every_unit_test_and_data_test(tmp_path):
    ws = Workspace(tmp_path).ensure()
    con = duckdb.connect(str(ws.duckdb_path))
    landing.land(con, ws.lake, EXAMPLES / "shanghai-2022" / "feeds", "2024-03-10")
    con.close()
    transform(ws, "2024-03-10", "shanghai-2022")
    results = json.loads((ws.dbt_target / "run_results.json").read_text())["results"]
    unit = [r for r in results if r["unique_id"].startswith("unit_test.")]
    data = [r for r in results if r["unique_id"].startswith("test.")]
    assert len(unit) >= 7 and len(data) >= 15
    assert all(r["status"] == "pass" for r in unit + data)
    assert all(r["status"] == "success" for r in results if r["unique_id"].startswith("model."))
