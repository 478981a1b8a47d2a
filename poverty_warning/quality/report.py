"""The one-page data-quality report of a night (HTML, self-contained, charts by plotly).

For the weekly data-quality review: per feed what arrived, loaded and was
quarantined, the top reasons with masked example rows, freshness, the claims
volume of the last 30 nights against its trailing median, the expectation
suites' results and the verdict. IDs are masked; names and phones never appear.
"""
from __future__ import annotations

import html
import json
import os
from pathlib import Path

import duckdb
import pandas as pd
import plotly.graph_objects as go

from poverty_warning.contract import FEEDS
from poverty_warning.workspace import Workspace

STYLE = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3}.ok{color:#1a7f37;font-weight:bold}.held{color:#c62828;font-weight:bold}
.warn{color:#b26a00}.small{color:#666;font-size:12px}
"""


def _table(df: pd.DataFrame) -> str:
    if df.empty:
        return "<p class='small'>（无）</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _examples(ws: Workspace, feed: str, night: str, pairs: list[tuple[str, int]]) -> pd.DataFrame:
    """The masked projection of a few quarantined rows."""
    path = ws.lake / "_batches" / feed / f"night={night}.parquet"
    if not path.exists() or not pairs:
        return pd.DataFrame()
    batch = pd.read_parquet(path, columns=None)
    keep = [c for c in batch.columns if not c.startswith("check__")]
    wanted = pd.DataFrame(pairs, columns=["_file", "_row_number"])
    return batch[keep].merge(wanted, on=["_file", "_row_number"]).head(3)


def build(ws: Workspace, night: str, verdict: dict) -> Path:
    con = duckdb.connect(str(ws.duckdb_path))
    try:
        files = con.execute(
            "SELECT feed, count(*) AS files, CAST(sum(rows_received) AS BIGINT) AS received, "
            "CAST(sum(rows_loaded) AS BIGINT) AS loaded, CAST(sum(rows_quarantined) AS BIGINT) AS quarantined FROM meta.landed_files WHERE night = CAST(? AS DATE) "
            "GROUP BY feed ORDER BY feed", [night]).df()
        reasons = con.execute(
            "SELECT feed, reason, rows, file, row_number FROM ("
            "  SELECT feed, reason, file, row_number, count(*) OVER (PARTITION BY feed, reason) AS rows,"
            "    row_number() OVER (PARTITION BY feed, reason ORDER BY file, row_number) AS pick"
            "  FROM raw.quarantine WHERE night = CAST(? AS DATE)) WHERE pick = 1 "
            "ORDER BY feed, rows DESC, reason", [night]).df()
        volume = con.execute(
            "SELECT CAST(delivery_date AS VARCHAR) AS day, sum(rows_received) AS rows FROM meta.landed_files "
            "WHERE feed = 'claims' AND delivery_date <= CAST(? AS DATE) GROUP BY 1 ORDER BY 1 DESC LIMIT 30",
            [night]).df().sort_values("day")
        history = con.execute(
            "SELECT CAST(night AS VARCHAR) AS night, may_publish, findings FROM meta.batch_checks "
            "WHERE night <= CAST(? AS DATE) ORDER BY night DESC LIMIT 30", [night]).df()
        try:
            drift = con.execute("SELECT item, psi FROM meta.model_monitoring WHERE night = CAST(? AS DATE) "
                                "ORDER BY psi DESC", [night]).df()
        except duckdb.CatalogException:
            drift = pd.DataFrame()
        try:
            gx = con.execute("SELECT feed, count(*) AS evaluated, CAST(sum(CASE WHEN success THEN 0 ELSE 1 END) AS INTEGER) AS failed "
                             "FROM meta.gx_results WHERE night = CAST(? AS DATE) GROUP BY feed ORDER BY feed",
                             [night]).df()
        except duckdb.CatalogException:
            gx = pd.DataFrame()
    finally:
        con.close()

    parts = [f"<h1>数据质量日报 · {html.escape(night)}</h1>"]
    if verdict.get("may_publish"):
        parts.append("<p class='ok'>结论：可以发布当晚名单</p>")
    else:
        parts.append("<p class='held'>结论：暂停发布当晚名单</p>")
    findings = verdict.get("findings", [])
    if findings:
        parts.append("<ul>" + "".join(
            f"<li class='{'held' if f['severity'] == 'critical' else 'warn'}'>"
            f"{'严重' if f['severity'] == 'critical' else '提示'}：{html.escape(f['message'])}</li>" for f in findings)
            + "</ul>")

    parts.append("<h2>各数据源接收与隔离</h2>")
    if not files.empty:
        files = files.assign(隔离率=(files["quarantined"] / files["received"].where(files["received"] > 0)).map(
            lambda r: "" if pd.isna(r) else f"{r:.2%}"))
        files["数据源"] = files["feed"].map(lambda f: f"{f}（{FEEDS[f].title_zh}）")
        files = files[["数据源", "files", "received", "loaded", "quarantined", "隔离率"]].rename(columns={
            "files": "文件数", "received": "接收行数", "loaded": "入库行数", "quarantined": "隔离行数"})
    parts.append(_table(files))

    parts.append("<h2>时效：当晚送达情况</h2>")
    arrived = set(files["数据源"].str.split("（").str[0]) if not files.empty else set()
    fresh = pd.DataFrame([{"数据源": f"{name}（{feed.title_zh}）", "当晚送达": "是" if name in arrived else "否",
                           "要求": "每晚必送" if feed.dated else "有更新时送"} for name, feed in FEEDS.items()])
    parts.append(_table(fresh))

    parts.append("<h2>主要隔离原因（示例行已脱敏）</h2>")
    if reasons.empty:
        parts.append("<p class='small'>当晚无隔离记录。</p>")
    for feed, group in reasons.groupby("feed"):
        top = group.head(5)
        parts.append(f"<h3>{html.escape(feed)}</h3>")
        parts.append(_table(top[["reason", "rows"]].rename(columns={"reason": "原因", "rows": "行数"})))
        example = _examples(ws, feed, night, list(zip(top["file"], top["row_number"].astype(int))))
        if not example.empty:
            parts.append("<p class='small'>示例行：</p>" + _table(example))

    parts.append("<h2>结算数据量：近30晚</h2>")
    if not volume.empty:
        median = volume["rows"].rolling(28, min_periods=1).median().shift(1)
        fig = go.Figure([go.Bar(x=volume["day"], y=volume["rows"], name="当晚结算行数"),
                         go.Scatter(x=volume["day"], y=median, name="此前中位数", mode="lines")])
        fig.update_layout(height=320, margin=dict(l=40, r=20, t=20, b=40), legend=dict(orientation="h"))
        parts.append(fig.to_html(full_html=False, include_plotlyjs=True, div_id="volume-trend"))

    parts.append("<h2>期望规则（Great Expectations）</h2>")
    if not gx.empty:
        parts.append(_table(gx.rename(columns={"feed": "数据源", "evaluated": "规则数", "failed": "未通过"})))
    docs = ws.root / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    out_dir = ws.reports(night)
    if docs.exists():
        rel = os.path.relpath(docs, out_dir)
        parts.append(f"<p><a href='{html.escape(rel)}'>打开 Data Docs 查看每条规则的结果</a></p>")

    parts.append("<h2>预警模型监控（PSI）</h2>")
    if drift.empty:
        parts.append("<p class='small'>今晚尚未评分。</p>")
    else:
        top = drift.head(8).assign(判断=drift.head(8)["psi"].map(
            lambda v: "明显漂移" if v > 0.25 else ("轻微变化" if v > 0.1 else "稳定")))
        top["psi"] = top["psi"].map(lambda v: f"{v:.3f}")
        parts.append(_table(top.rename(columns={"item": "评分或特征", "psi": "PSI"})))

    parts.append("<h2>近30晚结论</h2>")
    if not history.empty:
        history["结论"] = history["may_publish"].map({True: "可发布", False: "暂停"})
        history["原因"] = history["findings"].map(
            lambda s: "；".join(f["message"] for f in json.loads(s) if f["severity"] == "critical"))
        parts.append(_table(history[["night", "结论", "原因"]].rename(columns={"night": "日期"})))

    page = (f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>数据质量日报 {html.escape(night)}"
            f"</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "quality.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
