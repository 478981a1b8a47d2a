"""wuhai-2020 (seed 002), worked by hand. As of 2023-11-30: the window is 2023-01-01 … 2023-11-30,
the minimum wage 1,980 a month (2023)."""
import pytest

from .casebook import Casebook, money, one, rows_for

AS_OF = "2023-11-30"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    b = Casebook("150302")
    # 三(一)3: 30,000 + 1 member without fixed income × 12 × 1,980 = 53,760; inpatient self-pay
    # (in-scope, before assistance) 40,000 → 74.40% > 70%; monthly per capita 1,493.33 < 1,980.
    w1 = b.household("IMPUTED", 3, income=30000, without_fixed_income=1)
    b.claim(w1[0], "inpatient", "2023-04-01", self_in=30000, assistance_paid=10000)
    # Exactly 70% is not "超过".
    w2 = b.household("EXACT70", 2, income=24000)
    b.claim(w2[0], "inpatient", "2023-05-01", self_in=16800)
    # Monthly per capita 2,500: above 1,980 but below 1.5 × 1,980 = 2,970 with a catastrophic disease.
    w3 = b.household("CANCER", 2, income=60000)
    b.claim(w3[0], "inpatient", "2023-06-01", self_in=50000, diagnosis="C34.9")
    w4 = b.household("ORDINARY", 2, income=60000)
    b.claim(w4[0], "inpatient", "2023-06-01", self_in=50000, diagnosis="K35.8")
    # Outpatient costs are not part of the 70% test (当年个人承担的住院医疗费用).
    w5 = b.household("OUTPT", 2, income=20000)
    b.claim(w5[0], "outpatient", "2023-06-01", self_in=19000)
    # A stay discharged last year does not count this year.
    w6 = b.household("LASTYEAR", 2, income=20000)
    b.claim(w6[0], "inpatient", "2022-12-30", self_in=19000)
    # Ordinary inpatient assistance 70%, capped at 30,000 a year.
    p1 = b.person("D1", "1970-01-01")
    b.category(p1, "dibao")
    b.claim(p1, "inpatient", "2023-03-01", self_in=50000)
    # Catastrophic: key group 85% up to 140,000; other special hardship 75% up to 80,000.
    p2 = b.person("D2", "1970-01-01")
    b.category(p2, "dibao")
    b.claim(p2, "inpatient", "2023-03-01", self_in=200000, diagnosis="C34.9")
    p3 = b.person("EP", "1970-01-01")
    b.category(p3, "expenditure_poverty")
    b.claim(p3, "inpatient", "2023-03-01", self_in=120000, diagnosis="N18.5")
    # Low-income members have no catastrophic rate: the ordinary 70%.
    p4 = b.person("LI", "2010-01-01")
    b.category(p4, "low_income")
    b.claim(p4, "inpatient", "2023-03-01", self_in=10000, diagnosis="C34.9")
    # Catastrophic outpatient (cancer) 85%; ordinary outpatient is not claim-based assistance.
    p5 = b.person("D5", "1970-01-01")
    b.category(p5, "dibao")
    b.claim(p5, "outpatient", "2023-03-01", self_in=2000, diagnosis="C34.9")
    b.claim(p5, "outpatient", "2023-03-02", self_in=500, diagnosis="J06.9")
    # Outpatient cash (三(二)2(2)): highest only — A class (800) over disability (400) and age (300).
    p6 = b.person("CASH1", "1958-01-01", sex="M")
    b.category(p6, "dibao", dibao_class="A", disability_grade="2")
    p7 = b.person("CASH2", "1968-01-01", sex="F")  # 55 on 2023-09-01
    b.category(p7, "dibao", dibao_class="B")
    p8 = b.person("CASH3", "1983-01-01", sex="M")
    b.category(p8, "dibao", dibao_class="B", disability_grade="3")
    p9 = b.person("CASH4", "1983-01-01", sex="M")
    b.category(p9, "dibao", dibao_class="B", disability_grade="4")
    # 三(二)2(2) 以资助参加居民医疗保险人员数据为准: the cash goes to the subsidised-enrollment roster.
    for person in (p6, p7, p8, p9):
        b.enroll(person, 2023, "resident", "full")
    b.enroll(p6, 2022, "resident", "full")
    p10 = b.person("CASH5", "1970-01-01", sex="M")  # A class but enrolled without a subsidy: no cash
    b.category(p10, "dibao", dibao_class="A")
    b.enroll(p10, 2023, "resident", "none")
    # Ages on 2023-09-01: a man of 53 and a woman of 48 are under 60 / 55: no cash.
    p11 = b.person("CASH6", "1970-01-01", sex="M")
    b.category(p11, "dibao", dibao_class="B")
    b.enroll(p11, 2023, "resident", "full")
    p12 = b.person("CASH7", "1975-01-01", sex="F")
    b.category(p12, "dibao", dibao_class="B")
    b.enroll(p12, 2023, "resident", "full")
    # Catastrophic rates below the caps: key group 85% of 10,000; other special hardship 75% of 10,000.
    p13 = b.person("D13", "1970-01-01")
    b.category(p13, "dibao")
    b.claim(p13, "inpatient", "2023-03-01", self_in=10000, diagnosis="C34.9")
    p14 = b.person("EP14", "1970-01-01")
    b.category(p14, "expenditure_poverty")
    b.claim(p14, "inpatient", "2023-03-01", self_in=10000, diagnosis="C34.9")
    b.claim(p14, "outpatient", "2023-03-05", self_in=1000, diagnosis="C34.9")  # catastrophic outpatient 75%
    # Warning levels: one household just under each level's ratio (its level stays the one below).
    b.burden_household("WARN35", 0.35, "2023-09-01")
    b.burden_household("WARN60", 0.6, "2023-09-01")
    b.burden_household("WARN90", 0.9, "2023-09-01")
    b.parameter("min_wage_monthly", 2023, 1980)
    r = b.assess(tmp_path_factory.mktemp("wuhai"), "wuhai-2020", AS_OF)
    r["people"] = dict(p1=p1, p2=p2, p3=p3, p4=p4, p5=p5, p6=p6, p7=p7, p8=p8, p9=p9, p10=p10, p11=p11,
                       p12=p12, p13=p13, p14=p14)
    return r


