"""Outreach: the state of each case tonight, and which charity referrals go out.

The list items themselves (one row per household and list, members grouped, priority, order) and the
referral options come from dbt (`marts.fct_outreach_items`, `intermediate.int_outreach_referral_options`).
Here each item becomes a case with a stable id (policy, household, list) and gets its state:

- closed: feedback says assistance was approved, or the person said 否 to a charity referral;
- new: never sent before;
- escalated: a higher priority than when last sent;
- reminder: the cool-down since the last sending has passed;
- escalated, overdue: before that, the due date (by priority, a bureau setting) passed without any
  feedback since the last sending — the case comes back one priority higher;
- suppressed: otherwise (still followed, not sent again tonight).

Worker feedback (`outreach_feedback`) also records consent for charity referrals (seed 001, 二(四)1):
medical data goes to a charity only with consent. The case log keeps one row per case and night, so a
night's decisions depend only on earlier nights: rerunning a night gives the same lists.
"""
from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

import duckdb
import pandas as pd

from poverty_warning.contract.vocabulary import CLOSING_STATUSES, PRIORITY_ZH
from poverty_warning import settings
from poverty_warning.warehouse import create_tables

SENDING_ACTIONS = ("new", "escalated", "reminder")



def load_config() -> dict:
    return settings.outreach()


def case_id(policy_id: str, household_id: str, reason_key: str) -> str:
    digest = hashlib.sha256(f"{policy_id}|{household_id}|{reason_key}".encode()).hexdigest()[:12].upper()
    return f"CASE-{digest}"


@dataclass
class Night:
    items: pd.DataFrame  # every case tonight, with `action_taken`, due date and whether it is sent
    referrals: pd.DataFrame  # referrals with consent, per programme


def _items(con, policy_id: str) -> pd.DataFrame:
    items = con.execute("SELECT * FROM marts.fct_outreach_items "
                        "ORDER BY subdistrict_code, list_kind, list_rank").df()
    if items.empty:
        return items
    items["reason_key"] = items["list_kind"]
    items["case_id"] = [case_id(policy_id, h, k) for h, k in zip(items["household_id"], items["reason_key"])]
    return items.merge(_risk_scores(con), on="household_id", how="left")


def _risk_scores(con) -> pd.DataFrame:
    """The early-warning model's scores, where it has scored tonight: shown beside the priority, for
    reference (the priority follows the rules)."""
    try:
        return con.execute("SELECT household_id, risk_score, risk_band, risk_reasons, model_note "
                           "FROM risk.household_scores").df()
    except duckdb.Error:  # no scores tonight, or scores from before the model note existed
        return pd.DataFrame(columns=["household_id", "risk_score", "risk_band", "risk_reasons", "model_note"])


def _feedback(con, night: str) -> pd.DataFrame:
    """The latest feedback per case recorded on or before the night."""
    return con.execute(
        "SELECT case_id, feedback_status, consent_to_charity, updated_at AS feedback_on FROM (SELECT *, "
        "row_number() OVER (PARTITION BY case_id ORDER BY updated_at DESC, source_file DESC, source_row DESC) "
        "AS pick FROM staging.stg_outreach_feedback WHERE updated_at <= CAST(? AS DATE)) WHERE pick = 1",
        [night]).df()


def consent_given(value) -> bool | None:
    """是 → True, 否 → False, blank (NULL from the feed, pd.NA in pandas) → None: not asked yet."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    return bool(value)


def decide(con: duckdb.DuckDBPyConnection, night: str, policy_id: str, cfg: dict | None = None) -> Night:
    """Tonight's cases, what is sent, and the charity referrals; recorded in the case log."""
    cfg = {**load_config(), **(cfg or {})}
    create_tables(con)
    # Only this night is recomputed (from the nights before it); later nights' history stays.
    con.execute("DELETE FROM meta.case_log WHERE night = CAST(? AS DATE)", [night])
    con.execute("DELETE FROM meta.referral_log WHERE night = CAST(? AS DATE)", [night])
    items = _items(con, policy_id)
    items, referrals = _with_referrals(con, night, policy_id, items)
    if not items.empty:
        items = _decide_actions(con, night, items, cfg)
        log = items[["case_id", "household_id", "subdistrict_code", "list_kind", "reason_key", "level",
                     "action_taken", "status", "due_date"]].assign(night=night, policy_id=policy_id)
        con.register("tonight", log)
        con.execute("INSERT INTO meta.case_log (night, case_id, policy_id, household_id, subdistrict_code, list_kind, "
                    "reason_key, level, action, status, due_date) SELECT CAST(night AS DATE), case_id, policy_id, "
                    "household_id, subdistrict_code, list_kind, reason_key, level, action_taken, status, "
                    "CAST(due_date AS DATE) FROM tonight")
        con.unregister("tonight")
    if len(referrals):
        con.register("ref", referrals.assign(night=night))
        con.execute("INSERT INTO meta.referral_log SELECT CAST(night AS DATE), case_id, program_id, household_id, "
                    "true FROM ref")
        con.unregister("ref")
    return Night(items, referrals)


