"""The night's step sequence, defined once: ingest → validate → dbt_build → score → publish → deliver.

The Airflow DAG (`build_dag`), `run-night`, the demo, the benchmark and training all run these steps;
`assess` runs the contract's subset. Each step opens the DuckDB file, does its work and closes it: one
writer at a time, and each is idempotent for its night.
"""
from __future__ import annotations

import datetime as dt
import logging
import tempfile
from pathlib import Path

import duckdb

from poverty_warning.warehouse import connect
from poverty_warning.publish import delivery
from poverty_warning.ingest import landing
from poverty_warning.outreach import cases as outreach
from poverty_warning.quality import batch_checks as quality
from poverty_warning.quality import report as quality_report
from poverty_warning.publish import summary_page
from poverty_warning.policy import load_policy
from poverty_warning.publish.contract_outputs import write_contract_outputs
from poverty_warning.transform import transform as run_transform
from poverty_warning.workspace import Workspace

log = logging.getLogger(__name__)


class PublishBlocked(RuntimeError):
    """The night's batch checks failed: data kept, lists not published."""


def check_date(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {value!r}") from None


def night_of(logical_date, override: str | None = None) -> str:
    """The night a run processes: given explicitly, or the local day before the run (02:00 runs
    process the previous day's deliveries)."""
    if override:
        return check_date(override)
    local = logical_date.astimezone(dt.timezone(dt.timedelta(hours=8)))  # China has one time zone, UTC+8
    return (local.date() - dt.timedelta(days=1)).isoformat()


STEPS = ("ingest", "validate", "dbt_build", "score", "publish", "deliver")


def _connect(ws: Workspace) -> duckdb.DuckDBPyConnection:
    return connect(ws)


def ingest(ws: Workspace, feeds_dir: Path, night: str) -> dict:
    con = _connect(ws)
    try:
        landed = landing.land(con, ws.lake, feeds_dir, night)
    finally:
        con.close()
    summary = {"files": len(landed), "rows_received": sum(f.rows_received for f in landed),
               "rows_loaded": sum(f.rows_loaded for f in landed),
               "rows_quarantined": sum(f.rows_quarantined for f in landed)}
    log.info("ingest %s: %s", night, summary)
    return summary


def validate(ws: Workspace, night: str, expect_daily_claims: bool = True) -> dict:
    from poverty_warning.quality.expectations import validate_night

    gx_summary = validate_night(ws, night)
    con = _connect(ws)
    try:
        verdict = quality.judge(con, night, expect_daily_claims=expect_daily_claims, gx_summary=gx_summary)
    finally:
        con.close()
    result = verdict.as_dict()
    result["report"] = str(quality_report.build(ws, night, result))
    log.info("validate %s: may_publish=%s, %d findings", night, verdict.may_publish, len(verdict.findings))
    return result


def transform(ws: Workspace, night: str, policy_id: str) -> None:
    load_policy(policy_id)
    run_transform(ws, night, policy_id)


def score(ws: Workspace, night: str) -> dict:
    """Risk scores from the trained early-warning model (models/latest.json), with drift monitoring."""
    from poverty_warning.risk.model import RiskModel
    from poverty_warning.risk.scoring import score as score_households

    model = RiskModel.load()
    if model is None:
        log.warning("score %s: no trained model in models/; lists go out without risk scores", night)
        return {"scored": 0, "model": None}
    con = _connect(ws)
    try:
        scored = score_households(con, night, model)
        stored = con.execute("SELECT may_publish, findings, figures FROM meta.batch_checks WHERE night = CAST(? AS DATE)",
                             [night]).fetchone()
    finally:
        con.close()
    if stored:  # the night's quality report gains the model's drift figures
        import json

        quality_report.build(ws, night, {"may_publish": stored[0], "findings": json.loads(stored[1]),
                                         "figures": json.loads(stored[2])})
    bands = scored["risk_band"].value_counts().to_dict()
    log.info("score %s: %d households scored with model %s: %s", night, len(scored), model.meta["version"], bands)
    return {"scored": int(len(scored)), "model": model.meta["version"], "bands": bands}


def publish(ws: Workspace, night: str, policy_id: str, verdict: dict) -> dict:
    out = ws.outputs(night)
    if not verdict.get("may_publish", False):
        reasons = [f["message"] for f in verdict.get("findings", []) if f["severity"] == "critical"]
        raise PublishBlocked("；".join(reasons) or "batch checks failed")
    con = _connect(ws)
    try:
        counts = write_contract_outputs(con, night, out)
        cases = outreach.decide(con, night, policy_id)
    finally:
        con.close()
    folders = delivery.write_outbox(ws.outbox, night, cases.items, cases.referrals)
    summary = summary_page.build(ws.reports(night) / "summary.html", night, policy_id,
                                 cases.items, cases.referrals)
    sent = int(cases.items["sent"].sum()) if len(cases.items) else 0
    log.info("publish %s (%s): %s; %d list rows sent in %d folders", night, policy_id, counts, sent, len(folders))
    return {"outputs": str(out), "counts": counts, "list_rows_sent": sent, "outbox_folders": len(folders),
            "summary": str(summary)}


def deliver(ws: Workspace, night: str, webhook: "delivery.Webhook | None" = None) -> dict:
    """Send undelivered list versions (tonight's, and earlier nights' failures)."""
    con = _connect(ws)
    try:
        result = delivery.deliver(con, ws.outbox, night, webhook or delivery.Webhook.from_env())
    finally:
        con.close()
    log.info("deliver %s: %s", night, result)
    return result


def run_night(ws: Workspace, feeds_dir: Path, night: str, policy_id: str, expect_daily_claims: bool = True,
              webhook: "delivery.Webhook | None" = None, on_step=None) -> dict:
    """All steps in one process, in the order of STEPS (what the DAG does, without Airflow).

    As in the DAG, delivery also runs on a held night, so earlier nights' failed deliveries are retried;
    the hold is raised after it. `on_step(name, seconds)` is told how long each step took.
    """
    import time

    def timed(name, fn, *args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            if on_step:
                on_step(name, time.perf_counter() - t0)

    timed("ingest", ingest, ws, feeds_dir, night)
    verdict = timed("validate", validate, ws, night, expect_daily_claims)
    timed("dbt_build", transform, ws, night, policy_id)
    timed("score", score, ws, night)
    held, result = None, {}
    try:
        result = timed("publish", publish, ws, night, policy_id, verdict)
    except PublishBlocked as exc:
        held = exc
    result["delivery"] = timed("deliver", deliver, ws, night, webhook)
    if held is not None:
        raise held
    return result


def assess(feeds_dir: Path, policy_id: str, as_of: str, out: Path) -> dict[str, int]:
    """The contract's `assess`: same ingestion, checks and models, on a throw-away workspace.

    File-level faults raise before anything is written to `out`.
    """
    load_policy(policy_id)
    with tempfile.TemporaryDirectory(prefix="poverty-warning-assess-") as tmp:
        ws = Workspace(Path(tmp))
        ingest(ws, feeds_dir, as_of)
        run_transform(ws, as_of, policy_id)
        con = _connect(ws)
        try:
            return write_contract_outputs(con, as_of, out)  # each file renamed into place
        finally:
            con.close()


def build_dag(fileloc: str):
    """The Airflow DAG `nightly_warning`: one task per step of STEPS, strictly in sequence, one active run.

    `fileloc` is the DAG file the scheduler parses (Airflow ties a DAG to the file that defines it)."""
    import os

    import pendulum
    from airflow.sdk import DAG, Param, task
    from airflow.sdk.exceptions import AirflowSkipException

    from poverty_warning.policy import available

    def workspace() -> Workspace:
        return Workspace.default()

    def feeds(params) -> Path:
        return Path(params["feeds_dir"]) if params.get("feeds_dir") else workspace().feeds

    def webhook_from_connection():
        """The webhook from the Airflow connection `poverty_warning_webhook` (host = URL, password = HMAC
        secret), if one is defined; otherwise delivery reads the environment."""
        from airflow.sdk import BaseHook

        try:
            conn = BaseHook.get_connection("poverty_warning_webhook")
        except Exception:  # no such connection: the environment decides
            return None
        return delivery.Webhook(url=conn.host, secret=conn.password or "")

    def the_night(logical_date, params) -> str:
        return night_of(logical_date, params.get("night"))

    with DAG(
        dag_id="nightly_warning",
        schedule="0 2 * * *",
        start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai"),
        catchup=False,
        max_active_runs=1,
        default_args={"retries": int(os.environ.get("POVERTY_WARNING_TASK_RETRIES", "1")),
                      "retry_delay": pendulum.duration(minutes=10)},
        params={
            "policy_id": Param(os.environ.get("POVERTY_WARNING_POLICY", "shanghai-2022"), enum=available()),
            "feeds_dir": Param(None, type=["null", "string"], description="feeds directory; default <data>/feeds"),
            "expect_daily_claims": Param(True, type="boolean",
                                         description="a night without claims blocks publishing"),
            "night": Param(None, type=["null", "string"], description="YYYY-MM-DD; default: the day before the run"),
        },
        tags=["poverty-warning"],
        doc_md=__doc__,
    ) as dag:
        @task(task_id="ingest")
        def ingest_task(logical_date=None, params=None) -> dict:
            return ingest(workspace(), feeds(params), the_night(logical_date, params))

        @task(task_id="validate")
        def validate_task(logical_date=None, params=None) -> dict:
            return validate(workspace(), the_night(logical_date, params), params["expect_daily_claims"])

        @task(task_id="dbt_build")
        def dbt_build_task(logical_date=None, params=None) -> None:
            transform(workspace(), the_night(logical_date, params), params["policy_id"])

        @task(task_id="score")
        def score_task(logical_date=None, params=None) -> dict:
            return score(workspace(), the_night(logical_date, params))

        @task(task_id="publish")
        def publish_task(verdict: dict, logical_date=None, params=None) -> dict:
            night = the_night(logical_date, params)
            try:
                return publish(workspace(), night, params["policy_id"], verdict)
            except PublishBlocked as exc:
                raise AirflowSkipException(f"publishing held for {night}: {exc}") from None

        # Delivery also runs when publishing was held: earlier nights' failed deliveries are retried.
        @task(task_id="deliver", trigger_rule="all_done")
        def deliver_task(logical_date=None, params=None) -> dict:
            return deliver(workspace(), the_night(logical_date, params), webhook_from_connection())

        verdict = validate_task()
        tasks = {"ingest": ingest_task(), "validate": verdict, "dbt_build": dbt_build_task(),
                 "score": score_task(), "publish": publish_task(verdict), "deliver": deliver_task()}
        for before, after in zip(STEPS, STEPS[1:]):
            tasks[before] >> tasks[after]
    dag.fileloc = fileloc
    return dag