@pytest.fixture(scope="module")
def today(tmp_path_factory):
    """As of 2026-11-25 with no parameters feed: the minimum wage of 2026 carries 2025's 2,270
    (city-figures.md, from 2024-12). 30,000 + 1 × 12 × 2,270 = 57,240; 45,000 / 57,240 = 78.62% > 70%;
    monthly per capita 57,240 / 3 / 12 = 1,590 < 2,270."""
    b = Casebook("150302")
    w1 = b.household("W2026", 3, income=30000, without_fixed_income=1, assessed_on="2026-01-05")
    b.claim(w1[0], "inpatient", "2026-04-01", self_in=45000)
    return b.assess(tmp_path_factory.mktemp("wuhai_today"), "wuhai-2020", "2026-11-25")


def test_imputed_income_for_members_without_fixed_income(result):
    row = one(result["candidates"], household_id="IMPUTED", rule="special_hardship_expense_70")
    assert (money(row["burden_amount"]), money(row["income_amount"]), row["burden_ratio"]) == (40000, 53760, "0.7440")


def test_catastrophic_disease_raises_the_income_line(result):
    assert one(result["candidates"], household_id="CANCER")["burden_ratio"] == "0.8333"
    assert rows_for(result["candidates"], household_id="ORDINARY").empty


@pytest.mark.parametrize("household", ["EXACT70", "OUTPT", "LASTYEAR"])
def test_not_candidates(result, household):
    assert rows_for(result["candidates"], household_id=household).empty


def _expected(result, person, benefit, year=2023):
    return one(result["entitlements"], person_id=result["people"][person], benefit=benefit, year=year)


def test_ordinary_inpatient_cap(result):
    row = _expected(result, "p1", "inpatient")
    assert money(row["expected_assistance"]) == 30000 and "30000" in row["reason"]


def test_catastrophic_caps_by_group(result):
    assert money(_expected(result, "p2", "inpatient")["expected_assistance"]) == 140000
    assert money(_expected(result, "p3", "inpatient")["expected_assistance"]) == 80000


def test_low_income_catastrophic_takes_the_ordinary_rate(result):
    assert money(_expected(result, "p4", "inpatient")["expected_assistance"]) == 7000


def test_catastrophic_outpatient_only(result):
    row = _expected(result, "p5", "outpatient")
    assert (money(row["base_amount"]), money(row["expected_assistance"])) == (2000, 1700)


@pytest.mark.parametrize("person, amount", [("p6", 800), ("p7", 300), ("p8", 400)])
def test_outpatient_cash_highest_only(result, person, amount):
    row = _expected(result, person, "outpatient_cash")
    assert money(row["expected_assistance"]) == amount


def test_cash_is_due_every_year_held(result):
    assert money(_expected(result, "p6", "outpatient_cash", year=2022)["expected_assistance"]) == 800
    assert rows_for(result["entitlements"], person_id=result["people"]["p7"], year=2022).empty  # 54 then


def test_no_cash_for_grade_four(result):
    assert rows_for(result["entitlements"], person_id=result["people"]["p9"]).empty


def test_cash_only_for_the_subsidised_enrollment_roster(result):
    """seed 002, 三(二)2(2) 普通疾病医疗救助金发放对象以资助参加居民医疗保险人员数据为准."""
    assert rows_for(result["entitlements"], person_id=result["people"]["p10"]).empty


