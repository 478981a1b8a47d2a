"""Fuzzed landing: whatever bytes a feed file holds, landing ends cleanly.

Property-based (Hypothesis) over every feed and column: hostile values (random Unicode, NUL bytes,
quotes and newlines inside fields, very long strings, a BOM in the middle, numbers like 1e309, -0
and NaN, dates like 0000-00-00, paths), mixed encodings and mangled bytes, CSV and Parquet. For each
generated file: no exception but a one-line `FeedFileError` (and then nothing written); otherwise
every file reconciles (rows_received = rows_loaded + rows_quarantined, and a well-formed CSV's rows
are all received); nothing is written outside the data root; no full resident ID in any log line.

The default profile runs a fixed, small number of examples; `make fuzz` runs the long profile.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import shutil
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
from hypothesis import event, given
from hypothesis import strategies as st

from poverty_warning.contract import FEEDS, ids
from poverty_warning.ingest import landing
from poverty_warning.ingest.feeds import FeedFileError

from .conftest import EXAMPLES

NIGHT = "2024-03-10"
BASE = EXAMPLES / "shanghai-2022" / "feeds"
FULL_ID = re.compile(r"[0-9]{17}[0-9Xx]")
VALID_IDS = pd.read_csv(BASE / "persons" / "part-0.csv", dtype=str)["person_id"].tolist()

HOSTILE = [
    "", " ", "1e309", "-1e309", "-0", "-0.00", "NaN", "nan", "inf", "-inf", "0000-00-00", "9999-99-99",
    "2024-02-30", "-1", "0", "1.005", "9" * 40, "2147483648", "-9223372036854775809", "0x1F", "１２３",
    "../../../escaped_outbox", "..", ".", "/etc/passwd", "C:\\x", "\x00", "a\x00b", '"', '""', "a,b",
    'x"y', "a\nb", "a\r\nb", "\r", "\ufeff", "x\ufeffy", "\u202e", "\ud7ff", "=1+1", "@SUM(A1)", "'; DROP TABLE x; --",
    "x" * 5000, "是", "否", "true", "M", "F", "head", "inpatient", "dibao", "310112", "310112005", "HH-A",
    *VALID_IDS, VALID_IDS[0].lower()[:-1] + "x", "310112198001010042",
]
# One valid row per feed: most generated rows are one of these with a few cells made hostile, so
# rows also get through the checks and are loaded, not only quarantined.
VALID_ROWS = {feed: pd.read_csv(BASE / feed / "part-0.csv", dtype=str, keep_default_na=False).iloc[0].to_dict()
              for feed in ("household_income", "assistance_categories", "enrollment", "claims", "parameters")}
VALID_ROWS["persons"] = {
    "person_id": "", "name": "测试", "sex": "F", "birth_date": "1990-01-01", "household_id": "HH-F",
    "relation": "head", "district_code": "310112", "subdistrict_code": "310112005", "subdistrict_name": "示例街道",
    "phone": "13800000000", "community_name": "示例社区", "address": "示例路1号"}
VALID_ROWS["charity_programs"] = {"program_id": "CP9", "name": "项目", "diagnosis_prefixes": "C34", "min_age": "0",
                                  "max_age": "120", "max_amount": "20000", "capacity": "10"}
VALID_ROWS["outreach_feedback"] = {"case_id": "K1", "status": "contacted", "updated_at": "2024-03-01",
                                   "consent_to_charity": "是", "note": "同意", "subdistrict_code": "310112005"}
VALID_ROWS["fund_accounts"] = {"year": "2023", "funding": "1200000", "spending": "1000000", "balance": "300000",
                               "as_of": "2023-12-31"}


def _valid_row(feed: str, n: int) -> dict:
    """A valid row, its key made new so that rows of one file are not duplicates of each other."""
    row = dict(VALID_ROWS[feed])
    if feed == "persons":
        row["person_id"] = ids.make("310112", dt.date(1990, 1, 1), 100 + n)
    elif feed == "claims":
        row["claim_id"] = f"FZ{n}"
    return row


values = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30),
                   st.text(alphabet=st.characters(max_codepoint=0x7f), max_size=12))


@st.composite
def feed_files(draw):
    """(feed, file name, bytes, rows written if the file is well-formed CSV else None)."""
    feed = FEEDS[draw(st.sampled_from(sorted(FEEDS)))]
    columns = list(feed.column_names)
    if draw(st.booleans()):
        columns = draw(st.permutations(columns))
    if draw(st.integers(0, 9)) == 0:  # a column more, or a required one missing (a file-level fault)
        columns = columns + ["_row_number"] if draw(st.booleans()) else columns[1:]
    if draw(st.integers(0, 3)) == 0:  # every cell at random
        rows = draw(st.lists(st.lists(values, min_size=len(columns), max_size=len(columns)), max_size=6))
    else:  # valid rows with up to three cells made hostile
        rows = []
        for n in range(draw(st.integers(0, 6))):
            row = _valid_row(feed.name, n)
            for col in draw(st.lists(st.sampled_from(feed.column_names), max_size=3, unique=True)):
                row[col] = draw(values)
            rows.append([row.get(c, "") for c in columns])
    if rows and draw(st.integers(0, 4)) == 0:  # a row cut short or run long
        rows[0] = rows[0][:-1] if draw(st.booleans()) else rows[0] + ["extra"]
    if draw(st.integers(0, 5)) == 0 and all(len(r) == len(columns) for r in rows):
        frame = pd.DataFrame(rows, columns=columns, dtype=object)
        return feed.name, "fuzz.parquet", _parquet(frame, draw(st.booleans())), None
    text = io.StringIO(newline="")
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    csv.writer(text, lineterminator=terminator).writerows([columns] + rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "mixed"]))
    if encoding == "mixed":  # the header in UTF-8, the rows in GB18030
        head, _, body = text.getvalue().partition("\n")
        data = (head + "\n").encode("utf-8") + body.encode("gb18030")
    else:
        data = text.getvalue().encode(encoding)
    # The writer leaves a lone carriage return unquoted when lines end in "\n" alone: then the file
    # is not well-formed CSV (a reader splits the row there), though it must still land cleanly.
    well_formed = not (terminator == "\n" and any("\r" in v for r in rows for v in r))
    for _ in range(draw(st.integers(0, 3))):  # bytes mangled: a BOM in the middle, stray bytes, a cut
        at = draw(st.integers(0, len(data)))
        junk = draw(st.sampled_from([b"\xef\xbb\xbf", b"\x00", b"\xff\xfe", b"\x81", b'"', b"\r", b"\n", b""]))
        data = data[:at] + junk + data[at + (len(junk) == 0):]
        well_formed = False
    written = sum(1 for r in rows if not (len(r) <= 1 and all(not c.strip() for c in r)))
    return feed.name, "fuzz.csv", data, (written if well_formed else None)


def _parquet(frame: pd.DataFrame, numbers: bool) -> bytes:
    if numbers:  # a column of floats, with NaN and infinities, where text is expected
        frame[frame.columns[-1]] = [float(x) for x in ([1e308, float("nan"), float("inf"), -0.0] * 2)[:len(frame)]]
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


def _tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


@given(feed_files())
def test_landing_survives_any_feed_file(case):
    feed, name, data, written = case
    records, root_logger = _Records(), logging.getLogger()
    old_level = root_logger.level
    root_logger.addHandler(records)
    root_logger.setLevel(logging.DEBUG)
    sandbox = Path(tempfile.mkdtemp(prefix="pw-fuzz-"))
    try:
        feeds, data_root = sandbox / "feeds", sandbox / "data"
        shutil.copytree(BASE, feeds)
        (feeds / feed).mkdir(exist_ok=True)
        (feeds / feed / name).write_bytes(data)
        data_root.mkdir()
        con = duckdb.connect(str(data_root / "w.duckdb"))
        try:
            landed = landing.land(con, data_root / "lake", feeds, NIGHT)
        except FeedFileError as exc:
            message = str(exc)
            assert "\n" not in message and message.startswith(f"{feed}/{name}: "), message
            assert not (data_root / "lake").exists()  # nothing written
            records.lines.append(message)
            event("file-level error: " + message.split(": ", 2)[1][:30])
        else:
            for f in landed:
                assert f.rows_received == f.rows_loaded + f.rows_quarantined, f
            fuzzed = next(f for f in landed if f.file == f"{feed}/{name}")
            if written is not None:
                assert fuzzed.rows_received == written
            event(f"landed: {'some' if fuzzed.rows_loaded else 'no'} rows loaded, "
                  f"{'some' if fuzzed.rows_quarantined else 'none'} quarantined")
            report, quarantine = landing.night_reports(con, NIGHT)
            assert not quarantine["reason"].astype(str).str.contains(FULL_ID).any()
        finally:
            con.close()
        outside = {p for p in _tree(sandbox) if not p.startswith(("feeds", "data"))}
        assert outside == set()
        log_text = "\n".join(records.lines)
        assert not FULL_ID.search(log_text), log_text[:500]
    finally:
        root_logger.removeHandler(records)
        root_logger.setLevel(old_level)
        shutil.rmtree(sandbox, ignore_errors=True)
