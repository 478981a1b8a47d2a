"""The early-warning model's label is the policy's own rule as the lists apply it (issue 16, item 2):
int_rule_verdicts_monthly judges every rule at every month-end, and fct_household_features labels a month
by those verdicts over the next six months."""
import shutil

import duckdb
import pandas as pd
import pytest

from poverty_warning import nightly
from poverty_warning.workspace import Workspace

from .test_risk_model import CUT_END, _perturb_everything_after_month

NIGHT = "2024-03-31"
EARLIER_NIGHT = "2023-10-31"


def _night(feeds, root, night=NIGHT):
    ws = Workspace(root)
    nightly.ingest(ws, feeds, night)
    nightly.transform(ws, night, "shanghai-2022")
    return ws.duckdb_path


def _query(db, sql):
    con = duckdb.connect(str(db))  # the in-process dbt build still holds the file
    try:
        return con.execute(sql).df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouse(small_city, tmp_path_factory):
    return _night(small_city, tmp_path_factory.mktemp("label") / "night")


def _identified(db, month=None):
    where = f"AND month_start = DATE '{month}'" if month else ""
    frame = _query(db, f"SELECT DISTINCT household_id, month_start FROM intermediate.int_rule_verdicts_monthly "
                       f"WHERE meets_rule {where}")
    return frame


def _candidates(db):
    return set(_query(db, "SELECT DISTINCT household_id FROM marts.fct_candidates")["household_id"])


def test_month_end_verdicts_are_the_lists_of_those_nights(small_city, warehouse, tmp_path):
    """The verdict for the month being run is tonight's candidate list; the verdict for an earlier
    month-end is the list that night's run made from the same feeds."""
    tonight = set(_identified(warehouse, "2024-03-01")["household_id"])
    assert tonight and tonight == _candidates(warehouse)
    earlier = _night(small_city, tmp_path / "earlier", EARLIER_NIGHT)
    then = set(_identified(warehouse, "2023-10-01")["household_id"])
    assert then and then == _candidates(earlier)


def test_the_label_reads_the_verdicts_not_the_ratio(warehouse):
    """A month is labelled 1 when the household is not identified at M and is at some month-end of the next
    six, 0 when it is not within six complete months; an identified month has no label."""
    features = _query(warehouse, "SELECT household_id, feature_month, label, label_complete, at_line_now, rule_ratio, "
                                 "alert_ratio FROM marts.fct_household_features")
    identified = _identified(warehouse).rename(columns={"month_start": "feature_month"}).assign(hit=True)
    frame = features.merge(identified, on=["household_id", "feature_month"], how="left")
    frame["hit"] = frame["hit"].fillna(False).astype(bool)
    assert (frame["at_line_now"].astype(bool) == frame["hit"]).all()
    frame = frame.sort_values(["household_id", "feature_month"])
    ahead = {h: set(g.loc[g["hit"], "feature_month"]) for h, g in frame.groupby("household_id")}
    labelled = frame[frame["label"].notna()]
    for row in labelled.itertuples():
        window = {row.feature_month + pd.DateOffset(months=k) for k in range(1, 7)}
        assert row.label == (1 if window & ahead[row.household_id] else 0), row
    assert frame.loc[frame["hit"], "label"].isna().all()
    assert labelled["label"].sum() > 0
    # The rule is more than the ratio: some month reaches the 40% alert ratio and still is not identified
    # (per-capita income or assets fail), so it is labelled like any other.
    over_ratio = labelled[labelled["rule_ratio"] >= labelled["alert_ratio"]]
    assert len(over_ratio) > 0


def test_verdicts_for_a_month_use_nothing_after_it(small_city, warehouse, tmp_path):
    """Perturb everything the feeds date after month M (claims, late stays, reversals, income, categories,
    births, enrollment): every verdict at a month-end up to M stays the same, and labels of months whose
    six months ahead end by M too; the perturbation shows in later verdicts."""
    altered = tmp_path / "altered"
    shutil.copytree(small_city, altered)
    _perturb_everything_after_month(altered)
    other = _night(altered, tmp_path / "altered-night")
    cut = pd.Timestamp(CUT_END).replace(day=1)
    columns = ("rule, household_id, person_id, month_start, evaluated_on, burden_amount, income_amount, "
               "household_size, meets_threshold, meets_income_line, meets_assets_test, meets_rule")
    sql = f"SELECT {columns} FROM intermediate.int_rule_verdicts_monthly ORDER BY rule, household_id, month_start"
    before, after = _query(warehouse, sql), _query(other, sql)
    key = ["rule", "household_id", "month_start"]
    a = before[before["month_start"] <= cut].set_index(key).sort_index()
    b = after[after["month_start"] <= cut].set_index(key).sort_index()
    assert len(a) > 100 and a["meets_rule"].any()
    pd.testing.assert_frame_equal(a, b)
    later_a = before[before["month_start"] > cut].set_index(key).sort_index()
    later_b = after[after["month_start"] > cut].set_index(key).sort_index()
    assert not later_a.equals(later_b)
    labels = "SELECT household_id, feature_month, label FROM marts.fct_household_features ORDER BY 1, 2"
    last_complete = cut - pd.DateOffset(months=6)
    la, lb = _query(warehouse, labels), _query(other, labels)
    pd.testing.assert_frame_equal(la[la["feature_month"] <= last_complete].reset_index(drop=True),
                                  lb[lb["feature_month"] <= last_complete].reset_index(drop=True))
