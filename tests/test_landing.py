"""Landing: every row reconciled, bad rows quarantined with reasons, all encodings read alike."""
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from poverty_warning.ingest import landing
from poverty_warning.ingest.feeds import FeedFile, read

from .conftest import EXAMPLES


def land(feeds, tmp_path, night):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    landed = landing.land(con, tmp_path / "lake", feeds, night)
    return con, landed


def test_injected_faults_are_quarantined_exactly(faulty_city, tmp_path):
    feeds, injected = faulty_city
    con, landed = land(feeds, tmp_path, "2023-06-30")
    report, quarantine = landing.night_reports(con, "2023-06-30")
    assert (report["rows_received"] == report["rows_loaded"] + report["rows_quarantined"]).all()
    per_feed = report.groupby("feed")["rows_quarantined"].sum().to_dict()
    for feed, kinds in injected.items():
        assert per_feed.get(feed, 0) == sum(kinds.values()), feed
    assert quarantine["reason"].str.len().gt(0).all()
    claims_reasons = " ".join(quarantine[quarantine["feed"] == "claims"]["reason"])
    for text in ("claim_id 重复", "不存在", "visit_type", "不是有效日期", "total_cost 不等于", "负数", "persons"):
        assert text in claims_reasons


def test_second_landing_of_the_same_files_lands_nothing(small_city, tmp_path):
    con, first = land(small_city, tmp_path, "2024-03-31")
    assert first
    assert landing.land(con, tmp_path / "lake", small_city, "2024-03-31") == []


def test_dated_folders_after_the_night_wait_for_their_night(small_city, tmp_path):
    con, landed = land(small_city, tmp_path, "2024-01-31")
    dates = {f.file.split("/")[1] for f in landed if f.feed == "claims"}
    assert max(dates) == "2024-01-31"
    later = landing.land(con, tmp_path / "lake", small_city, "2024-02-01")
    assert [f.file for f in later] == ["claims/2024-02-01/part-0.csv"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "parquet"])
def test_every_encoding_reads_the_same_rows(tmp_path, encoding):
    source = EXAMPLES / "shanghai-2022" / "feeds" / "persons" / "part-0.csv"
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    folder = tmp_path / "persons"
    folder.mkdir()
    if encoding == "parquet":
        path = folder / "part-0.parquet"
        frame.to_parquet(path)
    else:
        path = folder / "part-0.csv"
        frame.to_csv(path, index=False, encoding=encoding)
    table = read(FeedFile("persons", path, f"persons/{path.name}", None))
    assert table.frame["subdistrict_name"].tolist() == ["示例街道"] * 5
    assert table.frame["person_id"].tolist() == frame["person_id"].tolist()


def test_reordered_columns_and_truncated_rows(tmp_path):
    feeds = tmp_path / "feeds"
    (feeds / "persons").mkdir(parents=True)
    (feeds / "claims").mkdir()
    persons = pd.read_csv(EXAMPLES / "shanghai-2022" / "feeds" / "persons" / "part-0.csv", dtype=str)
    persons[list(reversed(persons.columns))].to_csv(feeds / "persons" / "part-0.csv", index=False)
    claims_text = (EXAMPLES / "shanghai-2022" / "feeds" / "claims" / "part-0.csv").read_text(encoding="utf-8")
    truncated = claims_text.rstrip("\n")[:-40]  # the last row cut off mid-way
    (feeds / "claims" / "part-0.csv").write_text(truncated, encoding="utf-8")
    con, landed = land(feeds, tmp_path, "2024-03-10")
    by_feed = {f.feed: f for f in landed}
    assert by_feed["persons"].rows_loaded == 5
    assert by_feed["claims"].rows_received == 5
    assert by_feed["claims"].rows_quarantined == 1
    assert by_feed["claims"].rows_loaded == 4


