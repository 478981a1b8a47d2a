"""The night's step sequence, defined once: ingest → validate → dbt_build → score → publish → deliver.

The Airflow DAG (`build_dag`), `run-night`, the demo, the benchmark and training all run these steps;
`assess` runs the contract's subset. Each step opens the DuckDB file, does its work and closes it: one
writer at a time, and each is idempotent for its night.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import secrets
import tempfile
from pathlib import Path

import duckdb

from poverty_warning.warehouse import connect, exclusive
from poverty_warning.publish import delivery
from poverty_warning.ingest import landing
from poverty_warning.outreach import cases as outreach
from poverty_warning.quality import batch_checks as quality
from poverty_warning.quality import release as releases
from poverty_warning.quality import report as quality_report
from poverty_warning.quality import warning_lists
from poverty_warning.publish import kpi_page, summary_page
from poverty_warning.policy import load_policy
from poverty_warning.publish.contract_outputs import write_contract_outputs
from poverty_warning.transform import build_quality_report_models, transform as run_transform
from poverty_warning.workspace import Workspace

log = logging.getLogger(__name__)


class PublishHeld(RuntimeError):
    """The night's batch checks failed: data kept and computed, lists not published. The night needs
    attention: the run ends failed with this message and the alert webhook is told."""


def hold_reason(night: str, verdict: dict | None, con: duckdb.DuckDBPyConnection | None = None) -> str | None:
    """Why the night's lists are held, or None when they may go out.

    The one place publishing is decided (publish, and deliver's verdict on the run, both ask it): a
    reviewer's release that covers the night's critical findings lets it go out."""
    if verdict is None:
        return f"publishing held for {night}: the batch checks did not run"
    if verdict.get("may_publish", False):
        return None
    if con is not None and releases.covers(con, night, verdict):
        return None
    reasons = [f["message"] for f in verdict.get("findings", []) if f["severity"] == "critical"]
    return f"publishing held for {night}: " + ("；".join(reasons) or "batch checks failed")


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


def ingest(ws: Workspace, feeds_dir: Path, night: str, id_key: bytes | None = None) -> dict:
    """Land the night's new feed files; `id_key` keys the index of known persons (default: the bureau's key
    from the settings, settings.id_hash_key)."""
    con = _connect(ws)
    try:
        landed = landing.land(con, ws.lake, feeds_dir, night, id_key)
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
    build_quality_report_models(ws, night)
    result["report"] = str(quality_report.build(ws, night, result))
    log.info("validate %s: may_publish=%s, %d findings", night, verdict.may_publish, len(verdict.findings))
    return result


def refresh_report(ws: Workspace, night: str) -> Path | None:
    """Rebuild the night's quality report from its stored verdict (later steps add lists, drift, a release)."""
    con = _connect(ws)
    try:
        verdict = quality.stored(con, night)
    finally:
        con.close()
    return quality_report.build(ws, night, verdict.as_dict()) if verdict else None


def stored_verdict(ws: Workspace, night: str) -> dict | None:
    """The night's batch-check verdict as validate recorded it (None if it did not run)."""
    try:
        con = _connect(ws)
    except duckdb.Error:
        return None
    try:
        stored = con.execute("SELECT may_publish, findings, figures FROM meta.batch_checks "
                             "WHERE night = CAST(? AS DATE)", [night]).fetchone()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()
    return {"may_publish": stored[0], "findings": json.loads(stored[1]), "figures": json.loads(stored[2])} \
        if stored else None


def transform(ws: Workspace, night: str, policy_id: str, full_refresh: bool = False) -> None:
    """dbt build (incremental when it continues the last build; whole when `full_refresh`); then the
    warning lists dbt built are written next to the report and join its findings."""
    load_policy(policy_id)
    run_transform(ws, night, policy_id, full_refresh)
    con = _connect(ws)
    try:
        findings, figures = warning_lists.write_lists(con, quality_report.report_dir(ws, night))
    finally:
        con.close()
    findings += _carried_forward_findings(ws, night)
    con = _connect(ws)
    try:
        quality.add_list_findings(con, night, findings, figures)
    finally:
        con.close()
    refresh_report(ws, night)


