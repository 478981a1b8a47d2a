"""Running the dbt project (in-process, dbt-duckdb) for one night and policy."""
from __future__ import annotations

import json
import logging

from poverty_warning.policy import tables as policy_tables
from poverty_warning.warehouse import connect, record_build
from poverty_warning.workspace import Workspace
from poverty_warning import settings
from poverty_warning.settings import DBT_PROJECT_DIR

log = logging.getLogger(__name__)
PROJECT_DIR = DBT_PROJECT_DIR


class TransformError(RuntimeError):
    pass


def write_policy_tables(ws: Workspace) -> None:
    con = connect(ws)
    try:
        policy_tables.write(con)
    finally:
        con.close()


def outreach_vars() -> dict:
    """The bureau's outreach settings the dbt outreach models read (poverty_warning/defaults/outreach.yaml)."""
    cfg = settings.outreach()
    return {"outreach_unpaid_min_amount": cfg["unpaid_min_amount"],
            "outreach_referral_ratio_after_assistance": cfg["referral_ratio_after_assistance"]}


def engine_vars(ws: Workspace) -> dict:
    """DuckDB's memory bound and spill folder (settings), set at the start of every dbt run: a large night
    spills to disk instead of growing without bound."""
    s = settings.get()
    spill = s.duckdb_temp_directory or ws.root / "duckdb_spill"
    return {"duckdb_memory_limit": s.duckdb_memory_limit, "duckdb_temp_directory": str(spill)}


def dbt_args(ws: Workspace, command: str, as_of: str, policy_id: str, target: str = "duckdb") -> list[str]:
    """The command line of one dbt invocation for a night and policy (also used by the policy mutations)."""
    # The warehouse path reaches profiles.yml as a var: the process environment is left alone.
    return [command, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
            "--target-path", str(ws.dbt_target), "--log-path", str(ws.dbt_logs),
            "--vars", json.dumps({"as_of": as_of, "policy_id": policy_id, "duckdb_path": str(ws.duckdb_path),
                                  **outreach_vars(), **engine_vars(ws)}),
            "--target", target, "--quiet", "--no-use-colors", "--no-send-anonymous-usage-stats"]


def run_dbt(ws: Workspace, command: str, as_of: str, policy_id: str, select: str | None = None,
            target: str = "duckdb") -> None:
    """`dbt build` (or another command) with the night's vars; raises TransformError naming what failed."""
    from dbt.cli.main import dbtRunner

    args = dbt_args(ws, command, as_of, policy_id, target)
    if select:
        args += ["--select", select]
    try:
        result = dbtRunner().invoke(args)
    finally:
        if target == "duckdb":
            _release_warehouse()
    if not result.success:
        failures = []
        for r in getattr(result.result, "results", None) or []:
            if str(r.status) in ("error", "fail"):
                failures.append(f"{r.node.name}: {str(r.message).splitlines()[0] if r.message else r.status}")
        detail = "; ".join(failures[:5]) or (str(result.exception) if result.exception else "see dbt logs")
        raise TransformError(f"dbt {command} failed: {detail}")


def build_quality_report_models(ws: Workspace, night: str) -> None:
    """The quality report's views (dbt tag `quality_report`) and the staging views under them. The report is
    first drawn at validate, before the night's `dbt build`; as views they show every later step's rows too."""
    run_dbt(ws, "run", night, settings.get().policy, select="+tag:quality_report")


def _release_warehouse() -> None:
    """dbt-duckdb keeps its DuckDB instance open in the process after a run; closed here, so the step after
    dbt (or a reader) may open the warehouse with another configuration, e.g. read-only."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def carried_forward_figures(ws: Workspace) -> list[tuple[str, int, int]]:
    """(parameter, year, published year) for each city figure of the night carried forward."""
    con = connect(ws)
    try:
        return [tuple(r) for r in con.execute(
            "SELECT parameter_name, parameter_year, carried_forward_from_year "
            "FROM intermediate.int_parameters_resolved WHERE carried_forward_from_year IS NOT NULL "
            "ORDER BY parameter_name, parameter_year").fetchall()]
    finally:
        con.close()


def transform(ws: Workspace, as_of: str, policy_id: str) -> None:
    write_policy_tables(ws)
    run_dbt(ws, "build", as_of, policy_id)
    by_figure: dict[tuple[str, int], list[int]] = {}
    for name, year, published in carried_forward_figures(ws):
        by_figure.setdefault((name, published), []).append(year)
    for (name, published), years in by_figure.items():
        log.warning("transform %s: %s not published for %s: the %d figure is carried forward",
                    as_of, name, ", ".join(map(str, years)), published)
    record_build(ws, as_of, policy_id)
