"""Batch-level checks that decide whether a night may publish.

Freshness (the night's claims delivery is there), volume (the night's claims
against the trailing median of earlier deliveries) and quarantine rate. A
critical finding blocks publishing but keeps the data; warnings and notes only
go into the report. Each finding says, in Chinese, what it means for tonight's
lists and what to do; the report adds which agency sends the feed. Thresholds
live in expectations/batch_checks.yaml.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median

import duckdb
import yaml
from poverty_warning.contract.vocabulary import FEED_ZH
from poverty_warning.settings import SUITES_DIR
from poverty_warning.warehouse import create_tables

CONFIG = SUITES_DIR / "batch_checks.yaml"


SEVERITIES = ("critical", "warning", "note")  # note: could not be evaluated, nothing to judge


@dataclass
class Finding:
    check: str
    severity: str  # one of SEVERITIES
    message: str  # Chinese, for the report: what was found
    feed: str | None = None  # the feed it concerns (the report names the agency that sends it)
    impact: str = ""  # what it means for tonight's lists
    action: str = ""  # what the reviewer or the agency should do
    list_name: str | None = None  # the people concerned, as a list written next to the report


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


def _amount_drift(con, night: str, cfg: dict, figures: dict) -> list[Finding]:
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
    figures["claims_amount_rows"] = sum(tonight.values())
    if sum(tonight.values()) < int(cfg["drift"]["min_rows"]):
        return []
    psi = population_stability(before, tonight, len(edges) + 1)
    figures["claims_amount_psi"] = round(psi, 4)
    if psi > float(cfg["drift"]["warn_above_psi"]):
        return [Finding(
            "drift", "warning", f"当晚结算金额的分布与近{len(rows)}晚明显不同（PSI={psi:.2f}，超过{cfg['drift']['warn_above_psi']}）",
            feed="claims",
            impact="名单照常计算；若是金额单位或字段错位（如以分代元），当晚的医疗负担会被算错",
            action="请抽查当晚几笔大额结算与医保结算系统是否一致；若系统有误，请医保局更正后重送并重跑当晚")]
    return []


def _expectation_findings(gx_summary, figures: dict) -> list[Finding]:
    """Failed expectations, except on a feed whose batch is empty or missing tonight: there nothing can
    be evaluated, which is one note for the feed (freshness and volume say why), not one per expectation."""
    findings = []
    evaluated = failed = 0
    for feed, rows in gx_summary.groupby("feed", sort=False):
        if int(rows["element_count"].max()) == 0:
            findings.append(Finding(
                "expectations", "note", f"{FEED_ZH[feed]}：当晚没有数据，{len(rows)}条期望规则无法评估", feed=feed))
            continue
        evaluated += len(rows)
        for row in rows[~rows["success"]].itertuples():
            failed += 1
            findings.append(Finding(
                "expectations", "warning",
                f"{FEED_ZH[feed]}：{row.reason_zh or row.expectation} 未通过（{row.unexpected_count}行，已隔离）",
                feed=feed))
    figures["expectations_evaluated"] = evaluated
    figures["expectations_failed"] = failed
    return findings


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
        findings.append(Finding(
            "freshness", "critical", f"当晚（{night}）的医保结算数据未送达", feed="claims",
            impact="当晚名单暂停发布：没有当天的结算，新发生的医疗负担无法计入，名单会漏掉当晚就医的家庭",
            action="请联系数据提供方补送当晚结算文件后重跑当晚；若当晚确实没有结算（如系统停机），可由审核人放行"))
    earlier = [v for d, v in sorted(per_day.items()) if d < night][-int(cfg["volume"]["trailing_nights"]):]
    # A missing delivery is said once (freshness), not again as a volume of 0%.
    if expect_daily_claims and night in per_day and len(earlier) >= int(cfg["volume"]["min_history_nights"]):
        typical = median(earlier)
        figures["claims_rows_trailing_median"] = typical
        ratio = tonight / typical if typical else 1.0
        figures["claims_volume_ratio"] = round(ratio, 3)
        if ratio < float(cfg["volume"]["critical_below_ratio"]):
            findings.append(Finding(
                "volume", "critical",
                f"当晚结算记录{tonight}条，仅为近{len(earlier)}晚中位数{typical:.0f}条的{ratio:.0%}，疑似数据未送全",
                feed="claims",
                impact="当晚名单暂停发布：结算不全会低估家庭的医疗负担，漏报需要帮助的家庭",
                action="请与数据提供方核实是否漏传文件，补送后重跑当晚；若确为节假日等正常的少量，可由审核人放行"))
        elif ratio < float(cfg["volume"]["warn_below_ratio"]) or ratio > float(cfg["volume"]["warn_above_ratio"]):
            findings.append(Finding(
                "volume", "warning", f"当晚结算记录{tonight}条，为近{len(earlier)}晚中位数{typical:.0f}条的{ratio:.0%}",
                feed="claims", impact="名单照常发布", action="如连续几晚偏离，请与数据提供方核实"))
    for feed, received, quarantined in con.execute(
            "SELECT feed, SUM(rows_received), SUM(rows_quarantined) FROM meta.landed_files "
            "WHERE night = CAST(? AS DATE) GROUP BY feed ORDER BY feed", [night]).fetchall():
        rate = quarantined / received if received else 0.0
        figures[f"quarantine_rate_{feed}"] = round(rate, 4)
        limit = float(cfg["quarantine"]["critical_above_rate"])
        if rate > limit and feed not in cfg["quarantine"]["never_hold"]:
            findings.append(Finding(
                "quarantine", "critical",
                f"{FEED_ZH[feed]}数据隔离率{rate:.1%}（{quarantined}/{received}行），超过{limit:.0%}的上限", feed=feed,
                impact="当晚名单暂停发布：被隔离的记录不参与计算，涉及的家庭可能被漏报或算错",
                action="请查看下方“主要隔离原因”和示例行，请数据提供方更正后重送，再重跑当晚"))
        elif rate > float(cfg["quarantine"]["warn_above_rate"]):
            findings.append(Finding(
                "quarantine", "warning", f"{FEED_ZH[feed]}数据隔离率{rate:.1%}（{quarantined}/{received}行）", feed=feed,
                impact="名单照常发布，被隔离的记录不参与计算",
                action="请把“主要隔离原因”转给数据提供方更正"))
    if gx_summary is not None and len(gx_summary):
        findings.extend(_expectation_findings(gx_summary, figures))
    findings.extend(_amount_drift(con, night, cfg, figures))
    verdict = Verdict(night, not any(f.severity == "critical" for f in findings), findings, figures)
    _store(con, verdict)
    return verdict


def _store(con: duckdb.DuckDBPyConnection, verdict: Verdict) -> None:
    create_tables(con)
    con.execute("INSERT OR REPLACE INTO meta.batch_checks VALUES (CAST(? AS DATE), ?, ?, ?)", [
        verdict.night, verdict.may_publish, json.dumps([asdict(f) for f in verdict.findings], ensure_ascii=False),
        json.dumps(verdict.figures, ensure_ascii=False)])


def stored(con: duckdb.DuckDBPyConnection, night: str) -> Verdict | None:
    """The night's verdict as validate (and later steps) recorded it."""
    create_tables(con)
    row = con.execute("SELECT may_publish, findings, figures FROM meta.batch_checks WHERE night = CAST(? AS DATE)",
                      [night]).fetchone()
    if row is None:
        return None
    return Verdict(night, bool(row[0]), [Finding(**f) for f in json.loads(row[1])], json.loads(row[2] or "{}"))


def add_list_findings(con: duckdb.DuckDBPyConnection, night: str, findings: list[Finding], figures: dict) -> None:
    """Warnings known once dbt has built the night (lists of people, city figures carried forward): they join
    the night's verdict (replacing an earlier run's), and never change whether it may publish."""
    verdict = stored(con, night)
    if verdict is None:
        return
    assert all(f.severity != "critical" for f in findings)
    verdict.findings = [f for f in verdict.findings
                        if f.list_name is None and f.check != "carried_forward"] + findings
    verdict.figures.update(figures)
    _store(con, verdict)
