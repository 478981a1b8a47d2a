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

CONFIG = Path(__file__).resolve().parent.parent / "expectations" / "batch_checks.yaml"


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

    @property
    def reasons(self) -> list[str]:
        return [f.message for f in self.findings if f.severity == "critical"]


def load_config(path: Path = CONFIG) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def ensure_history(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute("CREATE TABLE IF NOT EXISTS meta.batch_checks (night DATE PRIMARY KEY, may_publish BOOLEAN, "
                "findings VARCHAR, figures VARCHAR)")


def judge(con: duckdb.DuckDBPyConnection, night: str, expect_daily_claims: bool = True,
          config: dict | None = None) -> Verdict:
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
    verdict = Verdict(night, not any(f.severity == "critical" for f in findings), findings, figures)
    ensure_history(con)
    con.execute("INSERT OR REPLACE INTO meta.batch_checks VALUES (CAST(? AS DATE), ?, ?, ?)", [
        night, verdict.may_publish, json.dumps([asdict(f) for f in findings], ensure_ascii=False),
        json.dumps(figures, ensure_ascii=False)])
    return verdict