def test_a_plain_csv_strips_padded_fields_and_quarantines_a_wide_line(tmp_path):
    """A file DuckDB splits itself (no quotes): padding, even a full-width or no-break space, is stripped as
    the csv module's path strips it; a blank line is no row; a line with one field too many is quarantined."""
    def write(path):
        lines = (EXAMPLES / "shanghai-2022" / "feeds" / "claims" / "part-0.csv").read_text(encoding="utf-8").splitlines()
        # C00001's hospital H001 padded with an ideographic space, C00002's with a no-break space before it
        lines[1] = lines[1].replace(",H001,", ",H001\u3000,")
        lines[2] = lines[2].replace(",H001,", ",\u00a0H001,")
        (path.parent / "part-0.csv").write_text("\n".join(lines[:3] + ["", lines[3] + ",extra"] + lines[4:]) + "\n",
                                                encoding="utf-8")
    feeds = _feeds_with_claims(tmp_path, lambda path: None)
    write(feeds / "claims" / "part-0.csv")
    con, landed = land(feeds, tmp_path, "2024-03-10")
    claims = next(f for f in landed if f.feed == "claims")
    assert (claims.rows_received, claims.rows_loaded, claims.rows_quarantined) == (5, 4, 1)
    _, quarantine = landing.night_reports(con, "2024-03-10")
    assert quarantine[["row_number", "reason"]].values.tolist() == [
        [4, "字段数为20，与表头的19列不符（行被截断或多出分隔符）"]]  # line 5 of the file: the blank line is row 3
    hospitals = dict(con.execute("SELECT claim_id, hospital_id FROM raw.claims").fetchall())
    assert hospitals["C00001"] == hospitals["C00002"] == "H001"


# ---- bounded resources: a huge or very wide file is a clear file-level error, read without holding it whole ----

def _feeds_with_claims(tmp_path, write):
    """The contract example's feeds, with `write(path)` making the claims file."""
    import shutil

    feeds = tmp_path / "feeds"
    shutil.copytree(EXAMPLES / "shanghai-2022" / "feeds", feeds)
    write(feeds / "claims" / "part-1.csv")
    return feeds


def _refused(tmp_path, feeds, words):
    from poverty_warning.ingest.feeds import FeedFileError

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    with pytest.raises(FeedFileError, match=words) as caught:
        landing.land(con, tmp_path / "lake", feeds, "2024-03-10")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("claims/part-1.csv: ")
    assert not (tmp_path / "lake").exists()  # nothing written


def _sparse(size):
    def write(path):
        with path.open("wb") as f:  # a hole: no disk used, no time spent writing
            f.seek(size - 1)
            f.write(b"x")
    return write


def test_a_multi_gigabyte_file_is_refused_by_its_size(tmp_path):
    _refused(tmp_path, _feeds_with_claims(tmp_path, _sparse(3 * 1024**3)), "too large")


def test_a_100_mb_single_line_is_refused_without_reading_it_whole(tmp_path):
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _refused(tmp_path, _feeds_with_claims(tmp_path, _sparse(100 * 1024**2)), "line 1 is longer than")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100


def test_a_header_of_a_million_columns_is_refused(tmp_path):
    header = "claim_id,person_id" + "," * 999_998 + "\n"
    _refused(tmp_path, _feeds_with_claims(tmp_path, lambda p: p.write_text(header)), "1000000 columns")


def test_a_field_longer_than_the_limit_is_refused(tmp_path, monkeypatch):
    from poverty_warning import settings

    monkeypatch.setattr(settings, "MAX_FIELD_CHARS", 1000)
    source = (EXAMPLES / "shanghai-2022" / "feeds" / "claims" / "part-0.csv").read_text(encoding="utf-8")
    quoted = source.splitlines()[0] + '\n"' + "x\n" * 600 + '"\n'  # short lines, one long quoted field
    _refused(tmp_path, _feeds_with_claims(tmp_path, lambda p: p.write_text(quoted)), "field larger than")


def test_a_parquet_file_with_too_many_columns_is_refused(tmp_path, monkeypatch):
    from poverty_warning import settings

    monkeypatch.setattr(settings, "MAX_COLUMNS", 50)
    wide = pd.DataFrame({f"c{i}": ["1"] for i in range(60)})
    feeds = _feeds_with_claims(tmp_path, lambda p: None)
    wide.to_parquet(feeds / "claims" / "part-1.parquet")
    from poverty_warning.ingest.feeds import FeedFileError

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    with pytest.raises(FeedFileError, match="60 columns"):
        landing.land(con, tmp_path / "lake", feeds, "2024-03-10")


