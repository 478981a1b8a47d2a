"""The nightly steps, each idempotent for its night, and the one-shot `assess`.

The Airflow DAG calls these functions and nothing else; so does the CLI. Each
step opens the DuckDB file, does its work and closes it: one writer at a time.
"""
from __future__ import annotations

import datetime as dt
import logging
import tempfile
from pathlib import Path

import duckdb

from . import delivery, landing, outreach, quality, quality_report, summary_page
from .policies import load_policy
from .publish import write_contract_outputs
from .transform import transform as run_transform
from .workspace import Workspace

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


def _connect(ws: Workspace) -> duckdb.DuckDBPyConnection:
    ws.ensure()
    return duckdb.connect(str(ws.duckdb_path))


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
    from .expectations import validate_night

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
    from ml.model import RiskModel
    from ml.scoring import score as score_households

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
    summary = summary_page.build(ws.root / "reports" / night / "summary.html", night, policy_id,
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


def run_night(ws: Workspace, feeds_dir: Path, night: str, policy_id: str) -> dict:
    """All steps in one process, in order (what the DAG does, without Airflow)."""
    ingest(ws, feeds_dir, night)
    verdict = validate(ws, night)
    transform(ws, night, policy_id)
    score(ws, night)
    result = publish(ws, night, policy_id, verdict)
    result["delivery"] = deliver(ws, night)
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
