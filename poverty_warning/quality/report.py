"""The night's data-quality report (HTML from jinja2 templates, charts by plotly), for the reviewer.

The cause comes first: the verdict, then each critical finding in one sentence — what it means for
tonight's lists, what to do, which agency sends the feed — then warnings with their lists of people,
then details: per feed what arrived, loaded and was quarantined, masked example rows, the last 30
nights of volume, quarantine rate and lateness per feed, the expectation suites and the model's drift.
IDs are masked; names and phones never appear.

`reports/<night>/quality.html` loads plotly.js from `reports/assets/` (one copy for every night);
`quality-mail.html` (`poverty-warning report --self-contained`) carries it inline, to be mailed.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import jinja2
import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup
from plotly.subplots import make_subplots

from poverty_warning.contract import FEEDS
from poverty_warning.contract.vocabulary import FEED_AGENCY_ZH, FEED_ZH
from poverty_warning.quality import batch_checks, release as releases, warning_lists
from poverty_warning.quality.expectations import batch_projection, data_docs_index
from poverty_warning.risk.features import LABEL_ZH
from poverty_warning.risk.scoring import NOT_LOCAL_ZH
from poverty_warning.workspace import Workspace

WINDOW_NIGHTS = 30
PLOTLY_ASSET = "assets/plotly.min.js"  # relative to <data>/reports
SEVERITY_ZH = {"critical": "严重", "warning": "提示", "note": "未评估"}

_TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("poverty_warning.quality", "templates"),
                                autoescape=True, trim_blocks=True, lstrip_blocks=True,
                                undefined=jinja2.StrictUndefined)


def report_dir(ws: Workspace, night: str) -> Path:
    return ws.reports(night)


def ensure_plotly_asset(reports_root: Path) -> Path:
    """The installed plotly package's plotly.min.js, once, beside the nights' report folders."""
    from plotly.offline import get_plotlyjs

    path = reports_root / PLOTLY_ASSET
    code = get_plotlyjs()
    if not path.exists() or path.stat().st_size != len(code.encode("utf-8")):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".js.tmp")
        tmp.write_text(code, encoding="utf-8")
        tmp.replace(path)
    return path


def _window(night: str) -> list[str]:
    end = dt.date.fromisoformat(night)
    return [(end - dt.timedelta(days=i)).isoformat() for i in range(WINDOW_NIGHTS - 1, -1, -1)]


def _query(con, sql: str, params: list) -> pd.DataFrame:
    try:
        return con.execute(sql, params).df()
    except duckdb.CatalogException:  # a table a later step creates: not there yet
        return pd.DataFrame()


def _gather(con, night: str) -> dict:
    releases.ensure_table(con)
    data = {
        # The feed tables and the month view read the quality marts (dbt, marts/quality/).
        "files": _query(con, "SELECT feed, files, rows_received AS received, rows_loaded AS loaded, "
                             "rows_quarantined AS quarantined FROM marts.fct_quality_feed_nights "
                             "WHERE landed_night = CAST(? AS DATE)", [night]),
        "reasons": _query(con, "SELECT feed, reason, quarantined_rows AS rows, example_file AS file, "
                               "example_row_number AS row_number FROM marts.fct_quality_quarantine_reasons "
                               "WHERE landed_night = CAST(? AS DATE) ORDER BY feed, rows DESC, reason", [night]),
        "dated_tonight": _query(con, "SELECT feed FROM marts.fct_quality_feed_deliveries "
                                     "WHERE delivery_date = CAST(? AS DATE) AND last_landed_night >= CAST(? AS DATE)",
                                [night, night]),
        "claims_days": _query(con, "SELECT CAST(delivery_date AS VARCHAR) AS day, rows_loaded AS rows "
                                   "FROM marts.fct_quality_feed_deliveries WHERE feed = 'claims' "
                                   "AND delivery_date <= CAST(? AS DATE) ORDER BY delivery_date", [night]),
        "feed_nights": _query(con, "SELECT feed, CAST(landed_night AS VARCHAR) AS night, rows_received AS received, "
                                   "rows_quarantined AS quarantined, CAST(latest_delivery_date AS VARCHAR) AS latest_delivery "
                                   "FROM marts.fct_quality_feed_nights WHERE landed_night <= CAST(? AS DATE) "
                                   "ORDER BY feed, landed_night", [night]),
        "history": _query(con, "SELECT CAST(night AS VARCHAR) AS night, may_publish, findings FROM meta.batch_checks "
                               "WHERE night <= CAST(? AS DATE) AND night > CAST(? AS DATE) - INTERVAL 30 DAY "
                               "ORDER BY night DESC", [night, night]),
        "released_nights": _query(con, "SELECT DISTINCT CAST(night AS VARCHAR) AS night FROM meta.releases", []),
        "drift": _query(con, "SELECT * FROM meta.model_monitoring WHERE night = CAST(? AS DATE) ORDER BY psi DESC",
                        [night]),
        "gx": _query(con, "SELECT feed, count(*) AS evaluated, CAST(sum(CASE WHEN success THEN 0 ELSE 1 END) AS INTEGER) "
                          "AS failed, max(element_count) AS rows FROM meta.gx_results WHERE night = CAST(? AS DATE) "
                          "GROUP BY feed", [night]),
    }
    data["release"] = releases.latest(con, night)
    return data


def _feed_label(feed: str) -> str:
    return FEED_ZH.get(feed, feed)


def _sentence(finding: dict, report_folder: Path, absolute: bool) -> dict:
    """A finding as the report says it: what, what it means for tonight, what to do, whom to call."""
    feed = finding.get("feed")
    files = []
    if finding.get("list_name"):
        for path in warning_lists.list_files(report_folder, finding["list_name"]):
            files.append({"name": path.name,
                          "href": path.as_uri() if absolute else path.relative_to(report_folder).as_posix()})
    return {"severity": finding["severity"], "severity_zh": SEVERITY_ZH[finding["severity"]],
            "message": finding["message"], "impact": finding.get("impact") or "",
            "action": finding.get("action") or "",
            "agency": FEED_AGENCY_ZH.get(feed, "") if feed else "", "feed_zh": _feed_label(feed) if feed else "",
            "files": files}


def _feeds_table(files: pd.DataFrame, dated_tonight: set[str]) -> list[dict]:
    """Per feed what landed tonight; a daily feed has arrived when tonight's dated delivery is there
    (a backfill lands many days' files on one night)."""
    by_feed = {r.feed: r for r in files.itertuples()} if len(files) else {}
    rows = []
    for name, feed in FEEDS.items():
        got = by_feed.get(name)
        received = int(got.received) if got is not None else 0
        arrived = name in dated_tonight if feed.dated else got is not None
        rows.append({
            "feed": feed.title_zh, "agency": feed.agency_zh,
            "arrived": "是" if arrived else ("否（每晚必送）" if feed.dated else "否（有更新时送）"),
            "missing_required": feed.dated and not arrived,
            "files": int(got.files) if got is not None else 0, "received": received,
            "loaded": int(got.loaded) if got is not None else 0,
            "quarantined": int(got.quarantined) if got is not None else 0,
            "rate": f"{got.quarantined / received:.2%}" if got is not None and received else "",
        })
    return rows


def _examples(ws: Workspace, feed: str, night: str, pairs: list[tuple[str, int]]) -> pd.DataFrame:
    """The masked projection of a few quarantined rows."""
    paths = batch_projection(ws.lake, feed, night)
    if not paths or not pairs:
        return pd.DataFrame()
    wanted = pd.DataFrame(pairs, columns=["_file", "_row_number"])
    found = []
    for path in paths:
        part = pd.read_parquet(path)
        found.append(part[[c for c in part.columns if not c.startswith("check__")]].merge(
            wanted, on=["_file", "_row_number"]))
    example = pd.concat(found).sort_values(["_file", "_row_number"]).head(3)
    return example.rename(columns={"_file": "文件", "_row_number": "行号"})


def _reasons(ws: Workspace, night: str, reasons: pd.DataFrame) -> list[dict]:
    out = []
    for feed, group in reasons.groupby("feed", sort=True) if len(reasons) else []:
        top = group.head(5)
        example = _examples(ws, feed, night, list(zip(top["file"], top["row_number"].astype(int))))
        out.append({"feed": _feed_label(feed), "agency": FEED_AGENCY_ZH.get(feed, ""),
                    "reasons": [{"reason": r.reason, "rows": int(r.rows)} for r in top.itertuples()],
                    "example_columns": list(example.columns),
                    "examples": [["" if pd.isna(v) else str(v) for v in row] for row in example.itertuples(index=False)]})
    return out


def _layout(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=40, b=40), legend=dict(orientation="h", y=-0.15),
                      font=dict(family="Noto Sans CJK SC, Microsoft YaHei, sans-serif", size=12),
                      plot_bgcolor="#fafafa", hovermode="x unified")
    fig.update_xaxes(type="date", tickformat="%m-%d", hoverformat="%Y-%m-%d", title_text="日期")
    return fig