def test_ten_times_the_volume_lands_normally_within_the_limits(tmp_path):
    """A delivery many times the example's is an ordinary night: every row read and reconciled."""
    claims = pd.read_csv(EXAMPLES / "shanghai-2022" / "feeds" / "claims" / "part-0.csv", dtype=str,
                         keep_default_na=False)
    originals = claims[claims["reversal_of"] == ""]
    copies = pd.concat([originals.assign(claim_id=originals["claim_id"] + f"-{i}") for i in range(500)])
    feeds = _feeds_with_claims(tmp_path, lambda p: copies.to_csv(p.with_name("part-0.csv"), index=False))
    con, landed = land(feeds, tmp_path, "2024-03-10")
    claims_file = next(f for f in landed if f.feed == "claims")
    assert claims_file.rows_received == len(copies) == claims_file.rows_loaded + claims_file.rows_quarantined
    assert claims_file.rows_quarantined == 0


@pytest.mark.parametrize("damage, reason", [
    (lambda line: line.replace("居民2".encode(), b"\xff\xfe"), "无法识别的字节"),  # bytes of no encoding
    (lambda line: line.replace(b",HH-A,", b",HH\rA,"), "字段数"),  # a lone carriage return splits the row
])
def test_a_damaged_row_is_quarantined_and_the_rest_load(tmp_path, damage, reason):
    import shutil

    feeds = tmp_path / "feeds"
    shutil.copytree(EXAMPLES / "shanghai-2022" / "feeds", feeds)
    path = feeds / "persons" / "part-0.csv"
    lines = path.read_bytes().split(b"\n")
    lines[2] = damage(lines[2])  # the second resident
    path.write_bytes(b"\n".join(lines))
    con, landed = land(feeds, tmp_path, "2024-03-10")
    persons = next(f for f in landed if f.feed == "persons")
    assert persons.rows_loaded == 4 and persons.rows_quarantined >= 1
    assert persons.rows_received == persons.rows_loaded + persons.rows_quarantined
    _, quarantine = landing.night_reports(con, "2024-03-10")
    assert quarantine["reason"].str.contains(reason).all()


def test_a_later_night_is_checked_against_the_claims_landed_before(tmp_path):
    """A claim id already landed is a duplicate, and a reversal must name a landed original, carry its
    amounts negated and be its first: the index of landed claims is what a later night reads."""
    feeds = tmp_path / "feeds"
    import shutil

    shutil.copytree(EXAMPLES / "shanghai-2022" / "feeds", feeds)
    con, _ = land(feeds, tmp_path, "2024-03-10")
    claims = pd.read_csv(feeds / "claims" / "part-0.csv", dtype=str, keep_default_na=False).set_index("claim_id")
    amounts = ["total_cost", "policy_scope_cost", "basic_fund_paid", "critical_illness_paid", "assistance_paid",
               "other_paid", "self_pay_in_scope", "self_pay_out_scope"]

    def reversal(claim_id, new_id, scale=-1.0):
        row = claims.loc[claim_id].copy()
        for a in amounts:
            row[a] = f"{float(row[a]) * scale:.2f}"
        row["reversal_of"], row["settle_date"] = claim_id, "2024-03-11"
        return row.rename(new_id)

    second = pd.DataFrame([reversal("C00002", "R00001"), claims.loc["C00003"],
                           reversal("C00004", "R00002", scale=-0.5)])
    second.rename_axis("claim_id").reset_index().to_csv(feeds / "claims" / "part-1.csv", index=False)
    con.close()
    con, landed = land(feeds, tmp_path, "2024-03-11")
    _, quarantine = landing.night_reports(con, "2024-03-11")
    con.close()
    reasons = dict(zip(quarantine["row_number"].astype(int), quarantine["reason"]))
    assert sorted(reasons) == [2, 3], reasons  # the reversal of C00002 loads
    assert "claim_id 重复（已有相同结算号）" in reasons[2]
    assert "冲销金额与原结算 C00004 不符" in reasons[3]

    pd.DataFrame([reversal("C00002", "R00003")]).rename_axis("claim_id").reset_index().to_csv(
        feeds / "claims" / "part-2.csv", index=False)
    con, _ = land(feeds, tmp_path, "2024-03-12")
    _, quarantine = landing.night_reports(con, "2024-03-12")
    con.close()
    assert list(quarantine["reason"]) == ["原结算 C00002 已被冲销过"]


