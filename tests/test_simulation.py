"""Policy simulation on the contract example's warehouse: no change reproduces the night, a lower threshold never
finds fewer households, a rate change moves the fund by an amount worked by hand."""
import duckdb
import pytest

from poverty_warning.ingest import landing
from poverty_warning.simulation import ScenarioError, scenario_policy, simulate
from poverty_warning.transform import transform
from poverty_warning.workspace import Workspace

from .conftest import EXAMPLES

AS_OF = "2024-03-10"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("sim")).ensure()
    con = duckdb.connect(str(ws.duckdb_path))
    landing.land(con, ws.lake, EXAMPLES / "shanghai-2022" / "feeds", AS_OF)
    con.close()
    transform(ws, AS_OF, "shanghai-2022")
    return ws


def _entitlements(ws):
    con = duckdb.connect(str(ws.duckdb_path))
    try:
        return con.execute("SELECT person_id, benefit, category, base_amount, expected_assistance "
                           "FROM marts.fct_entitlements WHERE year = 2024 ORDER BY ALL").fetchall()
    finally:
        con.close()


def test_no_change_reproduces_the_night_and_leaves_it_untouched(warehouse, tmp_path):
    before = _entitlements(warehouse)
    figures = simulate(warehouse, "shanghai-2022", AS_OF, [], tmp_path / "s")
    assert figures["households_delta"] == 0 and figures["fund_delta"] == 0
    assert figures["households_base"] == 1  # HH-A, the contract example's one candidate
    assert _entitlements(warehouse) == before  # the night's warehouse is not touched


def test_a_lower_threshold_never_finds_fewer_households(warehouse, tmp_path):
    lower = simulate(warehouse, "shanghai-2022", AS_OF,
                     ["rules.expenditure_poverty_type2.threshold=0.05"], tmp_path / "s")
    assert lower["households_scenario"] >= lower["households_base"]


def test_a_rate_change_moves_the_fund_by_the_base_times_the_rate_change(warehouse, tmp_path):
    # The example's 2024 entitlement: HH-C's dibao member, 500 of outpatient base at 60% (seed 001, 二(二)4).
    assert ("310112198001010113", "outpatient", "dibao") in [r[:3] for r in _entitlements(warehouse)]
    figures = simulate(warehouse, "shanghai-2022", AS_OF, ["benefits.outpatient.rates.0.rate=0.70"], tmp_path / "s")
    # 60% -> 70% of 500: 50.00 more from the fund, and the lists do not change.
    assert figures["fund_base"] == 300.00 and figures["fund_delta"] == 50.00
    assert figures["households_delta"] == 0


def test_an_unknown_key_names_the_keys_near_it():
    with pytest.raises(ScenarioError, match="keys near it: .*rules.expenditure_poverty_type2.threshold"):
        scenario_policy("shanghai-2022", ["rules.expenditure_poverty_type2.treshold=0.3"])
    with pytest.raises(ScenarioError, match="breaks shanghai-2022"):
        scenario_policy("shanghai-2022", ["rules.expenditure_poverty_type2.threshold=7"])
