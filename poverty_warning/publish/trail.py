"""The calculation trail of a household, read from the dbt trail models and written out in Chinese.

The figures all come from `marts.fct_trail_*` (built from the intermediates the marts use) and the
marts themselves; this module only formats them. `explain` prints a trail; the publish step writes
one 计算明细 file per sub-district with a section per case of its lists, resident IDs masked.
"""
from __future__ import annotations

import html
import itertools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from poverty_warning.contract import ids
from poverty_warning.contract.vocabulary import (BENEFIT_ZH, CATEGORY_NAMES_ZH, EXCLUSION_ZH, LIST_TITLES,
                                                 PARAMETER_ZH, RELATION_ZH, RULE_ZH, VISIT_TYPE_ZH)



class TrailError(ValueError):
    """The household or the date cannot be explained from this data (a user's mistake, not a bug)."""


@dataclass
class Trail:
    run: pd.Series  # fct_trail_run: the as-of date and policy the models were built for
    household: pd.Series  # fct_trail_households
    members: pd.DataFrame
    claims: pd.DataFrame  # fct_trail_claims
    rules: pd.DataFrame  # fct_trail_rules
    entitlements: pd.DataFrame  # fct_trail_entitlements
    totals: pd.DataFrame  # fct_entitlements: the person-year-benefit amounts the lists show
    risk: pd.Series | None  # risk.household_scores, where the model scored


def _frame(con, sql: str, households: list[str]) -> pd.DataFrame:
    return con.execute(sql.replace("{households}", "(SELECT unnest(CAST(? AS VARCHAR[])))"), [households]).df()


def run_of(con: duckdb.DuckDBPyConnection) -> pd.Series:
    try:
        run = con.execute("SELECT * FROM marts.fct_trail_run").df()
    except duckdb.CatalogException:
        raise TrailError("the warehouse has no calculation trail yet: run a night first, or pass --feeds") from None
    return run.iloc[0]


def check_date(run: pd.Series, as_of: str) -> None:
    """A date the warehouse was not built for, or one before any claim, is outside the data."""
    built = pd.Timestamp(run["as_of"]).date().isoformat()
    if built != as_of:
        raise TrailError(f"the warehouse holds the night of {built}, not {as_of}: pass --feeds to explain another date")
    first = run["first_settle_date"]
    if pd.isna(first) or pd.Timestamp(first).date().isoformat() > as_of:
        raise TrailError(f"{as_of} is before the first claim in the data"
                         + ("" if pd.isna(first) else f" ({pd.Timestamp(first).date().isoformat()})"))


def read(con: duckdb.DuckDBPyConnection, households: list[str]) -> dict[str, Trail]:
    """The trails of these households (those in the data), from the trail models and marts."""
    run = run_of(con)
    heads = _frame(con, "SELECT * FROM marts.fct_trail_households WHERE household_id IN {households}", households)
    members = _frame(con, "SELECT household_id, person_id, person_name, relation, age "
                          "FROM intermediate.int_outreach_members WHERE household_id IN {households} "
                          "ORDER BY household_id, age DESC, person_id", households)
    # Each rule's window on the as-of date (kept once per rule, not on each claim row of the trail).
    claims = _frame(con, "SELECT c.*, w.window_start, w.window_end FROM marts.fct_trail_claims AS c "
                         "INNER JOIN intermediate.int_rule_windows AS w USING (rule) "
                         "WHERE c.household_id IN {households} ORDER BY c.rule, c.claim_date, c.claim_id", households)
    rules = _frame(con, "SELECT * FROM marts.fct_trail_rules WHERE household_id IN {households} "
                        "ORDER BY rule, person_id", households)
    entitlements = _frame(con, "SELECT * FROM marts.fct_trail_entitlements WHERE household_id IN {households} "
                               "ORDER BY person_id, claim_year, benefit, track, claim_date, claim_id", households)
    totals = _frame(con, "SELECT * FROM marts.fct_entitlements WHERE household_id IN {households} "
                         "ORDER BY person_id, year, benefit", households)
    try:
        risk = _frame(con, "SELECT * FROM risk.household_scores WHERE household_id IN {households}", households)
    except duckdb.CatalogException:  # no model scored tonight
        risk = pd.DataFrame(columns=["household_id"])
    parts = [_by_household(frame) for frame in (members, claims, rules, entitlements, totals, risk)]
    trails = {}
    for _, head in heads.iterrows():
        h = head["household_id"]
        mine = [part(h) for part in parts]
        scored = mine.pop()
        trails[h] = Trail(run, head, *mine, scored.iloc[0] if len(scored) else None)
    return trails


