"""Policy packs: one YAML file per policy document, every figure with its clause.

A pack is validated on load (unknown categories, rates outside 0..1, limits
without a clause are errors) and flattened into the `policy_*` tables that the
dbt models read, so no rate, cap or threshold is written in SQL. Adding a city
is adding a file here.
"""
from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from poverty_warning.contract import CATEGORIES, PARAMETER_NAMES as CONTRACT_PARAMETERS, VISIT_TYPES
from poverty_warning.contract.vocabulary import RULES

PACK_DIR = Path(__file__).parent
# The contract's parameter names, plus figures a pack may leave open.
PARAMETER_NAMES = CONTRACT_PARAMETERS + ("mutual_aid_local_inpatient_deductible",)
FAR_PAST, FAR_FUTURE = dt.date(1900, 1, 1), dt.date(9999, 12, 31)


class PolicyError(ValueError):
    """A pack that cannot be used; the message names the file and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Dated(_Strict):
    valid_from: dt.date = Field(FAR_PAST, alias="from")
    valid_to: dt.date = Field(FAR_FUTURE, alias="to")
    clause: str = Field(min_length=3)


class OpenChoice(_Strict):
    """Where a document leaves a figure or a reading open: the bureau's choice and why.

    `range` bounds the figure the entry sets (null = unbounded on that side); `options` lists the
    readings the entry's setting may take. The owning entry checks its figure or setting against it.
    """
    question: str = Field(min_length=3)
    reasoning: str = Field(min_length=3)
    range: tuple[float | None, float | None] | None = None
    options: list[str] = Field(default_factory=list)

    def check(self, figure: float | None = None, setting: str | None = None) -> None:
        if self.range is not None and figure is not None:
            low, high = self.range
            if (low is not None and figure < low) or (high is not None and figure > high):
                raise ValueError(f"{figure} is outside the document's range {low}..{high} ({self.question})")
        if self.options and setting is not None and setting not in self.options:
            raise ValueError(f"{setting!r} is not one of {self.options} ({self.question})")


def _check_categories(values: list[str]) -> list[str]:
    unknown = [v for v in values if v not in CATEGORIES]
    if unknown:
        raise ValueError(f"unknown category {unknown[0]!r} (known: {', '.join(CATEGORIES)})")
    return values


class Rate(Dated):
    categories: list[str]
    rate: float = Field(gt=0, le=1)
    hospital_level: int | None = Field(None, ge=1, le=3)
    scheme: Literal["employee", "resident", "not_employee"] | None = None
    # The rate applies only once the person's yearly base of this benefit reaches this amount
    # (a group defined by its costs, e.g. Taizhou's 大重病患者), counted from the first yuan or
    # only on the part above it.
    min_yearly_base: float | None = Field(None, gt=0)
    counted_from: Literal["first_yuan", "above_minimum"] = "first_yuan"
    min_yearly_base_clause: str | None = None
    choice: OpenChoice | None = None

    _cats = field_validator("categories")(_check_categories)

    @model_validator(mode="after")
    def _in_choice(self):
        if self.min_yearly_base is not None and not self.min_yearly_base_clause:
            raise ValueError("min_yearly_base needs its min_yearly_base_clause")
        if self.choice:
            self.choice.check(figure=self.rate, setting=self.counted_from if self.min_yearly_base else None)
        return self


class Amount(Dated):
    """A money figure: a fixed value or a multiple of a yearly parameter."""
    value: float | None = Field(None, ge=0)
    parameter: str | None = None
    multiplier: float = Field(1.0, gt=0)
    choice: OpenChoice | None = None

    def choice_setting(self) -> str | None:
        return None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.value is None) == (self.parameter is None):
            raise ValueError("give exactly one of value or parameter")
        if self.parameter and self.parameter not in PARAMETER_NAMES:
            raise ValueError(f"unknown parameter {self.parameter!r}")
        if self.choice:
            figure = self.value if self.value is not None else self.multiplier
            self.choice.check(figure=figure, setting=self.choice_setting())
        return self


class Limit(Amount):
    kind: Literal["annual_cap", "daily_cap", "monthly_visits", "annual_deductible"]
    categories: list[str] = Field(default_factory=list)  # empty = every category
    applies_to: Literal["everyone", "special_disease_patients"] = "everyone"
    scheme: Literal["employee", "resident", "not_employee"] | None = None
    # monthly_visits: what one 次 is — a day with assistance, or each assisted visit (claim).
    counts: Literal["assisted_days", "visits"] = "assisted_days"

    _cats = field_validator("categories")(_check_categories)

    def choice_setting(self) -> str | None:
        return self.counts if self.kind == "monthly_visits" else None


class Benefit(_Strict):
    benefit: Literal["inpatient", "outpatient", "mutual_aid_outpatient", "mutual_aid_inpatient"]
    track: str = "ordinary"
    visit_types: list[Literal[VISIT_TYPES]]  # type: ignore[valid-type]
    # Bases are amounts before any assistance: personal_burden_before_assistance adds back
    # assistance_paid to the personal burden, as assistance_base does to in-scope self-pay.
    base: Literal["assistance_base", "personal_burden_before_assistance", "total_cost"]
    in_city_only: bool = False
    diagnoses: str | None = None  # a disease list name: the track covers only these claims
    deductible_offset_by: str | None = None  # a cash benefit used up before the deductible counts
    clause: str = Field(min_length=3)
    rates: list[Rate]
    limits: list[Limit] = Field(default_factory=list)


class CombinedCap(Amount):
    """One yearly cap shared by several benefits (and optionally one track of them)."""
    benefits: list[Literal["inpatient", "outpatient"]]
    track: str | None = None
    categories: list[str] = Field(default_factory=list)
    applies_to: Literal["everyone", "special_disease_patients"] = "everyone"

    _cats = field_validator("categories")(_check_categories)

    def choice_setting(self) -> str | None:
        return f"track {self.track}" if self.track else "all tracks"


class Allowance(Dated):
    category: str
    amount: float = Field(gt=0)
    dibao_class: str | None = None
    min_age_male: int | None = None
    min_age_female: int | None = None
    max_disability_grade: int | None = Field(None, ge=1, le=4)
    label_zh: str

    _cat = field_validator("category")(lambda v: _check_categories([v])[0])


class CashBenefit(_Strict):
    benefit: Literal["outpatient_cash", "mutual_aid_subsidy"]
    clause: str = Field(min_length=3)
    highest_only: bool = True
    judged_on: str | None = Field(None, pattern=r"^\d{2}-\d{2}$")  # MM-DD the year's entitlement is judged on
    against_visit_types: list[str] = Field(default_factory=list)  # paid only against these costs
    # Paid only to people on the subsidised-enrollment roster (resident scheme, a premium subsidy)
    # of the year.
    subsidized_enrollment_only: bool = False
    subsidized_enrollment_clause: str | None = None
    items: list[Allowance]

    @model_validator(mode="after")
    def _roster_clause(self):
        if self.subsidized_enrollment_only and not self.subsidized_enrollment_clause:
            raise ValueError("subsidized_enrollment_only needs its subsidized_enrollment_clause")
        return self


class DiseaseCode(_Strict):
    prefix: str = Field(pattern=r"^[A-Z][0-9A-Z.]*$")
    name_zh: str
    outpatient: bool = False  # outpatient treatment of it is covered too
    max_age: int | None = None  # children's diseases


class DiseaseList(_Strict):
    name: str
    clause: str = Field(min_length=3)
    codes: list[DiseaseCode]


class Grant(Dated):
    categories: list[str]
    subsidy: Literal["full", "fixed"]
    min_age: int | None = None

    _cats = field_validator("categories")(_check_categories)


class Rule(_Strict):
    rule: Literal[RULES]  # type: ignore[valid-type]
    kind: Literal["burden_ratio", "residual_income_below_line", "member_amount"]
    window: Literal["trailing_12_whole_months", "year_to_date"]
    amount: Literal["personal_burden", "assistance_base"]
    visit_types: list[Literal[VISIT_TYPES]] = list(VISIT_TYPES)  # type: ignore[valid-type]
    in_city_only: bool = False
    threshold: float | None = Field(None, gt=0)  # a ratio, or an amount for member_amount
    comparison: Literal[">=", ">"] = ">="
    threshold_clause: str = Field(min_length=3)
    window_clause: str = Field(min_length=3)
    member_categories: list[str] = Field(default_factory=list)
    impute_parameter: str | None = None  # monthly figure counted for each member without fixed income
    impute_clause: str | None = None
    residual_line_parameter: str | None = None  # (income - burden) / size / 12 must be below it
    residual_line_clause: str | None = None
    line_parameter: str | None = None  # per-capita income must be below this parameter
    line_year_offset: int = 0  # -1 = the previous year's figure
    line_period: Literal["annual", "monthly"] = "annual"
    line_multiplier_catastrophic: float = Field(1.0, gt=0)  # when the household has a listed disease
    line_catastrophic_list: str | None = None
    line_clause: str | None = None
    assets_test: bool = False
    assets_clause: str | None = None
    reason_zh: str

    _cats = field_validator("member_categories")(_check_categories)

    @model_validator(mode="after")
    def _ratio_range(self):
        if self.kind != "residual_income_below_line" and self.threshold is None:
            raise ValueError(f"{self.rule}: a threshold is required")
        if self.kind == "residual_income_below_line" and not self.residual_line_parameter:
            raise ValueError(f"{self.rule}: residual_line_parameter is required")
        if self.kind == "burden_ratio" and self.threshold > 1:
            raise ValueError(f"{self.rule}: a ratio threshold must be at most 1, got {self.threshold}")
        return self


class IncomeBelowLine(_Strict):
    """A worker sheet, not a candidate rule: households whose income alone is under a monthly
    per-capita line and none of whose members holds one of the covering categories."""
    line_parameter: str
    covered_categories: list[str]
    clause: str = Field(min_length=3)
    reason_zh: str

    _cats = field_validator("covered_categories")(_check_categories)


class NotComputed(_Strict):
    clause: str = Field(min_length=3)
    why: str = Field(min_length=3)


class WarningLevel(_Strict):
    level: Literal["watch", "alert", "severe"]
    ratio: float = Field(gt=0, le=5)
    label_zh: str
    clause: str = Field(min_length=3)


class FundTarget(_Strict):
    """A target the document sets for the fund itself (a share that must be reached or not exceeded)."""
    target: str = Field(pattern=r"^[a-z0-9_]+$")
    kind: Literal["catastrophic_share_of_assisted_claims", "balance_share_of_funding",
                  "subsidised_enrollment_rate", "entitled_paid_in_full_rate"]
    label_zh: str = Field(min_length=2)
    minimum: float | None = Field(None, ge=0, le=1)
    maximum: float | None = Field(None, ge=0, le=1)
    disease_list: str | None = None
    clause: str = Field(min_length=3)

    @model_validator(mode="after")
    def _bound(self):
        if (self.minimum is None) == (self.maximum is None):
            raise ValueError(f"fund target {self.target}: give exactly one of minimum and maximum")
        if self.kind == "catastrophic_share_of_assisted_claims" and not self.disease_list:
            raise ValueError(f"fund target {self.target}: a disease_list is required")
        return self


class Policy(_Strict):
    policy_id: str
    city: str
    document: str
    seed: str
    effective_from: dt.date
    effective_to: dt.date = FAR_FUTURE
    effective_clause: str
    effective_choice: OpenChoice
    category_order: list[str]
    category_order_clause: str
    assisted_categories_clause: str
    benefits: list[Benefit] = Field(default_factory=list)
    combined_caps: list[CombinedCap] = Field(default_factory=list)
    cash_benefits: list[CashBenefit] = Field(default_factory=list)
    disease_lists: list[DiseaseList] = Field(default_factory=list)
    premium_subsidy_scheme: Literal["resident"] = "resident"
    # A category newly held is no gap until the first day of the calendar month this many months
    # after the month it starts in (当月资助参保，次月生效 = 1).
    new_member_grace_months: int = Field(0, ge=0, le=12)
    new_member_grace_clause: str | None = None
    # Enrolled and paid before the category started: subsidised from next year, no gap this year.
    paid_before_subsidized_next_year: bool = False
    paid_before_clause: str | None = None
    # Categories whose members are outside the city's basic insurance by definition: never a gap.
    outside_basic_insurance: list[str] = Field(default_factory=list)
    outside_basic_insurance_clause: str | None = None
    premium_subsidy_grants: list[Grant] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    suspected_dibao_uncovered: IncomeBelowLine | None = None
    not_computed: list[NotComputed] = Field(default_factory=list)
    warning_levels: list[WarningLevel]
    warning_window: Literal["trailing_12_whole_months", "year_to_date"] = "trailing_12_whole_months"
    warning_amount: Literal["personal_burden", "assistance_base"] = "personal_burden"
    warning_clause: str = "configurable: personal burden over the 12 whole months before the as-of month"
    fund_targets: list[FundTarget] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    _cats = field_validator("category_order", "outside_basic_insurance")(_check_categories)

    @model_validator(mode="after")
    def _consistent(self):
        if self.outside_basic_insurance and not self.outside_basic_insurance_clause:
            raise ValueError("outside_basic_insurance needs its outside_basic_insurance_clause")
        if self.paid_before_subsidized_next_year and not self.paid_before_clause:
            raise ValueError("paid_before_subsidized_next_year needs its paid_before_clause")
        self.effective_choice.check(setting=self.effective_from.isoformat())
        lists = {d.name for d in self.disease_lists}
        for r in self.rules:
            if r.line_catastrophic_list and r.line_catastrophic_list not in lists:
                raise ValueError(f"rule {r.rule} names unknown disease list {r.line_catastrophic_list!r}")
        for t in self.fund_targets:
            if t.disease_list and t.disease_list not in lists:
                raise ValueError(f"fund target {t.target} names unknown disease list {t.disease_list!r}")
        for b in self.benefits:
            if b.diagnoses and b.diagnoses not in lists:
                raise ValueError(f"benefit {b.benefit}/{b.track} names unknown disease list {b.diagnoses!r}")
            for r in b.rates:
                missing = [c for c in r.categories if c not in self.category_order]
                if missing:
                    raise ValueError(f"category {missing[0]!r} has a rate but is not in category_order")
        return self

    @property
    def premium_subsidy(self) -> "SubsidyRules":
        return SubsidyRules(self.premium_subsidy_grants)


class SubsidyRules:
    def __init__(self, grants: list[Grant]):
        self.grants = grants

    def grant(self, category: str, age: int) -> str:
        """The premium subsidy this category gets at this age: full, fixed or none."""
        best = "none"
        for g in self.grants:
            if category in g.categories and (g.min_age is None or age >= g.min_age):
                if g.subsidy == "full":
                    return "full"
                best = "fixed"
        return best


def pack_dir() -> Path:
    """The packs in use: the package's own, or POVERTY_WARNING_PACKS (a folder of pack files,
    e.g. a bureau's edited copy or a mutation run's temporary one)."""
    override = os.environ.get("POVERTY_WARNING_PACKS")
    return Path(override) if override else PACK_DIR


def available() -> list[str]:
    return sorted(p.stem for p in pack_dir().glob("*.yaml"))


def load_file(path: Path) -> Policy:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path.name}: cannot read policy pack: {exc}") from None
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PolicyError(f"{path.name}: {where}: {first['msg']}") from None
    if policy.policy_id != path.stem:
        raise PolicyError(f"{path.name}: policy_id {policy.policy_id!r} does not match the file name")
    return policy


def load_policy(policy_id: str) -> Policy:
    return _load(pack_dir(), policy_id)


@lru_cache(maxsize=None)
def _load(folder: Path, policy_id: str) -> Policy:
    path = folder / f"{policy_id}.yaml"
    if not path.exists():
        raise PolicyError(f"unknown policy {policy_id!r}; known: {', '.join(available())}")
    return load_file(path)
