"""The feed and output formats of ../shared/contract/README.md, as data.

Everything that reads a feed (landing, quarantine, the synthetic generator,
the expectation suites) takes its columns, types and enums from here, so the
contract is written down once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from poverty_warning.contract.vocabulary import CATEGORIES, CATEGORY_NAMES_ZH  # noqa: F401 (part of the contract)

# Column types understood by the row checker.
ID = "resident_id"  # 18-char GB 11643 resident ID
TEXT = "text"
DATE = "date"
INT = "int"
AMOUNT = "amount"  # CNY, up to 2 decimals
BOOL = "bool"
ENUM = "enum"

RELATIONS = ("head", "spouse", "child", "parent", "other")
SOURCES = ("civil_affairs", "rural_revitalization", "trade_union", "disability_federation",
           "veterans", "medical_security")
SCHEMES = ("employee", "resident")
SUBSIDIES = ("full", "fixed", "none")
VISIT_TYPES = ("outpatient", "emergency", "inpatient", "special_outpatient")
FEEDBACK_STATUSES = ("contacted", "applied", "approved", "rejected", "declined", "unreachable")
PARAMETER_NAMES = ("city_per_capita_disposable_income", "dibao_monthly", "min_wage_monthly",
                   "basic_insurance_annual_cap")

TRUE_WORDS = ("true", "1", "是", "t", "yes", "y")
FALSE_WORDS = ("false", "0", "否", "f", "no", "n")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    enum: tuple[str, ...] = ()
    default: str | None = None  # applied when the cell is empty
    signed: bool = False  # amounts that may be negative (reversal rows)
    # Text whose shape the contract fixes (area codes) or that names a file or folder (programme ids):
    # the whole value must match, as a regular expression, and `form_zh` says what is expected.
    form: str | None = None
    form_zh: str = ""


@dataclass(frozen=True)
class Feed:
    name: str
    columns: tuple[Column, ...]
    required_feed: bool = False
    key: tuple[str, ...] = ()
    dated: bool = False  # delivered in dated daily folders
    title_zh: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name, type_, required=False, **kw) -> Column:
    return Column(name, type_, required, **kw)


# 区县代码 and 乡级统计用区划代码 (§1): the sub-district code also names an outbox folder and a file.
DISTRICT_CODE = dict(form="[0-9]{6}", form_zh="6位数字的区县代码")
SUBDISTRICT_CODE = dict(form="[0-9]{9}", form_zh="9位数字的乡级区划代码")
# A programme id names an outbox folder: letters, digits, `_` and `-`, starting with a letter or digit.
PROGRAM_ID = dict(form="[A-Za-z0-9][A-Za-z0-9_-]{0,63}", form_zh="字母或数字开头、仅含字母数字_-的编号（至多64位）")


FEEDS: dict[str, Feed] = {f.name: f for f in (
    Feed("persons", (
        _c("person_id", ID, True), _c("name", TEXT), _c("sex", ENUM, enum=("M", "F")),
        _c("birth_date", DATE), _c("household_id", TEXT, True),
        _c("relation", ENUM, enum=RELATIONS), _c("district_code", TEXT, **DISTRICT_CODE),
        _c("subdistrict_code", TEXT, True, **SUBDISTRICT_CODE), _c("subdistrict_name", TEXT), _c("phone", TEXT),
    ), required_feed=True, key=("person_id",), title_zh="人员"),
    Feed("household_income", (
        _c("household_id", TEXT, True), _c("assessed_on", DATE, True),
        _c("annual_disposable_income", AMOUNT, True),
        _c("members_without_fixed_income", INT, default="0"),
        _c("assets_within_limit", BOOL, default="true"),
    ), key=("household_id", "assessed_on"), title_zh="家庭经济状况核对"),
    Feed("assistance_categories", (
        _c("person_id", ID, True), _c("category", ENUM, True, enum=CATEGORIES),
        _c("valid_from", DATE, True), _c("valid_to", DATE), _c("source", ENUM, enum=SOURCES),
        _c("dibao_class", TEXT), _c("disability_grade", INT),
    ), title_zh="救助身份"),
    Feed("enrollment", (
        _c("person_id", ID, True), _c("year", INT, True), _c("scheme", ENUM, True, enum=SCHEMES),
        _c("enrolled_from", DATE), _c("enrolled_to", DATE),
        _c("premium_subsidy", ENUM, enum=SUBSIDIES, default="none"),
    ), title_zh="参保"),
    Feed("claims", (
        _c("claim_id", TEXT, True), _c("person_id", ID, True),
        _c("visit_type", ENUM, True, enum=VISIT_TYPES), _c("admit_date", DATE),
        _c("discharge_date", DATE), _c("settle_date", DATE, True), _c("hospital_id", TEXT),
        _c("hospital_level", ENUM, True, enum=("1", "2", "3")),
        _c("in_city", BOOL, default="true"), _c("diagnosis_code", TEXT),
        _c("total_cost", AMOUNT, True, signed=True),
        _c("policy_scope_cost", AMOUNT, True, signed=True),
        _c("basic_fund_paid", AMOUNT, True, signed=True),
        _c("critical_illness_paid", AMOUNT, True, signed=True),
        _c("assistance_paid", AMOUNT, True, signed=True),
        _c("other_paid", AMOUNT, default="0", signed=True),
        _c("self_pay_in_scope", AMOUNT, True, signed=True),
        _c("self_pay_out_scope", AMOUNT, True, signed=True),
        _c("reversal_of", TEXT),
    ), required_feed=True, key=("claim_id",), dated=True, title_zh="医保结算"),
    Feed("parameters", (
        _c("name", TEXT, True), _c("year", INT, True), _c("value", AMOUNT, True),
    ), key=("name", "year"), title_zh="城市参数"),
    Feed("charity_programs", (
        _c("program_id", TEXT, True, **PROGRAM_ID), _c("name", TEXT, True), _c("diagnosis_prefixes", TEXT),
        _c("min_age", INT), _c("max_age", INT), _c("max_amount", AMOUNT), _c("capacity", INT),
    ), key=("program_id",), title_zh="慈善项目"),
    Feed("outreach_feedback", (
        _c("case_id", TEXT, True), _c("status", ENUM, True, enum=FEEDBACK_STATUSES),
        _c("updated_at", DATE, True), _c("consent_to_charity", BOOL), _c("note", TEXT),
    ), title_zh="走访反馈"),
)}

# Feeds are landed in this order so that reference checks (person exists) see
# the persons landed in the same night.
LANDING_ORDER = ("persons", "parameters", "household_income", "assistance_categories",
                 "enrollment", "claims", "charity_programs", "outreach_feedback")

AMOUNT_COLUMNS = [c.name for c in FEEDS["claims"].columns if c.type == AMOUNT]

OUTPUTS: dict[str, tuple[str, ...]] = {
    "candidates.csv": ("household_id", "rule", "burden_amount", "income_amount", "burden_ratio",
                       "per_capita_income", "reason"),
    "entitlements.csv": ("person_id", "year", "benefit", "category", "base_amount",
                         "expected_assistance", "paid_assistance", "reason"),
    "enrollment_gaps.csv": ("person_id", "category", "issue", "year", "reason"),
    "load_report.csv": ("feed", "file", "rows_received", "rows_loaded", "rows_quarantined"),
    "quarantine.csv": ("feed", "file", "row_number", "reason"),
}