def _by_household(frame: pd.DataFrame):
    """h -> the frame's rows of household h, in their order (one split, not a scan per household)."""
    groups = dict(iter(frame.groupby("household_id", sort=False))) if len(frame) else {}
    return lambda h: groups.get(h, frame.iloc[0:0])


def read_one(con: duckdb.DuckDBPyConnection, household_id: str, as_of: str) -> Trail:
    check_date(run_of(con), as_of)
    trail = read(con, [household_id]).get(household_id)
    if trail is None:
        raise TrailError(f"household {household_id!r} is not in the data on {as_of}")
    return trail


# --- formatting -------------------------------------------------------------------------------------

def money(value) -> str:
    """47000 → 47,000; 36666.6667 → 36,666.67."""
    if value is None or pd.isna(value):
        return "—"
    text = f"{float(value):,.2f}"
    return text[:-3] if text.endswith(".00") else text


def percent(value) -> str:
    return f"{float(value) * 100:g}%"


def day(value) -> str:
    return "—" if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _clause(text) -> str:
    return f"〔{text}〕" if isinstance(text, str) and text else ""


def _yes(value) -> bool:
    return bool(value) and not pd.isna(value)


def _category(code) -> str:
    return CATEGORY_NAMES_ZH.get(code, code) if isinstance(code, str) else "无"


def _names(members: pd.DataFrame) -> dict:
    """person_id -> name, the first row's for a person (a missing name is blank)."""
    names: dict = {}
    for person_id, name in zip(members["person_id"], members["person_name"]):
        names.setdefault(person_id, name if isinstance(name, str) else "")
    return names


def _person(names: dict, person_id, masked: bool) -> str:
    shown = ids.mask(person_id) if masked else person_id
    return f"{names.get(person_id, '')} {shown}".strip()


def _records(frame: pd.DataFrame) -> list[dict]:
    """A frame's rows as dicts of Python values, a missing value None or NaN as in `to_dict("records")`:
    formatting reads rows one by one, which pandas makes slow (per row, and per value in to_dict)."""
    columns = [[None if v is pd.NA else v for v in frame[c].tolist()] for c in frame.columns]
    return [dict(zip(frame.columns, row)) for row in zip(*columns)]


def _groups(records: list[dict], keys: tuple[str, ...]) -> list[tuple[tuple, list[dict]]]:
    """As pandas' groupby(keys, sort=True): groups in key order, rows kept in their order, null keys dropped."""
    def key(r):
        return tuple(r[k] for k in keys)
    kept = sorted((r for r in records if not any(pd.isna(r[k]) for k in keys)), key=key)
    return [(k, list(rows)) for k, rows in itertools.groupby(kept, key=key)]


def _parameter(name, year, value, source, carried) -> str:
    label = PARAMETER_ZH.get(name, name)
    flag = "" if carried is None or pd.isna(carried) else f"，当年未公布，沿用{int(carried)}年数据"
    return f"{int(year)}年{label} {money(value)}（来源：{source or '未知'}{flag}）"


