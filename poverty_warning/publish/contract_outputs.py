"""Writing outputs: the contract's five CSV files, written to a temporary name
and renamed into place, with rows in a fixed order so reruns compare byte for
byte."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb

from poverty_warning.contract import OUTPUTS

# Each contract file: the mart or query it comes from and its row order.
CONTRACT_QUERIES = {
    "candidates.csv": ("SELECT household_id, rule, burden_amount, income_amount, burden_ratio, per_capita_income, "
                       "reason, person_id, household_size, subdistrict_code FROM marts.fct_candidates "
                       "ORDER BY household_id, rule, person_id NULLS FIRST"),
    "entitlements.csv": ("SELECT person_id, year, benefit, category, base_amount, expected_assistance, "
                         "paid_assistance, reason, unpaid_assistance, household_id, subdistrict_code "
                         "FROM marts.fct_entitlements ORDER BY person_id, year, benefit"),
    "enrollment_gaps.csv": ("SELECT person_id, category, issue, year, reason, granted_subsidy, enrolled_subsidy, "
                            "household_id, subdistrict_code FROM marts.fct_enrollment_gaps ORDER BY person_id"),
}

# Extra outputs beside the contract's five files (the contract allows extra files and columns).
EXTRA_QUERIES = {
    "hardship_measures.csv": ("SELECT household_id, measure, met, oop_amount, income_amount, reference_amount, "
                              "oop_share, threshold, label_zh, subdistrict_code FROM marts.fct_hardship_measures "
                              "ORDER BY household_id, measure"),
    # The 疑似低保未覆盖 worker sheet: under the dibao line on income alone, not a candidate.
    "suspected_dibao_uncovered.csv": (
        "SELECT household_id, subdistrict_code, household_size, income_amount, monthly_per_capita_income, "
        "line_parameter, line_amount, line_year, carried_forward_from_year, reason "
        "FROM marts.fct_suspected_dibao_uncovered ORDER BY household_id"),
    "household_warnings.csv": (
        "SELECT household_id, subdistrict_code, burden_amount, income_amount, burden_ratio, warning_level, "
        "warning_label FROM marts.fct_household_warnings ORDER BY household_id"),
    # The fund's own targets measured (the KPI page's figures), so `assess` shows them too.
    "fund_kpis.csv": ("SELECT target, kind, period, period_start, numerator, denominator, kpi_value, minimum, maximum, "
                      "target_met FROM marts.fct_fund_kpis ORDER BY target, period, period_start"),
}


def write_query_csv(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> int:
    """Write a query's rows as UTF-8 CSV with a header, atomically; return the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        con.execute(f"COPY ({sql}) TO '{tmp}' (HEADER, DELIMITER ',')")
        count = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return count


def write_contract_outputs(con: duckdb.DuckDBPyConnection, night: str, out: Path) -> dict[str, int]:
    """candidates, entitlements, enrollment gaps, the night's load report and quarantine, and the extra
    outputs (hardship measures side by side)."""
    counts = {name: write_query_csv(con, sql, out / name) for name, sql in CONTRACT_QUERIES.items()}
    counts["load_report.csv"] = write_query_csv(
        con, "SELECT feed, file, rows_received, rows_loaded, rows_quarantined FROM meta.landed_files "
             f"WHERE night = DATE '{night}' ORDER BY feed, file", out / "load_report.csv")
    counts["quarantine.csv"] = write_query_csv(
        con, "SELECT feed, file, row_number, reason FROM raw.quarantine "
             f"WHERE night = DATE '{night}' ORDER BY feed, file, row_number", out / "quarantine.csv")
    assert set(counts) == set(OUTPUTS)
    counts.update({name: write_query_csv(con, sql, out / name) for name, sql in EXTRA_QUERIES.items()})
    return counts