def _carried_forward_findings(ws: Workspace, night: str) -> list:
    """A warning for each city figure tonight's rules use (this year's and last year's) that is not published
    yet, so the latest published year's figure stands in for it (the contract's carry-forward)."""
    from poverty_warning.contract.vocabulary import PARAMETER_ZH
    from poverty_warning.transform import carried_forward_figures

    year = int(night[:4])
    return [quality.Finding(
        "carried_forward", "warning", f"{PARAMETER_ZH.get(name, name)}：{figure_year}年的数字尚未公布，沿用{published}年数字",
        feed="parameters", impact="当晚名单按沿用的数字计算，可以发布", action="公布后在城市参数（parameters）中补充当年数字")
        for name, figure_year, published in carried_forward_figures(ws) if figure_year >= year - 1]


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
    finally:
        con.close()
    refresh_report(ws, night)  # the night's quality report gains the model's drift figures
    bands = scored["risk_band"].value_counts().to_dict()
    log.info("score %s: %d households scored with model %s: %s", night, len(scored), model.meta["version"], bands)
    return {"scored": int(len(scored)), "model": model.meta["version"], "bands": bands}


def publish(ws: Workspace, night: str, policy_id: str, verdict: dict) -> dict:
    """Write the night's lists, unless the night was held and no reviewer has released it."""
    out = ws.outputs(night)
    con = _connect(ws)
    try:
        held = hold_reason(night, verdict, con)
        if held:
            raise PublishHeld(held)
        counts = write_contract_outputs(con, night, out)
        cases = outreach.decide(con, night, policy_id)
        hardship = con.execute("SELECT * FROM marts.fct_hardship_by_subdistrict").df()
        kpi_page.build(con, ws.reports(night) / "kpi.html", night, policy_id)
    finally:
        con.close()
    folders = delivery.write_outbox(ws.outbox, night, cases.items, cases.referrals)
    _write_case_trails(ws, night, cases.items)
    con = _connect(ws)
    try:
        delivery.audit_produced(con, folders)
    finally:
        con.close()
    summary = summary_page.build(ws.reports(night) / "summary.html", night, policy_id,
                                 cases.items, cases.referrals, hardship)
    sent = int(cases.items["sent"].sum()) if len(cases.items) else 0
    log.info("publish %s (%s): %s; %d list rows sent in %d folders", night, policy_id, counts, sent, len(folders))
    return {"outputs": str(out), "counts": counts, "list_rows_sent": sent, "outbox_folders": len(folders),
            "summary": str(summary)}


def rebuild(ws: Workspace, night: str, policy_id: str) -> None:
    """Every dbt model rebuilt whole from all landed history for a night, and its lists rewritten."""
    with exclusive(ws, f"rebuild {night}"):
        transform(ws, night, policy_id, full_refresh=True)


def release(ws: Workspace, night: str, reviewer: str, reason: str) -> releases.Release:
    """Record a reviewer's release of a held night (audited in meta.releases) and show it on the report."""
    con = _connect(ws)
    try:
        decision = releases.record(con, night, reviewer, reason)
    finally:
        con.close()
    refresh_report(ws, night)
    log.info("release %s recorded: %d critical findings overruled", night, len(decision.overruled))
    return decision


def release_and_publish(ws: Workspace, night: str, policy_id: str, reviewer: str, reason: str,
                        webhook: "delivery.Webhook | None" = None) -> dict:
    """A released night's lists go out: the night's build and scores are redone (the marts may since hold
    a later night), then publish and deliver, as the DAG would have."""
    decision = release(ws, night, reviewer, reason)
    transform(ws, night, policy_id)
    score(ws, night)
    con = _connect(ws)
    try:
        verdict = quality.stored(con, night).as_dict()
    finally:
        con.close()
    result = publish(ws, night, policy_id, verdict)
    result["delivery"] = deliver(ws, night, webhook)
    result["release"] = decision
    return result