def sections(trail: Trail, masked: bool = True) -> list[tuple[str, list[str]]]:
    """The trail as titled sections of lines (Chinese, with figures and clauses)."""
    h, out = trail.household, []
    names, rules = _names(trail.members), _records(trail.rules)
    as_of = day(trail.run["as_of"])
    lines = [f"家庭 {h['household_id']}，街道 {h['subdistrict_code']}，{int(h['household_size'])} 人；"
             f"计算日期 {as_of}，政策 {trail.run['policy_id']}"]
    for m in _records(trail.members):
        age = "" if pd.isna(m["age"]) else f"，{int(m['age'])}岁"
        lines.append(f"  成员：{_person(names, m['person_id'], masked)}"
                     f"（{RELATION_ZH.get(m['relation'], m['relation'] or '')}{age}）")
    if pd.isna(h["assessed_on"]):
        lines.append("收入认定：计算日期前无家庭经济状况认定，无法判断支出型贫困条件")
    else:
        lines.append(f"收入认定：{day(h['assessed_on'])} 认定家庭年可支配收入 {money(h['annual_disposable_income'])} 元，"
                     f"无固定收入成员 {int(h['members_without_fixed_income'] or 0)} 人，"
                     f"财产{'符合' if _yes(h['assets_within_limit']) else '不符合'}认定标准")
    out.append(("家庭", lines))

    figures = []
    as_of_year = pd.Timestamp(trail.run["as_of"]).year
    for r in rules:
        for kind, value_col, year in (("line", "income_line", r["line_year"]),
                                      ("residual_line", "residual_line", as_of_year),
                                      ("impute", "imputed_monthly_income", as_of_year)):
            name = r.get(f"{kind}_parameter")
            if isinstance(name, str) and name and not pd.isna(r[value_col]):
                figures.append(_parameter(name, year, r[value_col], r.get(f"{kind}_source"),
                                          r.get(f"{kind}_carried_forward_from_year")))
    if figures:
        out.append(("使用的城市参数", [f"  {f}" for f in dict.fromkeys(figures)]))

    shown_claims: dict[tuple, str] = {}
    for rule, claims in trail.claims.groupby("rule", sort=True):
        title = f"{RULE_ZH.get(rule, rule)}：计入的医疗费用"
        first = claims.iloc[0]
        signature = tuple(claims[["claim_id", "is_counted", "exclusion_reason", "amount"]].astype(str).itertuples(index=False))
        if signature in shown_claims:
            out.append((title, [f"  理赔明细同“{shown_claims[signature]}”"]))
            continue
        shown_claims[signature] = RULE_ZH.get(rule, rule)
        lines = [f"计算期 {day(first['window_start'])} 至 {day(first['window_end'])}，"
                 f"金额口径：{'个人负担（自付+自费）' if first['amount_kind'] == 'personal_burden' else '救助基数（自付+已付救助）'}"]
        for c in _records(claims):
            dated = "出院日期" if c["visit_type"] == "inpatient" else "结算日期"
            place = "本市" if _yes(c["in_city"]) else "外地"
            amounts = (f"总费用 {money(c['total_cost'])}，自付 {money(c['self_pay_in_scope'])}，"
                       f"自费 {money(c['self_pay_out_scope'])}，计算金额 {money(c['amount'])}")
            verdict = "计入" if _yes(c["is_counted"]) else "不计入：" + EXCLUSION_ZH.get(c["exclusion_reason"], c["exclusion_reason"])
            who = _person(names, c["person_id"], masked)
            lines.append(f"  {c['claim_id']} {day(c['claim_date'])}（{dated}）{VISIT_TYPE_ZH.get(c['visit_type'], c['visit_type'])} "
                         f"{place} {who}：{amounts} → {verdict}")
        out.append((title, lines))

    for r in rules:
        out.append((f"{RULE_ZH.get(r['rule'], r['rule'])}：认定" + (f"（{_person(names, r['person_id'], masked)}）"
                                                                   if isinstance(r["person_id"], str) else ""),
                    _rule_lines(r)))

    lines = []
    entitlements, totals = _records(trail.entitlements), _records(trail.totals)
    total_of: dict[tuple, dict] = {}
    for t in totals:
        total_of.setdefault((t["person_id"], t["year"], t["benefit"]), t)
    for (person, year, benefit), rows in _groups(entitlements, ("person_id", "claim_year", "benefit")):
        clause = next((c["benefit_clause"] for c in rows if not pd.isna(c["benefit_clause"])), "")
        lines.append(f"{_person(names, person, masked)} {int(year)}年 {BENEFIT_ZH.get(benefit, benefit)}{_clause(clause)}")
        lines += _entitlement_lines(rows)
        t = total_of.get((person, year, benefit))
        if t is not None:
            lines.append(f"    合计：救助基数 {money(t['base_amount'])}，应得 {money(t['expected_assistance'])}，"
                         f"已付 {money(t['paid_assistance'])}，未付 {money(t['unpaid_assistance'])}"
                         + (f"（{t['reason']}）" if isinstance(t["reason"], str) and t["reason"] else ""))
    with_claims = {(c["person_id"], c["claim_year"], c["benefit"]) for c in entitlements}
    for t in totals:
        if (t["person_id"], t["year"], t["benefit"]) in with_claims:
            continue
        lines.append(f"{_person(names, t['person_id'], masked)} {int(t['year'])}年 "
                     f"{BENEFIT_ZH.get(t['benefit'], t['benefit'])}：应得 {money(t['expected_assistance'])}"
                     + (f"（{t['reason']}）" if isinstance(t["reason"], str) and t["reason"] else ""))
    out.append(("医疗救助待遇（每笔费用）", lines or ["  无可计算的救助费用"]))

    lines = []
    if pd.isna(h["warning_burden_amount"]):
        lines.append("计算期内无医疗费用，未进入预警")
    elif pd.isna(h["warning_burden_ratio"]):
        lines.append(f"医疗负担 {money(h['warning_burden_amount'])}，无收入认定，无法计算负担比例")
    else:
        ratio = (f"{money(h['warning_burden_amount'])} ÷ {money(h['annual_disposable_income'])} = "
                 f"{float(h['warning_burden_ratio']):.4f}（计算期 {day(h['warning_window_start'])} 至 "
                 f"{day(h['warning_window_end'])}）")
        if isinstance(h["warning_level"], str):
            lines.append(f"负担比例 {ratio} ≥ {float(h['warning_level_ratio']):.2f} → {h['warning_label']}"
                         f"{_clause(h['warning_level_clause'])}")
        else:
            lines.append(f"负担比例 {ratio}，低于最低预警线 → 未预警{_clause(h['warning_clause'])}")
    if trail.risk is not None:
        r = trail.risk
        lines.append(f"风险模型：评分 {float(r['risk_score']):.3f}，等级 {r.get('risk_band', '')}"
                     + (f"；主要原因：{r['risk_reasons']}" if isinstance(r.get("risk_reasons"), str) and r["risk_reasons"] else ""))
    out.append(("预警", lines))
    return out


