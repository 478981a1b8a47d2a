"""Running the dbt project (in-process, dbt-duckdb) for one night and policy."""
from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb

from poverty_warning.policy import tables as policy_tables
from poverty_warning.workspace import Workspace
from poverty_warning.settings import DBT_PROJECT_DIR, outreach_settings

PROJECT_DIR = DBT_PROJECT_DIR


class TransformError(RuntimeError):
    pass


def write_policy_tables(ws: Workspace) -> None:
    con = duckdb.connect(str(ws.duckdb_path))
    try:
        policy_tables.write(con)
    finally:
        con.close()


def outreach_vars() -> dict:
    """The bureau's outreach settings the dbt outreach models read (poverty_warning/defaults/outreach.yaml)."""
    cfg = outreach_settings()
    return {"outreach_unpaid_min_amount": cfg["unpaid_min_amount"],
            "outreach_referral_ratio_after_assistance": cfg["referral_ratio_after_assistance"]}


def run_dbt(ws: Workspace, command: str, as_of: str, policy_id: str, select: str | None = None) -> None:
    """`dbt build` (or another command) with the night's vars; raises TransformError naming what failed."""
    from dbt.cli.main import dbtRunner

    os.environ["POVERTY_WARNING_DUCKDB"] = str(ws.duckdb_path)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    args = [command, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
            "--target-path", str(ws.dbt_target), "--log-path", str(ws.dbt_logs),
            "--vars", json.dumps({"as_of": as_of, "policy_id": policy_id, **outreach_vars()}),
            "--quiet", "--no-use-colors"]
    if select:
        args += ["--select", select]
    result = dbtRunner().invoke(args)
    if not result.success:
        failures = []
        for r in getattr(result.result, "results", None) or []:
            if str(r.status) in ("error", "fail"):
                failures.append(f"{r.node.name}: {str(r.message).splitlines()[0] if r.message else r.status}")
        detail = "; ".join(failures[:5]) or (str(result.exception) if result.exception else "see dbt logs")
        raise TransformError(f"dbt {command} failed: {detail}")


def transform(ws: Workspace, as_of: str, policy_id: str) -> None:
    write_policy_tables(ws)
    run_dbt(ws, "build", as_of, policy_id)