def _fragment(fig: go.Figure, div_id: str) -> Markup:
    # plotly writes the div and the call that draws it; its JSON carries numbers, dates and our labels
    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                              config={"displaylogo": False, "locale": "zh-CN"}))


def _volume_chart(claims_days: pd.DataFrame, night: str, held: bool, cfg: dict) -> Markup:
    """Claims delivered per day over the window, tonight included (a missing delivery is a zero, drawn),
    against the median of the earlier deliveries the volume check compares with."""
    per_day = dict(zip(claims_days["day"], claims_days["rows"].astype(int))) if len(claims_days) else {}
    delivered = sorted(per_day)
    days = _window(night)
    trailing = int(cfg["volume"]["trailing_nights"])
    medians = []
    for day in days:
        earlier = [per_day[d] for d in delivered if d < day][-trailing:]
        medians.append(float(pd.Series(earlier).median()) if earlier else None)
    rows = [per_day.get(d, 0) for d in days]
    colours = ["#90a4ae"] * (len(days) - 1) + ["#c62828" if held else "#1a7f37"]
    fig = go.Figure([
        go.Bar(x=days, y=rows, name="每日结算行数", marker_color=colours,
               hovertemplate="%{y}条<extra>结算行数</extra>"),
        go.Scatter(x=days, y=medians, name=f"此前{trailing}次送达的中位数", mode="lines",
                   line=dict(color="#1565c0", dash="dot"), hovertemplate="%{y:.0f}条<extra>中位数</extra>"),
    ])
    critical = float(cfg["volume"]["critical_below_ratio"])
    if medians[-1]:
        fig.add_trace(go.Scatter(x=days, y=[m * critical if m else None for m in medians], mode="lines",
                                 name=f"低于中位数的{critical:.0%}则暂停发布", line=dict(color="#c62828", width=1, dash="dash"),
                                 hovertemplate="%{y:.0f}条<extra>暂停线</extra>"))
    fig.add_annotation(x=days[-1], y=rows[-1], text=f"今晚 {rows[-1]} 条", showarrow=True, arrowhead=2, ay=-40,
                       font=dict(color=colours[-1], size=13))
    fig.update_yaxes(title_text="结算行数（条）", rangemode="tozero")
    return _fragment(_layout(fig, 340), "volume-trend")