def _rule_lines(r: dict) -> list[str]:
    rule_zh = RULE_ZH.get(r["rule"], r["rule"])
    lines = [f"  计算期 {day(r['window_start'])} 至 {day(r['window_end'])}{_clause(r['window_clause'])}"]
    if pd.isna(r["income_amount"]):
        lines.append(f"  医疗负担 {money(r['burden_amount'])}；无收入认定，不能判断 → 不符合")
        return lines
    income = f"家庭年可支配收入 {money(r['annual_disposable_income'])}"
    if _yes(r["imputed_income"]) and float(r["imputed_income"]) != 0:
        income += (f" + 无固定收入成员 {int(r['members_without_fixed_income'])} 人 × 12 × "
                   f"{money(r['imputed_monthly_income'])} = {money(r['income_amount'])}{_clause(r['impute_clause'])}")
    lines.append(f"  {income}；医疗负担 {money(r['burden_amount'])}；负担比例 {money(r['burden_amount'])} ÷ "
                 f"{money(r['income_amount'])} = {float(r['burden_ratio']):.4f}" if not pd.isna(r["burden_ratio"])
                 else f"  {income}；医疗负担 {money(r['burden_amount'])}")
    met = _yes(r["meets_threshold"])
    strict = r["comparison"] != ">="
    if r["kind"] == "burden_ratio":
        sign = (">" if strict else "≥") if met else ("≤" if strict else "<")
        lines.append(f"  {money(r['burden_amount'])} {sign} {percent(r['threshold'])} × {money(r['income_amount'])} = "
                     f"{money(r['threshold_amount'])} → {'达到' if met else '未达到'}{_clause(r['threshold_clause'])}")
    elif r["kind"] == "member_amount":
        sign = (">" if strict else "≥") if met else ("≤" if strict else "<")
        lines.append(f"  {money(r['burden_amount'])} {sign} {money(r['threshold'])} → {'达到' if met else '未达到'}"
                     f"{_clause(r['threshold_clause'])}")
    elif r["kind"] == "residual_income_below_line":
        sign = "<" if met else "≥"
        lines.append(f"  ({money(r['income_amount'])} − {money(r['burden_amount'])}) ÷ {int(r['household_size'])} ÷ 12 = "
                     f"{money(r['residual_monthly_per_capita'])} {sign} {money(r['residual_line'])}（低保标准）"
                     f" → {'达到' if met else '未达到'}{_clause(r['residual_line_clause'] or r['threshold_clause'])}")
        if not pd.isna(r["monthly_per_capita_income"]):
            alone = "<" if float(r["monthly_per_capita_income"]) < float(r["residual_line"]) else "≥"
            lines.append(f"  未计医疗费用时：{money(r['income_amount'])} ÷ {int(r['household_size'])} ÷ 12 = "
                         f"{money(r['monthly_per_capita_income'])} {alone} {money(r['residual_line'])}")
    if isinstance(r["line_parameter"], str) and r["kind"] != "member_amount":
        below = _yes(r["meets_income_line"])
        monthly = r["line_period"] == "monthly"
        per_capita = r["monthly_per_capita_income"] if monthly else r["per_capita_income"]
        lines.append(f"  人均{'月' if monthly else '年'}收入 {money(r['income_amount'])} ÷ {int(r['household_size'])}"
                     f"{' ÷ 12' if monthly else ''} = {money(per_capita)} {'<' if below else '≥'} {money(r['income_line'])}"
                     f"（{int(r['line_year'])}年{PARAMETER_ZH.get(r['line_parameter'], r['line_parameter'])}"
                     f"{'，大病病种放宽' if _yes(r['catastrophic_line_applies']) else ''}）"
                     f" → {'符合' if below else '不符合'}{_clause(r['line_clause'])}")
    if _yes(r["assets_test"]):
        lines.append(f"  财产状况 → {'符合' if _yes(r['meets_assets_test']) else '不符合'}{_clause(r['assets_clause'])}")
    lines.append(f"  结论：{'符合' + rule_zh + '条件，列入候选名单' if _yes(r['is_candidate']) else '不符合' + rule_zh + '条件'}")
    return lines