def _decide_actions(con, night: str, items: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    cfg = {**load_config(), **cfg}
    before = con.execute(
        "SELECT case_id, min(CASE WHEN action IN ('new','escalated','reminder') THEN night END) AS opened_on, "
        "max(CASE WHEN action IN ('new','escalated','reminder') THEN night END) AS last_sent, "
        "arg_max(level, CASE WHEN action IN ('new','escalated','reminder') THEN night END) AS sent_level "
        "FROM meta.case_log WHERE night < CAST(? AS DATE) GROUP BY case_id", [night]).df()
    feedback = _feedback(con, night)
    items = items.merge(before, on="case_id", how="left").merge(feedback, on="case_id", how="left")
    cooldown = pd.Timedelta(days=int(cfg["cooldown_days"]))
    due_days = {level: int(cfg["due_days"][zh]) for level, zh in PRIORITY_ZH.items()}
    night_ts = pd.Timestamp(night)
    kind = items["list_kind"] if "list_kind" in items else pd.Series("", index=items.index)

    def state(row, kind) -> tuple[str, bool]:
        """(action, overdue)"""
        if row["feedback_status"] in CLOSING_STATUSES:
            return "closed", False
        if kind == "referral_consent" and consent_given(row["consent_to_charity"]) is False:
            return "closed", False
        if pd.isna(row["last_sent"]):
            return "new", False
        last_sent = pd.Timestamp(row["last_sent"])
        if row["level"] > (row["sent_level"] if pd.notna(row["sent_level"]) else 0):
            return "escalated", False
        if night_ts - last_sent >= cooldown:
            return "reminder", False
        answered = pd.notna(row["feedback_on"]) and pd.Timestamp(row["feedback_on"]) >= last_sent
        due = last_sent + pd.Timedelta(days=due_days[int(row["sent_level"])])
        if not answered and night_ts > due:
            return "escalated", True
        return "suppressed", False

    decided = [state(row, k) for row, k in zip(items.to_dict("records"), kind)]
    items["action_taken"] = [a for a, _ in decided]
    items["overdue"] = [o for _, o in decided]
    # An overdue case comes back one priority higher, and says why.
    items["level"] = (items["level"] + items["overdue"].astype(int)).clip(upper=max(PRIORITY_ZH))
    if "reason_zh" in items and items["overdue"].any():
        items["reason_zh"] = [
            f"{r}；上次于{pd.Timestamp(d).date().isoformat()}下发，逾期未反馈" if o else r
            for r, d, o in zip(items["reason_zh"], items["last_sent"], items["overdue"])]
    items["status"] = items["feedback_status"].fillna("open")
    items["sent"] = items["action_taken"].isin(SENDING_ACTIONS)
    items["priority"] = items["level"].map(PRIORITY_ZH)
    if "priority_zh" in items:
        items["priority_zh"] = items["priority"]
    sent_on = items["last_sent"].where(~items["sent"], night)
    items["due_date"] = [
        (pd.Timestamp(s) + pd.Timedelta(days=due_days[int(lv)])).date() if pd.notna(s) and a != "closed" else None
        for s, lv, a in zip(sent_on, items["level"], items["action_taken"])]
    items["opened_on"] = items["opened_on"].where(items["opened_on"].notna(), night)
    items["case_age_days"] = (night_ts - pd.to_datetime(items["opened_on"])).dt.days
    items["awaiting_feedback"] = (items["action_taken"] != "closed") & ~(
        pd.to_datetime(items["feedback_on"]) >= pd.to_datetime(sent_on)).fillna(False)
    return items


def _with_referrals(con, night: str, policy_id: str, items: pd.DataFrame):
    """seed 001, 二(四)1: each household dbt found in need is offered the first of its ranked programme
    options that still has capacity. With consent (是) the referral goes to the charity; without an
    answer the worker is asked to seek consent (待同意转介); after 否 the referral case is closed."""
    options = con.execute(
        "SELECT o.*, g.capacity FROM intermediate.int_outreach_referral_options o "
        "JOIN staging.stg_charity_programs g USING (program_id) ORDER BY o.household_id, o.option_rank").df()
    if options.empty:
        return items, pd.DataFrame()
    used = dict(con.execute("SELECT program_id, count(*) FROM meta.referral_log WHERE night < CAST(? AS DATE) "
                            "GROUP BY program_id", [night]).fetchall())
    remaining = {p: int(c) - int(used.get(p, 0))
                 for p, c in options.drop_duplicates("program_id")[["program_id", "capacity"]].fillna(0).to_numpy()}
    consent = _feedback(con, night).set_index("case_id")["consent_to_charity"]
    referred = {c for (c,) in con.execute("SELECT DISTINCT case_id FROM meta.referral_log "
                                          "WHERE night < CAST(? AS DATE)", [night]).fetchall()}
    members = con.execute("SELECT * FROM intermediate.int_outreach_members WHERE household_id IN "
                          "(SELECT household_id FROM intermediate.int_outreach_referral_options)").df()
    contacts = members[members["is_contact"]].set_index("household_id")
    people = members.set_index("person_id")
    consent_rows, worker_rows = [], []
    # The options in records once (a frame per household costs a millisecond each at city scale), in the
    # query's order: by household, then the household's ranked options.
    for household, choices in itertools.groupby(options.to_dict("records"), key=lambda o: o["household_id"]):
        pick = next((o for o in choices if remaining.get(o["program_id"], 0) > 0), None)
        if pick is None:
            continue
        cid = case_id(policy_id, household, f"referral:{pick['program_id']}")
        if cid in referred:
            continue  # referred on an earlier night: sent once, and its place already counted
        patient = people.loc[pick["person_id"]]
        label = f"{patient['person_name']}（{patient['birth_year']}年生，{patient['masked_id']}）"
        if consent_given(consent.get(cid)):
            remaining[pick["program_id"]] -= 1
            consent_rows.append({
                "case_id": cid, "program_id": pick["program_id"], "program_name": pick["program_name"],
                "household_id": household, "person_name": patient["person_name"],
                "birth_year": int(patient["birth_year"]), "masked_id": patient["masked_id"], "age": int(pick["age"]),
                "diagnoses": pick["diagnoses"], "burden_12_months": float(pick["burden_12_months"]),
                "suggested_amount": float(pick["max_amount"]) if pd.notna(pick["max_amount"]) else None,
                "subdistrict_code": patient["subdistrict_code"]})
            continue
        contact = contacts.loc[household]
        income = float(pick["household_income"])
        worker_rows.append({
            "list_kind": "referral_consent", "reason_key": f"referral:{pick['program_id']}", "case_id": cid,
            "household_id": household, "subdistrict_code": contact["subdistrict_code"],
            "subdistrict_name": contact["subdistrict_name"], "level": 2, "priority_zh": PRIORITY_ZH[2],
            "contact_person_id": contact["person_id"],
            "contact_label": f"{contact['person_name']}（{contact['birth_year']}年生，{contact['masked_id']}）",
            "phone": contact["phone"], "community_name": contact["community_name"], "address": contact["address"],
            "flagged_members": 1, "members": label, "burden_amount": float(pick["household_burden"]),
            "income_amount": income, "burden_ratio": float(pick["household_burden"]) / income,
            "expected_assistance": float(pick["expected_assistance"]),
            "reason_zh": f"{pick['need_zh']}，可推荐{patient['person_name']}至慈善项目“{pick['program_name']}”",
            "action_zh": "征得本人同意后在“是否同意慈善转介”填写“是”（不同意填“否”），系统将转介慈善组织"})
    if worker_rows:
        worker = pd.DataFrame(worker_rows).merge(_risk_scores(con), on="household_id", how="left")
        worker["list_rank"] = worker.groupby("subdistrict_code").cumcount() + 1
        items = pd.concat([items, worker], ignore_index=True) if len(items) else worker
    return items, pd.DataFrame(consent_rows)