def _month_view(feed_nights: pd.DataFrame, night: str, cfg: dict) -> tuple[Markup, list[dict]]:
    """Per feed over the window: rows received, quarantine rate, and days since its latest delivery."""
    days = _window(night)
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("每晚接收行数", "隔离率", "距最近一次送达的天数（每晚必送的数据应为0）"))
    table = []
    palette = ["#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#c62828", "#00838f", "#5d4037", "#455a64"]
    for i, (name, feed) in enumerate(FEEDS.items()):
        rows = feed_nights[feed_nights["feed"] == name] if len(feed_nights) else pd.DataFrame()
        by_night = {r.night: r for r in rows.itertuples()} if len(rows) else {}
        landed_before = sorted(by_night)
        received, rate, late = [], [], []
        for day in days:
            got = by_night.get(day)
            received.append(int(got.received) if got is not None else 0)
            rate.append(got.quarantined / got.received if got is not None and got.received else None)
            latest = max((by_night[n].latest_delivery for n in landed_before if n <= day), default=None)
            late.append((dt.date.fromisoformat(day) - dt.date.fromisoformat(latest)).days if latest else None)
        colour = palette[i % len(palette)]
        label = feed.title_zh
        common = dict(name=label, legendgroup=name, line=dict(color=colour), mode="lines+markers", marker=dict(size=4))
        fig.add_trace(go.Scatter(x=days, y=received, hovertemplate="%{y}行", **common), row=1, col=1)
        fig.add_trace(go.Scatter(x=days, y=rate, hovertemplate="%{y:.2%}", showlegend=False, **common), row=2, col=1)
        fig.add_trace(go.Scatter(x=days, y=late, hovertemplate="%{y}天", showlegend=False, **common), row=3, col=1)
        rates = [r for r in rate if r is not None]
        half = len(days) // 2
        early = [r for r in rate[:half] if r is not None]
        recent = [r for r in rate[half:] if r is not None]
        table.append({
            "feed": label, "nights_delivered": sum(1 for d in days if d in by_night), "rows": sum(received),
            "tonight": received[-1], "mean_rate": f"{sum(rates) / len(rates):.2%}" if rates else "",
            "trend": ("上升" if early and recent and sum(recent) / len(recent) > 1.5 * sum(early) / len(early) + 1e-4
                      else ("" if not (early and recent) else "平稳或下降")),
            "late": "" if late[-1] is None else late[-1],
            "late_flag": feed.dated and late[-1] is not None and late[-1] > 0,
        })
    for limit, text in ((float(cfg["quarantine"]["critical_above_rate"]), "暂停发布线"),
                        (float(cfg["quarantine"]["warn_above_rate"]), "提示线")):
        fig.add_hline(y=limit, line=dict(color="#c62828", width=1, dash="dash"), annotation_text=text,
                      annotation_position="top left", row=2, col=1)
    _layout(fig, 640)
    fig.update_yaxes(rangemode="tozero")
    fig.update_yaxes(tickformat=".1%", row=2, col=1)
    fig.update_xaxes(title_text="", row=1, col=1)
    fig.update_xaxes(title_text="", row=2, col=1)
    return _fragment(fig, "month-view"), table