def _entitlement_lines(rows: list[dict]) -> list[str]:
    lines = []
    for _, days in _groups(rows, ("track", "claim_date")):
        for c in days:
            held = "、".join(_category(x) for x in c["categories_held"].split(",")) if isinstance(c["categories_held"], str) else "无"
            head = (f"  {c['claim_id']} {day(c['claim_date'])} {VISIT_TYPE_ZH.get(c['visit_type'], c['visit_type'])} "
                    f"救助基数 {money(c['base_amount'])}，已付救助 {money(c['assistance_paid'])}；当日有效身份：{held}")
            if _yes(c["is_covered"]):
                head += f"；按{_category(c['category'])}救助（就高不重复）{_clause(c['category_order_clause'])}"
            else:
                head += " → 不予救助（发生时不在救助身份有效期内，或该身份不享受此项救助）"
            lines.append(head)
        d = days[0]
        if not _yes(d["is_covered"]):
            continue
        if not pd.isna(d["deductible"]):
            offset = f"（另扣已得 {money(d['deductible_offset'])}）" if float(d["deductible_offset"] or 0) else ""
            lines.append(f"    年度起付标准 {money(d['deductible'])}{offset}，扣除后计算基数 {money(d['day_assessable_base'])}"
                         f"{_clause(d['deductible_clause'])}")
        lines.append(f"    {money(d['day_assessable_base'])} × {percent(d['rate'])} = {money(d['day_raw_assistance'])}"
                     f"{_clause(d['rate_clause'])}")
        if not pd.isna(d["daily_cap"]):
            lines.append(f"    单日限额 {money(d['daily_cap'])}" + ("，已封顶" if _yes(d["daily_cap_binding"]) else "，未超过")
                         + _clause(d["daily_cap_clause"]))
        if not pd.isna(d["monthly_days_limit"]):
            lines.append(f"    当月第 {int(d['day_in_month'])} 个救助日，每月限 {int(d['monthly_days_limit'])} 日"
                         + ("，超出不予救助" if _yes(d["monthly_limit_binding"]) else "") + _clause(d["monthly_days_clause"]))
        lines.append(f"    当日救助 {money(d['day_assisted_amount'])}")
    for (track,), years in _groups([c for c in rows if _yes(c["is_covered"])], ("track",)):
        y = years[0]
        line = f"    年度（{track}）：合计 {money(y['year_assisted_amount'])}"
        if not pd.isna(y["year_annual_cap"]):
            line += (f"，年度限额 {money(y['year_annual_cap'])}" + ("已封顶" if _yes(y["year_annual_cap_binding"]) else "未超过")
                     + _clause(y["year_annual_cap_clause"]))
        if not pd.isna(y["year_combined_cap"]):
            line += (f"，合计限额 {money(y['year_combined_cap'])}" + ("已封顶" if _yes(y["year_combined_cap_binding"]) else "未超过")
                     + _clause(y["year_combined_cap_clause"]))
        lines.append(line + f" → 应得 {money(y['year_final_amount'])}")
    return lines


