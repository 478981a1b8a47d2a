"""Outreach: tonight's cases per sub-district, what each worker is sent, and charity referrals.

Every flag becomes a case with a stable id (policy, household, reason). A case
is sent when it is new, when it escalates (a higher warning level), or as a
reminder after the cool-down; approved cases leave the lists. Worker feedback
(`outreach_feedback`) sets a case's status and records consent for charity
referrals (seed 001, 二(四)1): medical data goes to a charity only with consent.

The case log keeps one row per case and night, so a night's decisions depend
only on earlier nights: rerunning a night gives the same lists.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from poverty_warning.contract import ids
from poverty_warning.contract.vocabulary import BENEFIT_ZH, CATEGORY_NAMES_ZH, LEVEL_RANK, PRIORITY_ZH, RULE_ZH
from poverty_warning import settings
from poverty_warning.settings import DEFAULTS_DIR
from poverty_warning.warehouse import create_tables

CONFIG = DEFAULTS_DIR / "outreach.yaml"



def load_config(path: Path = CONFIG) -> dict:
    return settings.outreach(path)


def case_id(policy_id: str, household_id: str, reason_key: str) -> str:
    digest = hashlib.sha256(f"{policy_id}|{household_id}|{reason_key}".encode()).hexdigest()[:12].upper()
    return f"CASE-{digest}"


@dataclass
class Night:
    items: pd.DataFrame  # every case tonight, with `action` and whether it is sent
    referrals: pd.DataFrame  # referrals with consent, per programme


def _items(con, night: str, policy_id: str, cfg: dict) -> pd.DataFrame:
    """Every flag tonight as a row of a list, person-level where the flag is."""
    year = int(night[:4])
    persons = con.execute(
        "SELECT person_id, person_name, household_id, subdistrict_code, subdistrict_name, birth_date, "
        "age_on_as_of AS age, household_size FROM intermediate.int_persons_enriched ORDER BY person_id").df()
    # The household's contact person: its oldest member (ties by ID), the same every run.
    heads = persons.sort_values(["household_id", "age", "person_id"], ascending=[True, False, True],
                                kind="mergesort").drop_duplicates("household_id")
    best_category = con.execute(
        "SELECT c.person_id, c.category FROM (SELECT cat.person_id, cat.category, row_number() OVER "
        "(PARTITION BY cat.person_id ORDER BY co.category_rank) AS pick FROM staging.stg_assistance_categories cat "
        "JOIN staging.stg_policy__category_order co ON co.category = cat.category AND co.policy_id = ? "
        "WHERE CAST(? AS DATE) BETWEEN cat.valid_from AND cat.valid_to) c WHERE pick = 1",
        [policy_id, night]).df().set_index("person_id")["category"]
    rows: list[pd.DataFrame] = []

    gaps = con.execute("SELECT * FROM marts.fct_enrollment_gaps ORDER BY person_id").df()
    if len(gaps):
        gaps = gaps.merge(persons[["person_id", "person_name", "subdistrict_name", "age"]], on="person_id")
        rows.append(pd.DataFrame({
            "list_kind": "enrollment_gap", "reason_key": "enrollment_gap:" + gaps["person_id"],
            "household_id": gaps["household_id"], "subdistrict_code": gaps["subdistrict_code"],
            "subdistrict_name": gaps["subdistrict_name"], "person_id": gaps["person_id"],
            "person_name": gaps["person_name"], "age": gaps["age"], "category": gaps["category"],
            "level": 2, "burden": None, "income": None, "ratio": None, "expected": None, "paid": None,
            "reason": gaps["reason"],
            "action": gaps["issue"].map({"not_enrolled": "协助办理城乡居民医保参保登记，并落实资助",
                                         "not_subsidized": "核对资助参保名单，补办个人缴费资助"})}))

    candidates = con.execute("SELECT * FROM marts.fct_candidates ORDER BY household_id, rule, person_id").df()
    if len(candidates):
        who = candidates["person_id"].where(candidates["person_id"].notna(),
                                            candidates["household_id"].map(heads.set_index("household_id")["person_id"]))
        c = candidates.assign(person_id=who).merge(persons[["person_id", "person_name", "subdistrict_name", "age"]],
                                                   on="person_id", how="left")
        rows.append(pd.DataFrame({
            "list_kind": "candidate", "reason_key": "candidate:" + c["rule"],
            "household_id": c["household_id"], "subdistrict_code": c["subdistrict_code"],
            "subdistrict_name": c["subdistrict_name"], "person_id": c["person_id"], "person_name": c["person_name"],
            "age": c["age"], "category": c["person_id"].map(best_category), "level": 3,
            "burden": c["burden_amount"], "income": c["income_amount"], "ratio": c["burden_ratio"],
            "expected": None, "paid": None, "reason": c["rule"].map(RULE_ZH) + "：" + c["reason"],
            "action": "入户核实家庭收入、财产与医疗支出，指导申请支出型贫困救助"}))

    uncovered = con.execute("SELECT * FROM marts.fct_suspected_dibao_uncovered ORDER BY household_id").df()
    if len(uncovered):
        d = uncovered.merge(heads[["household_id", "person_id", "person_name", "subdistrict_name", "age"]],
                            on="household_id", how="left")
        rows.append(pd.DataFrame({
            "list_kind": "dibao_uncovered", "reason_key": "dibao_uncovered",
            "household_id": d["household_id"], "subdistrict_code": d["subdistrict_code"],
            "subdistrict_name": d["subdistrict_name"], "person_id": d["person_id"], "person_name": d["person_name"],
            "age": d["age"], "category": None, "level": 2, "burden": None, "income": d["income_amount"],
            "ratio": None, "expected": None, "paid": None, "reason": d["reason"],
            "action": "入户核实家庭收入与财产，符合条件的指导申请最低生活保障"}))

    unpaid = con.execute(
        "SELECT person_id, household_id, subdistrict_code, min(category) AS category, "
        "string_agg(DISTINCT benefit, ',') AS benefits, sum(expected_assistance) AS expected, "
        "sum(coalesce(paid_assistance, 0)) AS paid, sum(unpaid_assistance) AS unpaid "
        "FROM marts.fct_entitlements WHERE year >= ? AND unpaid_assistance >= ? "
        "GROUP BY person_id, household_id, subdistrict_code ORDER BY person_id",
        [year - 1, cfg["unpaid_min_amount"]]).df()
    if len(unpaid):
        u = unpaid.merge(persons[["person_id", "person_name", "subdistrict_name", "age"]], on="person_id")
        benefits = u["benefits"].map(lambda b: "、".join(BENEFIT_ZH.get(x, x) for x in sorted(b.split(","))))
        rows.append(pd.DataFrame({
            "list_kind": "unpaid", "reason_key": "unpaid:" + u["person_id"],
            "household_id": u["household_id"], "subdistrict_code": u["subdistrict_code"],
            "subdistrict_name": u["subdistrict_name"], "person_id": u["person_id"], "person_name": u["person_name"],
            "age": u["age"], "category": u["category"], "level": 2, "burden": None, "income": None, "ratio": None,
            "expected": u["expected"], "paid": u["paid"],
            "reason": "按政策应得" + benefits + u["expected"].map(lambda v: f"{v:,.2f}") + "元，已支付"
                      + u["paid"].map(lambda v: f"{v:,.2f}") + "元",
            "action": "核实救助待遇是否已申请，协助补办医疗救助"}))

    warnings = con.execute("SELECT * FROM marts.fct_household_warnings ORDER BY household_id").df()
    if len(warnings):
        w = warnings.merge(heads[["household_id", "person_id", "person_name", "subdistrict_name", "age"]],
                           on="household_id", how="left")
        w = w.merge(_risk_scores(con), on="household_id", how="left")
        level = w["warning_level"].map(LEVEL_RANK)
        reason = (w["warning_label"] + "：近期医疗费用负担占家庭年收入" + w["burden_ratio"].map(lambda r: f"{r:.1%}"))
        if "risk_reasons" in w:
            reason = reason + w["risk_reasons"].map(lambda r: f"；模型提示：{r}" if isinstance(r, str) and r else "")
        rows.append(pd.DataFrame({
            "list_kind": "warning", "reason_key": "warning",
            "household_id": w["household_id"], "subdistrict_code": w["subdistrict_code"],
            "subdistrict_name": w["subdistrict_name"], "person_id": w["person_id"], "person_name": w["person_name"],
            "age": w["age"], "category": w["person_id"].map(best_category), "level": level,
            "burden": w["burden_amount"], "income": w["income_amount"], "ratio": w["burden_ratio"],
            "expected": None, "paid": None, "reason": reason,
            "action": level.map({1: "电话了解近况，持续关注", 2: "入户走访，评估救助需求",
                                 3: "尽快入户，协助申请医疗救助和临时救助"}),
            "risk_score": w.get("risk_score"), "risk_band": w.get("risk_band")}))
    if not rows:
        return pd.DataFrame()
    items = pd.concat(rows, ignore_index=True)
    items["category_zh"] = items["category"].map(lambda c: CATEGORY_NAMES_ZH.get(c, "") if isinstance(c, str) else "")
    items["case_id"] = [case_id(policy_id, h, k) for h, k in zip(items["household_id"], items["reason_key"])]
    items["masked_id"] = items["person_id"].map(ids.mask)
    return items


def _risk_scores(con) -> pd.DataFrame:
    """Risk scores from the early-warning model, where it has scored tonight."""
    try:
        return con.execute("SELECT household_id, risk_score, risk_band, risk_reasons FROM risk.household_scores").df()
    except duckdb.Error:
        return pd.DataFrame(columns=["household_id", "risk_score", "risk_band", "risk_reasons"])


def _feedback(con, night: str) -> pd.DataFrame:
    """The latest feedback per case recorded on or before the night."""
    return con.execute(
        "SELECT case_id, feedback_status, consent_to_charity FROM (SELECT *, row_number() OVER (PARTITION BY case_id "
        "ORDER BY updated_at DESC, source_file DESC, source_row DESC) AS pick FROM staging.stg_outreach_feedback "
        "WHERE updated_at <= CAST(? AS DATE)) WHERE pick = 1", [night]).df()


def decide(con: duckdb.DuckDBPyConnection, night: str, policy_id: str, cfg: dict | None = None) -> Night:
    """Tonight's cases, what is sent, and the charity referrals; recorded in the case log."""
    cfg = cfg or load_config()
    create_tables(con)
    # Only this night is recomputed (from the nights before it); later nights' history stays.
    con.execute("DELETE FROM meta.case_log WHERE night = CAST(? AS DATE)", [night])
    con.execute("DELETE FROM meta.referral_log WHERE night = CAST(? AS DATE)", [night])
    items = _items(con, night, policy_id, cfg)
    referrals = pd.DataFrame()
    if not items.empty:
        items, referrals = _with_referrals(con, night, policy_id, items, cfg)
        items = _decide_actions(con, night, items, cfg)
        log = items[["case_id", "household_id", "subdistrict_code", "list_kind", "reason_key", "level", "action_taken",
                     "status"]].assign(night=night, policy_id=policy_id)
        con.register("tonight", log)
        con.execute("INSERT INTO meta.case_log SELECT CAST(night AS DATE), case_id, policy_id, household_id, "
                    "subdistrict_code, list_kind, reason_key, level, action_taken, status FROM tonight")
        con.unregister("tonight")
        if len(referrals):
            sent = referrals.assign(night=night)
            con.register("ref", sent)
            con.execute("INSERT INTO meta.referral_log SELECT CAST(night AS DATE), case_id, program_id, household_id, "
                        "true FROM ref")
            con.unregister("ref")
    return Night(items, referrals)