def _write_case_trails(ws: Workspace, night: str, items) -> None:
    """计算明细 beside each sub-district's lists (publish/trail.py)."""
    from poverty_warning.publish.trail import write_case_trails

    con = _connect(ws)
    try:
        write_case_trails(con, ws.outbox, night, items)
    finally:
        con.close()


def deliver(ws: Workspace, night: str, webhook: "delivery.Webhook | None" = None) -> dict:
    """Send undelivered list versions (tonight's, and earlier nights' failures)."""
    con = _connect(ws)
    try:
        result = delivery.deliver(con, ws.outbox, night, webhook or delivery.Webhook.from_env())
    finally:
        con.close()
    if result["file_only"]:  # said out loud: a missing webhook must not pass for a delivery
        log.warning("deliver %s: no list webhook configured (connection poverty_warning_webhook or "
                    "POVERTY_WARNING_WEBHOOK_URL): %d list versions stay in the outbox only", night,
                    result["file_only"])
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

    with exclusive(ws, f"run-night {night}"):
        timed("ingest", ingest, ws, feeds_dir, night)
        verdict = timed("validate", validate, ws, night, expect_daily_claims)
        timed("dbt_build", transform, ws, night, policy_id)
        timed("score", score, ws, night)
        held, result = None, {}
        try:
            result = timed("publish", publish, ws, night, policy_id, verdict)
        except PublishHeld as exc:
            held = exc
        result["delivery"] = timed("deliver", deliver, ws, night, webhook)
    if held is not None:
        raise held
    return result


