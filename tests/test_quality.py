"""Data quality: a corpus of broken feed files with the exact quarantine counts each must produce,
the expectation suites, and the nightly report."""
import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from poverty_warning.ingest import landing
from poverty_warning.contract import FEEDS
from poverty_warning.quality.expectations import SUITE_DIR, load_suite_dict
from poverty_warning.ingest.feeds import FeedFileError
from poverty_warning.ingest.rowcheck import checks_for

from .conftest import EXAMPLES

BASE = EXAMPLES / "shanghai-2022" / "feeds"
NIGHT = "2024-03-10"


def _claims() -> pd.DataFrame:
    return pd.read_csv(BASE / "claims" / "part-0.csv", dtype=str, keep_default_na=False)


def _break(column, value, row=0, feed="claims"):
    def edit(df):
        df.loc[row, column] = value
        return df
    return feed, edit


def _append_copy(row=0, **changes):
    def edit(df):
        extra = df.iloc[[row]].copy()
        for k, v in changes.items():
            extra[k] = v
        return pd.concat([df, extra], ignore_index=True)
    return "claims", edit


def _reverse_unknown(df):
    rev = df.iloc[[4]].copy()
    rev["claim_id"] = "C9"
    rev["reversal_of"] = "C404"
    for c in ("total_cost", "policy_scope_cost", "basic_fund_paid", "self_pay_in_scope"):
        rev[c] = "-" + rev[c]
    return pd.concat([df, rev], ignore_index=True)


# (case, feed, edit, quarantined rows expected in that feed's file)
CASES = [
    ("bad_id_checksum", *_break("person_id", "310112198001010042", row=1, feed="persons"), 1),
    ("unknown_visit_type", *_break("visit_type", "门诊"), 1),
    ("bad_date", *_break("settle_date", "2024-02-30"), 1),
    ("bad_amount", *_break("total_cost", "1,250.00", row=4), 1),
    ("negative_amount", *_break("self_pay_out_scope", "-1000", row=1), 1),
    ("broken_identity", *_break("total_cost", "87000.01"), 1),
    ("too_large", *_break("total_cost", "6000012000", row=0), 1),
    ("bad_boolean", *_break("in_city", "maybe"), 1),
    ("duplicate_claim_id", *_append_copy(row=1), 1),
    ("unknown_person", *_break("person_id", "360426199101010071", row=2), 1),
    ("unknown_reversal", "claims", _reverse_unknown, 1),
    ("unknown_scheme", *_break("scheme", "commercial", feed="enrollment"), 1),
    ("unknown_category", *_break("category", "vip", feed="assistance_categories"), 1),
    ("category_for_unknown_person", *_break("person_id", "360426199101010071", feed="assistance_categories"), 1),
    ("two_faults_one_row", *_break("visit_type", "急诊", row=3), 1),
    ("birth_after_delivery", *_break("birth_date", "2030-01-01", row=1, feed="persons"), 1),
    ("subdistrict_code_escapes", *_break("subdistrict_code", "../../../escaped_outbox", row=1, feed="persons"), 1),
    ("subdistrict_code_dot_dot", *_break("subdistrict_code", "..", row=1, feed="persons"), 1),
    ("subdistrict_code_8_digits", *_break("subdistrict_code", "31011200", row=1, feed="persons"), 1),
    ("subdistrict_in_another_district", *_break("subdistrict_code", "310113005", row=1, feed="persons"), 1),
    ("district_code_not_digits", *_break("district_code", "31011A", row=1, feed="persons"), 1),
    ("control_character_in_text", *_break("hospital_id", "H\x00\x1b01"), 1),
    ("amount_beyond_decimal_18_2", *_break("total_cost", "9" * 30, row=4), 1),
    ("amount_infinite", *_break("total_cost", "1e309", row=4), 1),
    ("year_beyond_integer", *_break("year", "99999999999", feed="enrollment"), 1),
]


def _feeds_with(tmp_path: Path, feed: str, edit, encoding: str = "utf-8") -> Path:
    feeds = tmp_path / "feeds"
    shutil.copytree(BASE, feeds)
    src = feeds / feed / "part-0.csv"
    df = edit(pd.read_csv(src, dtype=str, keep_default_na=False))
    src.unlink()
    if encoding == "parquet":
        df.to_parquet(feeds / feed / "part-0.parquet", index=False)
    else:
        df.to_csv(src, index=False, encoding=encoding)
    return feeds


