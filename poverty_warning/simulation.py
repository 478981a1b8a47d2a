"""Policy simulation: the night's models re-run on a copy of the warehouse with one pack's figures changed.

`poverty-warning simulate --policy P --as-of D --set rules.expenditure_poverty_type2.threshold=0.35`
Both the base and the scenario are built on copies, so the nightly outputs are never touched. Keys address
the pack's YAML: list entries by their id (`rules.<rule>`, `benefits.<benefit>`, `warning_levels.<level>`)
or by position (`benefits.inpatient.rates.0.rate`).
"""
from __future__ import annotations

import copy
import difflib
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from poverty_warning.policy import PACK_DIR, Policy, available, load_policy
from poverty_warning.policy import tables as policy_tables
from poverty_warning.transform import TRAINING_MODELS, run_dbt
from poverty_warning.workspace import Workspace

ID_FIELDS = ("rule", "benefit", "level", "name", "measure")


class ScenarioError(ValueError):
    """A scenario that cannot be run; the message is one line for the user."""


def _entry_id(entry) -> str | None:
    if isinstance(entry, dict):
        for f in ID_FIELDS:
            if isinstance(entry.get(f), str):
                return entry[f]
    return None


def pack_keys(node, prefix: str = "") -> list[str]:
    """Every settable key of a pack: dotted paths to its scalar figures."""
    keys = []
    if isinstance(node, dict):
        for k, v in node.items():
            keys += pack_keys(v, f"{prefix}{k}.")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            keys += pack_keys(v, f"{prefix}{_entry_id(v) or i}.")
    else:
        keys.append(prefix.rstrip("."))
    return keys


def apply_setting(raw: dict, key: str, value: str) -> None:
    node, parts = raw, key.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            match = [i for i, e in enumerate(node) if _entry_id(e) == part]
            index = match[0] if match else (int(part) if part.isdigit() and int(part) < len(node) else None)
            if index is None or (not last and not isinstance(node[index], (dict, list))):
                raise KeyError(key)
            if last:
                node[index] = yaml.safe_load(value)
            else:
                node = node[index]
        elif isinstance(node, dict) and part in node:
            if last:
                if isinstance(node[part], (dict, list)):
                    raise KeyError(key)
                node[part] = yaml.safe_load(value)
            else:
                node = node[part]
        else:
            raise KeyError(key)


def scenario_policy(policy_id: str, settings: list[str]) -> Policy:
    load_policy(policy_id)  # an unknown policy is one clear line
    raw = yaml.safe_load((PACK_DIR / f"{policy_id}.yaml").read_text(encoding="utf-8"))
    changed = copy.deepcopy(raw)
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or not key:
            raise ScenarioError(f"--set takes KEY=VALUE, got {setting!r}")
        try:
            apply_setting(changed, key.strip(), value.strip())
        except KeyError:
            near = difflib.get_close_matches(key, pack_keys(raw), n=5, cutoff=0.4)
            hint = ", ".join(near) if near else ", ".join(pack_keys(raw)[:5]) + ", …"
            raise ScenarioError(f"{key!r} is not a figure of {policy_id}; keys near it: {hint}") from None
    try:
        return Policy.model_validate(changed)
    except Exception as exc:  # pydantic's message, first error only
        first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": (), "msg": str(exc)}
        where = ".".join(str(p) for p in first["loc"])
        raise ScenarioError(f"the scenario breaks {policy_id}: {where}: {first['msg']}") from None


@dataclass
class Outcome:
    households: pd.DataFrame  # household_id, subdistrict_code
    fund: pd.DataFrame  # benefit, category, expected_assistance (the as-of year)