def nights_between(first: str, last: str) -> list[str]:
    """The nights of a backfill, oldest first: a night's cases are decided from the nights before it."""
    start, end = dt.date.fromisoformat(check_date(first)), dt.date.fromisoformat(check_date(last))
    if end < start:
        raise ValueError(f"backfill range ends before it starts: {first} .. {last}")
    return [(start + dt.timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def backfill(ws: Workspace, feeds_dir: Path, first: str, last: str, policy_id: str,
             webhook: "delivery.Webhook | None" = None) -> dict[str, str]:
    """Run the nights first..last in date order, as Airflow's backfill of the DAG does; a held night is
    reported and the next night still runs (it retries the held night's earlier deliveries)."""
    outcome = {}
    for night in nights_between(first, last):
        try:
            run_night(ws, feeds_dir, night, policy_id, webhook=webhook)
            outcome[night] = "published"
        except PublishHeld as exc:
            outcome[night] = str(exc)
    return outcome


@contextlib.contextmanager
def throwaway_warehouse(feeds_dir: Path, policy_id: str, as_of: str):
    """The feeds ingested and modelled under a policy in a temporary workspace, for one date."""
    load_policy(policy_id)
    with tempfile.TemporaryDirectory(prefix="poverty-warning-assess-") as tmp:
        ws = Workspace(Path(tmp))
        ingest(ws, feeds_dir, as_of, id_key=secrets.token_bytes(32))  # kept nowhere: a key for this run only
        run_transform(ws, as_of, policy_id)
        yield ws


def assess(feeds_dir: Path, policy_id: str, as_of: str, out: Path) -> dict[str, int]:
    """The contract's `assess`: same ingestion, checks and models, on a throw-away workspace.

    File-level faults raise before anything is written to `out`.
    """
    with throwaway_warehouse(feeds_dir, policy_id, as_of) as ws:
        con = _connect(ws)
        try:
            return write_contract_outputs(con, as_of, out)  # each file renamed into place
        finally:
            con.close()


def explain(household_id: str, as_of: str, policy_id: str | None = None, feeds_dir: Path | None = None,
            ws: Workspace | None = None):
    """A household's calculation trail: from feeds (as `assess` computes it), else from the nightly warehouse."""
    from poverty_warning.publish import trail

    if feeds_dir is not None:
        with throwaway_warehouse(feeds_dir, policy_id, as_of) as tmp_ws:
            con = _connect(tmp_ws)
            try:
                return trail.read_one(con, household_id, as_of)
            finally:
                con.close()
    ws = ws or Workspace.default()
    if not ws.duckdb_path.exists():
        raise trail.TrailError(f"no nightly warehouse at {ws.duckdb_path}: run a night first, or pass --feeds")
    try:
        con = connect(ws, read_only=True)
    except duckdb.IOException:  # tonight's run holds the file
        raise trail.TrailError(f"the warehouse {ws.duckdb_path} is being written by a nightly run: "
                               "try again when it has finished") from None
    try:
        built = trail.run_of(con)
        if policy_id and built["policy_id"] != policy_id:
            raise trail.TrailError(f"the warehouse was computed under {built['policy_id']}, not {policy_id}: "
                                   "pass --feeds to explain under another policy")
        return trail.read_one(con, household_id, as_of)
    finally:
        con.close()


# Longest each task may run before Airflow fails it (and the alert goes out): a city of ~20 million
# residents takes a few minutes per step (`make benchmark`), so these leave an order of magnitude of room.
# The Airflow pool of the warehouse, one slot: DuckDB allows one writing process per file, also across DAGs.
WAREHOUSE_POOL = "poverty_warning_warehouse"
STEP_TIMEOUTS_MINUTES = {"ingest": 60, "validate": 60, "dbt_build": 180, "score": 60, "publish": 60, "deliver": 30}


def alert_text(night: str, failed_task: str | None, verdict: dict | None) -> str:
    """The one line the on-call person reads: which night, and why it needs attention."""
    held = hold_reason(night, verdict) if verdict is not None else None
    if held and failed_task in ("publish", "deliver"):
        return f"nightly_warning {night}: {held}"
    return f"nightly_warning {night}: task {failed_task or '?'} failed; see its log"


def send_alert(url: str, text: str, details: dict) -> None:
    """POST the alert (JSON) to the bureau's alert webhook; an alert that cannot be sent is logged, since
    the run is already marked failed in the UI."""
    import httpx

    try:
        httpx.post(url, json={"text": text, **details}, timeout=10.0).raise_for_status()
    except httpx.HTTPError as exc:
        log.error("alert not sent to the alert webhook (%s): %s", type(exc).__name__, text)


def build_dag(fileloc: str):
    """The Airflow DAG `nightly_warning`: one task per step of STEPS, strictly in sequence, one active run.

    A held night ends failed: publish fails with the hold, deliver still runs (earlier nights' failed
    deliveries are retried) and fails with the hold too, and the DAG's failure callback posts the reason to
    the alert webhook. `fileloc` is the DAG file the scheduler parses (Airflow ties a DAG to the file that
    defines it)."""
    import pendulum
    from airflow.sdk import DAG, Param, task
    from airflow.sdk.exceptions import AirflowFailException

    from poverty_warning import settings
    from poverty_warning.policy import available

    cfg = settings.get()

    def workspace() -> Workspace:
        return Workspace.default()

    def feeds(params) -> Path:
        return Path(params["feeds_dir"]) if params.get("feeds_dir") else workspace().feeds

    def connection(conn_id: str):
        from airflow.sdk import BaseHook

        try:
            return BaseHook.get_connection(conn_id)
        except Exception:  # no such connection: the environment decides
            return None

    def webhook_from_connection():
        """The list webhook from the Airflow connection `poverty_warning_webhook` (host = URL, password =
        HMAC secret), if one is defined; otherwise delivery reads the settings."""
        conn = connection("poverty_warning_webhook")
        return delivery.Webhook(url=conn.host, secret=conn.password or "") if conn else None

    def the_night(logical_date, params) -> str:
        return night_of(logical_date, params.get("night"))

    def notify_failure(context) -> None:
        """DAG on_failure_callback: the alert webhook (connection `poverty_warning_alerts`, host = URL, or
        POVERTY_WARNING_ALERT_WEBHOOK_URL) learns which night needs attention, and why."""
        run = context["dag_run"]
        ti = context.get("ti")
        night = the_night(run.logical_date, {**(context.get("params") or {}), **(run.conf or {})})
        conn = connection("poverty_warning_alerts")
        url = conn.host if conn else settings.get().alert_webhook_url
        verdict = stored_verdict(workspace(), night)
        text = alert_text(night, getattr(ti, "task_id", None), verdict)
        if not url:
            log.error("no alert webhook configured (connection poverty_warning_alerts): %s", text)
            return
        send_alert(url, text, {"dag_id": run.dag_id, "run_id": run.run_id, "night": night,
                               "task_id": getattr(ti, "task_id", None)})

    with DAG(
        dag_id="nightly_warning",
        schedule=None if cfg.schedule == "manual" else cfg.schedule,
        start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai"),
        catchup=False,
        max_active_runs=1,
        default_args={"retries": cfg.task_retries, "retry_delay": pendulum.duration(minutes=10)},
        on_failure_callback=notify_failure,
        params={
            "policy_id": Param(cfg.policy, enum=available()),
            "feeds_dir": Param(None, type=["null", "string"], description="feeds directory; default <data>/feeds"),
            "expect_daily_claims": Param(True, type="boolean",
                                         description="a night without claims blocks publishing"),
            "night": Param(None, type=["null", "string"], description="YYYY-MM-DD; default: the day before the run"),
            "release_reviewer": Param(None, type=["null", "string"],
                                      description="releases a held night: the reviewer's name (with release_reason)"),
            "release_reason": Param(None, type=["null", "string"], description="why the held night is safe to publish"),
        },
        tags=["poverty-warning"],
        doc_md=__doc__,
    ) as dag:
        def step(name: str, **kwargs):
            return task(task_id=name, execution_timeout=pendulum.duration(minutes=STEP_TIMEOUTS_MINUTES[name]),
                        pool=WAREHOUSE_POOL, **kwargs)

        def locked(name: str, night: str):
            return exclusive(workspace(), f"nightly_warning {name} {night}")

        @step("ingest")
        def ingest_task(logical_date=None, params=None) -> dict:
            from airflow.sdk import Variable

            night = the_night(logical_date, params)
            key = settings.id_hash_key(Variable.get("poverty_warning_id_hash_key", default=None))
            with locked("ingest", night):
                return ingest(workspace(), feeds(params), night, key)

        @step("validate")
        def validate_task(logical_date=None, params=None) -> dict:
            night = the_night(logical_date, params)
            with locked("validate", night):
                return validate(workspace(), night, params["expect_daily_claims"])

        @step("dbt_build")
        def dbt_build_task(logical_date=None, params=None) -> None:
            night = the_night(logical_date, params)
            with locked("dbt_build", night):
                transform(workspace(), night, params["policy_id"])

        @step("score")
        def score_task(logical_date=None, params=None) -> dict:
            night = the_night(logical_date, params)
            with locked("score", night):
                return score(workspace(), night)

        @step("publish")
        def publish_task(verdict: dict, logical_date=None, params=None) -> dict:
            night = the_night(logical_date, params)
            if not verdict["may_publish"] and params.get("release_reviewer"):
                release(workspace(), night, params["release_reviewer"], params.get("release_reason") or "")
            try:
                with locked("publish", night):
                    return publish(workspace(), night, params["policy_id"], verdict)
            except PublishHeld as exc:
                raise AirflowFailException(str(exc)) from None  # retrying cannot help: the data must change

        # Delivery also runs when publishing was held or failed: earlier nights' failed deliveries are
        # retried. As the DAG's last task it then fails too, so the run is not green.
        @step("deliver", trigger_rule="all_done")
        def deliver_task(logical_date=None, params=None, ti=None) -> dict:
            night = the_night(logical_date, params)
            with locked("deliver", night):
                result = deliver(workspace(), night, webhook_from_connection())
            if ti.xcom_pull(task_ids="publish") is None:
                held = hold_reason(night, ti.xcom_pull(task_ids="validate"))
                raise AirflowFailException(f"{held or f'publish did not run for {night}'}; deliveries: {result}")
            return result

        verdict = validate_task()
        tasks = {"ingest": ingest_task(), "validate": verdict, "dbt_build": dbt_build_task(),
                 "score": score_task(), "publish": publish_task(verdict), "deliver": deliver_task()}
        for before, after in zip(STEPS, STEPS[1:]):
            tasks[before] >> tasks[after]
    dag.fileloc = fileloc
    return dag
