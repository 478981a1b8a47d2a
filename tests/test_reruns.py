"""Reruns and backfills lose nothing: nights run in date order, a late claims file is picked up by the next
night, rerunning a night recomputes it from the nights before and keeps later nights, nothing is re-sent."""
import shutil

import duckdb
import pandas as pd
import pytest
from werkzeug import Response

from poverty_warning import nightly
from poverty_warning.publish.delivery import Webhook
from poverty_warning.workspace import Workspace

FIRST, SECOND, THIRD = "2024-03-29", "2024-03-30", "2024-03-31"
LATE_DAY = "2024-02-15"  # in the warning window (12 whole months before the night's month), six weeks late
LATE_FILE = f"claims/{LATE_DAY}/part-1.csv"
LATE_BURDEN = "150000.00"  # out-of-scope self payment of the late claim: a heavy burden for any household


def _query(ws: Workspace, sql: str, params=()) -> pd.DataFrame:
    con = duckdb.connect(str(ws.duckdb_path))
    try:
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


def _case_log(ws: Workspace, night: str) -> pd.DataFrame:
    return _query(ws, "SELECT * FROM meta.case_log WHERE night = CAST(? AS DATE) ORDER BY case_id", [night])


def _late_claim(feeds, ws: Workspace) -> str:
    """A claim settled on LATE_DAY for a person whose household had no case so far; returns the household."""
    person, household = _query(ws, (
        "SELECT p.person_id, p.household_id FROM intermediate.int_persons_enriched p "
        "WHERE p.household_id NOT IN (SELECT household_id FROM meta.case_log) "
        "AND p.household_id IN (SELECT household_id FROM staging.stg_household_income) "
        "ORDER BY p.person_id LIMIT 1")).iloc[0]
    on_time = pd.read_csv(feeds / "claims" / LATE_DAY / "part-0.csv", dtype=str, keep_default_na=False)
    row = on_time[on_time["visit_type"] != "inpatient"].iloc[0].copy()
    row["claim_id"], row["person_id"] = "CLLATE0000001", person
    row["self_pay_out_scope"] = LATE_BURDEN
    row["total_cost"] = f"{float(row['policy_scope_cost']) + float(LATE_BURDEN):.2f}"
    pd.DataFrame([row]).to_csv(feeds / LATE_FILE, index=False)
    return household


@pytest.fixture(scope="module")
def history(small_city, tmp_path_factory, make_httpserver):
    root = tmp_path_factory.mktemp("reruns")
    feeds = root / "feeds"
    shutil.copytree(small_city, feeds)
    ws = Workspace(root / "data")
    calls = []
    make_httpserver.expect_request("/reruns", method="POST").respond_with_handler(
        lambda request: calls.append(request.headers["Idempotency-Key"]) or Response("ok"))
    webhook = Webhook(make_httpserver.url_for("/reruns"), "test-secret", attempts=2, backoff_seconds=0.01)

    nightly.run_night(ws, feeds, FIRST, "shanghai-2022", webhook=webhook)
    household = _late_claim(feeds, ws)  # arrives after its day's night ran

    ran = []
    original = nightly.run_night
    mp = pytest.MonkeyPatch()
    mp.setattr(nightly, "run_night", lambda ws_, feeds_, night, *a, **k: ran.append(night) or original(
        ws_, feeds_, night, *a, **k))
    outcome = nightly.backfill(ws, feeds, SECOND, THIRD, "shanghai-2022", webhook=webhook)
    mp.undo()
    before = {night: _case_log(ws, night) for night in (FIRST, SECOND, THIRD)}
    deliveries = _query(ws, "SELECT * FROM meta.deliveries ORDER BY idempotency_key")
    calls_before_rerun = len(calls)

    nightly.run_night(ws, feeds, SECOND, "shanghai-2022", webhook=webhook)  # rerun an old night
    yield {"ws": ws, "ran": ran, "outcome": outcome, "household": household, "before": before,
           "deliveries": deliveries, "calls": (calls_before_rerun, len(calls))}
    make_httpserver.clear()


def test_backfill_runs_nights_oldest_first(history):
    assert history["ran"] == [SECOND, THIRD]
    assert history["outcome"] == {SECOND: "published", THIRD: "published"}
    assert nightly.nights_between("2024-02-28", "2024-03-01") == ["2024-02-28", "2024-02-29", "2024-03-01"]
    with pytest.raises(ValueError, match="ends before it starts"):
        nightly.nights_between(THIRD, SECOND)


def test_a_late_claims_file_is_picked_up_by_the_next_night(history):
    ws = history["ws"]
    landed = _query(ws, "SELECT night, delivery_date, rows_loaded FROM meta.landed_files WHERE file = ?", [LATE_FILE])
    assert len(landed) == 1
    assert str(landed["night"][0].date()) == SECOND and str(landed["delivery_date"][0].date()) == LATE_DAY
    assert landed["rows_loaded"][0] == 1
    assert history["before"][FIRST].query("household_id == @history['household']").empty
    cases = history["before"][SECOND].query("household_id == @history['household']")
    assert not cases.empty and set(cases["action"]) == {"new"}, cases
    # The night's own claims file, landed the night before, is still in the lake next to the late one.
    assert _query(ws, "SELECT count(*) AS n FROM raw.claims WHERE _delivery_date = CAST(? AS DATE)",
                  [LATE_DAY])["n"][0] > 1


def test_rerunning_an_old_night_keeps_later_nights_and_recomputes_the_same(history):
    ws, before = history["ws"], history["before"]
    assert len(before[THIRD]) > 0
    for night in (FIRST, SECOND, THIRD):
        pd.testing.assert_frame_equal(_case_log(ws, night), before[night], obj=f"case log of {night}")


def test_a_rerun_delivers_nothing_again(history):
    calls_before, calls_after = history["calls"]
    assert calls_before > 0 and calls_after == calls_before
    after = _query(history["ws"], "SELECT * FROM meta.deliveries ORDER BY idempotency_key")
    assert set(after["idempotency_key"]) == set(history["deliveries"]["idempotency_key"])
    assert (after["status"] == "delivered").all()
