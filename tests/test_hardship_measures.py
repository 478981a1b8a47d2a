"""Hardship measures beside the city rule, on the contract example worked by hand.

HH-A (3 members): 47,000 of personal burden in the 12 whole months before 2024-03 against 110,000 of income.
SDG 3.8.2: 47,000 > 10% and > 25% of 110,000. Capacity to pay: 110,000 - 1,510 x 12 x 3 = 55,640, and
47,000 >= 40% x 55,640 = 22,256. National line: 47,000 > 50% x 84,834 (Shanghai 2023) = 42,417.
"""
import pytest

from poverty_warning.policy import PolicyError
from poverty_warning.policy.hardship import load_measure_file, load_measures

from .conftest import EXAMPLES, read_csv


def test_assess_writes_every_measure_beside_the_city_rule(tmp_path):
    from poverty_warning.nightly import assess

    counts = assess(EXAMPLES / "shanghai-2022" / "feeds", "shanghai-2022", "2024-03-10", tmp_path)
    assert counts["candidates.csv"] == 1  # the contract's five files are unchanged
    rows = read_csv(tmp_path / "hardship_measures.csv")
    hh_a = {r["measure"]: r for r in rows[rows["household_id"] == "HH-A"].to_dict("records")}
    assert {m: r["met"] for m, r in hh_a.items()} == {
        "sdg_3_8_2_10": "true", "sdg_3_8_2_25": "true", "capacity_to_pay_40": "true",
        "national_monitoring_line": "true", "city_rule": "true"}
    assert hh_a["capacity_to_pay_40"]["reference_amount"] == "55640.00"
    assert hh_a["national_monitoring_line"]["reference_amount"] == "84834.00"
    assert hh_a["sdg_3_8_2_10"]["oop_share"] == "0.4273"


def test_every_measure_file_names_its_source_and_figures():
    measures = {m.measure: m for m in load_measures()}
    assert set(measures) == {"sdg_3_8_2_10", "sdg_3_8_2_25", "capacity_to_pay_40", "national_monitoring_line"}
    assert (measures["sdg_3_8_2_10"].threshold, measures["sdg_3_8_2_25"].threshold) == (0.10, 0.25)
    assert measures["capacity_to_pay_40"].subsistence_parameter == "dibao_monthly"


def test_a_broken_measure_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "odd.yaml"
    bad.write_text("measure: odd\nlabel_zh: 测试\nkind: share_of_capacity_to_pay\nthreshold: 0.4\ncomparison: '>='\n"
                   "source: somewhere long enough\nreading: read it like this\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="odd.yaml: .*subsistence_parameter"):
        load_measure_file(bad)
