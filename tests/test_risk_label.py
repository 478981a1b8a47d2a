"""The early-warning model's label is the policy's own rule as the lists apply it (issue 16, item 2):
int_rule_verdicts_monthly judges every rule at every month-end, and fct_household_labels labels a month
by those verdicts over the next six months. Both are training-only models: a night does not build them, so
each warehouse here has them built the way training builds them (training.build_training_models)."""
import shutil

import duckdb
import pandas as pd
import pytest

from poverty_warning import nightly
from poverty_warning.training import build_training_models
from poverty_warning.workspace import Workspace

from .test_risk_model import CUT_END, _perturb_everything_after_month

NIGHT = "2024-03-31"
EARLIER_NIGHT = "2023-10-31"


def _night(feeds, root, night=NIGHT):
    ws = Workspace(root)
    nightly.ingest(ws, feeds, night)
    nightly.transform(ws, night, "shanghai-2022")
    build_training_models(ws.duckdb_path)
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
                                 "alert_ratio FROM marts.fct_household_features "
                                 "JOIN marts.fct_household_labels USING (household_id, feature_month)")
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
    labels = "SELECT household_id, feature_month, label FROM marts.fct_household_labels ORDER BY 1, 2"
    last_complete = cut - pd.DateOffset(months=6)
    la, lb = _query(warehouse, labels), _query(other, labels)
    pd.testing.assert_frame_equal(la[la["feature_month"] <= last_complete].reset_index(drop=True),
                                  lb[lb["feature_month"] <= last_complete].reset_index(drop=True))


def test_a_policy_without_a_rule_learns_its_alert_warning_level():
    """zhoushan-2019 has no candidate rule: the label is its pack's alert level (40%), named with its clause."""
    from poverty_warning import training
    from poverty_warning.risk.card import _label

    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    con.execute("CREATE TABLE staging.stg_policy__rules (policy_id VARCHAR, rule VARCHAR, threshold_clause VARCHAR)")
    con.execute("INSERT INTO staging.stg_policy__rules VALUES ('shanghai-2022', 'expenditure_poverty_type2', "
                "'seed 001, 四 第二类')")
    con.execute("CREATE TABLE staging.stg_policy__warning_levels (policy_id VARCHAR, warning_level VARCHAR, "
                "ratio DECIMAL(9, 4), clause VARCHAR)")
    con.execute("INSERT INTO staging.stg_policy__warning_levels VALUES "
                "('zhoushan-2019', 'watch', 0.3, 'configurable'), "
                "('zhoushan-2019', 'alert', 0.4, 'configurable: the national 40% line (seed 001, 四)')")
    label = training._label_of(con, "zhoushan-2019")
    assert label == {"kind": "warning_level", "level": "alert", "ratio": 0.4,
                     "clause": "configurable: the national 40% line (seed 001, 四)"}
    assert "reaches 40% (configurable: the national 40% line (seed 001, 四))" in _label(label, "zhoushan-2019")
    assert training._label_of(con, "shanghai-2022") == {
        "kind": "rule", "rules": [{"rule": "expenditure_poverty_type2", "clause": "seed 001, 四 第二类"}]}


