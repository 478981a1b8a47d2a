"""Hostile values cannot hurt the night: a code that would be a path is quarantined, the other
sub-districts' lists go out, and nothing is written outside the data root."""
import shutil

import duckdb
import pandas as pd
import pytest

from poverty_warning import nightly
from poverty_warning.publish.delivery import write_outbox
from poverty_warning.workspace import UnsafePath, Workspace, under

from .conftest import read_csv

NIGHT = "2024-03-31"
HOSTILE_CODES = ("../../../escaped_outbox", "..")


def _tree(folder):
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


@pytest.mark.parametrize("parts", [("..",), (".",), ("",), ("a/b",), ("../x",), ("a\\b",), ("x\x00",),
                                   ("2024-03-31", ".."), ("é" * 200,)])
def test_names_that_would_leave_their_folder_are_refused(tmp_path, parts):
    with pytest.raises(UnsafePath) as caught:
        under(tmp_path, *parts)
    assert ".." not in str(caught.value).replace(str(tmp_path), "")  # the refused value is not repeated


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "inside").mkdir()
    (tmp_path / "inside" / "link").symlink_to(tmp_path)
    assert under(tmp_path / "inside", "310112005", NIGHT) == tmp_path / "inside" / "310112005" / NIGHT
    with pytest.raises(UnsafePath):
        under(tmp_path / "inside", "link", "x")


def test_outbox_writes_every_safe_subdistrict_and_skips_a_hostile_code(tmp_path):
    """The last guard, should a code ever reach publishing unvalidated."""
    sandbox = tmp_path / "sandbox"
    outbox = sandbox / "a" / "b" / "data" / "outbox"
    row = {"sent": True, "list_kind": "warning", "level": 1, "case_id": "K1", "action_taken": "new",
           "priority": "高", "household_id": "HH-1", "person_name": "居民", "masked_id": "310112********0033",
           "age": 40, "category_zh": "低保", "burden": 1.0, "income": 2.0, "ratio": 0.5, "expected": 0.0,
           "paid": 0.0, "risk_score": None, "risk_band": None, "reason": "r", "action": "a",
           "subdistrict_name": "街道", "list_rank": 1}
    from poverty_warning.publish.workbook import LIST_COLUMNS  # every column a list shows, empty where unused

    row = {**{c.key: None for cols in LIST_COLUMNS.values() for c in cols}, **row}
    codes = ["310112005", *HOSTILE_CODES, "310112006"]
    items = pd.DataFrame([{**row, "case_id": f"K{i}", "subdistrict_code": c} for i, c in enumerate(codes)])
    referrals = pd.DataFrame([{"program_id": p, "program_name": "项目", "case_id": "K9", "household_id": "HH-1",
                               "person_name": "居民", "masked_id": "310112********0033", "age": 40,
                               "diagnoses": "C34", "burden_12_months": 1.0, "suggested_amount": 2.0}
                              for p in ("CP01", "../../../../escaped_charity")])
    from poverty_warning.publish.delivery import REFERRAL_COLUMNS

    referrals = referrals.reindex(columns=list(dict.fromkeys([*referrals.columns, *(c for c, _ in REFERRAL_COLUMNS)])))
    written = write_outbox(outbox, NIGHT, items, referrals)
    assert [p.relative_to(outbox).as_posix() for p in written] == [
        f"310112005/{NIGHT}", f"310112006/{NIGHT}", f"charity/CP01/{NIGHT}"]
    outside = {p for p in _tree(sandbox) if not p.startswith("a/b/data/outbox")}
    assert outside == {"a", "a/b", "a/b/data"}


@pytest.fixture(scope="module")
def hostile_night(small_city, tmp_path_factory):
    """The small city with two residents' sub-district codes made hostile, run through one night."""
    sandbox = tmp_path_factory.mktemp("hostile")
    feeds = sandbox / "feeds"
    shutil.copytree(small_city, feeds)
    persons_csv = feeds / "persons" / "part-0.csv"
    persons = read_csv(persons_csv)
    # The heads of the two households with the largest self-pay: the likeliest to be on a list.
    con = duckdb.connect()
    spend = con.execute(
        f"SELECT person_id, sum(CAST(self_pay_in_scope AS DOUBLE) + CAST(self_pay_out_scope AS DOUBLE)) AS paid "
        f"FROM read_csv('{feeds}/claims/*/*.csv', all_varchar = true) GROUP BY person_id").df()
    con.close()
    heads = persons[persons["relation"] == "head"].merge(spend, on="person_id").nlargest(2, "paid")
    for code, person_id in zip(HOSTILE_CODES, heads["person_id"]):
        persons.loc[persons["person_id"] == person_id, "subdistrict_code"] = code
    persons.to_csv(persons_csv, index=False, encoding="utf-8-sig")
    ws = Workspace(sandbox / "a" / "b" / "data")
    result = nightly.run_night(ws, feeds, NIGHT, "shanghai-2022", webhook=None)
    return {"sandbox": sandbox, "ws": ws, "result": result, "hostile_ids": list(heads["person_id"])}


def test_hostile_codes_are_quarantined_and_every_other_subdistrict_published(hostile_night):
    ws, result = hostile_night["ws"], hostile_night["result"]
    quarantine = read_csv(ws.outputs(NIGHT) / "quarantine.csv")
    persons_q = quarantine[quarantine["feed"] == "persons"]
    assert len(persons_q) == 2
    assert persons_q["reason"].str.contains("subdistrict_code 格式错误").all()
    con = duckdb.connect(str(ws.duckdb_path))
    listed = {c for (c,) in con.execute("SELECT DISTINCT subdistrict_code FROM meta.case_log "
                                        "WHERE night = CAST(? AS DATE)", [NIGHT]).fetchall()}
    landed_persons = {p for (p,) in con.execute("SELECT person_id FROM raw.persons").fetchall()}
    con.close()
    assert not set(hostile_night["hostile_ids"]) & landed_persons
    folders = {p.name for p in ws.outbox.iterdir() if p.name != "charity"}
    assert len(listed) >= 10 and folders == listed
    assert all(code.isdigit() and len(code) == 9 for code in folders)
    assert result["outbox_folders"] >= len(listed)


def test_nothing_is_written_outside_the_data_root(hostile_night):
    sandbox = hostile_night["sandbox"]
    outside = {p for p in _tree(sandbox) if not p.startswith(("a/b/data", "feeds"))}
    assert outside == {"a", "a/b"}
