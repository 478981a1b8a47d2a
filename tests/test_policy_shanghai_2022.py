"""shanghai-2022 (seed 001), worked by hand from the document text. As of 2024-03-10 the window is
the 12 whole months before March 2024: 2023-03-01 … 2024-02-29; the previous year's city income is
84,834 (2023) and the dibao line 1,510 (2024)."""
import pytest

from .casebook import Casebook, money, one, rows_for

AS_OF = "2024-03-10"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    b = Casebook("310112")
    # 四: type 2 at exactly 40% (达到或超过): 40,000 / 100,000.
    h1 = b.household("EXACT40", 2, income=100000)
    b.claim(h1[0], "inpatient", "2023-06-01", self_in=30000, self_out=10000)
    # Just below 40%.
    h2 = b.household("BELOW40", 2, income=100000)
    b.claim(h2[0], "inpatient", "2023-06-01", self_in=39999.99)
    # Assets beyond the low-income limit: no.
    h3 = b.household("ASSETS", 2, income=100000, assets_ok=False)
    b.claim(h3[0], "inpatient", "2023-06-01", self_in=60000)
    # Per-capita 100,000 is not below the 2023 city figure 84,834: no.
    h4 = b.household("RICH", 2, income=200000)
    b.claim(h4[0], "inpatient", "2023-06-01", self_in=90000)
    # Out-of-city care does not count (在本市医保定点医疗机构发生): 30,000 in city of 100,000.
    h5 = b.household("OUTCITY", 2, income=100000)
    b.claim(h5[0], "outpatient", "2023-06-01", self_in=30000)
    b.claim(h5[0], "inpatient", "2023-07-01", self_in=20000, in_city=False)
    # A stay admitted before the window, discharged inside it, counts by discharge date: 45%.
    h6 = b.household("ADMITFEB", 2, income=100000)
    b.claim(h6[0], "inpatient", "2023-03-05", self_in=45000, admit="2023-02-20")
    # A stay discharged in the as-of month is outside the window.
    h7 = b.household("ASOFMONTH", 2, income=100000)
    b.claim(h7[0], "inpatient", "2024-03-02", self_in=60000, admit="2024-02-25")
    # A reversed stay nets to nothing.
    h8 = b.household("REVERSED", 2, income=100000)
    reversed_claim = b.claim(h8[0], "inpatient", "2023-09-01", self_in=50000)
    b.reverse(reversed_claim, "2023-09-10")
    # Type 1: (40,000 − 10,000) / 2 / 12 = 1,250 < 1,510; type 2 ratio 25% no.
    h9 = b.household("TYPE1", 2, income=40000)
    b.claim(h9[0], "outpatient", "2023-10-01", self_in=10000)
    # 就高不重复: dibao (90%) and low_income (80%) at once → dibao: 10,000 × 90%.
    p10 = b.person("MULTI", "1960-05-05")
    b.category(p10, "low_income")
    b.category(p10, "dibao")
    b.claim(p10, "inpatient", "2023-05-01", self_in=6000, assistance_paid=4000)
    # A category that starts mid-year covers only claims from its start: 5,000 × 80%.
    p11 = b.person("MIDYEAR", "1975-01-01")
    b.category(p11, "low_income", valid_from="2023-07-01")
    b.claim(p11, "inpatient", "2023-05-01", self_in=5000)
    b.claim(p11, "inpatient", "2023-08-01", self_in=5000)
    # Emergency care is 门急诊: dibao 60%.
    p12 = b.person("EMERG", "1980-01-01")
    b.category(p12, "dibao")
    b.claim(p12, "emergency", "2024-01-15", self_in=1000)
    # 特殊救济对象: standards set separately (另行制定): nothing due under this pack.
    p13 = b.person("SPECIAL", "1950-01-01")
    b.category(p13, "special_relief")
    b.claim(p13, "inpatient", "2023-11-01", self_in=3000)
    # A stay over the year end belongs to the discharge year (2024): 20,000 × 90%.
    p17 = b.person("YEAREND", "1955-01-01")
    b.category(p17, "dibao")
    b.claim(p17, "inpatient", "2024-01-05", self_in=20000, admit="2023-12-20")
    # Premium subsidy (二(二)1): low_income aged 60+ → fixed; dibao → full; employees need none.
    p14 = b.person("OLDLOW", "1960-01-01")
    b.category(p14, "low_income")
    b.enroll(p14, 2024, "resident", "none")
    p15 = b.person("DIBAOOK", "1990-01-01")
    b.category(p15, "dibao")
    b.enroll(p15, 2024, "resident", "full")
    p16 = b.person("DIBAOEMP", "1990-01-01")
    b.category(p16, "dibao")
    b.enroll(p16, 2024, "employee", "none")
    # 四 导致: income alone 30,000 / 2 / 12 = 1,250 is already under the 1,510 line; the costs did not
    # push the household under, so not type 1 (and 5,000 / 30,000 = 16.7% is not type 2): the
    # 疑似低保未覆盖 sheet instead, unless a member already holds dibao.
    h18 = b.household("POORALONE", 2, income=30000)
    b.claim(h18[0], "outpatient", "2023-08-01", self_in=5000)
    h19 = b.household("POORDIBAO", 2, income=30000)
    b.category(h19[1], "dibao")
    b.claim(h19[0], "outpatient", "2023-08-01", self_in=5000)
    # No income: any burden is at least 40% of 0 → type 2, with no ratio; not type 1 (under the line alone).
    h20 = b.household("ZEROINC", 1, income=0)
    b.claim(h20[0], "outpatient", "2023-08-01", self_in=100)
    # 二(二)4 inpatient: 支出型贫困 50% (the pack's choice in 50–70%), orphans as dibao 90%; outpatient:
    # orphans 60%, low income 50%.
    p21 = b.person("EPIN", "1970-01-01")
    b.category(p21, "expenditure_poverty")
    b.claim(p21, "inpatient", "2023-09-01", self_in=10000)
    p22 = b.person("ORPHAN", "2012-01-01")
    b.category(p22, "orphan")
    b.claim(p22, "inpatient", "2023-09-01", self_in=1000)
    b.claim(p22, "outpatient", "2023-10-01", self_in=1000)
    p23 = b.person("LOWOUTP", "1970-01-01")
    b.category(p23, "low_income")
    b.claim(p23, "outpatient", "2023-10-01", self_in=1000)
    # 二(二)1 定额资助 only from 60: a 54-year-old low-income resident enrolled without subsidy is no gap.
    p24 = b.person("LOW54", "1970-01-01")
    b.category(p24, "low_income")
    b.enroll(p24, 2024, "resident", "none")
    # Warning levels: one household just under each level's ratio (its level stays the one below).
    b.burden_household("WARN27", 0.27, "2023-09-01")
    b.burden_household("WARN35", 0.35, "2023-09-01")
    b.burden_household("WARN60", 0.6, "2023-09-01")
    # 四 上年度: per capita 164,000 / 2 = 82,000 is under 2023's 84,834 (it would not be under 2022's
    # 79,610). Type 2: 130,000 / 164,000 = 79.27% ≥ 40%. Type 1: 164,000 / 2 / 12 = 6,833.33 ≥ 1,510
    # alone, (164,000 − 130,000) / 2 / 12 = 1,416.67 < 1,510 after the costs.
    h25 = b.household("LASTYEARLINE", 2, income=164000)
    b.claim(h25[0], "inpatient", "2023-06-01", self_in=130000)
    b.parameter("city_per_capita_disposable_income", 2023, 84834)
    b.parameter("dibao_monthly", 2024, 1510)
    r = b.assess(tmp_path_factory.mktemp("sh2022"), "shanghai-2022", AS_OF)
    r["people"] = dict(p10=p10, p11=p11, p12=p12, p13=p13, p14=p14, p15=p15, p16=p16, p17=p17,
                       p21=p21, p22=p22, p23=p23, p24=p24)
    return r


