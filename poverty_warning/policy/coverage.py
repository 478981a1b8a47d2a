"""The policy coverage map (docs/policy-coverage.md), written from the packs.

For each document: every clause a claims pipeline could compute → the pack entry that holds it →
the dbt models that apply it → the tests that check it (hand-worked cases and dbt unit tests that
cite the clause); then the clauses not computed and why, and every open choice with its reasoning.
An auditor reads it before trusting a list; `tests/test_policy_coverage.py` fails when it is stale.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from poverty_warning.policy import OpenChoice, Policy, available, load_policy
from poverty_warning.settings import DBT_PROJECT_DIR, RESOURCES_DIR

REPO = RESOURCES_DIR
DEFAULT_OUT = REPO / "docs" / "policy-coverage.md"
CASE_FILES = {
    "shanghai-2022": "tests/test_policy_shanghai_2022.py",
    "shanghai-2018-mutual-aid": "tests/test_policy_mutual_aid_2018.py",
    "wuhai-2020": "tests/test_policy_wuhai_2020.py",
    "taizhou-2017": "tests/test_policy_taizhou_2017.py",
    "zhoushan-2019": "tests/test_policy_zhoushan_2019.py",
}
ENTITLEMENT_MODELS = "int_claim_benefits → int_assistance_days → int_entitlement_tracks → fct_entitlements"
LIMIT_MODELS = {
    "annual_cap": "int_entitlement_tracks → fct_entitlements",
    "daily_cap": "int_assistance_days → fct_entitlements",
    "monthly_visits": "int_assistance_days → fct_entitlements",
    "annual_deductible": "int_assistance_days → fct_entitlements",
}
RULE_MODELS = "int_parameters_resolved → int_rule_measures → fct_candidates"


def _section(clause: str, seed: str) -> str | None:
    """The document's own numbering a clause cites: "seed 003, 二(三)1 …" → "二(三)1"."""
    match = re.search(rf"seed {seed}, ([^\s;:：]+)", clause)
    return match.group(1) if match else None


