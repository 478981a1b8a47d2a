"""The dbt project builds with its data tests, and every unit test (each rule worked by hand in YAML) passes."""
import json

import duckdb
import yaml

from poverty_warning.ingest import landing
from poverty_warning.transform import PROJECT_DIR, run_unit_tests, transform
from poverty_warning.workspace import Workspace

from .conftest import EXAMPLES


def test_build_runs_every_unit_test_and_data_test(tmp_path):
    ws = Workspace(tmp_path).ensure()
    con = duckdb.connect(str(ws.duckdb_path))
    landing.land(con, ws.lake, EXAMPLES / "shanghai-2022" / "feeds", "2024-03-10")
    con.close()
    transform(ws, "2024-03-10", "shanghai-2022")
    night = json.loads((ws.dbt_target / "run_results.json").read_text())["results"]
    data = [r for r in night if r["unique_id"].startswith("test.")]
    assert len(data) >= 15 and all(r["status"] == "pass" for r in data)
    assert all(r["status"] == "success" for r in night if r["unique_id"].startswith("model."))
    assert not [r for r in night if r["unique_id"].startswith("unit_test.")], "a night runs no unit test"
    run_unit_tests(ws, "2024-03-10", "shanghai-2022")
    checked = json.loads((ws.dbt_target / "run_results.json").read_text())["results"]
    assert all(r["unique_id"].split(".")[0] in ("unit_test", "operation") for r in checked)  # the hooks set memory
    unit = [r for r in checked if r["unique_id"].startswith("unit_test.")]
    declared = sum(len(yaml.safe_load(p.read_text()).get("unit_tests") or [])
                   for p in (PROJECT_DIR / "models").rglob("*.yml"))
    assert len(unit) == declared >= 7, (len(unit), declared)
    assert all(r["status"] == "pass" for r in unit)


def test_a_night_builds_no_training_model_and_training_builds_them_once(tmp_path):
    """The label models (dbt tag `training`) are left out of a night's build (run_results.json) and built by
    the function training calls, once per night's build."""
    from poverty_warning.training import build_training_models

    ws = Workspace(tmp_path).ensure()
    con = duckdb.connect(str(ws.duckdb_path))
    landing.land(con, ws.lake, EXAMPLES / "shanghai-2022" / "feeds", "2024-03-10")
    con.close()
    transform(ws, "2024-03-10", "shanghai-2022")
    manifest = json.loads((ws.dbt_target / "manifest.json").read_text())
    tagged = {uid for uid, node in manifest["nodes"].items()
              if node["resource_type"] == "model" and "training" in node["tags"]}
    assert tagged == {"model.poverty_warning.int_rule_verdicts_monthly", "model.poverty_warning.fct_household_labels"}
    night = {r["unique_id"] for r in json.loads((ws.dbt_target / "run_results.json").read_text())["results"]}
    assert "model.poverty_warning.fct_household_features" in night and "model.poverty_warning.fct_candidates" in night
    assert not tagged & night
    assert not [uid for uid in night if uid.startswith("test.") and "household_labels" in uid]

    build_training_models(ws.duckdb_path)
    built = json.loads((ws.dbt_target / "run_results.json").read_text())["results"]
    assert {r["unique_id"] for r in built if r["unique_id"].startswith("model.")} == tagged
    assert all(r["status"] in ("success", "pass") for r in built)
    ids = {r["unique_id"] for r in built}
    assert any(i.startswith("test.") and "household_labels" in i for i in ids)  # the label's data tests ran
    assert not any(i.startswith("unit_test.") for i in ids)
    con = duckdb.connect(str(ws.duckdb_path))
    try:
        features, labels = con.execute("SELECT (SELECT count(*) FROM marts.fct_household_features), "
                                       "(SELECT count(*) FROM marts.fct_household_labels)").fetchone()
    finally:
        con.close()
    assert labels == features > 0
    # Built for this night's build already: a second call runs no dbt.
    (ws.dbt_target / "run_results.json").unlink()
    build_training_models(ws.duckdb_path)
    assert not (ws.dbt_target / "run_results.json").exists()
