"""`make bench`: the pipeline at city scale, measured stage by stage (not a test).

For each size: a synthetic city with 13 months of claims, its first landing as one night (landing,
checks, dbt: the full rebuild, then score, publish, deliver), then one further night. The night's
stages are `nightly.run_night`'s, timed through its `on_step` hook; peak memory is sampled from the
process and its children. The candidates are also computed by two references from the same Parquet
lake, one hand-written DuckDB query and plain pandas, which must agree with the pipeline to the cent.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import psutil

from poverty_warning import nightly
from poverty_warning.policy import load_policy
from poverty_warning.policy.parameters import city_defaults
from poverty_warning.settings import DEMO_ID_HASH_KEY
from poverty_warning.synth.cities import CITIES
from poverty_warning.synth.generator import generate
from poverty_warning.warehouse import connect
from poverty_warning.workspace import Workspace

STAGES = ("synth", "landing", "checks", "dbt", "score", "publish", "deliver")
STAGE_OF_STEP = {"ingest": "landing", "validate": "checks", "dbt_build": "dbt", "score": "score",
                 "publish": "publish", "deliver": "deliver"}
FULL_REBUILD = ("landing", "checks", "dbt")
MONTHS = 13
SEED = 7
# The targets at 1,000,000 residents.
TARGETS = {"full_s": 300, "incremental_s": 60, "peak_gb": 6, "dbt_over_limit": 3, "pandas_over_pipeline": 10}


class ReferenceMismatch(AssertionError):
    """A reference computation disagrees with the pipeline's candidates."""


class PeakMemory:
    """Resident memory of this process and its children, sampled in a thread; `take()` returns the
    peak since the last take (so each stage gets its own peak)."""

    def __init__(self, every_s: float = 0.05):
        self.every_s, self.peak, self._stop = every_s, 0, threading.Event()
        self._me = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = self._me.memory_info().rss
        for child in self._me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.every_s)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def take(self) -> int:
        peak, self.peak = max(self.peak, self._rss()), 0
        return peak


@dataclass
class Stage:
    seconds: float
    peak_bytes: int
    rows: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class SizeResult:
    persons: int
    claims: int
    full: dict[str, Stage] = field(default_factory=dict)  # the first night (13 months landed)
    night: dict[str, Stage] = field(default_factory=dict)  # one further night
    synth: Stage | None = None
    candidates: int = 0
    dbt_candidates_s: float = 0.0
    duckdb_query_s: float = 0.0
    pandas_s: float | None = None  # None: the plain-pandas reference did not fit in memory (pandas_skipped says so)
    pandas_skipped: str = ""
    held: list[str] = field(default_factory=list)
    quarantined: int = 0  # the synthetic city has no injected faults: any quarantined row is a defect

    @property
    def full_s(self) -> float:
        return sum(self.full[s].seconds for s in FULL_REBUILD)

    @property
    def incremental_s(self) -> float:
        return sum(stage.seconds for stage in self.night.values())

    @property
    def peak_gb(self) -> float:
        stages = [self.synth, *self.full.values(), *self.night.values()]
        return max(s.peak_bytes for s in stages if s) / 1e9

    @property
    def dbt_over_limit(self) -> float:
        return self.dbt_candidates_s / self.duckdb_query_s

    @property
    def pandas_over_pipeline(self) -> float:
        return float("nan") if self.pandas_s is None else self.pandas_s / self.dbt_candidates_s

    def line(self) -> str:
        return (f"persons={self.persons} claims={self.claims} full_s={self.full_s:.1f} "
                f"incremental_s={self.incremental_s:.1f} peak_gb={self.peak_gb:.2f} "
                f"dbt_over_limit={self.dbt_over_limit:.2f} pandas_over_pipeline={self.pandas_over_pipeline:.2f}")


# ---------- the references ----------

def _lake(lake: Path, feed: str) -> str:
    return f"read_parquet('{lake / feed / '*.parquet'}', union_by_name = true)"


def _rules(policy_id: str) -> list:
    rules = load_policy(policy_id).rules
    for r in rules:
        if r.kind == "member_amount" or r.line_catastrophic_list or r.impute_parameter:
            raise NotImplementedError(f"the benchmark's references cover household rules without imputed "
                                      f"income or disease lists; {policy_id} rule {r.rule} has them")
    return rules


