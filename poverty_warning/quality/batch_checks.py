"""Batch-level checks that decide whether a night may publish.

Freshness (the night's claims delivery is there), volume (the night's claims
against the trailing median of earlier deliveries) and quarantine rate. A
critical finding blocks publishing but keeps the data; warnings only go into
the report. Thresholds live in expectations/batch_checks.yaml.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median

import duckdb
import yaml

from poverty_warning.settings import SUITES_DIR
from poverty_warning.warehouse import create_tables

CONFIG = SUITES_DIR / "batch_checks.yaml"


@dataclass
class Finding:
    check: str
    severity: str  # critical | warning
    message: str  # Chinese, for the report


@dataclass
class Verdict:
    night: str
    may_publish: bool
    findings: list[Finding] = field(default_factory=list)
    figures: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def load_config(path: Path = CONFIG) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _amount_drift(con, night: str, cfg: dict) -> list[Finding]:
    """Population stability of tonight's claim amounts against the trailing deliveries."""
    bins = cfg["drift"]["bins"]
    rows = con.execute(
        "SELECT CAST(delivery_date AS VARCHAR) FROM meta.landed_files WHERE feed = 'claims' "
        "AND delivery_date < CAST(? AS DATE) GROUP BY 1 ORDER BY 1 DESC LIMIT ?",
        [night, int(cfg["volume"]["trailing_nights"])]).fetchall()
    if len(rows) < int(cfg["volume"]["min_history_nights"]) or not _has_claims(con):
        return []
    earliest = rows[-1][0]
    edges = [float(x) for x in bins]
    case = " ".join(f"WHEN total_cost < {e} THEN {i}" for i, e in enumerate(edges))
    dist = con.execute(
        f"SELECT _delivery_date = CAST(? AS DATE) AS tonight, CASE {case} ELSE {len(edges)} END AS bin, count(*) "
        "FROM raw.claims WHERE _delivery_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) "
        "AND reversal_of IS NULL GROUP BY 1, 2", [night, earliest, night]).fetchall()
    tonight = {b: n for t, b, n in dist if t}
    before = {b: n for t, b, n in dist if not t}
    if sum(tonight.values()) < int(cfg["drift"]["min_rows"]):
        return []
    psi = population_stability(before, tonight, len(edges) + 1)
    if psi > float(cfg["drift"]["warn_above_psi"]):
        return [Finding("drift", "warning", f"当晚结算金额分布与近期相比发生漂移（PSI={psi:.2f}）")]
    return []


def _households_without_income(con, night: str, figures: dict) -> list[Finding]:
    """Households with claims but no economic assessment cannot be judged by any income rule."""
    missing = con.execute(
        "SELECT count(DISTINCT p.household_id) FROM raw.persons p JOIN raw.claims c USING (person_id) "
        "WHERE c._delivery_date <= CAST(? AS DATE) AND p.household_id NOT IN ("
        "  SELECT household_id FROM raw.household_income WHERE assessed_on <= CAST(? AS DATE))",
        [night, night]).fetchone()[0]
    figures["households_with_claims_without_income"] = int(missing)
    if missing:
        return [Finding("reference", "warning",
                        f"{missing}户有医疗费用但无家庭经济状况核对记录，无法按收入规则判断，请民政部门补充核对")]
    return []


def _has_claims(con) -> bool:
    return con.execute("SELECT count(*) FROM meta.landed_files WHERE feed = 'claims'").fetchone()[0] > 0


def population_stability(expected: dict, actual: dict, n_bins: int) -> float:
    """PSI = Σ (a − e) · ln(a / e) over bins, with shares floored at 0.0001."""
    import math

    e_total, a_total = sum(expected.values()) or 1, sum(actual.values()) or 1
    psi = 0.0
    for b in range(n_bins):
        e = max(expected.get(b, 0) / e_total, 1e-4)
        a = max(actual.get(b, 0) / a_total, 1e-4)
        psi += (a - e) * math.log(a / e)
    return psi


def judge(con: duckdb.DuckDBPyConnection, night: str, expect_daily_claims: bool = True,
          config: dict | None = None, gx_summary=None) -> Verdict:
    cfg = config or load_config()
    findings: list[Finding] = []
    figures: dict = {}
    per_day = dict(con.execute(
        "SELECT CAST(delivery_date AS VARCHAR), SUM(rows_loaded) FROM meta.landed_files "
        "WHERE feed = 'claims' AND delivery_date <= CAST(? AS DATE) GROUP BY 1", [night]).fetchall())
    tonight = int(per_day.get(night, 0))
    figures["claims_rows_tonight"] = tonight
    if expect_daily_claims and night not in per_day:
        findings.append(Finding("freshness", "critical", f"当晚（{night}）的医保结算数据未送达"))
    earlier = [v for d, v in sorted(per_day.items()) if d < night][-int(cfg["volume"]["trailing_nights"]):]
    if expect_daily_claims and len(earlier) >= int(cfg["volume"]["min_history_nights"]):
        typical = median(earlier)
        figures["claims_rows_trailing_median"] = typical
        ratio = tonight / typical if typical else 1.0
        figures["claims_volume_ratio"] = round(ratio, 3)
        if ratio < float(cfg["volume"]["critical_below_ratio"]):
            findings.append(Finding("volume", "critical",
                                    f"当晚结算记录{tonight}条，仅为近{len(earlier)}晚中位数{typical:.0f}条的{ratio:.0%}，疑似数据未送全"))
        elif ratio < float(cfg["volume"]["warn_below_ratio"]) or ratio > float(cfg["volume"]["warn_above_ratio"]):
            findings.append(Finding("volume", "warning",
                                    f"当晚结算记录{tonight}条，为近{len(earlier)}晚中位数{typical:.0f}条的{ratio:.0%}"))
    for feed, received, quarantined in con.execute(
            "SELECT feed, SUM(rows_received), SUM(rows_quarantined) FROM meta.landed_files "
            "WHERE night = CAST(? AS DATE) GROUP BY feed ORDER BY feed", [night]).fetchall():
        rate = quarantined / received if received else 0.0
        figures[f"quarantine_rate_{feed}"] = round(rate, 4)
        if rate > float(cfg["quarantine"]["critical_above_rate"]):
            findings.append(Finding("quarantine", "critical",
                                    f"{feed} 隔离率{rate:.1%}（{quarantined}/{received}）超过阈值，暂停发布"))
        elif rate > float(cfg["quarantine"]["warn_above_rate"]):
            findings.append(Finding("quarantine", "warning", f"{feed} 隔离率{rate:.1%}（{quarantined}/{received}）"))
    if gx_summary is not None and len(gx_summary):
        failed = gx_summary[~gx_summary["success"]]
        figures["expectations_evaluated"] = int(len(gx_summary))
        figures["expectations_failed"] = int(len(failed))
        for row in failed.itertuples():
            findings.append(Finding("expectations", "warning",
                                    f"{row.feed}：{row.reason_zh or row.expectation} 未通过（{row.unexpected_count}行）"))
    findings.extend(_amount_drift(con, night, cfg))
    findings.extend(_households_without_income(con, night, figures))
    verdict = Verdict(night, not any(f.severity == "critical" for f in findings), findings, figures)
    create_tables(con)
    con.execute("INSERT OR REPLACE INTO meta.batch_checks VALUES (CAST(? AS DATE), ?, ?, ?)", [
        night, verdict.may_publish, json.dumps([asdict(f) for f in findings], ensure_ascii=False),
        json.dumps(figures, ensure_ascii=False)])
    return verdict
