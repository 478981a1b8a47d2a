"""The fund's KPI page: each target the documents set for the fund (marts.fct_fund_kpis) with its clause and
monthly trend, and the gaps behind 两个百分百 per sub-district. Counts only: no names or IDs."""
from __future__ import annotations

from pathlib import Path

import duckdb
import jinja2
import pandas as pd
import plotly.express as px

PAGE = jinja2.Environment(autoescape=True).from_string("""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>医疗救助基金目标 {{ night }}</title>
<style>body{font-family:sans-serif;margin:24px;max-width:1100px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px}.met{color:#1a7f37}.missed{color:#b42318;font-weight:bold}</style>
</head><body>
<h1>医疗救助基金目标 · {{ night }} · {{ policy_id }}</h1>
<table><tr><th>指标</th><th>期间</th><th>分子</th><th>分母</th><th>数值</th><th>目标</th><th>是否达标</th><th>依据</th></tr>
{% for k in kpis %}<tr><td>{{ k.label_zh }}</td><td>{{ k.period_zh }}</td><td>{{ k.numerator }}</td><td>{{ k.denominator }}</td>
<td>{{ k.value }}</td><td>{{ k.target }}</td><td class="{{ k.css }}">{{ k.verdict }}</td><td>{{ k.clause }}</td></tr>
{% endfor %}</table>
{% if trend %}{{ trend | safe }}{% endif %}
<h2>未达标的名单（按街道）</h2>
<p>资助参保缺口见各街道名单的“资助参保”表，应救未救见“应救未救”表。</p>
<table><tr><th>街道</th><th>资助参保缺口（人）</th><th>应救未救（人）</th><th>应救未救金额（元）</th></tr>
{% for g in gaps %}<tr><td>{{ g.subdistrict_code }}</td><td>{{ g.enrollment_gaps }}</td><td>{{ g.unpaid_persons }}</td>
<td>{{ "{:,.2f}".format(g.unpaid_amount) }}</td></tr>{% endfor %}</table>
</body></html>""")

PERIOD_ZH = {"year_to_date": "本年累计", "year": "本年度", "month": "月度", "as_of": "当日"}


def build(con: duckdb.DuckDBPyConnection, path: Path, night: str, policy_id: str) -> Path:
    kpis = con.execute("SELECT * FROM marts.fct_fund_kpis ORDER BY target, period, period_start").df()
    gaps = con.execute("""
        WITH g AS (SELECT subdistrict_code, count(*) AS enrollment_gaps FROM marts.fct_enrollment_gaps GROUP BY 1),
             u AS (SELECT subdistrict_code, count(DISTINCT person_id) AS unpaid_persons,
                          sum(unpaid_assistance) AS unpaid_amount
                   FROM marts.fct_entitlements WHERE unpaid_assistance > 0
                     AND year = extract(year FROM CAST(? AS DATE)) GROUP BY 1)
        SELECT coalesce(g.subdistrict_code, u.subdistrict_code) AS subdistrict_code,
               coalesce(enrollment_gaps, 0) AS enrollment_gaps, coalesce(unpaid_persons, 0) AS unpaid_persons,
               coalesce(unpaid_amount, 0) AS unpaid_amount
        FROM g FULL JOIN u ON g.subdistrict_code = u.subdistrict_code ORDER BY 1""", [night]).df()
    rows = []
    for k in kpis[kpis["period"] != "month"].itertuples():
        bound = (f"≥ {float(k.minimum):.0%}" if not pd.isna(k.minimum) else
                 f"≤ {float(k.maximum):.0%}" if not pd.isna(k.maximum) else "—")
        met = None if pd.isna(k.target_met) else bool(k.target_met)
        verdict, css = ("达标", "met") if met is True else ("未达标", "missed") if met is False else (
            ("—", "") if bound == "—" else ("无法计算（缺数据）", "missed"))
        rows.append(dict(label_zh=k.label_zh, period_zh=PERIOD_ZH.get(k.period, k.period),
                         numerator=_num(k.numerator), denominator=_num(k.denominator),
                         value="—" if pd.isna(k.kpi_value) else f"{float(k.kpi_value):.2%}",
                         target=bound, verdict=verdict, css=css, clause=k.clause))
    monthly = kpis[kpis["period"] == "month"]
    trend = ""
    if len(monthly):
        monthly = monthly.assign(比例=monthly["kpi_value"].astype(float), 月份=monthly["period_start"].astype(str))
        fig = px.line(monthly, x="月份", y="比例", color="label_zh", markers=True, title="按月变化",
                      labels={"label_zh": "指标"})
        fig.update_yaxes(tickformat=".0%")
        trend = fig.to_html(full_html=False, include_plotlyjs=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(PAGE.render(night=night, policy_id=policy_id, kpis=rows, trend=trend,
                               gaps=gaps.to_dict("records")), encoding="utf-8")
    tmp.replace(path)
    return path


def _num(value) -> str:
    if pd.isna(value):
        return "—"
    return f"{float(value):,.0f}" if float(value).is_integer() else f"{float(value):,.2f}"
