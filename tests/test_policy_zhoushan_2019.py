"""zhoushan-2019 (seed 004), worked by hand. Caps: outpatient 1,500; inpatient 80,000 before
2020-01-01 and 100,000 from then; special-disease patients from 2020: outpatient as inpatient and
100,000 for both together."""
import pytest

from .casebook import Casebook, money, one, rows_for

AS_OF = "2020-12-31"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    b = Casebook("330902")
    p1 = b.person("DIBAO", "1950-01-01")
    b.category(p1, "dibao")
    b.claim(p1, "inpatient", "2020-05-01", self_in=200000)  # 70% = 140,000 → 100,000
    b.claim(p1, "inpatient", "2019-11-15", self_in=150000)  # 105,000 → 80,000 (2019 figure)
    b.claim(p1, "inpatient", "2019-10-01", self_in=50000)  # before the notice (2019-10-31): not assessed
    p2 = b.person("EDGE", "1960-01-01")
    b.category(p2, "dibao_edge", valid_from="2020-01-01")
    b.claim(p2, "outpatient", "2020-03-01", self_in=5000)  # 60% = 3,000 → 1,500
    # Special-disease patient in 2020: outpatient 35,000 uncapped at 1,500; inpatient 70,000; together 100,000.
    p3 = b.person("SPECIAL", "1955-01-01")
    b.category(p3, "dibao")
    b.claim(p3, "special_outpatient", "2020-02-01", self_in=50000)
    b.claim(p3, "inpatient", "2020-06-01", self_in=100000)
    b.enroll(p3, 2020, "resident", "full")
    p4 = b.person("TEKUN", "1940-01-01")
    b.category(p4, "tekun")
    b.claim(p4, "inpatient", "2020-06-01", self_in=12345.67)  # 全额
    p5 = b.person("PRIORITY", "1940-01-01")
    b.category(p5, "priority_care")
    b.claim(p5, "inpatient", "2020-06-01", self_in=10000)  # 65%
    # Enrollment: a person identified this month is subsidized from next month (当月资助参保，次月生效).
    p6 = b.person("NEWDIBAO", "1970-01-01")
    b.category(p6, "dibao", valid_from="2020-12-10")
    p7 = b.person("EDGEOLD", "1970-01-01")
    b.category(p7, "dibao_edge", valid_from="2020-01-01")
    b.enroll(p7, 2020, "resident", "none")
    # 60% below any cap (二(二)4): a dibao_edge stay of 10,000 → 6,000.
    p8 = b.person("EDGEIN", "1960-01-01")
    b.category(p8, "dibao_edge")
    b.claim(p8, "inpatient", "2020-06-01", self_in=10000)
    # A special-disease patient's outpatient aid alone: 150,000 × 70% = 105,000 → its cap 100,000.
    p9 = b.person("SPECIALOUT", "1955-01-01")
    b.category(p9, "dibao")
    b.claim(p9, "special_outpatient", "2020-03-01", self_in=150000)
    # Warning levels: one household just under each level's ratio (its level stays the one below).
    b.burden_household("WARN27", 0.27, "2020-09-01")
    b.burden_household("WARN35", 0.35, "2020-09-01")
    b.burden_household("WARN60", 0.6, "2020-09-01")
    r = b.assess(tmp_path_factory.mktemp("zhoushan"), "zhoushan-2019", AS_OF)
    r["people"] = dict(p1=p1, p2=p2, p3=p3, p4=p4, p5=p5, p6=p6, p7=p7, p8=p8, p9=p9)
    return r


@pytest.fixture(scope="module")
def today(tmp_path_factory):
    """As of 2026-11-25, seed 004, 二(一): 当月资助参保，次月生效 — a member approved on 2026-10-28 should
    be enrolled from 2026-11-01 (a gap now); one approved on 2026-11-02 is not a gap before
    2026-12-01. 个人当年已参保的，不退保费，次年资助参保 — enrolled and paid from January, approved in
    June: subsidised from next year, no gap this year; a member since 2025 enrolled without the
    subsidy is not_subsidized."""
    b = Casebook("330902")
    october = b.person("OCT", "1970-01-01")
    b.category(october, "dibao", valid_from="2026-10-28")
    november = b.person("NOV", "1970-01-01")
    b.category(november, "dibao", valid_from="2026-11-02")
    paid = b.person("PAID", "1970-01-01")
    b.category(paid, "dibao", valid_from="2026-06-01")
    b.enroll(paid, 2026, "resident", "none", enrolled_from="2026-01-01")
    old = b.person("OLD", "1970-01-01")
    b.category(old, "dibao", valid_from="2025-01-01")
    b.enroll(old, 2026, "resident", "none", enrolled_from="2026-01-01")
    r = b.assess(tmp_path_factory.mktemp("zhoushan_today"), "zhoushan-2019", "2026-11-25")
    r["people"] = dict(october=october, november=november, paid=paid, old=old)
    return r