@pytest.mark.parametrize("person", ["p11", "p12"])
def test_no_cash_under_the_age_lines(result, person):
    assert rows_for(result["entitlements"], person_id=result["people"][person]).empty


def test_catastrophic_rates_below_the_caps(result):
    assert money(_expected(result, "p13", "inpatient")["expected_assistance"]) == 8500
    assert money(_expected(result, "p14", "inpatient")["expected_assistance"]) == 7500
    assert money(_expected(result, "p14", "outpatient")["expected_assistance"]) == 750


def test_rule_works_on_todays_date(today):
    row = one(today["candidates"], household_id="W2026")
    assert (money(row["income_amount"]), row["burden_ratio"]) == (57240, "0.7862")


def test_warning_levels(result):
    """The pack's warning levels (40% / 70% / 100%): each household at its highest level reached."""
    warnings = result["household_warnings"]
    assert rows_for(warnings, household_id="WARN35").empty
    assert one(warnings, household_id="WARN60")["warning_level"] == "watch"
    assert one(warnings, household_id="WARN90")["warning_level"] == "alert"


CHILD_HEART = ("Q20", "Q21", "Q22", "Q23", "Q24", "Q25")


@pytest.fixture(scope="module")
def year_2025(tmp_path_factory):
    """As of 2025-11-30: the minimum wage of 2025 is 2,270 (city-figures.md, from 2024-12), of 2024
    1,980 — a year whose line differs from the year before. No parameters feed: the city's figures."""
    b = Casebook("150302")
    # 三(一)3(1) 本年度最低工资标准: monthly per capita 50,400 / 2 / 12 = 2,100 is under 2025's 2,270
    # (it would not be under 2024's 1,980); 三(一)3(2) 40,000 / 50,400 = 79.37% > 70%.
    h = b.household("LINE2025", 2, income=50400, assessed_on="2025-01-05")
    b.claim(h[0], "inpatient", "2025-06-01", self_in=40000)
    # 三(二)3(1) 儿童先心病: a dibao child of 17 (born 2008-01-01, 17 on 2025-03-01) with each code is on
    # the catastrophic track, 三(二)3(2) 85% of 10,000 = 8,500; at 18 the same code is an ordinary
    # stay, 三(二)2(1) 70% = 7,000.
    children = {}
    for prefix in CHILD_HEART:
        children[prefix] = b.person(f"KID{prefix}", "2008-01-01")
        b.category(children[prefix], "dibao")
        b.claim(children[prefix], "inpatient", "2025-03-01", self_in=10000, diagnosis=f"{prefix}.9")
    adult = b.person("ADULTQ21", "2007-01-01")
    b.category(adult, "dibao")
    b.claim(adult, "inpatient", "2025-03-01", self_in=10000, diagnosis="Q21.9")
    # 三(二)3(2) person-times: four settled claims with assistance paid this year, one of them a
    # catastrophic disease (lung cancer) → 1 / 4 = 25%, under the 28% target.
    for n, diagnosis in enumerate(("C34.9", "K35.8", "K35.8", "K35.8")):
        person = b.person(f"PAID{n}", "1970-01-01")
        b.claim(person, "inpatient", "2025-04-01", self_in=500, assistance_paid=500, diagnosis=diagnosis)
    # 四 累计结余不超过当年筹集基金的15%: 130,000 / 1,000,000 = 13%, within it.
    b.fund_account(2025, funding=1000000, spending=870000, balance=130000)
    r = b.assess(tmp_path_factory.mktemp("wuhai_2025"), "wuhai-2020", "2025-11-30")
    r["people"] = dict(children, adult=adult)
    return r


def test_line_is_this_years_minimum_wage(year_2025):
    row = one(year_2025["candidates"], household_id="LINE2025", rule="special_hardship_expense_70")
    assert (money(row["income_amount"]), row["burden_ratio"]) == (50400, "0.7937")


@pytest.mark.parametrize("prefix", CHILD_HEART)
def test_childrens_heart_disease_up_to_seventeen(year_2025, prefix):
    row = one(year_2025["entitlements"], person_id=year_2025["people"][prefix], benefit="inpatient")
    assert money(row["expected_assistance"]) == 8500


def test_childrens_heart_disease_not_at_eighteen(year_2025):
    row = one(year_2025["entitlements"], person_id=year_2025["people"]["adult"], benefit="inpatient")
    assert money(row["expected_assistance"]) == 7000


def test_fund_targets(year_2025):
    kpis = year_2025["fund_kpis"]
    share = one(kpis, target="catastrophic_person_time_share", period="year_to_date")
    assert (share["numerator"], share["denominator"], share["kpi_value"]) == ("1.00", "4.00", "0.2500")
    assert share["target_met"] == "false"  # 25% < 28%
    balance = one(kpis, target="fund_balance_share", period="year")
    assert (balance["kpi_value"], balance["target_met"]) == ("0.1300", "true")  # 13% ≤ 15%