def _drift(drift: pd.DataFrame, figures: dict, cfg: dict) -> dict:
    watch, warn = float(cfg["drift"]["watch_above_psi"]), float(cfg["drift"]["warn_above_psi"])

    def reading(v: float) -> str:
        return "明显漂移" if v > warn else ("轻微变化" if v > watch else "稳定")

    out = {"watch": watch, "warn": warn, "model_min": int(cfg["drift"]["model_min_households"]),
           "claims_min": int(cfg["drift"]["min_rows"]),
           "claims_rows": figures.get("claims_amount_rows"), "claims_psi": figures.get("claims_amount_psi"),
           "scored": None, "items": [], "judged": False, "not_local": None}
    if len(drift) and "trained_locally" in drift and drift["trained_locally"].eq(False).any():
        out["not_local"] = NOT_LOCAL_ZH
    if out["claims_psi"] is not None:
        out["claims_reading"] = reading(float(out["claims_psi"]))
    if len(drift) and "sample_size" in drift and drift["sample_size"].notna().any():
        out["scored"] = int(drift["sample_size"].max())
        out["judged"] = out["scored"] >= out["model_min"]
        if out["judged"]:
            out["items"] = [{"item": "风险评分" if r.item == "score" else LABEL_ZH.get(r.item, r.item),
                             "psi": f"{r.psi:.3f}", "reading": reading(r.psi)} for r in drift.head(10).itertuples()]
    return out


