"""The feed and output formats of ../shared/contract/README.md, as data.

Everything that reads a feed (landing, quarantine, the synthetic generator,
the expectation suites) takes its columns, types and enums from here, so the
contract is written down once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from poverty_warning.contract.vocabulary import (  # noqa: F401 (part of the contract)
    CATEGORIES, CATEGORY_NAMES_ZH, FEED_AGENCY_ZH, FEED_ZH, FEEDBACK_STATUS_ZH, FEEDBACK_STATUSES)

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
    aliases: tuple[tuple[str, str], ...] = ()  # other accepted spellings of enum values: (spelling, code)
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
    extra: dict = field(default_factory=dict)

    @property
    def title_zh(self) -> str:
        return FEED_ZH[self.name]

    @property
    def agency_zh(self) -> str:
        return FEED_AGENCY_ZH[self.name]

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
        _c("community_name", TEXT), _c("address", TEXT),
    ), required_feed=True, key=("person_id",)),
    Feed("household_income", (
        _c("household_id", TEXT, True), _c("assessed_on", DATE, True),
        _c("annual_disposable_income", AMOUNT, True),
        _c("members_without_fixed_income", INT, default="0"),
        _c("assets_within_limit", BOOL, default="true"),
    ), key=("household_id", "assessed_on")),
    Feed("assistance_categories", (
        _c("person_id", ID, True), _c("category", ENUM, True, enum=CATEGORIES),
        _c("valid_from", DATE, True), _c("valid_to", DATE), _c("source", ENUM, enum=SOURCES),
        _c("dibao_class", TEXT), _c("disability_grade", INT),
    )),
    Feed("enrollment", (
        _c("person_id", ID, True), _c("year", INT, True), _c("scheme", ENUM, True, enum=SCHEMES),
        _c("enrolled_from", DATE), _c("enrolled_to", DATE),
        _c("premium_subsidy", ENUM, enum=SUBSIDIES, default="none"),
    )),
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
    ), required_feed=True, key=("claim_id",), dated=True),
    Feed("parameters", (
        _c("name", TEXT, True), _c("year", INT, True), _c("value", AMOUNT, True),
    ), key=("name", "year")),
    Feed("charity_programs", (
        _c("program_id", TEXT, True, **PROGRAM_ID), _c("name", TEXT, True), _c("diagnosis_prefixes", TEXT),
        _c("min_age", INT), _c("max_age", INT), _c("max_amount", AMOUNT), _c("capacity", INT),
    ), key=("program_id",)),
    Feed("fund_accounts", (
        _c("year", INT, True), _c("funding", AMOUNT, True), _c("spending", AMOUNT, True),
        _c("balance", AMOUNT, True), _c("as_of", DATE),
    ), key=("year",)),
    Feed("outreach_feedback", (
        _c("case_id", TEXT, True),
        _c("status", ENUM, True, enum=FEEDBACK_STATUSES,
           aliases=tuple((zh, code) for code, zh in FEEDBACK_STATUS_ZH.items())),
        _c("updated_at", DATE, True), _c("consent_to_charity", BOOL), _c("note", TEXT),
        # Not in the contract's CSV: a returned workbook says whose it is, and a case of another
        # sub-district is not applied.
        _c("subdistrict_code", TEXT),
    )),
)}

# Feeds are landed in this order so that reference checks (person exists) see
# the persons landed in the same night.
LANDING_ORDER = ("persons", "parameters", "household_income", "assistance_categories",
                 "enrollment", "claims", "charity_programs", "fund_accounts", "outreach_feedback")

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