@pytest.fixture(scope="module")
def today(tmp_path_factory):
    """As of 2026-11-25 with no parameters feed: 2025's city income is not published, so 2024's
    88,366 (city-figures.md) is carried forward; the dibao line of 2026 carries 2024's 1,510. The
    window is 2025-11-01 … 2026-10-31."""
    b = Casebook("310112")
    # Type 2: 40,000 of 100,000; per capita 50,000 < 88,366.
    h1 = b.household("T2TODAY", 2, income=100000, assessed_on="2026-01-10")
    b.claim(h1[0], "inpatient", "2026-05-01", self_in=40000)
    # Per capita 88,000 is under 88,366 (2024, carried) — it would not be under 84,834 (2023).
    h2 = b.household("T2EDGE", 2, income=176000, assessed_on="2026-01-10")
    b.claim(h2[0], "inpatient", "2026-05-01", self_in=70400)
    # Type 1: 40,000 / 2 / 12 = 1,666.67 ≥ 1,510 alone; (40,000 − 10,000) / 2 / 12 = 1,250 < 1,510.
    h3 = b.household("T1TODAY", 2, income=40000, assessed_on="2026-01-10")
    b.claim(h3[0], "outpatient", "2026-06-01", self_in=10000)
    # 12,000 / 1 / 12 = 1,000 under the 1,510 carried forward from 2024: the dibao sheet says so.
    b.household("POORTODAY", 1, income=12000, assessed_on="2026-01-10")
    r = b.assess(tmp_path_factory.mktemp("sh2022today"), "shanghai-2022", "2026-11-25")
    return r


