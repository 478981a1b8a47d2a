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
    b.parameter("mutual_aid_local_inpatient_deductible", 2022, 1500)
    r = b.assess(tmp_path_factory.mktemp("mutual"), "shanghai-2018-mutual-aid", "2023-02-28")
    r["people"] = dict(r1=r1, r2=r2, r3=r3, r4=r4)
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
