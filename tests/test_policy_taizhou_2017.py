"""taizhou-2017 (seed 003), worked by hand. As of 2023-10-15 (year to date 2023-01-01 … 2023-10-15).
The basic-insurance cap is the assumed parameter 300,000, so the assistance cap is 150,000."""
import pytest

from .casebook import Casebook, money, one, rows_for

AS_OF = "2023-10-15"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    b = Casebook("321202")
    # 一(一): low-income member whose in-scope inpatient self-pay after insurance reaches 10,000 (含).
    t1 = b.household("LOW10K", 3, income=30000)
    for p in t1:
        b.category(p, "low_income")
    b.claim(t1[0], "inpatient", "2023-02-01", self_in=4000, assistance_paid=2000)
    b.claim(t1[0], "inpatient", "2023-05-01", self_in=4000)
    t2 = b.household("LOWBELOW", 2, income=30000)
    for p in t2:
        b.category(p, "low_income")
    b.claim(t2[0], "inpatient", "2023-05-01", self_in=9999.99)
    t3 = b.household("DIBAO20K", 2, income=30000)
    for p in t3:
        b.category(p, "dibao")
    b.claim(t3[0], "inpatient", "2023-05-01", self_in=20000)
    # Outpatient (二(三)1): 85%, at most 100 a day and 5 assisted days a month.
    p1 = b.person("OUTLIMIT", "1960-01-01")
    b.category(p1, "dibao")
    b.claim(p1, "outpatient", "2023-03-01", self_in=200)  # 170 → 100
    for day in range(2, 8):
        b.claim(p1, "outpatient", f"2023-03-{day:02d}", self_in=50)  # 42.50 each; days 6 and 7 not assisted
    # 5,000 a year: 60 days of 100 would be 6,000.
    p2 = b.person("OUTYEAR", "1950-01-01")
    b.category(p2, "tekun")
    for month in range(1, 13):
        for day in range(1, 8):
            b.claim(p2, "special_outpatient", f"2022-{month:02d}-{day:02d}", self_in=200)
    # Low-income members are not among the seven outpatient groups.
    p3 = b.person("LOWOUT", "1960-01-01")
    b.category(p3, "low_income")
    b.claim(p3, "outpatient", "2023-03-01", self_in=200)
    # Inpatient (二(三)2): tekun 100%, hardship worker 85%, other groups 70%; cap ≥ 50% of 300,000.
    p4 = b.person("TEKUN", "1950-01-01")
    b.category(p4, "tekun")
    b.claim(p4, "inpatient", "2023-04-01", self_in=200000)
    p5 = b.person("WORKER", "1975-01-01")
    b.category(p5, "hardship_worker")
    b.claim(p5, "inpatient", "2023-04-01", self_in=10000)
    p6 = b.person("ALLEVIATED", "1975-01-01")
    b.category(p6, "poverty_alleviated")
    b.claim(p6, "inpatient", "2023-04-01", self_in=10000)
    # Assistance starts 2018-01-01: a 2017 stay gets nothing.
    p7 = b.person("BEFORE", "1975-01-01")
    b.category(p7, "dibao")
    b.claim(p7, "inpatient", "2017-12-01", self_in=10000)
    # 特困 full aid below the cap: 10,000 → 10,000.
    p8 = b.person("TEKUNSMALL", "1950-01-01")
    b.category(p8, "tekun")
    b.claim(p8, "inpatient", "2023-04-01", self_in=10000)
    # Warning levels: one household just under each level's ratio (its level stays the one below).
    b.burden_household("WARN27", 0.27, "2023-09-01")
    b.burden_household("WARN35", 0.35, "2023-09-01")
    b.burden_household("WARN60", 0.6, "2023-09-01")
    r = b.assess(tmp_path_factory.mktemp("taizhou"), "taizhou-2017", AS_OF)
    r["people"] = dict(p1=p1, p2=p2, p3=p3, p4=p4, p5=p5, p6=p6, p7=p7, p8=p8, t1=t1[0], t2=t2[0])
    return r