class _Tests:
    """Where each clause section is checked: hand-worked test functions and dbt unit tests."""

    def __init__(self, policy: Policy):
        self.seed = policy.seed
        self.case_file = CASE_FILES.get(policy.policy_id)
        self.functions: list[tuple[str, str]] = []
        self.fixture_text = ""
        if self.case_file and (REPO / self.case_file).exists():
            text = (REPO / self.case_file).read_text(encoding="utf-8")
            parts = re.split(r"(?m)^(?=def |@pytest)", text)
            for part in parts:
                name = re.match(r"(?:@pytest[^\n]*\n)*def (\w+)", part)
                if name and name.group(1).startswith("test_"):
                    self.functions.append((name.group(1), part))
                else:
                    self.fixture_text += part
        self.unit_tests: list[tuple[str, str]] = []
        for yml in sorted((DBT_PROJECT_DIR / "models").rglob("*.yml")):
            raw = yaml.safe_load(yml.read_text(encoding="utf-8")) or {}
            for ut in raw.get("unit_tests", []) or []:
                self.unit_tests.append((ut["name"], str(ut.get("description", ""))))

    def find(self, clause: str) -> str:
        section = _section(clause, self.seed)
        if not section:
            return "—"
        found = [f"`{name}`" for name, body in self.functions if section in body]
        if not found and section in self.fixture_text:
            found = [f"cases in `{self.case_file}`"]
        found += [f"dbt unit test `{name}`" for name, text in self.unit_tests
                  if f"seed {self.seed}, {section}" in text]
        return ", ".join(found) if found else "—"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _rows(policy: Policy, tests: _Tests) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []

    def add(clause: str, entry: str, models: str):
        rows.append((clause, entry, models, tests.find(clause)))

    add(policy.effective_clause, f"effective_from {policy.effective_from}, effective_to {policy.effective_to}",
        "int_policy_in_force → int_claim_benefits, fct_enrollment_gaps")
    add(policy.category_order_clause, f"category_order {', '.join(policy.category_order)}", "int_claim_benefits")
    for i, b in enumerate(policy.benefits):
        where = f"benefits[{i}] {b.benefit}/{b.track}"
        add(b.clause, f"{where}: base {b.base}, visit types {', '.join(b.visit_types)}"
            + (", in-city only" if b.in_city_only else "") + (f", diseases {b.diagnoses}" if b.diagnoses else ""),
            ENTITLEMENT_MODELS)
        for r in b.rates:
            detail = f"{where} rate {r.rate:g} for {', '.join(r.categories)}"
            if r.hospital_level:
                detail += f" (level {r.hospital_level})"
            if r.scheme:
                detail += f" (scheme {r.scheme})"
            add(r.clause, detail, ENTITLEMENT_MODELS)
            if r.min_yearly_base:
                add(r.min_yearly_base_clause or "", f"{where} rate for {', '.join(r.categories)} only from a yearly "
                    f"base of {r.min_yearly_base:g}, counted from {r.counted_from}", ENTITLEMENT_MODELS)
        for lim in b.limits:
            figure = f"{lim.value:g}" if lim.value is not None else f"{lim.multiplier:g} × {lim.parameter}"
            add(lim.clause, f"{where} {lim.kind} {figure}"
                + (f" ({lim.applies_to})" if lim.applies_to != "everyone" else "")
                + (f" counting {lim.counts}" if lim.kind == "monthly_visits" else ""),
                LIMIT_MODELS[lim.kind])
    for i, cap in enumerate(policy.combined_caps):
        figure = f"{cap.value:g}" if cap.value is not None else f"{cap.multiplier:g} × {cap.parameter}"
        add(cap.clause, f"combined_caps[{i}] {figure} over {', '.join(cap.benefits)}"
            + (f" track {cap.track}" if cap.track else "") + (f" for {', '.join(cap.categories)}" if cap.categories else ""),
            "int_parameters_resolved → int_entitlement_tracks → fct_entitlements")
    for cb in policy.cash_benefits:
        add(cb.clause, f"cash_benefits {cb.benefit}", "int_cash_entitlements → fct_entitlements")
        for it in cb.items:
            add(it.clause, f"cash_benefits {cb.benefit}: {it.label_zh} {it.amount:g}", "int_cash_entitlements → fct_entitlements")
        if cb.subsidized_enrollment_only:
            add(cb.subsidized_enrollment_clause or "", f"cash_benefits {cb.benefit}: subsidised-enrollment roster only",
                "int_cash_entitlements")
    for dl in policy.disease_lists:
        add(dl.clause, f"disease_lists {dl.name} ({len(dl.codes)} ICD-10 prefixes)", "int_claim_diseases")
    for g in policy.premium_subsidy_grants:
        add(g.clause, f"premium_subsidy_grants {g.subsidy} for {', '.join(g.categories)}"
            + (f" from age {g.min_age}" if g.min_age else ""), "fct_enrollment_gaps")
    if policy.new_member_grace_clause:
        add(policy.new_member_grace_clause, f"new_member_grace_months {policy.new_member_grace_months} (calendar months)",
            "fct_enrollment_gaps")
    if policy.paid_before_subsidized_next_year:
        add(policy.paid_before_clause or "", "paid_before_subsidized_next_year", "fct_enrollment_gaps")
    if policy.outside_basic_insurance:
        add(policy.outside_basic_insurance_clause or "",
            f"outside_basic_insurance {', '.join(policy.outside_basic_insurance)}", "fct_enrollment_gaps")
    for r in policy.rules:
        add(r.threshold_clause, f"rules {r.rule}: {r.kind}"
            + (f" {r.comparison} {r.threshold:g}" if r.threshold is not None else ""), RULE_MODELS)
        add(r.window_clause, f"rules {r.rule}: window {r.window}, amount {r.amount}", RULE_MODELS)
        for clause, entry in ((r.line_clause, f"line {r.line_parameter} (year offset {r.line_year_offset})"
                               + (f", × {r.line_multiplier_catastrophic:g} with {r.line_catastrophic_list}"
                                  if r.line_catastrophic_list else "")),
                              (r.residual_line_clause, f"residual line {r.residual_line_parameter}"),
                              (r.impute_clause, f"impute {r.impute_parameter} per member without fixed income"),
                              (r.assets_clause, "assets test")):
            if clause:
                add(clause, f"rules {r.rule}: {entry}", RULE_MODELS)
    if policy.suspected_dibao_uncovered:
        s = policy.suspected_dibao_uncovered
        add(s.clause, f"suspected_dibao_uncovered: income alone under {s.line_parameter}, not "
            f"{', '.join(s.covered_categories)}", "int_parameters_resolved → fct_suspected_dibao_uncovered")
    for ft in policy.fund_targets:
        bounds = " … ".join("" if v is None else f"{v:g}" for v in (ft.minimum, ft.maximum))
        add(ft.clause, f"fund_targets {ft.target} ({ft.kind}) {bounds}", "fct_fund_kpis")
    for w in policy.warning_levels:
        add(w.clause, f"warning_levels {w.level} {w.ratio:g}", "int_household_burden → fct_household_warnings")
    return rows