# Wuhai judges the calendar year to date: its night is a year end, when the year holds enough costs.
@pytest.mark.parametrize("city, persons, night", [("wuhai", 1500, "2023-12-31"), ("zhoushan", 1500, NIGHT)])
def test_every_pack_labels_by_its_own_lists(city, persons, night, tmp_path):
    """Wuhai (a ratio rule with a monthly income line and a catastrophic multiplier): the month being run is
    judged exactly as tonight's candidates. Zhoushan has no rule: no verdicts, and a month is identified when
    its burden ratio reaches the alert level. (Taizhou's member rule: the test below.)"""
    import datetime as dt

    from poverty_warning.synth.cities import CITIES
    from poverty_warning.synth.generator import generate

    generate(city, persons, dt.date(2023, 1, 1), dt.date.fromisoformat(night), 5, tmp_path / "feeds")
    ws = Workspace(tmp_path / "night")
    nightly.ingest(ws, tmp_path / "feeds", night)
    nightly.transform(ws, night, CITIES[city].policy_id)
    build_training_models(ws.duckdb_path)
    verdicts = _query(ws.duckdb_path, "SELECT household_id, person_id FROM intermediate.int_rule_verdicts_monthly "
                                      f"WHERE meets_rule AND month_start = DATE '{night[:8]}01'")
    candidates = _query(ws.duckdb_path, "SELECT household_id, person_id FROM marts.fct_candidates")
    features = _query(ws.duckdb_path, "SELECT at_line_now, rule_ratio, alert_ratio FROM marts.fct_household_features "
                                      "JOIN marts.fct_household_labels USING (household_id, feature_month) "
                                      "WHERE rule_ratio IS NOT NULL")
    if city == "zhoushan":
        assert _query(ws.duckdb_path, "SELECT count(*) AS n FROM intermediate.int_rule_verdicts_monthly")["n"][0] == 0
        assert (features["at_line_now"] == (features["rule_ratio"] >= features["alert_ratio"])).all()
        assert features["at_line_now"].any()
    else:
        key = lambda f: sorted(zip(f["household_id"], f["person_id"].fillna("")))  # noqa: E731
        assert len(candidates) and key(verdicts) == key(candidates)


def test_a_member_rule_is_judged_at_each_month_end(tmp_path):
    """taizhou-2017, seed 003, 一(一): a low-income member's in-scope inpatient self-pay after insurance in the
    year reaches 10,000 (含). LOW10K's member: 4,000 self-pay + 2,000 assistance paid on 2023-02-01 is 6,000
    (not met in February to April); another 4,000 on 2023-05-01 makes 10,000 (met from May). LOWBELOW's
    9,999.99 never meets it; DIBAO20K's member is not low-income. Each month's verdict names the member, and
    the last one is the night's candidate list."""
    from .casebook import Casebook

    b = Casebook("321202")
    low = b.household("LOW10K", 3, income=30000)
    below = b.household("LOWBELOW", 2, income=30000)
    dibao = b.household("DIBAO20K", 2, income=30000)
    for p in low + below:
        b.category(p, "low_income")
    for p in dibao:
        b.category(p, "dibao")
    b.claim(low[0], "inpatient", "2023-02-01", self_in=4000, assistance_paid=2000)
    b.claim(low[0], "inpatient", "2023-05-01", self_in=4000)
    b.claim(below[0], "inpatient", "2023-05-01", self_in=9999.99)
    b.claim(dibao[0], "inpatient", "2023-05-01", self_in=20000)
    for month in range(2, 11):  # a claim settled every month, so every month-end is judged
        b.claim(low[1], "outpatient", f"2023-{month:02d}-10", self_in=10)
    feeds = b.write(tmp_path / "feeds")
    ws = Workspace(tmp_path / "night")
    nightly.ingest(ws, feeds, "2023-10-15")
    nightly.transform(ws, "2023-10-15", "taizhou-2017")
    build_training_models(ws.duckdb_path)
    verdicts = _query(ws.duckdb_path, "SELECT household_id, person_id, month_start, burden_amount, meets_rule "
                                      "FROM intermediate.int_rule_verdicts_monthly ORDER BY household_id, month_start")
    mine = verdicts[verdicts["household_id"] == "LOW10K"]
    assert list(mine["person_id"].unique()) == [low[0]]
    by_month = {str(m.date())[:7]: (float(a), bool(r)) for m, a, r in
                zip(mine["month_start"], mine["burden_amount"], mine["meets_rule"])}
    assert by_month == {"2023-02": (6000.0, False), "2023-03": (6000.0, False), "2023-04": (6000.0, False),
                        **{f"2023-{m:02d}": (10000.0, True) for m in range(5, 11)}}
    assert not verdicts.loc[verdicts["household_id"] != "LOW10K", "meets_rule"].any()
    assert set(verdicts["household_id"]) == {"LOW10K", "LOWBELOW"}
    candidates = _query(ws.duckdb_path, "SELECT household_id, person_id FROM marts.fct_candidates")
    assert list(zip(candidates["household_id"], candidates["person_id"])) == [("LOW10K", low[0])]
