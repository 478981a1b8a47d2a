"""Running the dbt project (in-process, dbt-duckdb) for one night and policy."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

import duckdb

from poverty_warning.policy import tables as policy_tables
from poverty_warning.warehouse import connect, last_build, record_build, spill_folder
from poverty_warning.workspace import Workspace
from poverty_warning import settings
from poverty_warning.settings import DBT_PROJECT_DIR

log = logging.getLogger(__name__)
PROJECT_DIR = DBT_PROJECT_DIR
# The models only training and backtests read (dbt tag `training`): the early-warning model's label, which
# looks months ahead, and the month-end verdicts it is made of (the largest model of a night). A night leaves
# them out; training builds them on demand (training.build_training_models).
TRAINING_MODELS = "tag:training"


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
    return {"duckdb_memory_limit": settings.get().duckdb_memory_limit, "duckdb_temp_directory": str(spill_folder(ws))}


def dbt_args(ws: Workspace, command: str, as_of: str, policy_id: str, target: str = "duckdb",
             changed_since: str | None = None) -> list[str]:
    """The command line of one dbt invocation for a night and policy (also used by the policy mutations).

    `changed_since` (the last build's night) makes the per-claim models recompute only the persons with
    rows since; without it they recompute every person."""
    # The warehouse path reaches profiles.yml as a var: the process environment is left alone.
    night_vars = {"as_of": as_of, "policy_id": policy_id, "duckdb_path": str(ws.duckdb_path),
                  **outreach_vars(), **engine_vars(ws)}
    if changed_since:
        night_vars["changed_since"] = changed_since
    return [command, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
            "--target-path", str(ws.dbt_target), "--log-path", str(ws.dbt_logs),
            "--vars", json.dumps(night_vars),
            "--target", target, "--quiet", "--no-use-colors", "--no-send-anonymous-usage-stats"]


def run_dbt(ws: Workspace, command: str, as_of: str, policy_id: str, select: str | None = None,
            target: str = "duckdb", plan: "BuildPlan | None" = None, exclude: str | None = None,
            unit_tests: bool = True) -> None:
    """`dbt build` (or another command) with the night's vars; raises TransformError naming what failed.
    Without a plan every model is computed whole (the per-claim models for every person). `unit_tests=False`
    leaves the dbt unit tests out: they check the code on fixed inputs, so the nights and training, which
    check their data, would only repeat what run_unit_tests found (`make test`, spark-check), as dbt advises
    for production; they cost more than the models on a small night."""
    from dbt.cli.main import dbtRunner

    args = dbt_args(ws, command, as_of, policy_id, target, plan.changed_since if plan else None)
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    if plan and plan.full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    if exclude:
        args += ["--exclude", exclude]
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


def run_unit_tests(ws: Workspace, as_of: str, policy_id: str, target: str = "duckdb") -> None:
    """Every dbt unit test (the rules worked by hand in the models' YAML) on a warehouse the night's build
    has filled: dbt reads the column types of a unit test's inputs from the built relations, so the
    training models a night leaves out are built first."""
    run_dbt(ws, "run", as_of, policy_id, select=TRAINING_MODELS, target=target)
    run_dbt(ws, "test", as_of, policy_id, select="test_type:unit", target=target)


QUALITY_REPORT_VIEWS = tuple(sorted(p.stem for p in (PROJECT_DIR / "models" / "marts" / "quality").glob("*.sql")))


def build_quality_report_models(ws: Workspace, night: str) -> None:
    """The quality report's views (dbt tag `quality_report`) and the staging views under them. The report is
    first drawn at validate, before the night's `dbt build`; as views they show every later step's rows too.
    They read no night's vars, so the views the last build made serve while the dbt code is the same: a dbt
    run here would cost a whole parse of the project (the night's vars differ from the last run's)."""
    con = connect(ws)
    try:
        last = last_build(con)
        present = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' AND table_type = 'VIEW'"
        ).fetchall()}
    finally:
        con.close()
    if last and last.dbt_code_digest == dbt_code_digest() and set(QUALITY_REPORT_VIEWS) <= present:
        return
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


@dataclass(frozen=True)
class BuildPlan:
    """How a night's dbt build treats the per-claim models kept between nights."""
    full_refresh: bool
    changed_since: str | None  # the last build's night, when the night continues it
    reason: str


def dbt_code_digest() -> str:
    """A digest of the dbt project's code: its settings, models and macros."""
    digest = hashlib.sha256()
    for path in sorted(PROJECT_DIR.glob("dbt_project.yml")) + sorted(PROJECT_DIR.glob("m*/**/*.*")):
        digest.update(str(path.relative_to(PROJECT_DIR)).encode() + path.read_bytes())
    return digest.hexdigest()


def inputs_fingerprint(con: duckdb.DuckDBPyConnection, as_of: str, policy_id: str) -> str:
    """A digest of everything the kept per-claim models depend on besides the person-keyed feeds: the
    policy tables, the city parameters delivered by the night, the dbt code, the policy and outreach
    settings, the as-of month (allowances, carried-forward figures and year windows turn with the year,
    the trailing rule windows with the month) and the months with claims (each household has a row for
    every such month). When it differs from the last build's, the night rebuilds every model whole: the
    first night of a month is a full build."""
    digest = hashlib.sha256(json.dumps({"policy_id": policy_id, "as_of_month": as_of[:7], **outreach_vars()},
                                       sort_keys=True).encode())
    digest.update(dbt_code_digest().encode())
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'policy' ORDER BY 1").fetchall()]
    for table in tables:
        digest.update(table.encode() + repr(con.execute(f"SELECT * FROM policy.{table} ORDER BY ALL").fetchall()).encode())
    landed = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'").fetchall()}
    if "parameters" in landed:
        digest.update(repr(con.execute(
            "SELECT * EXCLUDE (_file, _row_number, _night) FROM raw.parameters "
            "WHERE _delivery_date <= CAST(? AS DATE) ORDER BY ALL", [as_of]).fetchall()).encode())
    if "claims" in landed:
        digest.update(repr(con.execute(
            "SELECT DISTINCT date_trunc('month', settle_date) FROM raw.claims "
            "WHERE _delivery_date <= CAST(? AS DATE) AND settle_date <= CAST(? AS DATE) ORDER BY 1",
            [as_of, as_of]).fetchall()).encode())
    return digest.hexdigest()


def build_plan(con: duckdb.DuckDBPyConnection, as_of: str, fingerprint: str, full_refresh: bool = False) -> BuildPlan:
    """Continue the last build (recompute only the persons with rows since) when that is known to give
    what a full build would; otherwise rebuild every model whole."""
    if full_refresh:
        return BuildPlan(True, None, "full rebuild asked for")
    last = last_build(con)
    if last is None or last.inputs_fingerprint is None:
        return BuildPlan(True, None, "no earlier build to continue")
    last_night, last_fingerprint, last_files = last.night, last.inputs_fingerprint, last.files_landed_by_night
    files_now = con.execute("SELECT count(*) FROM meta.landed_files WHERE night <= CAST(? AS DATE)",
                            [last_night]).fetchone()[0]
    if last_fingerprint != fingerprint:
        return BuildPlan(True, None, "policy, parameters, dbt code or year changed since the last build")
    if as_of <= last_night:
        return BuildPlan(True, None, f"the night is not after the last build ({last_night})")
    if files_now != last_files:
        return BuildPlan(True, None, f"files were landed for nights up to {last_night} after its build")
    return BuildPlan(False, last_night, f"persons with rows since {last_night}")


def transform(ws: Workspace, as_of: str, policy_id: str, full_refresh: bool = False) -> None:
    """The night's dbt build: incremental when it continues the last build, else (or when asked) whole;
    never the training models (only training reads them)."""
    write_policy_tables(ws)
    con = connect(ws)
    try:
        fingerprint = inputs_fingerprint(con, as_of, policy_id)
        plan = build_plan(con, as_of, fingerprint, full_refresh)
    finally:
        con.close()  # dbt opens the file itself
    log.info("transform %s: %s build (%s)", as_of, "full" if plan.full_refresh else "incremental", plan.reason)
    run_dbt(ws, "build", as_of, policy_id, plan=plan, exclude=TRAINING_MODELS, unit_tests=False)
    by_figure: dict[tuple[str, int], list[int]] = {}
    for name, year, published in carried_forward_figures(ws):
        by_figure.setdefault((name, published), []).append(year)
    for (name, published), years in by_figure.items():
        log.warning("transform %s: %s not published for %s: the %d figure is carried forward",
                    as_of, name, ", ".join(map(str, years)), published)
    record_build(ws, as_of, policy_id, fingerprint, plan.full_refresh, dbt_code_digest())