def text(trail: Trail, masked: bool = True) -> str:
    parts = []
    for title, lines in sections(trail, masked):
        parts.append(f"【{title}】")
        parts += lines
    return "\n".join(parts) + "\n"


def html_page(title: str, blocks: list[tuple[str, list[tuple[str, list[str]]]]]) -> str:
    """A self-contained page: one block per case or household, each a list of titled sections."""
    body = []
    for heading, secs in blocks:
        body.append(f"<section><h2>{html.escape(heading)}</h2>")
        for name, lines in secs:
            body.append(f"<h3>{html.escape(name)}</h3><pre>{html.escape(chr(10).join(lines))}</pre>")
        body.append("</section>")
    return ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
            "pre{white-space:pre-wrap;background:#f6f6f6;padding:.6em}section{border-top:2px solid #999}</style>"
            f"</head><body><h1>{html.escape(title)}</h1>{''.join(body)}</body></html>")


def write_case_trails(con: duckdb.DuckDBPyConnection, outbox: Path, night: str, items: pd.DataFrame) -> list[Path]:
    """Beside each sub-district's lists, 计算明细_<code>_<night>.html: a section per case sent tonight,
    that sub-district's households only, resident IDs masked."""
    written = []
    sent = items[items["sent"]] if len(items) else items
    trails = read(con, sorted(sent["household_id"].unique())) if len(sent) else {}  # one read, not one per folder
    for code, group in (sent.groupby("subdistrict_code") if len(sent) else []):
        folder = outbox / str(code) / night
        if not folder.is_dir():
            continue
        blocks, shown = [], {}
        for case in _records(group.sort_values("case_id")):
            trail = trails.get(case["household_id"])
            if trail is None:
                continue
            heading = (f"案件 {case['case_id']}｜{LIST_TITLES.get(case['list_kind'], case['list_kind'])}｜"
                       f"家庭 {case['household_id']}")
            if case["household_id"] not in shown:  # a household on several lists has one trail
                shown[case["household_id"]] = sections(trail, masked=True)
            blocks.append((heading, shown[case["household_id"]]))
        target = folder / f"计算明细_{code}_{night}.html"
        fd, tmp = tempfile.mkstemp(prefix=".trail.", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html_page(f"计算明细 {code} {night}", blocks))
        os.replace(tmp, target)
        written.append(target)
    return written
