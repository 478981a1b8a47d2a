"""The batch gate (expectations/batch_checks.yaml) at its edges, on landed feeds: quarantine rate over 1% warns
and over 5% holds the lists; tonight's claims under 60% of the trailing median hold, under 80% or over 160%
warn; a shift in claim amounts (PSI over 0.25, from 200 claims) warns."""
import datetime as dt

import duckdb
import pandas as pd
import pytest

from poverty_warning.contract import ids
from poverty_warning.ingest import landing
from poverty_warning.quality import batch_checks

NIGHT = dt.date(2024, 3, 31)


def _claim(i: int, person: str, day: dt.date, cost: float, visit_type: str = "outpatient") -> dict:
    amount = f"{cost:.2f}"  # all in scope, all self-paid: both identities hold
    return {"claim_id": f"C{day:%m%d}{i:05d}", "person_id": person, "visit_type": visit_type, "admit_date": "",
            "discharge_date": "", "settle_date": day.isoformat(), "hospital_level": "2", "total_cost": amount,
            "policy_scope_cost": amount, "basic_fund_paid": "0", "critical_illness_paid": "0", "assistance_paid": "0",
            "other_paid": "0", "self_pay_in_scope": amount, "self_pay_out_scope": "0", "reversal_of": ""}


def judge(tmp_path, tonight: int, earlier: list[int], bad_tonight: int = 0, tonight_cost: float = 50.0,
          ) -> batch_checks.Verdict:
    """Land `earlier` nights of claims (rows per night, the last one yesterday) and tonight's, then judge."""
    people = [ids.make("310112", dt.date(1980, 1, 1), i) for i in range(20)]
    feeds = tmp_path / "feeds"
    for name in ("persons", "household_income"):
        (feeds / name).mkdir(parents=True)
    pd.DataFrame({"person_id": people, "household_id": [f"H{i:02d}" for i in range(20)],
                  "subdistrict_code": "310112005"}).to_csv(feeds / "persons" / "part-0.csv", index=False)
    pd.DataFrame({"household_id": [f"H{i:02d}" for i in range(20)], "annual_disposable_income": "60000",
                  "assessed_on": "2023-06-01"}).to_csv(feeds / "household_income" / "part-0.csv", index=False)
    nights = [(NIGHT - dt.timedelta(days=len(earlier) - k), n, 50.0, 0) for k, n in enumerate(earlier)]
    for day, rows, cost, bad in nights + [(NIGHT, tonight, tonight_cost, bad_tonight)]:
        folder = feeds / "claims" / day.isoformat()
        folder.mkdir(parents=True)
        claims = [_claim(i, people[i % 20], day, cost, "门诊" if i < bad else "outpatient") for i in range(rows)]
        pd.DataFrame(claims).to_csv(folder / "part-0.csv", index=False)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    landing.land(con, tmp_path / "lake", feeds, NIGHT.isoformat())
    return batch_checks.judge(con, NIGHT.isoformat())


def _messages(verdict, check: str) -> list[tuple[str, str]]:
    return [(f.severity, f.message) for f in verdict.findings if f.check == check]


@pytest.mark.parametrize("bad, expected", [
    (1, []),  # 1/100 = 1%: not over the warning line
    (2, [("warning", "医保结算数据隔离率2.0%（2/100行）")]),
    (5, [("warning", "医保结算数据隔离率5.0%（5/100行）")]),  # exactly 5%: warns, does not hold
    (6, [("critical", "医保结算数据隔离率6.0%（6/100行），超过5%的上限")]),
])
def test_quarantine_rate_warns_over_one_percent_and_holds_over_five(tmp_path, bad, expected):
    verdict = judge(tmp_path, tonight=100, earlier=[], bad_tonight=bad)
    assert _messages(verdict, "quarantine") == expected
    assert verdict.may_publish == (bad <= 5)


@pytest.mark.parametrize("tonight, expected", [
    (59, [("critical", "当晚结算记录59条，仅为近7晚中位数100条的59%，疑似数据未送全")]),
    (60, [("warning", "当晚结算记录60条，为近7晚中位数100条的60%")]),  # exactly 60%: warns, does not hold
    (79, [("warning", "当晚结算记录79条，为近7晚中位数100条的79%")]),
    (80, []),
    (160, []),
    (161, [("warning", "当晚结算记录161条，为近7晚中位数100条的161%")]),
])
def test_claims_volume_against_the_trailing_median(tmp_path, tonight, expected):
    verdict = judge(tmp_path, tonight=tonight, earlier=[90, 100, 100, 120, 100, 95, 130])  # median 100
    assert _messages(verdict, "volume") == expected
    assert verdict.may_publish == (tonight >= 60)
    assert verdict.figures["claims_rows_trailing_median"] == 100


def test_volume_is_not_judged_before_seven_earlier_deliveries(tmp_path):
    verdict = judge(tmp_path, tonight=10, earlier=[100] * 6)
    assert _messages(verdict, "volume") == [] and verdict.may_publish


@pytest.mark.parametrize("tonight, cost, expected", [
    # Every earlier claim costs 50 (band < 100); tonight all cost 500 (band 300–1000):
    # PSI = 2 × (1 − 0.0001) × ln(1 / 0.0001) = 18.42
    (200, 500.0, [("warning", "当晚结算金额的分布与近7晚明显不同（PSI=18.42，超过0.25）")]),
    (199, 500.0, []),  # fewer than 200 claims tonight: too few to judge
    (200, 50.0, []),  # the same distribution
])
def test_a_shift_in_claim_amounts_warns(tmp_path, tonight, cost, expected):
    verdict = judge(tmp_path, tonight=tonight, earlier=[200] * 7, tonight_cost=cost)
    assert _messages(verdict, "drift") == expected
    assert verdict.may_publish