def _build(source: Workspace, folder: Path, as_of: str, policy: Policy) -> Outcome:
    ws = Workspace(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copy2(source.duckdb_path, ws.duckdb_path)
    policies = [policy if pid == policy.policy_id else load_policy(pid) for pid in available()]
    con = duckdb.connect(str(ws.duckdb_path))
    try:
        policy_tables.write(con, policies)
    finally:
        con.close()
    run_dbt(ws, "run", as_of, policy.policy_id, exclude=TRAINING_MODELS)  # a scenario reads lists, not the label
    con = duckdb.connect(str(ws.duckdb_path))  # dbt's in-process connection forbids a read-only second one
    try:
        households = con.execute("SELECT DISTINCT household_id, subdistrict_code FROM marts.fct_candidates "
                                 "ORDER BY household_id").df()
        fund = con.execute(
            "SELECT benefit, category, sum(expected_assistance) AS expected_assistance FROM marts.fct_entitlements "
            "WHERE year = extract(year FROM CAST(? AS DATE)) GROUP BY benefit, category ORDER BY benefit, category",
            [as_of]).df()
    finally:
        con.close()
    return Outcome(households, fund)


def simulate(source: Workspace, policy_id: str, as_of: str, settings: list[str], out: Path) -> dict:
    """Build the base and the scenario on copies of `source`'s warehouse; write the comparison into `out`."""
    if not source.duckdb_path.exists():
        raise ScenarioError(f"no warehouse at {source.duckdb_path}: run a night first (make demo or run-night)")
    scenario = scenario_policy(policy_id, settings)
    base = _build(source, out / "_base", as_of, load_policy(policy_id))
    changed = _build(source, out / "_scenario", as_of, scenario)
    return compare(base, changed, out, policy_id, as_of, settings)


def compare(base: Outcome, changed: Outcome, out: Path, policy_id: str, as_of: str, settings: list[str]) -> dict:
    b, s = base.households, changed.households
    entering = s[~s["household_id"].isin(b["household_id"])]
    leaving = b[~b["household_id"].isin(s["household_id"])]
    by_area = pd.concat([entering.assign(change="enter"), leaving.assign(change="leave")])
    by_area = (by_area.groupby(["subdistrict_code", "change"]).size().unstack(fill_value=0)
               .reindex(columns=["enter", "leave"], fill_value=0).reset_index())
    fund = base.fund.merge(changed.fund, on=["benefit", "category"], how="outer", suffixes=("_base", "_scenario"))
    fund = fund.fillna(0)
    fund["delta"] = fund["expected_assistance_scenario"] - fund["expected_assistance_base"]
    out.mkdir(parents=True, exist_ok=True)
    entering.to_csv(out / "households_entering.csv", index=False)
    leaving.to_csv(out / "households_leaving.csv", index=False)
    by_area.to_csv(out / "households_by_subdistrict.csv", index=False)
    fund.to_csv(out / "fund_by_benefit_category.csv", index=False)
    figures = {
        "households_base": len(b), "households_scenario": len(s), "households_delta": len(s) - len(b),
        "fund_base": round(float(fund["expected_assistance_base"].sum()), 2),
        "fund_scenario": round(float(fund["expected_assistance_scenario"].sum()), 2),
    }
    figures["fund_delta"] = round(figures["fund_scenario"] - figures["fund_base"], 2)
    _chart(out / "scenario.html", fund, by_area, policy_id, as_of, settings, figures)
    return figures


def _chart(path: Path, fund: pd.DataFrame, by_area: pd.DataFrame, policy_id: str, as_of: str,
           settings: list[str], figures: dict) -> None:
    import html

    import plotly.express as px

    parts = [f"<h1>政策模拟 · {html.escape(policy_id)} · {html.escape(as_of)}</h1>",
             "<p>调整：" + html.escape("；".join(settings) or "无（与当晚一致）") + "</p>",
             f"<p>名单家庭 {figures['households_base']} → {figures['households_scenario']}"
             f"（{figures['households_delta']:+d}）；当年应救助金额 {figures['fund_base']:,.2f} → "
             f"{figures['fund_scenario']:,.2f}（{figures['fund_delta']:+,.2f}）</p>"]
    if len(fund):
        chart = fund.assign(项目=fund["benefit"] + " / " + fund["category"].astype(str))
        parts.append(px.bar(chart, x="项目", y="delta", title="应救助金额变化（按救助项目与类别）",
                            labels={"delta": "变化（元）"}).to_html(full_html=False, include_plotlyjs=True))
    if len(by_area):
        long = by_area.melt(id_vars="subdistrict_code", var_name="变化", value_name="户数")
        long["变化"] = long["变化"].map({"enter": "新进入名单", "leave": "退出名单"})
        parts.append(px.bar(long, x="subdistrict_code", y="户数", color="变化", barmode="group",
                            title="进入与退出名单的家庭（按街道）", labels={"subdistrict_code": "街道"})
                     .to_html(full_html=False, include_plotlyjs=not len(fund)))
    path.write_text("<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>政策模拟</title></head>"
                    "<body>" + "".join(parts) + "</body></html>", encoding="utf-8")


def summary_line(figures: dict) -> str:
    return ("scenario " + " ".join(f"{k}={figures[k]}" for k in (
        "households_base", "households_scenario", "households_delta", "fund_base", "fund_scenario", "fund_delta")))