def _landing_outputs(feeds, folder: Path):
    """Everything a landing leaves behind that a later step reads: lake rows, quarantine, registry, and
    what GX is shown, each in a fixed order."""
    from poverty_warning.quality.expectations import batch_projection

    folder.mkdir()
    con, _ = land(feeds, folder, "2023-06-30")
    lake = {}
    for feed in ("persons", "enrollment", "assistance_categories", "household_income", "claims"):
        lake[feed] = con.execute(f"SELECT * EXCLUDE (_night) FROM raw.{feed} ORDER BY _file, _row_number").df()
        paths = batch_projection(folder / "lake", feed, "2023-06-30")
        lake["gx:" + feed] = (pd.concat(pd.read_parquet(p) for p in paths)
                              .sort_values(["_file", "_row_number"]).reset_index(drop=True))
    report, quarantine = landing.night_reports(con, "2023-06-30")
    con.close()
    return lake, report, quarantine


def test_a_backfill_landed_part_by_part_gets_the_reasons_it_gets_whole(faulty_city, tmp_path, monkeypatch):
    """A part is checked against the parts before it: a duplicate of an earlier part's claim (loaded or
    quarantined), a reversal of an earlier part's original and a second reversal of it are caught alike."""
    import shutil

    feeds = tmp_path / "feeds"
    shutil.copytree(faulty_city[0], feeds)
    first = pd.read_csv(feeds / "claims" / "2023-01-02" / "part-0.csv", dtype=str, keep_default_na=False)
    original = first[first["reversal_of"] == ""].iloc[0]
    amounts = ["total_cost", "policy_scope_cost", "basic_fund_paid", "critical_illness_paid", "assistance_paid",
               "other_paid", "self_pay_in_scope", "self_pay_out_scope"]
    reversal = original.copy()
    for a in amounts:
        reversal[a] = f"{-float(original[a]):.2f}"
    reversal["reversal_of"], reversal["settle_date"] = original["claim_id"], "2023-06-29"
    # A row of the first day with a bad amount: quarantined, and its id still taken.
    bad = first.iloc[1].copy()
    bad["total_cost"] = "12.345"
    first.iloc[1] = bad
    first.to_csv(feeds / "claims" / "2023-01-02" / "part-0.csv", index=False)
    reusing_bad = original.copy()
    reusing_bad["claim_id"], reusing_bad["settle_date"] = bad["claim_id"], "2023-06-30"
    duplicate = original.copy()
    duplicate["settle_date"] = "2023-06-30"
    second_reversal = reversal.copy()
    second_reversal["claim_id"], reversal["claim_id"] = "RV-2", "RV-1"
    pd.DataFrame([reversal]).to_csv(feeds / "claims" / "2023-06-29" / "part-9.csv", index=False)
    pd.DataFrame([second_reversal, duplicate, reusing_bad]).to_csv(
        feeds / "claims" / "2023-06-30" / "part-9.csv", index=False)

    whole = _landing_outputs(feeds, tmp_path / "whole")
    monkeypatch.setattr(landing, "LANDING_PART_ROWS", 300)  # ~12 parts for 6 months of claims
    parts = _landing_outputs(feeds, tmp_path / "parts")

    assert len(list((tmp_path / "parts" / "lake" / "claims").glob("*.parquet"))) > 10
    for name in whole[0]:
        pd.testing.assert_frame_equal(whole[0][name], parts[0][name], check_dtype=False, obj=name)
    pd.testing.assert_frame_equal(whole[1], parts[1])
    pd.testing.assert_frame_equal(whole[2], parts[2])
    reasons = parts[2][parts[2]["file"].str.endswith("part-9.csv")].set_index(["file", "row_number"])["reason"]
    assert reasons.to_dict() == {
        ("claims/2023-06-30/part-9.csv", 1): f"原结算 {original['claim_id']} 已被冲销过",
        ("claims/2023-06-30/part-9.csv", 2): "claim_id 重复（已有相同结算号）",
        ("claims/2023-06-30/part-9.csv", 3): "claim_id 重复（已有相同结算号）"}