def _decide_actions(con, night: str, items: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    before = con.execute(
        "SELECT case_id, max(CASE WHEN action IN ('new','escalated','reminder') THEN night END) AS last_sent, "
        "max(CASE WHEN action IN ('new','escalated','reminder') THEN level END) AS sent_level "
        "FROM meta.case_log WHERE night < CAST(? AS DATE) GROUP BY case_id", [night]).df()
    feedback = _feedback(con, night)
    items = items.merge(before, on="case_id", how="left").merge(feedback, on="case_id", how="left")
    cooldown = pd.Timedelta(days=int(cfg["cooldown_days"]))
    night_ts = pd.Timestamp(night)

    def action(row) -> str:
        if row["feedback_status"] == "approved":
            return "closed"
        if pd.isna(row["last_sent"]):
            return "new"
        if row["level"] > (row["sent_level"] or 0):
            return "escalated"
        if night_ts - pd.Timestamp(row["last_sent"]) >= cooldown:
            return "reminder"
        return "suppressed"

    items["action_taken"] = items.apply(action, axis=1) if len(items) else []
    items["status"] = items["feedback_status"].fillna("open")
    items["sent"] = items["action_taken"].isin(["new", "escalated", "reminder"])
    items["priority"] = items["level"].map(PRIORITY_ZH)
    return items


def _with_referrals(con, night: str, policy_id: str, items: pd.DataFrame, cfg: dict):
    """seed 001, 二(四)1: households not covered by assistance, or still over the line after it, matched to
    charity programmes by diagnosis, age and remaining capacity. With consent the referral goes to the
    charity; without it the worker is asked to seek consent."""
    heavy = items[(items["list_kind"] == "candidate") | ((items["list_kind"] == "warning") & (items["level"] >= 2))]
    if heavy.empty:
        return items, pd.DataFrame()
    households = heavy.drop_duplicates("household_id")[["household_id", "subdistrict_code", "subdistrict_name"]]
    households = households.sort_values("household_id")
    programs = con.execute("SELECT * FROM staging.stg_charity_programs ORDER BY program_id").df()
    if programs.empty:
        return items, pd.DataFrame()
    window_from = (pd.Timestamp(night) - pd.DateOffset(months=12)).date().isoformat()
    con.register("hh", households)
    patients = con.execute(
        "SELECT c.household_id, c.person_id, any_value(p.person_name) AS person_name, max(c.age_at_claim) AS age, "
        "string_agg(DISTINCT c.diagnosis_code, ';' ORDER BY c.diagnosis_code) AS diagnoses, sum(c.personal_burden) AS burden "
        "FROM intermediate.int_claims_netted c JOIN hh USING (household_id) "
        "JOIN staging.stg_persons p ON p.person_id = c.person_id "
        "WHERE c.claim_date >= CAST(? AS DATE) GROUP BY c.household_id, c.person_id "
        "ORDER BY c.household_id, c.person_id", [window_from]).df()
    # Assistance still due or paid per household: those with no assistance at all, or still over the line.
    assisted = con.execute(
        "SELECT e.household_id, sum(e.expected_assistance) AS expected FROM marts.fct_entitlements e "
        "JOIN hh USING (household_id) WHERE e.year >= ? GROUP BY e.household_id", [int(night[:4]) - 1]).df()
    con.unregister("hh")
    burden = items[items["list_kind"].isin(["candidate", "warning"])].groupby("household_id").agg(
        burden=("burden", "max"), income=("income", "max"))
    used = con.execute("SELECT program_id, count(*) FROM meta.referral_log WHERE night < CAST(? AS DATE) "
                       "GROUP BY program_id", [night]).fetchall()
    remaining = {p: int(c) for p, c in zip(programs["program_id"], programs["capacity"].fillna(0))}
    for program, count in used:
        remaining[program] = remaining.get(program, 0) - int(count)
    line = float(cfg["referral_ratio_after_assistance"])
    feedback = _feedback(con, night).set_index("case_id")
    consent_rows, worker_rows = [], []
    for hh in households.itertuples():
        expected = float(assisted.loc[assisted["household_id"] == hh.household_id, "expected"].sum())
        b = burden.loc[hh.household_id] if hh.household_id in burden.index else None
        if b is None or pd.isna(b["income"]) or not b["income"]:
            continue
        still_over = (float(b["burden"]) - expected) / float(b["income"]) >= line
        if expected > 0 and not still_over:
            continue
        match = _match_program(patients[patients["household_id"] == hh.household_id], programs, remaining)
        if match is None:
            continue
        patient, program = match
        cid = case_id(policy_id, hh.household_id, f"referral:{program['program_id']}")
        consented = cid in feedback.index and bool(feedback.loc[cid, "consent_to_charity"])
        if consented:
            remaining[program["program_id"]] -= 1
            consent_rows.append({
                "case_id": cid, "program_id": program["program_id"], "program_name": program["program_name"],
                "household_id": hh.household_id, "person_name": patient["person_name"],
                "masked_id": ids.mask(patient["person_id"]), "age": int(patient["age"]),
                "diagnoses": patient["diagnoses"], "burden_12_months": round(float(patient["burden"]), 2),
                "suggested_amount": float(program["max_amount"]) if pd.notna(program["max_amount"]) else None,
                "subdistrict_code": hh.subdistrict_code})
        else:
            worker_rows.append({
                "list_kind": "referral_consent", "reason_key": f"referral:{program['program_id']}", "case_id": cid,
                "household_id": hh.household_id, "subdistrict_code": hh.subdistrict_code,
                "subdistrict_name": hh.subdistrict_name, "person_id": patient["person_id"],
                "person_name": patient["person_name"], "age": int(patient["age"]), "category": None,
                "category_zh": "", "masked_id": ids.mask(patient["person_id"]), "level": 2,
                "burden": float(b["burden"]), "income": float(b["income"]), "ratio": float(b["burden"]) / float(b["income"]),
                "expected": expected, "paid": None,
                "reason": ("不属于医疗救助对象" if expected == 0 else "救助后负担仍然较重")
                          + f"，可推荐至慈善项目“{program['program_name']}”",
                "action": "征得本人同意后在反馈中记录 consent_to_charity=是，系统将转介慈善组织"})
    if worker_rows:
        items = pd.concat([items, pd.DataFrame(worker_rows)], ignore_index=True)
    return items, pd.DataFrame(consent_rows)


def _match_program(patients: pd.DataFrame, programs: pd.DataFrame, remaining: dict):
    """The first programme (by id) with room whose diagnosis prefixes and ages fit a household member."""
    for patient in patients.sort_values(["burden", "person_id"], ascending=[False, True],
                                        kind="mergesort").to_dict("records"):
        codes = (patient["diagnoses"] or "").split(";")
        specific_first = programs.assign(general=programs["diagnosis_prefixes"].fillna("").eq(""))
        for program in specific_first.sort_values(["general", "program_id"]).to_dict("records"):
            if remaining.get(program["program_id"], 0) <= 0:
                continue
            if pd.notna(program["min_age"]) and patient["age"] < program["min_age"]:
                continue
            if pd.notna(program["max_age"]) and patient["age"] > program["max_age"]:
                continue
            prefixes = [p for p in (program["diagnosis_prefixes"] or "").split(";") if p]
            if prefixes and not any(c.startswith(p) for c in codes for p in prefixes):
                continue
            return patient, program
    return None
