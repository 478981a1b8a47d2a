"""Warnings about people come with their list: who, by sub-district, with masked IDs.

Each list is a dbt mart (data flows through dbt); after the night's build its rows are written next to
the quality report — one CSV sorted by sub-district and one workbook with a sheet per sub-district — for
the agency that can act on it, and a warning naming the list joins the night's verdict.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from poverty_warning.quality.batch_checks import Finding


@dataclass(frozen=True)
class WarningList:
    name: str  # file name, and the finding's list_name
    model: str  # the dbt mart holding the rows
    title_zh: str
    feed: str  # whose feed can fix it (the report names the agency)
    message: str  # {n}: number of rows
    impact: str
    action: str
    columns: dict[str, str]  # mart column -> Chinese header, in order


LISTS = (
    WarningList(
        name="households_without_income_assessment",
        model="marts.fct_households_without_income_assessment",
        title_zh="有医疗费用但无家庭经济状况核对的家庭",
        feed="household_income",
        message="{n}户有医疗费用但没有家庭经济状况核对记录，无法按收入规则判断",
        impact="名单照常发布，但这些家庭负担再重也不会进入支出型贫困名单",
        action="请把名单（按街道分组）转给民政部门补做家庭经济状况核对",
        columns={"subdistrict_code": "街道代码", "subdistrict_name": "街道名称", "household_id": "家庭编号",
                 "contact_person_id_masked": "联系人身份证号（脱敏）", "household_size": "家庭人数",
                 "members_with_bills": "有结算的成员数", "personal_burden": "个人负担医疗费用（元）",
                 "latest_claim_date": "最近一次结算日期"},
    ),
)


def lists_dir(report_dir: Path) -> Path:
    return report_dir / "lists"


def _rows(con: duckdb.DuckDBPyConnection, spec: WarningList) -> pd.DataFrame | None:
    try:
        frame = con.execute(f"SELECT {', '.join(spec.columns)} FROM {spec.model} "
                            "ORDER BY subdistrict_code, household_id").df()
    except duckdb.CatalogException:  # dbt has not built it (yet) in this warehouse
        return None
    return frame.rename(columns=spec.columns)


def _write(frame: pd.DataFrame, folder: Path, spec: WarningList) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"{spec.name}.csv"
    frame.to_csv(csv.with_suffix(".csv.tmp"), index=False, encoding="utf-8-sig")  # Excel reads BOM'd UTF-8
    csv.with_suffix(".csv.tmp").replace(csv)
    book = folder / f"{spec.name}.xlsx"
    tmp = folder / f".{spec.name}.xlsx.tmp"
    with pd.ExcelWriter(tmp, engine="xlsxwriter") as writer:
        if frame.empty:
            frame.to_excel(writer, sheet_name="无", index=False)
        for (code, name), rows in frame.groupby(["街道代码", "街道名称"], sort=True, dropna=False):
            sheet = f"{code} {name if isinstance(name, str) else ''}".strip()[:31]  # codes keep sheets unique
            rows.to_excel(writer, sheet_name=sheet, index=False)
    tmp.replace(book)


def write_lists(con: duckdb.DuckDBPyConnection, report_dir: Path) -> tuple[list[Finding], dict]:
    """Write every list dbt has built; return one warning per non-empty list and the counts."""
    findings, figures = [], {}
    for spec in LISTS:
        frame = _rows(con, spec)
        if frame is None:
            continue
        _write(frame, lists_dir(report_dir), spec)
        figures[f"list_{spec.name}"] = int(len(frame))
        if len(frame):
            findings.append(Finding("people", "warning", spec.message.format(n=len(frame)), feed=spec.feed,
                                    impact=spec.impact, action=spec.action, list_name=spec.name))
    return findings, figures


def list_files(report_dir: Path, name: str) -> list[Path]:
    return [p for p in (lists_dir(report_dir) / f"{name}.csv", lists_dir(report_dir) / f"{name}.xlsx") if p.exists()]