@pytest.fixture(scope="module")
def today(tmp_path_factory):
    """As of 2026-11-25 with no parameters feed: basic_insurance_annual_cap has no 2025/2026 figure;
    the latest assumed one (300,000, 2024) is carried forward, so the assistance cap is 150,000, not 0."""
    b = Casebook("321202")
    p1 = b.person("TEKUN26", "1950-01-01")
    b.category(p1, "tekun")
    b.claim(p1, "inpatient", "2026-04-01", self_in=200000)
    p2 = b.person("DIBAO26", "1950-01-01")
    b.category(p2, "dibao")
    b.claim(p2, "inpatient", "2026-04-01", self_in=1000)
    r = b.assess(tmp_path_factory.mktemp("taizhou_today"), "taizhou-2017", "2026-11-25")
    r["people"] = dict(p1=p1, p2=p2)
    return r


def test_low_income_major_illness_at_exactly_ten_thousand(result):
    row = one(result["candidates"], household_id="LOW10K", rule="low_income_major_illness")
    assert row["person_id"] == result["people"]["t1"]
    assert (money(row["burden_amount"]), money(row["income_amount"]), row["burden_ratio"]) == (10000, 30000, "0.3333")


@pytest.mark.parametrize("household", ["LOWBELOW", "DIBAO20K"])
def test_not_candidates(result, household):
    assert rows_for(result["candidates"], household_id=household).empty


def _row(result, person, benefit, year=2023):
    return one(result["entitlements"], person_id=result["people"][person], benefit=benefit, year=year)


def test_daily_and_monthly_outpatient_limits(result):
    row = _row(result, "p1", "outpatient")
    assert money(row["expected_assistance"]) == 270  # 100 + 4 × 42.50
    assert "单日" in row["reason"] and "每月" in row["reason"]


def test_yearly_outpatient_limit(result):
    row = _row(result, "p2", "outpatient", year=2022)
    assert money(row["expected_assistance"]) == 5000  # 12 months × 5 days × 100 = 6,000 → 5,000
    assert money(row["base_amount"]) == 16800
    assert "5000" in row["reason"]


def test_low_income_has_no_outpatient_assistance(result):
    assert money(_row(result, "p3", "outpatient")["expected_assistance"]) == 0


def test_inpatient_rates_and_the_combined_cap(result):
    assert money(_row(result, "p4", "inpatient")["expected_assistance"]) == 150000
    assert money(_row(result, "p5", "inpatient")["expected_assistance"]) == 8500
    assert money(_row(result, "p6", "inpatient")["expected_assistance"]) == 7000
    assert money(_row(result, "p8", "inpatient")["expected_assistance"]) == 10000


def test_nothing_before_the_policy_starts(result):
    assert rows_for(result["entitlements"], person_id=result["people"]["p7"]).empty


def test_low_income_member_aided_once_a_major_illness_patient(result):
    """seed 003, 一(一): a low-income member is in the hardship groups as a 大重病患者 only once the
    year's in-scope inpatient self-pay after insurance reaches 10,000 (含). The pack's choice: the
    70% then applies from the first yuan of the year's stays (10,000 × 70% = 7,000, of which 2,000
    already paid)."""
    row = _row(result, "t1", "inpatient")
    assert (money(row["base_amount"]), money(row["expected_assistance"]), money(row["paid_assistance"])) == (
        10000, 7000, 2000)
    below = _row(result, "t2", "inpatient")  # 9,999.99: not in the group, nothing due
    assert money(below["expected_assistance"]) == 0


def test_the_cap_carries_forward_to_today(today):
    rows = today["entitlements"]
    assert money(one(rows, person_id=today["people"]["p1"], benefit="inpatient")["expected_assistance"]) == 150000
    assert money(one(rows, person_id=today["people"]["p2"], benefit="inpatient")["expected_assistance"]) == 850


def test_warning_levels(result):
    """The pack's warning levels (30% / 40% / 70%): each household at its highest level reached."""
    warnings = result["household_warnings"]
    assert rows_for(warnings, household_id="WARN27").empty
    assert one(warnings, household_id="WARN35")["warning_level"] == "watch"
    assert one(warnings, household_id="WARN60")["warning_level"] == "alert"
