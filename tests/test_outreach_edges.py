"""Outreach at its edges, read from what the workers get (the outbox's CSVs) and the case log, over two
real nights of shanghai-2022: the warning levels at exactly 30%, 40% and 70% of income (and a cent below),
the 应救未救 minimum of 50 yuan (and a cent below), and the 30-day cool-down at exactly 30 days
(poverty_warning/policy/shanghai-2022.yaml warning_levels; poverty_warning/defaults/outreach.yaml)."""
import duckdb
import pandas as pd
import pytest

from poverty_warning import nightly
from poverty_warning.contract.vocabulary import LIST_TITLES
from poverty_warning.outreach.cases import case_id
from poverty_warning.workspace import Workspace

from .casebook import Casebook

FIRST, DAY_30 = "2024-03-10", "2024-04-09"  # the cool-down is 30 days (shorter gaps: test_outreach.py)
POLICY = "shanghai-2022"
# Burden over the 12 whole months before the night (personal burden), against 100,000 of income.
WARNINGS = {"AT30": (30000.00, "关注"), "BELOW30": (29999.99, None), "AT40": (40000.00, "预警"),
            "BELOW40": (39999.99, "关注"), "AT70": (70000.00, "严重"), "BELOW70": (69999.99, "预警")}


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("edges")
    b = Casebook("310112")
    for household, (burden, _) in WARNINGS.items():
        person = b.household(household, 1, income=100000)[0]
        b.claim(person, "outpatient", "2023-06-01", self_in=burden)
    # 门急诊 for dibao at 60% (seed 001): a base (self-pay + assistance) of 1,000 is due 600;
    # 550 paid leaves 50.00 unpaid (listed), 550.01 paid leaves 49.99 (not listed).
    unpaid = {}
    for name, paid in (("UNPAID50", 550.00), ("UNPAID4999", 550.01)):
        person = b.person(name, "1980-01-01")
        b.category(person, "dibao")
        b.claim(person, "emergency", "2024-01-15", self_in=round(1000 - paid, 2), assistance_paid=paid)
        unpaid[name] = person
    b.parameter("city_per_capita_disposable_income", 2023, 84834)
    b.parameter("dibao_monthly", 2024, 1510)
    feeds = b.write(root / "feeds")
    ws = Workspace(root / "data")
    for night in (FIRST, DAY_30):
        nightly.run_night(ws, feeds, night, POLICY, expect_daily_claims=False)
    con = duckdb.connect(str(ws.duckdb_path))
    log = con.execute("SELECT CAST(night AS VARCHAR) AS night, case_id, household_id, list_kind, action "
                      "FROM meta.case_log").df()
    con.close()
    return {"ws": ws, "log": log}


def _list(ws: Workspace, night: str, kind: str) -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype=str, encoding="utf-8-sig", keep_default_na=False)
              for p in ws.outbox.glob(f"[0-9]*/{night}/{LIST_TITLES[kind]}.csv")]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["家庭编号", "原因"])


def test_warning_levels_at_exactly_their_ratio(nights):
    listed = _list(nights["ws"], FIRST, "warning").set_index("家庭编号")["原因"]
    labels = {h: listed[h].split("：")[0] for h in listed.index if h in WARNINGS}
    assert labels == {h: label for h, (_, label) in WARNINGS.items() if label}


def test_unpaid_assistance_is_listed_from_fifty_yuan(nights):
    listed = _list(nights["ws"], FIRST, "unpaid")
    assert list(listed["家庭编号"]) == ["UNPAID50"]
    assert "已支付550.00元" in listed["原因"].iloc[0] and "600.00" in listed["原因"].iloc[0]


def test_a_case_comes_back_after_exactly_the_cool_down(nights):
    log = nights["log"]
    case = case_id(POLICY, "AT30", "warning")
    actions = dict(zip(log[log["case_id"] == case]["night"], log[log["case_id"] == case]["action"]))
    assert actions == {FIRST: "new", DAY_30: "reminder"}
    reminded = _list(nights["ws"], DAY_30, "warning").set_index("家庭编号")
    assert reminded.loc["AT30", "案件状态"] == "再次提醒"
