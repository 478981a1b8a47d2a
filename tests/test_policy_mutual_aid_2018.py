"""shanghai-2018-mutual-aid (seed 000), worked by hand. In force 2018-01-01 … 2022-12-31; the local
inpatient deductible for people insured elsewhere is the parameter (1,500 here)."""
import pytest

from .casebook import Casebook, money, one, rows_for


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    b = Casebook("310104")
    # 五(一)(二): 150 subsidy first, then cash self-pay above 500 a year: 85% at level 1.
    r1 = b.person("R1", "1950-01-01")
    b.category(r1, "returnee")
    b.claim(r1, "outpatient", "2022-02-01", self_in=300, self_out=100, level=1)
    b.claim(r1, "outpatient", "2022-03-01", self_in=500, self_out=100, level=1)
    # Level 3 pays 75%: 1,150 − 650 = 500 above → 375.
    r4 = b.person("R4", "1950-01-01")
    b.category(r4, "returnee")
    b.claim(r4, "emergency", "2022-04-01", self_in=1150, level=3)
    # 五(三): with employee insurance elsewhere, 60% above the local deductible: (5,000 − 1,500) × 60%.
    r2 = b.person("R2", "1950-01-01")
    b.category(r2, "returnee")
    b.enroll(r2, 2022, "employee")
    b.claim(r2, "inpatient", "2022-05-01", self_in=4000, self_out=1000)
    # Without it, 50% of the total cost above 1,000: total 1,000 fund + 10,000 self-pay = 11,000 → 5,000.
    r3 = b.person("R3", "1950-01-01")
    b.category(r3, "returnee")
    b.claim(r3, "inpatient", "2022-06-01", self_in=10000)
    # After the plan ends (2022-12-31) nothing more.
    b.claim(r3, "inpatient", "2023-01-15", self_in=10000)
    # Level 2 pays 80%: 1,650 − 650 = 1,000 above → 800.
    r5 = b.person("R5", "1950-01-01")
    b.category(r5, "returnee")
    b.claim(r5, "outpatient", "2022-04-01", self_in=1650, level=2)
    # The base is before assistance: a level-1 visit of 1,000 on which the mutual aid already paid
    # 297.50 (personal cash 702.50) is due (1,000 − 650) × 85% = 297.50, all paid, nothing negative.
    r6 = b.person("R6", "1950-01-01")
    b.category(r6, "returnee")
    b.claim(r6, "outpatient", "2022-04-01", self_in=702.50, assistance_paid=297.50, level=1)
    # 六: outpatient mutual aid is for 本市定点 care: 2,000 out of the city is not aided.
    r7 = b.person("R7", "1950-01-01")
    b.category(r7, "returnee")
    b.claim(r7, "outpatient", "2022-04-01", self_in=2000, level=1, in_city=False)
    # Warning levels: one household just under each level's ratio (its level stays the one below).
    b.burden_household("WARN27", 0.27, "2022-09-01")
    b.burden_household("WARN35", 0.35, "2022-09-01")
    b.burden_household("WARN60", 0.6, "2022-09-01")
    b.parameter("mutual_aid_local_inpatient_deductible", 2022, 1500)
    r = b.assess(tmp_path_factory.mktemp("mutual"), "shanghai-2018-mutual-aid", "2023-02-28")
    r["people"] = dict(r1=r1, r2=r2, r3=r3, r4=r4, r5=r5, r6=r6, r7=r7)
    return r


@pytest.fixture(scope="module")
def in_force(tmp_path_factory):
    """As of 2022-06-30, inside the plan's period: returnees are outside Shanghai's basic insurance
    (前言, 二), so one with no enrollment is not an enrollment gap."""
    b = Casebook("310104")
    r1 = b.person("R1", "1950-01-01")
    b.category(r1, "returnee")
    b.claim(r1, "outpatient", "2022-02-01", self_in=100, level=1)
    r = b.assess(tmp_path_factory.mktemp("mutual_in_force"), "shanghai-2018-mutual-aid", "2022-06-30")
    r["people"] = dict(r1=r1)
    return r


def _row(result, person, benefit, year=2022):
    return one(result["entitlements"], person_id=result["people"][person], benefit=benefit, year=year)


def test_outpatient_subsidy_then_mutual_aid(result):
    assert money(_row(result, "r1", "mutual_aid_subsidy")["expected_assistance"]) == 150
    row = _row(result, "r1", "mutual_aid_outpatient")
    assert (money(row["base_amount"]), money(row["expected_assistance"])) == (1000, 297.5)


def test_outpatient_rate_by_hospital_level(result):
    assert money(_row(result, "r4", "mutual_aid_outpatient")["expected_assistance"]) == 375


def test_inpatient_with_and_without_employee_insurance(result):
    assert money(_row(result, "r2", "mutual_aid_inpatient")["expected_assistance"]) == 2100
    assert money(_row(result, "r3", "mutual_aid_inpatient")["expected_assistance"]) == 5000


def test_nothing_after_the_plan_ends(result):
    assert rows_for(result["entitlements"], person_id=result["people"]["r3"], year=2023).empty


def test_outpatient_level_two_rate(result):
    assert money(_row(result, "r5", "mutual_aid_outpatient")["expected_assistance"]) == 800


def test_base_is_before_the_aid_already_paid(result):
    """seed 000, 五(二): the aid paid at settlement is added back, so nothing unpaid goes negative."""
    row = _row(result, "r6", "mutual_aid_outpatient")
    assert (money(row["base_amount"]), money(row["expected_assistance"]), money(row["paid_assistance"])) == (
        1000, 297.5, 297.5)
    assert money(row["unpaid_assistance"]) == 0
    assert (result["entitlements"]["unpaid_assistance"].astype(float) >= 0).all()


def test_outpatient_mutual_aid_only_in_the_city(result):
    """seed 000, 六 在本市医保定点医疗机构门急诊就医."""
    rows = rows_for(result["entitlements"], person_id=result["people"]["r7"], benefit="mutual_aid_outpatient")
    assert rows.empty or money(one(rows)["expected_assistance"]) == 0


def test_returnees_are_not_enrollment_gaps(in_force):
    """seed 000, 二: returnees are outside the city's basic insurance by definition."""
    assert in_force["enrollment_gaps"].empty
    assert money(one(in_force["entitlements"], person_id=in_force["people"]["r1"],
                     benefit="mutual_aid_subsidy")["expected_assistance"]) == 100


def test_warning_levels(result):
    """The pack's warning levels (30% / 40% / 70%): each household at its highest level reached."""
    warnings = result["household_warnings"]
    assert rows_for(warnings, household_id="WARN27").empty
    assert one(warnings, household_id="WARN35")["warning_level"] == "watch"
    assert one(warnings, household_id="WARN60")["warning_level"] == "alert"
