"""Lists, cases, referrals and their delivery, through real dag.test() nights and a local webhook."""
import json
import re
import shutil

import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook
from werkzeug import Response

from poverty_warning import airflow_local
from poverty_warning.contract import ids
from poverty_warning.outreach import cases as outreach
from poverty_warning.publish.delivery import COLUMNS
from poverty_warning.contract.vocabulary import LIST_TITLES
from poverty_warning.warehouse import create_tables
from poverty_warning.workspace import Workspace

NIGHT, NEXT = "2024-03-30", "2024-03-31"
ID_LIKE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])")


def full_ids_in(text: str) -> list[str]:
    return [m for m in ID_LIKE.findall(text) if ids.is_valid(m)]


class Receiver:
    """A webhook receiver that fails its first `fail_first` calls and dedupes on the idempotency key."""

    def __init__(self, fail_first: int):
        self.fail_first, self.calls, self.accepted = fail_first, 0, {}

    def __call__(self, request):
        self.calls += 1
        if self.calls <= self.fail_first:
            return Response("busy", status=503)
        key = request.headers["Idempotency-Key"]
        assert request.headers["X-Signature"].startswith("sha256=")
        self.accepted.setdefault(key, []).append(json.loads(request.get_data()))
        return Response("ok", status=200)


@pytest.fixture(scope="module")
def nights(small_city, tmp_path_factory, make_httpserver):
    root = tmp_path_factory.mktemp("outreach")
    feeds = root / "feeds"
    shutil.copytree(small_city, feeds)
    shutil.rmtree(feeds / "claims" / NEXT)  # the next night gets its own delivery below
    mp = pytest.MonkeyPatch()
    mp.setenv("POVERTY_WARNING_DATA", str(root / "data"))
    mp.setenv("POVERTY_WARNING_WEBHOOK_URL", make_httpserver.url_for("/lists"))
    mp.setenv("POVERTY_WARNING_WEBHOOK_SECRET", "test-secret")
    mp.setenv("POVERTY_WARNING_WEBHOOK_BACKOFF", "0.01")
    receiver = Receiver(fail_first=3)
    make_httpserver.expect_request("/lists", method="POST").respond_with_handler(receiver)
    conf = {"policy_id": "shanghai-2022", "feeds_dir": str(feeds)}
    ws = Workspace(root / "data")

    def run(night):
        run = airflow_local.run_night(root / "airflow", night, conf)
        return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}

    first = run(NIGHT)
    calls_after_first = receiver.calls
    rerun = run(NIGHT)
    calls_after_rerun = receiver.calls
    # The next night: its claims, and the workers' feedback on some of last night's cases.
    shutil.copytree(small_city / "claims" / NEXT, feeds / "claims" / NEXT)
    items = _sent_items(ws, NIGHT)
    referral = items[items["list_kind"] == "referral_consent"].head(1)
    approved = items[items["list_kind"] == "warning"].head(1)
    feedback = pd.DataFrame(
        [{"case_id": c, "status": "contacted", "updated_at": NEXT, "consent_to_charity": "是", "note": "同意转介"}
         for c in referral["case_id"]]
        + [{"case_id": c, "status": "approved", "updated_at": NEXT, "consent_to_charity": "", "note": "已获救助"}
           for c in approved["case_id"]])
    (feeds / "outreach_feedback").mkdir(exist_ok=True)
    feedback.to_csv(feeds / "outreach_feedback" / f"feedback-{NEXT}.csv", index=False)
    second = run(NEXT)
    yield {"ws": ws, "feeds": feeds, "receiver": receiver, "states": (first, rerun, second),
           "calls": (calls_after_first, calls_after_rerun), "referral": referral, "approved": approved}
    mp.undo()
    make_httpserver.clear()


def _sent_items(ws: Workspace, night: str) -> pd.DataFrame:
    con = duckdb.connect(str(ws.duckdb_path))
    try:
        return con.execute("SELECT * FROM meta.case_log WHERE night = CAST(? AS DATE)", [night]).df()
    finally:
        con.close()


def test_every_night_succeeds(nights):
    for states in nights["states"]:
        assert set(states.values()) == {"success"}, states


def test_each_list_version_arrives_exactly_once_despite_failures(nights):
    receiver = nights["receiver"]
    outbox = nights["ws"].outbox
    manifests = [json.loads(p.read_text(encoding="utf-8")) for p in outbox.rglob("manifest.json")]
    keys = {f"{m['recipient']}:{m['night']}:{m['version']}" for m in manifests}
    assert keys == set(receiver.accepted)
    assert all(len(v) == 1 for v in receiver.accepted.values())


def test_a_second_run_of_the_same_night_delivers_nothing_new(nights):
    first, rerun = nights["calls"]
    assert first > 0 and rerun == first