def _row(result, person, benefit, year=2020):
    return one(result["entitlements"], person_id=result["people"][person], benefit=benefit, year=year)


def test_inpatient_cap_rises_in_2020(result):
    assert money(_row(result, "p1", "inpatient")["expected_assistance"]) == 100000
    row = _row(result, "p1", "inpatient", year=2019)
    assert (money(row["base_amount"]), money(row["expected_assistance"])) == (150000, 80000)


def test_outpatient_cap(result):
    assert money(_row(result, "p2", "outpatient")["expected_assistance"]) == 1500


def test_special_disease_combined_cap(result):
    outpatient = money(_row(result, "p3", "outpatient")["expected_assistance"])
    inpatient = money(_row(result, "p3", "inpatient")["expected_assistance"])
    assert inpatient == 70000
    assert outpatient == 30000  # 35,000 cut to what the 100,000 together leaves
    assert "合计" in _row(result, "p3", "outpatient")["reason"]


def test_rates(result):
    assert money(_row(result, "p4", "inpatient")["expected_assistance"]) == 12345.67
    assert money(_row(result, "p5", "inpatient")["expected_assistance"]) == 6500
    assert money(_row(result, "p8", "inpatient")["expected_assistance"]) == 6000


def test_special_disease_outpatient_cap(result):
    assert money(_row(result, "p9", "outpatient")["expected_assistance"]) == 100000


def test_enrollment_gaps_wait_a_month_for_new_members(result):
    gaps = result["enrollment_gaps"]
    assert rows_for(gaps, person_id=result["people"]["p6"]).empty
    assert one(gaps, person_id=result["people"]["p7"])["issue"] == "not_subsidized"
    assert rows_for(gaps, person_id=result["people"]["p3"]).empty
    assert one(gaps, person_id=result["people"]["p1"])["issue"] == "not_enrolled"


def test_no_candidate_rules(result):
    assert result["candidates"].empty


def test_enrollment_timing_by_calendar_month(today):
    gaps, people = today["enrollment_gaps"], today["people"]
    assert one(gaps, person_id=people["october"])["issue"] == "not_enrolled"
    assert rows_for(gaps, person_id=people["november"]).empty


def test_paid_before_approval_is_subsidised_next_year(today):
    gaps, people = today["enrollment_gaps"], today["people"]
    assert rows_for(gaps, person_id=people["paid"]).empty
    assert one(gaps, person_id=people["old"])["issue"] == "not_subsidized"


def test_warning_levels(result):
    """The pack's warning levels (30% / 40% / 70%): each household at its highest level reached."""
    warnings = result["household_warnings"]
    assert rows_for(warnings, household_id="WARN27").empty
    assert one(warnings, household_id="WARN35")["warning_level"] == "watch"
    assert one(warnings, household_id="WARN60")["warning_level"] == "alert"


@pytest.fixture(scope="module")
def kpis(tmp_path_factory):
    """四(二) 两个百分百, as of 2020-12-31: ten dibao members since 2020-01-01 (held from February,
    二(一) 次月生效), nine enrolled for 2020 with the full subsidy and one not enrolled → 9 / 10 = 90%
    资助参保率. Each had a 1,000 stay (二(二)2 dibao 70% → 700 due); nine were paid the 700 → 9 / 10 = 90%
    政策落实率. Both under the 100% targets."""
    b = Casebook("330902")
    for n in range(10):
        person = b.person(f"KPI{n}", "1970-01-01")
        b.category(person, "dibao", valid_from="2020-01-01")
        if n < 9:
            b.enroll(person, 2020, "resident", "full")
            b.claim(person, "inpatient", "2020-06-01", self_in=300, assistance_paid=700)
        else:
            b.claim(person, "inpatient", "2020-06-01", self_in=1000)
    return b.assess(tmp_path_factory.mktemp("zhoushan_kpis"), "zhoushan-2019", AS_OF)


@pytest.mark.parametrize("target", ["subsidised_enrollment_rate", "policy_implementation_rate"])
def test_fund_targets_of_one_hundred_percent(kpis, target):
    row = one(kpis["fund_kpis"], target=target)
    assert (row["numerator"], row["denominator"], row["kpi_value"], row["target_met"]) == (
        "9.00", "10.00", "0.9000", "false")