def _choices(policy: Policy) -> list[tuple[str, str, str, str]]:
    """(question, setting in the pack, allowed, reasoning) for every open choice of a pack."""
    found: list[tuple[str, str, str, str]] = []

    def allowed(c: OpenChoice) -> str:
        if c.range is not None:
            low, high = c.range
            return f"{'' if low is None else f'{low:g}'} … {'' if high is None else f'{high:g}'}"
        return ", ".join(c.options)

    c = policy.effective_choice
    found.append((c.question, f"effective_from: {policy.effective_from}", allowed(c), c.reasoning))
    for i, b in enumerate(policy.benefits):
        for r in b.rates:
            if r.choice:
                setting = f"benefits[{i}] {b.benefit} rate: {r.rate:g}"
                if r.min_yearly_base:
                    setting += f"; counted_from: {r.counted_from}"
                found.append((r.choice.question, setting, allowed(r.choice), r.choice.reasoning))
        for lim in b.limits:
            if lim.choice:
                setting = f"benefits[{i}] {b.benefit} {lim.kind}: " + (
                    f"counts: {lim.counts}" if lim.kind == "monthly_visits" else f"{lim.value or lim.multiplier:g}")
                found.append((lim.choice.question, setting, allowed(lim.choice), lim.choice.reasoning))
    seen: set[str] = set()  # one question shared by several caps (a YAML anchor) is listed once
    for i, cap in enumerate(policy.combined_caps):
        if cap.choice and cap.choice.question not in seen:
            seen.add(cap.choice.question)
            figure = f"{cap.value:g}" if cap.value is not None else f"multiplier {cap.multiplier:g}"
            found.append((cap.choice.question, f"combined_caps[{i}]: {figure}, {cap.choice_setting()}",
                          allowed(cap.choice), cap.choice.reasoning))
    return found


def render() -> str:
    out = ["# Policy coverage map", "",
           "Written by `poverty-warning coverage-map` from the policy packs (`poverty_warning/policy/*.yaml`);",
           "do not edit by hand. For each document: each clause a claims pipeline could compute → the pack",
           "entry holding it → the dbt models that apply it → the tests that check it (hand-worked cases and dbt",
           "unit tests citing the clause; every figure is also changed one at a time by `make policy-mutations`).",
           "Then what is not computed and why, and every open choice with the reading the pack takes.", ""]
    all_choices: list[tuple[str, tuple[str, str, str, str]]] = []
    for pid in available():
        policy = load_policy(pid)
        tests = _Tests(policy)
        out += [f"## {pid} — {policy.document}", "",
                f"Seed {policy.seed}, city {policy.city}; in force {policy.effective_from} … "
                f"{'open' if policy.effective_to.year == 9999 else policy.effective_to}.", "",
                "| clause | pack entry | dbt models | checked by |", "|---|---|---|---|"]
        out += [f"| {_cell(c)} | {_cell(e)} | {_cell(m)} | {_cell(t)} |" for c, e, m, t in _rows(policy, tests)]
        out += ["", "Not computed:", ""]
        if policy.not_computed:
            out += ["| clause | why |", "|---|---|"]
            out += [f"| {_cell(n.clause)} | {_cell(n.why)} |" for n in policy.not_computed]
        else:
            out += ["(nothing: every clause with a figure is computed)"]
        out += [""]
        all_choices += [(pid, c) for c in _choices(policy)]
    out += ["## Open choices", "",
            "Where a document leaves a figure or a reading open, the pack sets it and says why; a bureau changes",
            "it in the pack (the pack's validation keeps it within what the document allows).", "",
            "| policy | question | pack setting | allowed | reasoning |", "|---|---|---|---|---|"]
    out += [f"| {pid} | {_cell(q)} | {_cell(s)} | {_cell(a)} | {_cell(r)} |" for pid, (q, s, a, r) in all_choices]
    return "\n".join(out) + "\n"


def write(path: Path = DEFAULT_OUT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")
    return path