def _land(tmp_path: Path, feeds: Path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    landed = landing.land(con, tmp_path / "lake", feeds, NIGHT)
    return con, {f.feed: f for f in landed}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "parquet"])
@pytest.mark.parametrize("case, feed, edit, expected", CASES, ids=[c[0] for c in CASES])
def test_broken_rows_are_quarantined_exactly(tmp_path, case, feed, edit, expected, encoding):
    con, landed = _land(tmp_path, _feeds_with(tmp_path, feed, edit, encoding))
    for name, f in landed.items():
        assert f.rows_received == f.rows_loaded + f.rows_quarantined
        assert f.rows_quarantined == (expected if name == feed else 0), (name, case)
    _, quarantine = landing.night_reports(con, NIGHT)
    assert len(quarantine) == expected
    assert quarantine["reason"].str.len().gt(3).all()
    assert not quarantine["reason"].str.contains(r"\d{17}[\dX]").any()  # reasons carry no full ID


def test_reordered_columns_load_everything(tmp_path):
    feeds = _feeds_with(tmp_path, "claims", lambda df: df[list(reversed(df.columns))])
    _, landed = _land(tmp_path, feeds)
    assert landed["claims"].rows_loaded == 5


def test_header_only_file_is_an_empty_delivery(tmp_path):
    feeds = _feeds_with(tmp_path, "claims", lambda df: df.iloc[0:0])
    _, landed = _land(tmp_path, feeds)
    assert (landed["claims"].rows_received, landed["claims"].rows_quarantined) == (0, 0)


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    (b"claim_id,claim_id,person_id\n", "twice"),
    (bytes(range(128, 256)) * 4, "unreadable"),
])
def test_file_level_faults(tmp_path, content, words):
    feeds = tmp_path / "feeds"
    shutil.copytree(BASE, feeds)
    (feeds / "claims" / "part-1.csv").write_bytes(content)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    with pytest.raises(FeedFileError, match=words):
        landing.land(con, tmp_path / "lake", feeds, NIGHT)
    assert not (tmp_path / "lake").exists()  # nothing written


def test_every_row_check_has_an_expectation_in_its_suite():
    for feed in FEEDS:
        suite = load_suite_dict(feed)
        checked = {e["meta"].get("check") for e in suite["expectations"]}
        assert set(checks_for(feed)) <= checked, feed
        assert (SUITE_DIR / f"{feed}.json").exists()


def test_faults_in_a_synthetic_city_fail_the_right_expectations(faulty_city, tmp_path, monkeypatch):
    from poverty_warning import nightly
    from poverty_warning.workspace import Workspace

    feeds, injected = faulty_city
    ws = Workspace(tmp_path / "data")
    nightly.ingest(ws, feeds, "2023-06-30")
    verdict = nightly.validate(ws, "2023-06-30")
    con = duckdb.connect(str(ws.duckdb_path), read_only=True)
    failed = con.execute("SELECT feed, check_code, unexpected_count FROM meta.gx_results "
                         "WHERE NOT success AND night = DATE '2023-06-30'").df()
    con.close()
    claims_failed = dict(zip(failed[failed["feed"] == "claims"]["check_code"],
                             failed[failed["feed"] == "claims"]["unexpected_count"]))
    assert claims_failed["unique:claim_id"] == injected["claims"]["duplicate_claim_id"]
    assert claims_failed["reversal_known"] == injected["claims"]["unknown_reversal"]
    assert claims_failed["enum:visit_type"] == injected["claims"]["bad_visit_type"]
    assert "resident_id:person_id" in set(failed[failed["feed"] == "persons"]["check_code"])
    report = Path(verdict["report"]).read_text(encoding="utf-8")
    assert "数据质量日报" in report and "volume-trend" in report
    text = re.sub(r"<script.*?</script>", "", report, flags=re.S)  # plotly's own code is no data
    assert not re.search(r"\d{17}[\dX]", text)  # IDs masked in the report
    # ~2% of claims quarantined: over the 1% warning line, under the 5% that holds the lists
    assert verdict["may_publish"] and "隔离率" in text


def test_the_readme_lists_what_is_validated_for_each_column():
    from poverty_warning.quality.expectations import readme_with_validation

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert readme_with_validation(readme) == readme, "README out of date: run `make quality-docs`"
    for feed in FEEDS.values():
        for col in feed.columns:
            assert f"| `{col.name}` |" in readme