def _history(history: pd.DataFrame, released: set[str]) -> list[dict]:
    rows = []
    for r in history.itertuples():
        critical = [f["message"] for f in json.loads(r.findings) if f["severity"] == "critical"]
        status = "可发布" if r.may_publish else ("暂停，审核人已放行" if r.night in released else "暂停")
        rows.append({"night": r.night, "status": status, "held": not r.may_publish, "reasons": "；".join(critical)})
    return rows


def _gx(gx: pd.DataFrame) -> list[dict]:
    rows = []
    for r in gx.sort_values("feed").itertuples() if len(gx) else []:
        empty = int(r.rows or 0) == 0
        rows.append({"feed": _feed_label(r.feed), "evaluated": int(r.evaluated),
                     "failed": "" if empty else int(r.failed),
                     "status": "当晚无数据，未评估" if empty else ("全部通过" if r.failed == 0 else "有未通过（相应行已隔离）")})
    return rows


def render(ws: Workspace, night: str, verdict: dict, self_contained: bool = False) -> str:
    folder = report_dir(ws, night)
    cfg = batch_checks.load_config()
    con = duckdb.connect(str(ws.duckdb_path))
    try:
        data = _gather(con, night)
    finally:
        con.close()
    findings = verdict.get("findings", [])
    figures = verdict.get("figures", {}) or {}
    held = not verdict.get("may_publish", False)
    release = data["release"] if held else None
    said = [_sentence(f, folder, self_contained) for f in findings]
    volume_chart = _volume_chart(data["claims_days"], night, held and release is None, cfg)
    month_chart, month_table = _month_view(data["feed_nights"], night, cfg)
    docs = data_docs_index(ws)
    if self_contained:
        from plotly.offline import get_plotlyjs

        plotly_js = {"inline": Markup(get_plotlyjs().replace("</script", "<\\/script"))}
    else:
        plotly_js = {"src": f"../{PLOTLY_ASSET}"}
    released = set(data["released_nights"]["night"]) if len(data["released_nights"]) else set()
    return _TEMPLATES.get_template("quality.html.j2").render(
        night=night, held=held, release=release,
        causes=[s for s, f in zip(said, findings) if f["severity"] == "critical"],
        warnings=[s for s, f in zip(said, findings) if f["severity"] == "warning" and f["check"] != "expectations"],
        notes=[s for s, f in zip(said, findings) if f["severity"] == "note"],
        expectation_failures=[s for s, f in zip(said, findings)
                              if f["severity"] == "warning" and f["check"] == "expectations"],
        feeds=_feeds_table(data["files"], set(data["dated_tonight"]["feed"]) if len(data["dated_tonight"]) else set()),
        reasons=_reasons(ws, night, data["reasons"]),
        volume_chart=volume_chart, month_chart=month_chart, month_table=month_table,
        gx=_gx(data["gx"]),
        data_docs=(docs.as_uri() if self_contained else Path(_relpath(docs, folder)).as_posix()) if docs.exists() else None,
        data_docs_path=str(docs), drift=_drift(data["drift"], figures, cfg),
        history=_history(data["history"], released), plotly_js=plotly_js, self_contained=self_contained,
    )


def _relpath(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(target, start)


def _write(path: Path, page: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


def build(ws: Workspace, night: str, verdict: dict) -> Path:
    """Write reports/<night>/quality.html (plotly.js from reports/assets/)."""
    ensure_plotly_asset(ws.root / "reports")
    return _write(report_dir(ws, night) / "quality.html", render(ws, night, verdict))


def export_self_contained(ws: Workspace, night: str) -> Path:
    """Write reports/<night>/quality-mail.html: the same page in one file, to be mailed."""
    con = duckdb.connect(str(ws.duckdb_path))
    try:
        verdict = batch_checks.stored(con, night)
    finally:
        con.close()
    if verdict is None:
        raise ValueError(f"night {night} has not been validated: no report")
    return _write(report_dir(ws, night) / "quality-mail.html", render(ws, night, verdict.as_dict(), self_contained=True))