def _window(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """trailing_12_whole_months: the 12 whole months before the as-of month."""
    first_of_month = as_of.replace(day=1)
    return first_of_month.replace(year=first_of_month.year - 1), first_of_month - dt.timedelta(days=1)


def _figure(parameters: pd.DataFrame, name: str | None, year: int) -> float | None:
    """A city figure for a year, the latest published year's standing in (carried forward)."""
    if not name:
        return None
    rows = parameters[(parameters["name"] == name) & (parameters["year"] <= year)]
    return None if rows.empty else float(rows.sort_values("year").iloc[-1]["value"])


def _parameters(con: duckdb.DuckDBPyConnection, lake: Path, policy_id: str, as_of: dt.date) -> pd.DataFrame:
    """The parameters feed (latest delivery per name and year) over the city's defaults."""
    feed = con.execute(f"""
        SELECT name, CAST(year AS INTEGER) AS year, CAST(value AS DOUBLE) AS value
        FROM {_lake(lake, 'parameters')} WHERE _delivery_date <= DATE '{as_of}'
        QUALIFY row_number() OVER (PARTITION BY name, year
                                   ORDER BY _delivery_date DESC, _file DESC, _row_number DESC) = 1""").df() \
        if any((lake / "parameters").glob("*.parquet")) else pd.DataFrame(columns=["name", "year", "value"])
    defaults = city_defaults(load_policy(policy_id).city)[["name", "year", "value"]]
    merged = defaults.merge(feed[["name", "year"]], on=["name", "year"], how="left", indicator=True)
    return pd.concat([feed, merged[merged["_merge"] == "left_only"][["name", "year", "value"]]], ignore_index=True)


def _rule_figures(rules, parameters: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    return pd.DataFrame([{
        "rule": r.rule, "kind": r.kind, "visit_types": list(r.visit_types), "in_city_only": r.in_city_only,
        "threshold": r.threshold, "at_least": r.comparison == ">=", "assets_test": r.assets_test,
        "line": _figure(parameters, r.line_parameter, as_of.year + r.line_year_offset),
        "line_missing": bool(r.line_parameter) and _figure(parameters, r.line_parameter,
                                                           as_of.year + r.line_year_offset) is None,
        "line_monthly": r.line_period == "monthly",
        "residual_line": _figure(parameters, r.residual_line_parameter, as_of.year),
    } for r in rules])


def duckdb_candidates(lake: Path, policy_id: str, as_of: dt.date) -> pd.DataFrame:
    """The candidates by one hand-written DuckDB query over the Parquet lake (the 'limit' the dbt path is
    measured against). Rule figures come from the pack and the city figures, as in the models."""
    con = duckdb.connect()
    try:
        rules = _rule_figures(_rules(policy_id), _parameters(con, lake, policy_id, as_of), as_of)
        con.register("rule_figures", rules.drop(columns="visit_types"))
        con.register("rule_visits", rules[["rule", "visit_types"]].explode("visit_types").rename(
            columns={"visit_types": "visit_type"}))
        start, end = _window(as_of)
        return con.execute(f"""
        WITH persons AS (
            SELECT person_id, household_id, subdistrict_code FROM {_lake(lake, 'persons')}
            WHERE _delivery_date <= DATE '{as_of}'
            QUALIFY row_number() OVER (PARTITION BY person_id
                                       ORDER BY _delivery_date DESC, _file DESC, _row_number DESC) = 1
        ),
        claims AS (
            SELECT * FROM {_lake(lake, 'claims')} WHERE _delivery_date <= DATE '{as_of}'
        ),
        kept AS (
            SELECT c.person_id, c.visit_type, coalesce(c.in_city, true) AS in_city,
                   c.self_pay_in_scope + c.self_pay_out_scope AS burden,
                   CASE WHEN c.visit_type = 'inpatient' THEN coalesce(c.discharge_date, c.settle_date)
                        ELSE c.settle_date END AS claim_date
            FROM claims AS c
            WHERE c.reversal_of IS NULL
              AND c.claim_id NOT IN (SELECT reversal_of FROM claims WHERE reversal_of IS NOT NULL)
        ),
        burdens AS (
            SELECT f.rule, p.household_id, sum(k.burden) AS burden_amount
            FROM kept AS k
            JOIN persons AS p USING (person_id)
            JOIN rule_figures AS f ON (NOT f.in_city_only OR k.in_city)
            JOIN rule_visits AS v ON v.rule = f.rule AND v.visit_type = k.visit_type
            WHERE k.claim_date BETWEEN DATE '{start}' AND DATE '{end}' AND k.claim_date <= DATE '{as_of}'
            GROUP BY f.rule, p.household_id
        ),
        households AS (
            SELECT household_id, count(*) AS household_size FROM persons GROUP BY household_id
        ),
        income AS (
            SELECT household_id, assessed_on, annual_disposable_income AS income,
                   coalesce(assets_within_limit, true) AS assets_within_limit
            FROM {_lake(lake, 'household_income')}
            WHERE _delivery_date <= DATE '{as_of}' AND assessed_on <= DATE '{as_of}'
            QUALIFY row_number() OVER (PARTITION BY household_id, assessed_on
                                       ORDER BY _delivery_date DESC, _file DESC, _row_number DESC) = 1
            -- then each household's latest assessment
        ),
        latest_income AS (
            SELECT * FROM income
            QUALIFY row_number() OVER (PARTITION BY household_id ORDER BY assessed_on DESC) = 1
        ),
        measured AS (
            SELECT b.rule, b.household_id, b.burden_amount, i.income AS income_amount, h.household_size,
                   i.assets_within_limit, f.*
            FROM burdens AS b
            JOIN rule_figures AS f USING (rule)
            JOIN households AS h USING (household_id)
            LEFT JOIN latest_income AS i USING (household_id)
        )
        SELECT household_id, rule, CAST(round(burden_amount, 2) AS DECIMAL(18, 2)) AS burden_amount,
               CAST(round(income_amount, 2) AS DECIMAL(18, 2)) AS income_amount,
               CAST(round(CASE WHEN income_amount > 0 THEN burden_amount / income_amount END, 4)
                    AS DECIMAL(10, 4)) AS burden_ratio
        FROM measured
        WHERE CASE
                WHEN income_amount IS NULL OR income_amount < 0 OR burden_amount <= 0 THEN false
                WHEN kind = 'burden_ratio' THEN
                    CASE WHEN at_least THEN burden_amount >= threshold * income_amount
                         ELSE burden_amount > threshold * income_amount END
                ELSE residual_line IS NOT NULL
                     AND (income_amount - burden_amount) / household_size / 12 < residual_line
                     AND income_amount / household_size / 12 >= residual_line
              END
          AND CASE WHEN line IS NULL THEN NOT line_missing
                   WHEN line_monthly THEN income_amount / household_size / 12 < line
                   ELSE income_amount / household_size < line END
          AND (NOT assets_test OR coalesce(assets_within_limit, false))
        ORDER BY household_id, rule""").df()
    finally:
        con.close()


# The plain-pandas reference holds every claim in one frame of Python objects: 22.9 GB resident for the 30.8
# million claims of 4M residents (measured 2026-11-26, when the kernel stopped it on this 24 GB machine).
PANDAS_BYTES_PER_CLAIM = 750


def pandas_does_not_fit(claims: int) -> str:
    """Why the plain-pandas reference cannot run here for this many claims, or "" if it can."""
    need, available = claims * PANDAS_BYTES_PER_CLAIM, psutil.virtual_memory().available
    if need <= available:
        return ""
    return (f"the plain-pandas reference was not run: it would need about {need / 1e9:.0f} GB "
            f"({PANDAS_BYTES_PER_CLAIM} bytes a claim), {available / 1e9:.0f} GB were free")


def pandas_candidates(lake: Path, policy_id: str, as_of: dt.date) -> pd.DataFrame:
    """The same candidates in plain pandas: read the lake, net reversals, sum, compare."""
    def read(feed, columns):
        df = pd.read_parquet(lake / feed, columns=columns + ["_delivery_date", "_file", "_row_number"])
        return df[pd.to_datetime(df["_delivery_date"]) <= pd.Timestamp(as_of)]

    def latest(df, keys):
        return df.sort_values(["_delivery_date", "_file", "_row_number"]).drop_duplicates(keys, keep="last")

    def cents(series):
        return np.round(series.astype(float) * 100).astype(np.int64)

    con = duckdb.connect()
    try:
        rules = _rule_figures(_rules(policy_id), _parameters(con, lake, policy_id, as_of), as_of)
    finally:
        con.close()
    persons = latest(read("persons", ["person_id", "household_id"]), ["person_id"])
    claims = read("claims", ["claim_id", "person_id", "visit_type", "in_city", "settle_date", "discharge_date",
                             "self_pay_in_scope", "self_pay_out_scope", "reversal_of"])
    kept = claims[claims["reversal_of"].isna() & ~claims["claim_id"].isin(claims["reversal_of"].dropna())].copy()
    settle = pd.to_datetime(kept["settle_date"])
    kept["claim_date"] = settle.where(kept["visit_type"] != "inpatient",
                                      pd.to_datetime(kept["discharge_date"]).fillna(settle))
    kept["burden"] = cents(kept["self_pay_in_scope"]) + cents(kept["self_pay_out_scope"])
    start, end = _window(as_of)
    kept = kept[(kept["claim_date"] >= pd.Timestamp(start)) & (kept["claim_date"] <= pd.Timestamp(min(end, as_of)))]
    kept = kept.merge(persons[["person_id", "household_id"]], on="person_id")
    sizes = persons.groupby("household_id").size().rename("household_size")
    income = read("household_income", ["household_id", "assessed_on", "annual_disposable_income",
                                       "assets_within_limit"])
    income = latest(income[pd.to_datetime(income["assessed_on"]) <= pd.Timestamp(as_of)],
                    ["household_id", "assessed_on"])
    income = income.sort_values("assessed_on").drop_duplicates("household_id", keep="last").set_index("household_id")
    out = []
    for rule in rules.itertuples():
        mine = kept[kept["visit_type"].isin(rule.visit_types)]
        if rule.in_city_only:
            mine = mine[mine["in_city"].fillna(True).astype(bool)]
        m = mine.groupby("household_id")["burden"].sum().rename("burden").to_frame().join(sizes)
        m["income"] = cents(income["annual_disposable_income"]).reindex(m.index)
        m["assets"] = income["assets_within_limit"].reindex(m.index).fillna(True).astype(bool)
        m.loc[~m.index.isin(income.index), "assets"] = False  # no assessment: the assets test cannot pass
        has_income = m["income"].notna() & (m["income"] >= 0) & (m["burden"] > 0)
        per_month = m["income"] / 100 / m["household_size"] / 12
        if rule.kind == "burden_ratio":
            limit = rule.threshold * m["income"] / 100
            meets = has_income & ((m["burden"] / 100 >= limit) if rule.at_least else (m["burden"] / 100 > limit))
        else:
            meets = has_income & (rule.residual_line is not None) & (
                (m["income"] - m["burden"]) / 100 / m["household_size"] / 12 < (rule.residual_line or 0)) & (
                per_month >= (rule.residual_line or 0))
        if rule.line is None:
            below_line = pd.Series(not rule.line_missing, index=m.index)
        else:
            below_line = (per_month if rule.line_monthly else per_month * 12) < rule.line
        if rule.assets_test:
            meets &= m["assets"]
        m = m[meets & below_line]
        out.append(pd.DataFrame({"household_id": m.index, "rule": rule.rule, "burden_cents": m["burden"].to_numpy(),
                                 "income_cents": m["income"].astype(np.int64).to_numpy(),
                                 "burden_ratio": np.round(m["burden"] / m["income"], 4).to_numpy()}))
    return pd.concat(out, ignore_index=True).sort_values(["household_id", "rule"]).reset_index(drop=True)


def pipeline_candidates(ws: Workspace) -> pd.DataFrame:
    con = connect(ws)  # as the night opened it: one process may not mix read-only and read-write
    try:
        return con.execute("SELECT household_id, rule, burden_amount, income_amount, burden_ratio, person_id "
                           "FROM marts.fct_candidates ORDER BY household_id, rule").df()
    finally:
        con.close()


def _comparable(df: pd.DataFrame) -> pd.DataFrame:
    """household, rule, amounts in cents, ratio in ten-thousandths: what must agree exactly."""
    if "burden_cents" not in df:
        df = df.assign(burden_cents=np.round(df["burden_amount"].astype(float) * 100).astype(np.int64),
                       income_cents=np.round(df["income_amount"].astype(float) * 100).astype(np.int64))
    return pd.DataFrame({
        "household_id": df["household_id"].astype(str).to_numpy(), "rule": df["rule"].astype(str).to_numpy(),
        "burden_cents": df["burden_cents"].astype(np.int64).to_numpy(),
        "income_cents": df["income_cents"].astype(np.int64).to_numpy(),
        "ratio_e4": np.round(df["burden_ratio"].astype(float) * 10000).astype(np.int64).to_numpy(),
    }).sort_values(["household_id", "rule"]).reset_index(drop=True)


def check_same(pipeline: pd.DataFrame, reference: pd.DataFrame, name: str) -> None:
    """Raise ReferenceMismatch naming the first differences (household ids only, no personal data)."""
    if pipeline["person_id"].notna().any():
        raise ReferenceMismatch("the pipeline has member candidates: the references cover household rules only")
    a, b = _comparable(pipeline), _comparable(reference)
    if a.equals(b):
        return
    both = a.merge(b, how="outer", indicator=True, on=list(a.columns))
    diff = both[both["_merge"] != "both"].head(5)
    raise ReferenceMismatch(f"{name} candidates differ from the pipeline's ({len(a)} vs {len(b)} rows); "
                            f"first differences: {diff.to_dict('records')}")


# ---------- the run ----------

def _dbt_candidate_seconds(ws: Workspace) -> float:
    """Model execution time of fct_candidates and every model it depends on, in the last dbt run."""
    manifest = json.loads((ws.dbt_target / "manifest.json").read_text(encoding="utf-8"))
    results = json.loads((ws.dbt_target / "run_results.json").read_text(encoding="utf-8"))
    target = next(k for k in manifest["nodes"] if k.startswith("model.") and k.endswith(".fct_candidates"))
    needed, todo = set(), [target]
    while todo:
        node = todo.pop()
        if node in needed or not node.startswith(("model.", "seed.", "snapshot.")):
            continue
        needed.add(node)
        todo.extend(manifest["nodes"][node]["depends_on"]["nodes"])
    return sum(r["execution_time"] for r in results["results"] if r["unique_id"] in needed)


def _night_rows(ws: Workspace, night: str) -> tuple[int, int]:
    """Rows received and rows quarantined by the night's landing."""
    con = connect(ws)  # as the night opened it: one process may not mix read-only and read-write
    try:
        received, quarantined = con.execute(
            "SELECT coalesce(sum(rows_received), 0), coalesce(sum(rows_quarantined), 0) FROM meta.landed_files "
            "WHERE night = CAST(? AS DATE)", [night]).fetchone()
        return int(received), int(quarantined)
    finally:
        con.close()


def _run_night(ws: Workspace, feeds: Path, night: str, policy_id: str, memory: PeakMemory,
               result: SizeResult) -> dict[str, Stage]:
    timings: dict[str, tuple[float, int]] = {}

    def on_step(step: str, seconds: float) -> None:
        timings[STAGE_OF_STEP[step]] = (seconds, memory.take())

    memory.take()
    try:
        nightly.run_night(ws, feeds, night, policy_id, on_step=on_step)
    except nightly.PublishHeld as exc:  # measured all the same; said in the report
        result.held.append(str(exc))
    rows, quarantined = _night_rows(ws, night)
    result.quarantined += quarantined
    return {stage: Stage(seconds, peak, rows) for stage, (seconds, peak) in timings.items()}


def measure(persons: int, root: Path, city: str = "shanghai", last_night: dt.date | None = None) -> SizeResult:
    """One city size: synth, the first landing of 13 months, one further night, the references."""
    last_night = last_night or dt.date.today() - dt.timedelta(days=1)
    first_night = last_night - dt.timedelta(days=1)
    start = (last_night.replace(day=1) - pd.DateOffset(months=MONTHS - 1)).date()
    policy_id = CITIES[city].policy_id
    feeds, ws = root / "feeds", Workspace(root / "data")
    # A synthetic city: its IDs are hashed with the published demo key unless a key is set.
    os.environ.setdefault("POVERTY_WARNING_ID_HASH_KEY", DEMO_ID_HASH_KEY)
    with PeakMemory() as memory:
        t0 = time.perf_counter()
        summary = generate(city, persons, start, last_night, SEED, feeds)
        result = SizeResult(persons, summary.rows["claims"])
        result.synth = Stage(time.perf_counter() - t0, memory.take(), sum(summary.rows.values()))
        result.full = _run_night(ws, feeds, first_night.isoformat(), policy_id, memory, result)
        result.night = _run_night(ws, feeds, last_night.isoformat(), policy_id, memory, result)
    result.dbt_candidates_s = _dbt_candidate_seconds(ws)
    pipeline = pipeline_candidates(ws)
    result.candidates = len(pipeline)
    t0 = time.perf_counter()
    by_query = duckdb_candidates(ws.lake, policy_id, last_night)
    result.duckdb_query_s = time.perf_counter() - t0
    check_same(pipeline, by_query, "the hand-written DuckDB query's")
    result.pandas_skipped = pandas_does_not_fit(result.claims)
    if result.pandas_skipped:
        return result
    t0 = time.perf_counter()
    by_pandas = pandas_candidates(ws.lake, policy_id, last_night)
    result.pandas_s = time.perf_counter() - t0
    check_same(pipeline, by_pandas, "the pandas computation's")
    return result


# ---------- the report ----------

def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{os.cpu_count()} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"duckdb {duckdb.__version__}")


def table(results: list[SizeResult]) -> str:
    rows = ["| persons | run | stage | wall s | peak GB | rows/s |", "|---:|---|---|---:|---:|---:|"]
    for r in results:
        rows.append(f"| {r.persons:,} | city | synth | {r.synth.seconds:.1f} | {r.synth.peak_bytes / 1e9:.2f} | "
                    f"{r.synth.rows_per_s:,.0f} |")
        for run, stages in (("first landing (13 months)", r.full), ("one further night", r.night)):
            for stage in STAGES[1:]:
                if stage in stages:
                    s = stages[stage]
                    rows.append(f"| {r.persons:,} | {run} | {stage} | {s.seconds:.1f} | {s.peak_bytes / 1e9:.2f} | "
                                f"{s.rows_per_s:,.0f} |")
    return "\n".join(rows)


def chart(results: list[SizeResult], png: Path) -> str | None:
    """Time and memory against persons (plotly, drawn to PNG by headless Chromium); why not, if not."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium:
        return "no Chromium on this machine: the chart was not drawn"
    x = [r.persons for r in results]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("wall time (s)", "peak memory (GB)"))
    for name, values in (("synth", [r.synth.seconds for r in results]), ("full rebuild", [r.full_s for r in results]),
                         ("one night", [r.incremental_s for r in results])):
        fig.add_trace(go.Scatter(x=x, y=values, name=name, mode="lines+markers"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=[r.peak_gb for r in results], name="peak memory", mode="lines+markers"),
                  row=1, col=2)
    for col in (1, 2):
        fig.update_xaxes(title_text="persons", type="log", row=1, col=col)
        fig.update_yaxes(rangemode="tozero", row=1, col=col)
    fig.update_layout(width=1000, height=420, margin=dict(l=50, r=20, t=40, b=50))
    with tempfile.TemporaryDirectory(prefix="pw-chart-") as tmp:
        page = Path(tmp) / "chart.html"
        fig.write_html(page, include_plotlyjs=True, full_html=True, config={"displayModeBar": False})
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--screenshot={png.resolve()}", "--window-size=1000,420", "--virtual-time-budget=5000",
                        page.as_uri()], check=True, capture_output=True, timeout=120)
    return None


def verdicts(r: SizeResult) -> str:
    figures = {"full_s": r.full_s, "incremental_s": r.incremental_s, "peak_gb": r.peak_gb,
               "dbt_over_limit": r.dbt_over_limit, "pandas_over_pipeline": r.pandas_over_pipeline}
    out = []
    for name, value in figures.items():
        target = TARGETS[name]
        at_least = name == "pandas_over_pipeline"
        if np.isnan(value):
            out.append(f"{name}: not measured ({r.pandas_skipped})")
            continue
        met = value >= target if at_least else value <= target
        short = target / value if at_least and value > 0 else value / target
        off = f"{short:.1f}× off" if short >= 1.1 else f"{(short - 1):.0%} off"  # "1.0× off" says nothing
        out.append(f"{name} {value:.2f} (target {'≥' if at_least else '≤'} {target}): "
                   + ("met" if met else f"not met, {off}"))
    return "; ".join(out)


def document(results: list[SizeResult], png_note: str | None, started: dt.datetime) -> str:
    lines = [
        "# Benchmarks", "",
        f"Written by `make bench SIZES=\"{' '.join(str(r.persons) for r in results)}\"` on "
        f"{started:%Y-%m-%d %H:%M} UTC. Machine: {machine()}. The machine is shared with other work, so every "
        "time is an upper bound.", "",
        f"Each size: a synthetic Shanghai ({MONTHS} months of claims, seed {SEED}); its first landing as one "
        "night (landing + checks + dbt = the full rebuild, then score, publish, deliver); then one further "
        "night (`nightly.run_night`, timed per step). Peak memory is the resident memory of the process and "
        "its children, sampled every 50 ms, per stage. rows/s: the night's landed rows (synth: rows written) "
        "over the stage's time.", "",
        table(results), "",
        "![time and memory against persons](benchmarks.png)" if png_note is None else f"(chart: {png_note})", "",
        "## Candidates: pipeline against references", "",
        "dbt = model time of `fct_candidates` and every model it depends on (run_results.json of the night); "
        "DuckDB = one hand-written query over the same Parquet lake; pandas = the same in plain pandas "
        "(reading included). Both references matched the pipeline's candidates to the cent (pandas where it "
        "ran).", "",
        "| persons | candidates | dbt s | DuckDB query s | pandas s |", "|---:|---:|---:|---:|---:|",
        *[f"| {r.persons:,} | {r.candidates:,} | {r.dbt_candidates_s:.2f} | {r.duckdb_query_s:.2f} | "
          f"{'not run' if r.pandas_s is None else f'{r.pandas_s:.2f}'} |" for r in results], "",
        "## Against the targets (issue 14)", "",
        *[f"- {r.persons:,}: {verdicts(r)}" for r in results],
        *[f"- {r.persons:,}: a night was held: {h}" for r in results for h in r.held],
        *[f"- {r.persons:,}: rows quarantined on landing: {r.quarantined:,} (no faults were injected)"
          for r in results], "",
        "```",
        *[r.line() for r in results],
        "```", "",
    ]
    return "\n".join(lines)


NOTES_MARK = "<!-- Notes below are written by hand and kept when the benchmark rewrites this page. -->"


def _kept_notes(page: Path) -> str:
    text = page.read_text(encoding="utf-8") if page.exists() else ""
    return text[text.index(NOTES_MARK):] if NOTES_MARK in text else NOTES_MARK + "\n"


def run(sizes: list[int], docs: Path | None = None, city: str = "shanghai", echo=print) -> list[SizeResult]:
    """Measure each size, print the table as it grows and rewrite docs/benchmarks.md (+ PNG) after each."""
    started = dt.datetime.now(dt.timezone.utc)
    results = []
    for persons in sizes:
        root = Path(tempfile.mkdtemp(prefix=f"pw-bench-{persons}-"))
        try:
            results.append(measure(persons, root, city))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        if docs is not None:
            png_note = chart(results, docs / "benchmarks.png")
            page = docs / "benchmarks.md"
            page.write_text(document(results, png_note, started) + "\n" + _kept_notes(page), encoding="utf-8")
        echo(table(results[-1:]))
    for r in results:
        echo(r.line())
    return results
