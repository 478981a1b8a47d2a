"""The DuckDB warehouse: one file per workspace, one writing process at a time.

The pipeline's own tables (meta.*, risk.*) are declared in meta.sql and created here, nowhere else; the
marts are dbt's."""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import uuid
from pathlib import Path
from typing import NamedTuple

import duckdb

from poverty_warning import settings
from poverty_warning.workspace import Workspace

TABLES_SQL = Path(__file__).with_name("meta.sql")
SPILL_FOLDER = "duckdb_spill"  # under the workspace, unless settings name another

# Where the resident ID may be stored: the rule computation (dbt staging and intermediate models, which join
# claims to persons), the contract's outputs (person_id in candidates, entitlements, enrollment_gaps) and what
# the worker lists and their calculation trail (计算明细) are rendered from, masked for reading. The landed
# feeds are files, read through the raw views. Nothing else (risk.*, meta.*, the analytic marts) holds it: a
# person there is their keyed hash, contract.ids.person_key (tests/test_privacy.py scans every table).
RESIDENT_ID_SCHEMAS = frozenset({"raw", "staging", "intermediate"})
RESIDENT_ID_TABLES = frozenset({
    "marts.fct_candidates", "marts.fct_entitlements", "marts.fct_enrollment_gaps",  # the contract
    "marts.fct_outreach_items",  # the lists (contact_person_id)
    "marts.fct_trail_claims", "marts.fct_trail_entitlements", "marts.fct_trail_rules",  # 计算明细
})


def may_hold_resident_ids(schema: str, table: str) -> bool:
    return schema in RESIDENT_ID_SCHEMAS or f"{schema}.{table}" in RESIDENT_ID_TABLES


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the pipeline's own schemas and tables that do not exist yet (idempotent)."""
    con.execute(TABLES_SQL.read_text(encoding="utf-8"))


def stamp_identity(con: duckdb.DuckDBPyConnection) -> str:
    """Create the tables; stamp the warehouse with a random identity the first time; return the identity."""
    create_tables(con)
    found = identity(con)
    if found:
        return found
    warehouse_id = uuid.uuid4().hex
    con.execute("INSERT INTO meta.warehouse_identity VALUES (?, current_timestamp)", [warehouse_id])
    return warehouse_id


def identity(con: duckdb.DuckDBPyConnection) -> str | None:
    """The warehouse's identity, without writing (None if it was never stamped)."""
    try:
        found = con.execute("SELECT warehouse_id FROM meta.warehouse_identity LIMIT 1").fetchone()
    except duckdb.Error:
        return None
    return found[0] if found else None


def stamp(path: Path) -> str:
    """Stamp a warehouse file that has no identity yet (a short one-row write)."""
    con = duckdb.connect(str(path))
    try:
        return stamp_identity(con)
    finally:
        con.close()


class LastBuild(NamedTuple):
    """The latest night's dbt build, as transform.record_build wrote it (meta.builds)."""
    night: str
    policy_id: str
    built_at: dt.datetime
    inputs_fingerprint: str | None
    files_landed_by_night: int | None
    dbt_code_digest: str | None


def last_build(con: duckdb.DuckDBPyConnection) -> LastBuild | None:
    """The latest build recorded in meta.builds (None when no night has built, or the table is missing)."""
    try:
        row = con.execute("SELECT CAST(night AS VARCHAR), policy_id, built_at, inputs_fingerprint, "
                          "files_landed_by_night, dbt_code_digest FROM meta.builds ORDER BY built_at DESC LIMIT 1").fetchone()
    except (duckdb.CatalogException, duckdb.BinderException):  # a warehouse from before these columns
        return None
    return LastBuild(*row) if row else None


def record_build(ws: Workspace, night: str, policy_id: str, inputs_fingerprint: str, full_refresh: bool,
                 dbt_code_digest: str) -> None:
    con = connect(ws)
    try:
        con.execute("INSERT INTO meta.builds (night, policy_id, built_at, inputs_fingerprint, files_landed_by_night, "
                    "full_refresh, dbt_code_digest) SELECT CAST(? AS DATE), ?, current_timestamp, ?, "
                    "(SELECT count(*) FROM meta.landed_files WHERE night <= CAST(? AS DATE)), ?, ?",
                    [night, policy_id, inputs_fingerprint, night, full_refresh, dbt_code_digest])
    finally:
        con.close()


def connect(ws: Workspace, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    ws.ensure()
    con = duckdb.connect(str(ws.duckdb_path), read_only=read_only)
    limit_memory(con, spill_folder(ws))
    if not read_only:
        stamp_identity(con)
    return con


def spill_folder(ws: Workspace) -> Path:
    """Where DuckDB spills what does not fit its memory bound: the `duckdb_temp_directory` setting, else a
    folder of the workspace. The pipeline's connections and dbt's (transform.engine_vars) use the same."""
    return settings.get().duckdb_temp_directory or ws.root / SPILL_FOLDER


def limit_memory(con: duckdb.DuckDBPyConnection, spill: Path | None = None) -> None:
    """DuckDB's memory bound and spill folder from the settings (`duckdb_memory_limit`,
    `duckdb_temp_directory`, else `spill`): a large batch spills to disk instead of growing."""
    chosen = settings.get()
    con.execute(f"SET memory_limit = '{chosen.duckdb_memory_limit}'")
    folder = chosen.duckdb_temp_directory or spill
    if folder is not None:
        con.execute("SET temp_directory = ?", [str(folder)])


class WarehouseBusy(RuntimeError):
    """Another process is running a night on this workspace."""


@contextlib.contextmanager
def exclusive(ws: Workspace, what: str):
    """Hold the workspace's run lock while `what` runs; a second run exits at once with one clear line
    rather than waiting on, or corrupting, the DuckDB file."""
    ws.ensure()
    path = ws.root / "run.lock"
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise WarehouseBusy(f"{ws.root} is busy ({holder}); try again when it has finished") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{what}, pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def record_audit(con: duckdb.DuckDBPyConnection, night: str, event: str, recipient: str, version: str,
                 sha256: str, detail: str | None = None) -> None:
    """One row of the audit trail (meta.list_audit): a list produced, sent, failed or kept as files."""
    con.execute("INSERT INTO meta.list_audit VALUES (now()::TIMESTAMP, CAST(? AS DATE), ?, ?, ?, ?, ?)",
                [night, event, recipient, version, sha256, detail])