def test_type2_at_exactly_forty_percent(result):
    row = one(result["candidates"], household_id="EXACT40", rule="expenditure_poverty_type2")
    assert (money(row["burden_amount"]), money(row["income_amount"]), row["burden_ratio"]) == (40000, 100000, "0.4000")
    assert money(row["per_capita_income"]) == 50000
    assert "40%" in row["reason"]


@pytest.mark.parametrize("household", ["BELOW40", "ASSETS", "RICH", "OUTCITY", "ASOFMONTH", "REVERSED"])
def test_not_candidates(result, household):
    assert rows_for(result["candidates"], household_id=household).empty


def test_stay_admitted_before_the_window_counts_by_discharge(result):
    row = one(result["candidates"], household_id="ADMITFEB", rule="expenditure_poverty_type2")
    assert row["burden_ratio"] == "0.4500"


def test_type1_residual_income_below_dibao_line(result):
    row = one(result["candidates"], household_id="TYPE1")
    assert row["rule"] == "expenditure_poverty_type1"
    assert money(row["burden_amount"]) == 10000 and row["burden_ratio"] == "0.2500"


def test_highest_category_wins(result):
    row = one(result["entitlements"], person_id=result["people"]["p10"], benefit="inpatient")
    assert row["category"] == "dibao"
    assert (money(row["base_amount"]), money(row["expected_assistance"]), money(row["paid_assistance"])) == (
        10000, 9000, 4000)


def test_category_starting_mid_year(result):
    row = one(result["entitlements"], person_id=result["people"]["p11"], benefit="inpatient")
    assert (money(row["base_amount"]), money(row["expected_assistance"])) == (10000, 4000)
    assert "有效期" in row["reason"]


def test_emergency_is_outpatient_assistance(result):
    row = one(result["entitlements"], person_id=result["people"]["p12"])
    assert (row["benefit"], money(row["expected_assistance"])) == ("outpatient", 600)


def test_category_without_a_rate_gets_nothing_and_says_so(result):
    row = one(result["entitlements"], person_id=result["people"]["p13"])
    assert money(row["expected_assistance"]) == 0 and "不享受" in row["reason"]


def test_stay_across_the_year_end_is_the_discharge_year(result):
    row = one(result["entitlements"], person_id=result["people"]["p17"])
    assert (row["year"], money(row["expected_assistance"])) == ("2024", 18000)