def test_lists_reach_only_their_own_subdistrict(nights):
    persons = pd.read_csv(nights["feeds"] / "persons" / "part-0.csv", dtype=str, encoding="utf-8-sig")
    home = persons.drop_duplicates("household_id").set_index("household_id")["subdistrict_code"]
    for manifest_path in nights["ws"].outbox.glob("[0-9]*/*/manifest.json"):
        code = manifest_path.parent.parent.name
        for rows in json.loads(manifest_path.read_text(encoding="utf-8"))["payload"].values():
            assert {home[r["家庭编号"]] for r in rows} <= {code}
        for csv in manifest_path.parent.glob("*.csv"):
            frame = pd.read_csv(csv, dtype=str, encoding="utf-8-sig")
            assert set(frame["家庭编号"].map(home)) <= {code}
    for key, payloads in nights["receiver"].accepted.items():
        recipient = payloads[0]["recipient"]
        if recipient.startswith("charity:"):
            continue
        for rows in payloads[0]["lists"].values():
            assert {home[r["家庭编号"]] for r in rows} <= {recipient}


def test_no_full_resident_id_in_any_list_or_payload(nights):
    for path in nights["ws"].outbox.rglob("*"):
        if path.suffix in (".csv", ".json"):
            assert not full_ids_in(path.read_text(encoding="utf-8-sig")), path
        elif path.suffix == ".xlsx":
            wb = load_workbook(path, read_only=True)
            text = " ".join(str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row)
            assert not full_ids_in(text), path
    for payloads in nights["receiver"].accepted.values():
        assert not full_ids_in(json.dumps(payloads, ensure_ascii=False))


def test_workbook_sheets_and_headers(nights):
    books = sorted(nights["ws"].outbox.glob(f"[0-9]*/{NIGHT}/*.xlsx"))
    assert books
    wb = load_workbook(books[0], read_only=True)
    assert wb.sheetnames == list(LIST_TITLES.values())
    for sheet in wb.worksheets:
        header = next(sheet.iter_rows(max_row=1, values_only=True))
        assert list(header) == [h for _, h in COLUMNS]


def test_watch_lists_carry_risk_scores_and_reasons(nights):
    frames = [pd.read_csv(p, dtype=str, encoding="utf-8-sig", keep_default_na=False)
              for p in nights["ws"].outbox.glob(f"[0-9]*/{NIGHT}/预警关注.csv")]
    watch = pd.concat(frames)
    assert len(watch) and (watch["风险评分"] != "").all()
    assert watch["风险等级"].isin(["高", "中", "低"]).all()


def test_cases_are_not_resent_and_approved_cases_leave(nights):
    tonight = _sent_items(nights["ws"], NEXT).set_index("case_id")
    before = _sent_items(nights["ws"], NIGHT).set_index("case_id")
    sent_before = before[before["action"].isin(["new", "escalated", "reminder"])].index
    continuing = tonight.index.intersection(sent_before)
    assert len(continuing) > 0
    assert (tonight.loc[continuing, "action"].isin(["suppressed", "closed", "escalated"])).all()
    for case in nights["approved"]["case_id"]:
        assert tonight.loc[case, "action"] == "closed"
    sent_tonight = set(tonight[tonight["action"].isin(["new", "escalated", "reminder"])].index)
    for csv in nights["ws"].outbox.glob(f"[0-9]*/{NEXT}/*.csv"):
        frame = pd.read_csv(csv, dtype=str, encoding="utf-8-sig")
        assert set(frame["案件编号"]) <= sent_tonight


def test_referrals_go_to_a_charity_only_with_consent(nights):
    referral = nights["referral"]
    assert len(referral) == 1, "the small city should have a household to refer"
    sent = []
    for csv in nights["ws"].outbox.glob("charity/*/*/referrals.csv"):
        sent += list(pd.read_csv(csv, dtype=str, encoding="utf-8-sig")["案件编号"])
    assert sent == list(referral["case_id"])
    assert not list(nights["ws"].outbox.glob(f"charity/*/{NIGHT}"))  # nobody had consented the night before


def test_escalation_and_cooldown_bring_a_case_back():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA meta; CREATE SCHEMA staging")
    create_tables(con)
    con.execute("CREATE TABLE staging.stg_outreach_feedback (case_id VARCHAR, feedback_status VARCHAR, "
                "updated_at DATE, consent_to_charity BOOLEAN, source_file VARCHAR, source_row INTEGER)")
    con.execute("INSERT INTO meta.case_log VALUES "
                "(DATE '2024-03-01', 'A', 'p', 'H1', 'S', 'warning', 'warning', 1, 'new', 'open'),"
                "(DATE '2024-03-01', 'B', 'p', 'H2', 'S', 'warning', 'warning', 2, 'new', 'open'),"
                "(DATE '2024-02-01', 'C', 'p', 'H3', 'S', 'warning', 'warning', 2, 'new', 'open'),"
                "(DATE '2024-03-01', 'D', 'p', 'H4', 'S', 'warning', 'warning', 2, 'new', 'open')")
    con.execute("INSERT INTO staging.stg_outreach_feedback VALUES ('D', 'approved', DATE '2024-03-05', NULL, 'f', 1)")
    items = pd.DataFrame({"case_id": ["A", "B", "C", "D", "E"], "level": [2, 2, 2, 3, 1]})
    decided = outreach._decide_actions(con, "2024-03-10", items, {"cooldown_days": 30}).set_index("case_id")
    assert decided["action_taken"].to_dict() == {
        "A": "escalated", "B": "suppressed", "C": "reminder", "D": "closed", "E": "new"}
