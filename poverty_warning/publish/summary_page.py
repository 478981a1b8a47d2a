"""The nightly summary page (static HTML): lists by sub-district, burden ratios, new vs continuing
cases, referrals — as charts. Counts only: no names or IDs."""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from poverty_warning.contract.vocabulary import LIST_TITLES
from poverty_warning.quality.report import PLOTLY_ASSET, ensure_plotly_asset

ACTION_ZH = {"new": "新增", "escalated": "升级", "reminder": "再次提醒", "suppressed": "持续跟进（今晚不重发）",
             "closed": "已结案"}
PROGRESS_HEADERS = ("街道", "今晚下发", "待反馈（未到期）", "逾期升级", "已结案", "慈善转介")


def progress_by_subdistrict(night: str, items: pd.DataFrame, referrals: pd.DataFrame) -> pd.DataFrame:
    """Per sub-district: cases sent tonight, cases awaiting feedback before their due date, cases that
    came back overdue, cases closed, and referrals sent to a charity — who is behind."""
    night_day = pd.Timestamp(night).date()
    due = items["due_date"].map(lambda d: d is not None and not pd.isna(d) and d >= night_day)
    frame = pd.DataFrame({
        "code": items["subdistrict_code"], "街道": items["subdistrict_name"].fillna(items["subdistrict_code"]),
        "今晚下发": items["sent"].astype(int),
        "待反馈（未到期）": (items["awaiting_feedback"] & due).astype(int),
        "逾期升级": items["overdue"].astype(int),
        "已结案": (items["action_taken"] == "closed").astype(int)})
    table = frame.groupby(["code", "街道"], as_index=False).sum()
    referred = referrals.groupby("subdistrict_code").size() if len(referrals) else pd.Series(dtype=int)
    table["慈善转介"] = table["code"].map(referred).fillna(0).astype(int)
    return table.sort_values(["逾期升级", "code"], ascending=[False, True])[list(PROGRESS_HEADERS)]


def _table_html(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in table.itertuples(index=False))
    return f"<table id='progress'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fig(fig: go.Figure, div_id: str, first: bool) -> str:
    """The chart's div; the first also loads the shared plotly.js beside the nights' folders."""
    fig.update_layout(height=360, margin=dict(l=40, r=20, t=40, b=40))
    return fig.to_html(full_html=False, include_plotlyjs=f"../{PLOTLY_ASSET}" if first else False, div_id=div_id)


def hardship_table(counts: pd.DataFrame) -> str:
    """Households meeting each hardship measure, side by side per sub-district (marts.fct_hardship_by_subdistrict)."""
    if counts is None or counts.empty:
        return ""
    table = counts.pivot_table(index="subdistrict_code", columns="label_zh", values="households_met",
                               aggfunc="sum", fill_value=0)
    table.loc["合计"] = table.sum()
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join(f"<tr><td>{html.escape(str(idx))}</td>" + "".join(f"<td>{int(v)}</td>" for v in row) + "</tr>"
                   for idx, row in table.iterrows())
    return ("<h2>困难测度对照（按街道，符合的户数）</h2><p>本市认定规则与国际、国家测度并列：近12个整月个人负担医疗费用"
            "分别对照家庭收入（SDG 3.8.2）、支付能力（收入扣除低保线后的40%）和上年人均可支配收入50%的监测线。</p>"
            f"<table border='1' cellpadding='4' style='border-collapse:collapse'><tr><th>街道</th>{head}</tr>{body}</table>")


def build(path: Path, night: str, policy_id: str, items: pd.DataFrame, referrals: pd.DataFrame,
          hardship: pd.DataFrame | None = None) -> Path:
    parts = [f"<h1>外展名单汇总 · {html.escape(night)} · {html.escape(policy_id)}</h1>"]
    if items.empty:
        parts.append("<p>今晚没有需要外展的家庭。</p>")
    else:
        items = items.assign(名单=items["list_kind"].map(LIST_TITLES),
                             街道=items["subdistrict_name"].fillna(items["subdistrict_code"]))
        sent = items[items["sent"]]
        parts.append(f"<p>今晚发送 {len(sent)} 条（涉及 {sent['household_id'].nunique()} 户），"
                     f"持续跟进 {int((items['action_taken'] == 'suppressed').sum())} 条，"
                     f"已结案 {int((items['action_taken'] == 'closed').sum())} 条，"
                     f"慈善转介 {len(referrals)} 户。</p>")
        parts.append("<h2>各街道进度</h2>" + _table_html(progress_by_subdistrict(night, items, referrals)))
        by_area = sent.groupby(["街道", "名单"]).size().reset_index(name="条数")
        first = True
        if len(by_area):
            parts.append(_fig(px.bar(by_area, x="街道", y="条数", color="名单", title="各街道今晚名单条数"),
                              "by-subdistrict", first))
            first = False
        ratios = items[items["list_kind"].isin(["warning", "candidate"])].drop_duplicates("household_id")["burden_ratio"]
        ratios = pd.to_numeric(ratios, errors="coerce").dropna()
        if len(ratios):
            parts.append(_fig(px.histogram(x=ratios.clip(upper=2.0), nbins=40, title="家庭医疗负担比例分布",
                                           labels={"x": "负担比例（负担/家庭年收入，超过200%计为200%）"}),
                              "burden-ratio", first))
            first = False
        actions = items["action_taken"].map(ACTION_ZH).value_counts().reset_index()
        actions.columns = ["案件状态", "条数"]
        parts.append(_fig(px.pie(actions, names="案件状态", values="条数", title="新增与持续案件"), "case-status", first))
        first = False
        if len(referrals):
            counts = referrals.groupby("program_name").size().reset_index(name="户数")
            parts.append(_fig(px.bar(counts, x="program_name", y="户数", title="慈善转介（已同意）",
                                     labels={"program_name": "慈善项目"}), "referrals", first))
    parts.append(hardship_table(hardship))
    page = ("<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
            f"<title>外展名单汇总 {html.escape(night)}</title><style>body{{font-family:sans-serif;margin:24px;"
            "max-width:1200px}table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 10px}"
            "td{text-align:right}td:first-child{text-align:left}</style></head><body>" + "".join(parts) + "</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    ensure_plotly_asset(path.parent.parent)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
