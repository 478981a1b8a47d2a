"""Flatten every policy pack into the `policy.*` tables the dbt models read.

One row per figure, each with its clause, so a mart can always say which
clause produced a number.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from poverty_warning.contract.vocabulary import BENEFIT_ZH, CATEGORY_NAMES_ZH, RULE_ZH
from poverty_warning.policy.parameters import all_defaults
from poverty_warning.policy import Policy, available, load_policy
from poverty_warning.policy.hardship import load_measures


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def flatten(policies: list[Policy]) -> dict[str, pd.DataFrame]:
    t: dict[str, list[dict]] = {k: [] for k in (
        "policies", "category_order", "benefit_tracks", "rates", "limits", "combined_caps",
        "cash_items", "disease_codes", "subsidy_grants", "rules", "rule_visit_types",
        "rule_member_categories", "warning_levels", "category_names", "fund_targets",
        "dibao_uncovered_sheet")}
    for p in policies:
        pid = p.policy_id
        t["policies"].append(dict(
            policy_id=pid, city=p.city, document=p.document, seed=p.seed,
            effective_from=p.effective_from, effective_to=p.effective_to, effective_clause=p.effective_clause,
            warning_window=p.warning_window, warning_amount=p.warning_amount, warning_clause=p.warning_clause,
            new_member_grace_months=p.new_member_grace_months,
            paid_before_subsidized_next_year=p.paid_before_subsidized_next_year))
        for rank, cat in enumerate(p.category_order, start=1):
            t["category_order"].append(dict(policy_id=pid, category=cat, category_rank=rank,
                                            clause=p.category_order_clause,
                                            outside_basic_insurance=cat in p.outside_basic_insurance))
        for order, b in enumerate(p.benefits, start=1):
            for vt in b.visit_types:
                t["benefit_tracks"].append(dict(
                    policy_id=pid, benefit=b.benefit, track=b.track, track_order=order, visit_type=vt,
                    base_kind=b.base, in_city_only=b.in_city_only, disease_list=b.diagnoses,
                    deductible_offset_by=b.deductible_offset_by, clause=b.clause))
            for r in b.rates:
                for cat in r.categories:
                    t["rates"].append(dict(
                        policy_id=pid, benefit=b.benefit, track=b.track, category=cat, rate=r.rate,
                        hospital_level=r.hospital_level, scheme=r.scheme, valid_from=r.valid_from,
                        valid_to=r.valid_to, clause=r.clause, min_yearly_base=r.min_yearly_base,
                        counted_from=r.counted_from))
            for lim in b.limits:
                for cat in (lim.categories or [None]):
                    t["limits"].append(dict(
                        policy_id=pid, benefit=b.benefit, track=b.track, kind=lim.kind, category=cat,
                        applies_to=lim.applies_to, scheme=lim.scheme, value=lim.value,
                        parameter=lim.parameter, multiplier=lim.multiplier, valid_from=lim.valid_from,
                        valid_to=lim.valid_to, clause=lim.clause, counts=lim.counts))
        for cap_no, cap in enumerate(p.combined_caps, start=1):
            for position, benefit in enumerate(cap.benefits, start=1):
                for cat in (cap.categories or [None]):
                    t["combined_caps"].append(dict(
                        policy_id=pid, cap_id=f"{pid}#{cap_no}", benefit=benefit, benefit_position=position,
                        track=cap.track, category=cat, applies_to=cap.applies_to, value=cap.value,
                        parameter=cap.parameter, multiplier=cap.multiplier, valid_from=cap.valid_from,
                        valid_to=cap.valid_to, clause=cap.clause))
        for cb in p.cash_benefits:
            for item_no, it in enumerate(cb.items, start=1):
                t["cash_items"].append(dict(
                    policy_id=pid, benefit=cb.benefit, item_no=item_no, category=it.category,
                    amount=it.amount, dibao_class=it.dibao_class, min_age_male=it.min_age_male,
                    min_age_female=it.min_age_female, max_disability_grade=it.max_disability_grade,
                    judged_on_month_day=cb.judged_on, against_visit_types=";".join(cb.against_visit_types),
                    label_zh=it.label_zh, valid_from=it.valid_from, valid_to=it.valid_to,
                    clause=it.clause, benefit_clause=cb.clause,
                    subsidized_enrollment_only=cb.subsidized_enrollment_only))
        for dl in p.disease_lists:
            for code in dl.codes:
                t["disease_codes"].append(dict(
                    policy_id=pid, disease_list=dl.name, prefix=code.prefix, name_zh=code.name_zh,
                    covers_outpatient=code.outpatient, max_age=code.max_age, clause=dl.clause))
        for g in p.premium_subsidy_grants:
            for cat in g.categories:
                t["subsidy_grants"].append(dict(
                    policy_id=pid, category=cat, subsidy=g.subsidy, min_age=g.min_age,
                    scheme=p.premium_subsidy_scheme, valid_from=g.valid_from, valid_to=g.valid_to,
                    clause=g.clause))
        for r in p.rules:
            t["rules"].append(dict(
                policy_id=pid, rule=r.rule, kind=r.kind, window_kind=r.window, amount_kind=r.amount,
                in_city_only=r.in_city_only, threshold=r.threshold, comparison=r.comparison,
                impute_parameter=r.impute_parameter, residual_line_parameter=r.residual_line_parameter,
                line_parameter=r.line_parameter, line_year_offset=r.line_year_offset,
                line_period=r.line_period, line_multiplier_catastrophic=r.line_multiplier_catastrophic,
                line_catastrophic_list=r.line_catastrophic_list, assets_test=r.assets_test,
                reason_zh=r.reason_zh, threshold_clause=r.threshold_clause, window_clause=r.window_clause,
                line_clause=r.line_clause, residual_line_clause=r.residual_line_clause,
                impute_clause=r.impute_clause, assets_clause=r.assets_clause))
            for vt in r.visit_types:
                t["rule_visit_types"].append(dict(policy_id=pid, rule=r.rule, visit_type=vt))
            for cat in r.member_categories:
                t["rule_member_categories"].append(dict(policy_id=pid, rule=r.rule, category=cat))
        for ft in p.fund_targets:
            t["fund_targets"].append(dict(policy_id=pid, **ft.model_dump()))
        sheet = p.suspected_dibao_uncovered
        if sheet:
            for cat in sheet.covered_categories:
                t["dibao_uncovered_sheet"].append(dict(
                    policy_id=pid, line_parameter=sheet.line_parameter, covered_category=cat,
                    reason_zh=sheet.reason_zh, clause=sheet.clause))
        for w in p.warning_levels:
            t["warning_levels"].append(dict(policy_id=pid, level=w.level, ratio=w.ratio,
                                            label_zh=w.label_zh, clause=w.clause))
    t["category_names"] = [dict(category=c, name_zh=n) for c, n in CATEGORY_NAMES_ZH.items()]
    t["rule_names"] = [dict(rule=r, name_zh=n) for r, n in RULE_ZH.items()]
    t["benefit_names"] = [dict(benefit=b, name_zh=n) for b, n in BENEFIT_ZH.items()]
    columns = {
        "rule_visit_types": ["policy_id", "rule", "visit_type"],
        "rule_member_categories": ["policy_id", "rule", "category"],
        "fund_targets": ["policy_id", "target", "kind", "label_zh", "minimum", "maximum", "disease_list", "clause"],
        "dibao_uncovered_sheet": ["policy_id", "line_parameter", "covered_category", "reason_zh", "clause"],
    }
    return {k: (_frame(v, columns[k]) if k in columns and not v else pd.DataFrame(v)) for k, v in t.items()}


def write(con: duckdb.DuckDBPyConnection, policies: list[Policy] | None = None) -> None:
    """(Re)write the policy tables of every pack (or of the packs given) and the city parameter defaults."""
    policies = policies if policies is not None else [load_policy(pid) for pid in available()]
    con.execute("CREATE SCHEMA IF NOT EXISTS policy")
    for name, frame in flatten(policies).items():
        con.register("frame", frame)
        con.execute(f"CREATE OR REPLACE TABLE policy.{name} AS SELECT * FROM frame")
        con.unregister("frame")
    measures = pd.DataFrame([m.model_dump() for m in load_measures()])
    con.register("frame", measures)
    con.execute("CREATE OR REPLACE TABLE policy.hardship_measures AS SELECT * FROM frame")
    con.unregister("frame")
    defaults = all_defaults()
    con.register("frame", defaults)
    con.execute("CREATE OR REPLACE TABLE policy.parameter_defaults AS "
                "SELECT city, name, CAST(year AS INTEGER) AS year, CAST(value AS DECIMAL(18,2)) AS value, "
                "source FROM frame")
    con.unregister("frame")
