"""The nightly DAG: imports cleanly, runs a night end to end with dag.test(), reruns byte for byte."""
import shutil

import duckdb
import pytest
from werkzeug import Response

from poverty_warning import airflow_local
from poverty_warning.workspace import Workspace

OUTPUTS = ["candidates.csv", "entitlements.csv", "enrollment_gaps.csv", "load_report.csv", "quarantine.csv"]


def test_dag_folder_has_no_import_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(airflow_local.DAGS_DIR))
    assert not bag.import_errors
    dag = airflow_local.load_dag()
    assert [t.task_id for t in dag.topological_sort()] == ["ingest", "validate", "dbt_build", "score", "publish",
                                                            "deliver"]
    assert dag.max_active_runs == 1


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("POVERTY_WARNING_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def _run(tmp_path, feeds, night, **conf):
    run = airflow_local.run_night(tmp_path / "airflow", night, {"policy_id": "shanghai-2022",
                                                                 "feeds_dir": str(feeds), **conf})
    return run, {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_a_night_end_to_end_and_a_rerun_byte_for_byte(small_city, data_dir, tmp_path):
    run, states = _run(tmp_path, small_city, "2024-03-31")
    assert str(run.state) == "success", states
    assert set(states.values()) == {"success"}
    out = Workspace(data_dir).outputs("2024-03-31")
    first = {name: (out / name).read_bytes() for name in OUTPUTS}
    con = duckdb.connect(str(Workspace(data_dir).duckdb_path))  # dbt holds it open in this process
    scores = con.execute("SELECT risk_score, risk_band, risk_reasons FROM risk.household_scores").df()
    con.close()
    assert len(scores) > 100 and scores["risk_score"].between(0, 1).all()
    assert set(scores["risk_band"]) <= {"高", "中", "低"}
    assert first["candidates.csv"].count(b"\n") > 1  # some households crossed a line
    run, states = _run(tmp_path, small_city, "2024-03-31")
    assert str(run.state) == "success", states
    for name in OUTPUTS:
        assert (out / name).read_bytes() == first[name], f"{name} changed on rerun"


def test_a_missing_claims_delivery_holds_the_lists(small_city, data_dir, tmp_path, httpserver, monkeypatch):
    """A held night is not green: publish and the run fail with the hold, and the alert webhook hears why."""
    alerts = []
    httpserver.expect_request("/alerts", method="POST").respond_with_handler(
        lambda request: alerts.append(request.get_json()) or Response("ok"))
    monkeypatch.setenv("POVERTY_WARNING_ALERT_WEBHOOK_URL", httpserver.url_for("/alerts"))
    feeds = tmp_path / "feeds"
    shutil.copytree(small_city, feeds)
    shutil.rmtree(feeds / "claims" / "2024-03-31")
    run, states = _run(tmp_path, feeds, "2024-03-31")
    assert str(run.state) == "failed", states
    assert states["publish"] == "failed" and states["deliver"] == "failed"  # deliver ran (all_done), then held
    assert states["dbt_build"] == "success"  # data kept and computed, only publishing held
    assert len(alerts) == 1, alerts
    assert alerts[0]["night"] == "2024-03-31" and alerts[0]["text"].startswith(
        "nightly_warning 2024-03-31: publishing held for 2024-03-31: ")
    assert "未送达" in alerts[0]["text"]
    assert not Workspace(data_dir).outputs("2024-03-31").exists()
    con = duckdb.connect(str(Workspace(data_dir).duckdb_path))  # dbt holds it open in this process
    may_publish, findings = con.execute(
        "SELECT may_publish, findings FROM meta.batch_checks WHERE night = DATE '2024-03-31'").fetchone()
    assert not may_publish and "未送达" in findings
    con.close()
    # a reviewer releases the held night through the DAG's params: the lists publish, the release is audited
    run, states = _run(tmp_path, feeds, "2024-03-31", release_reviewer="王审核", release_reason="系统停机，当晚确无结算")
    assert states["publish"] == "success", states
    assert (Workspace(data_dir).outputs("2024-03-31") / "candidates.csv").exists()
    con = duckdb.connect(str(Workspace(data_dir).duckdb_path))
    assert con.execute("SELECT reviewer, reason FROM meta.releases").fetchall() == [("王审核", "系统停机，当晚确无结算")]
    con.close()