def test_enrollment_gaps(result):
    gaps = result["enrollment_gaps"]
    assert one(gaps, person_id=result["people"]["p14"])["issue"] == "not_subsidized"
    assert rows_for(gaps, person_id=result["people"]["p15"]).empty
    assert rows_for(gaps, person_id=result["people"]["p16"]).empty
    # Everyone else with a category and no 2024 enrollment is not enrolled.
    assert one(gaps, person_id=result["people"]["p12"])["issue"] == "not_enrolled"


def test_type1_needs_the_costs_to_push_the_household_under_the_line(result):
    """seed 001, 四 导致; contract §2: below the line on income alone is a dibao matter, not type 1."""
    assert rows_for(result["candidates"], household_id="POORALONE").empty
    assert rows_for(result["candidates"], household_id="POORDIBAO").empty


def test_below_the_line_on_income_alone_is_the_dibao_sheet(result):
    sheet = result["suspected_dibao_uncovered"]
    row = one(sheet, household_id="POORALONE")
    assert (money(row["monthly_per_capita_income"]), money(row["line_amount"]), row["line_year"]) == (1250, 1510, "2024")
    assert row["carried_forward_from_year"] == ""
    assert "低保" in row["reason"]
    assert rows_for(sheet, household_id="POORDIBAO").empty  # already covered by dibao
    assert rows_for(sheet, household_id="TYPE1").empty  # 1,666.67 alone is not under the line
    assert set(sheet["household_id"]) == {"POORALONE", "ZEROINC"}  # only households with an assessment


def test_zero_income_meets_type2_without_a_ratio(result):
    """contract §2: a household with zero income can still meet type 2; burden_ratio is empty."""
    row = one(result["candidates"], household_id="ZEROINC")
    assert row["rule"] == "expenditure_poverty_type2"
    assert (money(row["burden_amount"]), money(row["income_amount"]), row["burden_ratio"]) == (100, 0, "")


@pytest.mark.parametrize("person, benefit, expected", [
    ("p21", "inpatient", 5000),   # 10,000 × 50%
    ("p22", "inpatient", 900),    # 1,000 × 90% (as dibao)
    ("p22", "outpatient", 600),   # 1,000 × 60% (as dibao)
    ("p23", "outpatient", 500),   # 1,000 × 50%
])
def test_rates_below_any_cap(result, person, benefit, expected):
    row = one(result["entitlements"], person_id=result["people"][person], benefit=benefit)
    assert money(row["expected_assistance"]) == expected


def test_fixed_premium_subsidy_starts_at_sixty(result):
    assert rows_for(result["enrollment_gaps"], person_id=result["people"]["p24"]).empty


def test_rules_work_on_todays_date_with_figures_carried_forward(today):
    """contract §2: a year's figure not yet published is the latest published year's; a rule never
    silently yields nothing."""
    t2 = one(today["candidates"], household_id="T2TODAY")
    assert (t2["rule"], t2["burden_ratio"]) == ("expenditure_poverty_type2", "0.4000")
    assert one(today["candidates"], household_id="T2EDGE")["burden_ratio"] == "0.4000"
    t1 = one(today["candidates"], household_id="T1TODAY")
    assert (t1["rule"], money(t1["burden_amount"])) == ("expenditure_poverty_type1", 10000)
    row = one(today["suspected_dibao_uncovered"], household_id="POORTODAY")
    assert (money(row["line_amount"]), row["line_year"], row["carried_forward_from_year"]) == (1510, "2026", "2024")


def test_warning_levels(result):
    """The pack's warning levels (30% / 40% / 70%): each household at its highest level reached."""
    warnings = result["household_warnings"]
    assert rows_for(warnings, household_id="WARN27").empty
    assert one(warnings, household_id="WARN35")["warning_level"] == "watch"
    assert one(warnings, household_id="WARN60")["warning_level"] == "alert"


@pytest.mark.parametrize("rule", ["expenditure_poverty_type2", "expenditure_poverty_type1"])
def test_line_is_last_years_city_income(result, rule):
    row = one(result["candidates"], household_id="LASTYEARLINE", rule=rule)
    assert (money(row["burden_amount"]), money(row["income_amount"]), money(row["per_capita_income"])) == (
        130000, 164000, 82000)
