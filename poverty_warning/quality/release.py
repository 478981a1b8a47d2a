"""A reviewer's decision: a held night released by a named reviewer with a reason.

Without a release nothing of a held night publishes. Each release is a row of the audit table
meta.releases (who, why, when, and the critical findings they overruled); the quality report shows it.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import duckdb

from poverty_warning.warehouse import create_tables

from poverty_warning.quality import batch_checks


class ReleaseError(ValueError):
    """A release that cannot be recorded (no reviewer or reason, or a night that was not held)."""


@dataclass(frozen=True)
class Release:
    night: str
    reviewer: str
    reason: str
    released_at: str  # UTC, ISO 8601
    overruled: list[str]  # the critical findings the reviewer judged safe


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    create_tables(con)  # meta.releases is declared with the other pipeline tables in meta.sql


def record(con: duckdb.DuckDBPyConnection, night: str, reviewer: str, reason: str) -> Release:
    reviewer, reason = " ".join((reviewer or "").split()), " ".join((reason or "").split())
    if not reviewer:
        raise ReleaseError("a release needs the reviewer's name (--reviewer)")
    if not reason:
        raise ReleaseError("a release needs a reason (--reason)")
    verdict = batch_checks.stored(con, night)
    if verdict is None:
        raise ReleaseError(f"night {night} has not been validated: nothing to release")
    if verdict.may_publish:
        raise ReleaseError(f"night {night} was not held: nothing to release")
    overruled = [f.message for f in verdict.findings if f.severity == "critical"]
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None)
    ensure_table(con)
    con.execute("INSERT INTO meta.releases VALUES (CAST(? AS DATE), ?, ?, ?, ?)",
                [night, reviewer, reason, now, json.dumps(overruled, ensure_ascii=False)])
    return Release(night, reviewer, reason, now.isoformat(), overruled)


def latest(con: duckdb.DuckDBPyConnection, night: str) -> Release | None:
    """The night's most recent release, if any."""
    ensure_table(con)
    row = con.execute("SELECT reviewer, reason, released_at, overruled FROM meta.releases "
                      "WHERE night = CAST(? AS DATE) ORDER BY released_at DESC LIMIT 1", [night]).fetchone()
    if row is None:
        return None
    return Release(night, row[0], row[1], row[2].isoformat(), json.loads(row[3]))


def covers(con: duckdb.DuckDBPyConnection, night: str, verdict: dict) -> bool:
    """Whether a release lets the night publish: the latest release overruled every critical finding the
    night has now (a rerun that finds something new needs a new decision)."""
    decision = latest(con, night)
    critical = {f["message"] for f in verdict.get("findings", []) if f["severity"] == "critical"}
    return decision is not None and critical <= set(decision.overruled)
