"""Finding and reading feed files: CSV (UTF-8, UTF-8 with BOM, GBK) or Parquet, and for worker
feedback also the sub-district's own returned outreach workbook (`.xlsx`).

A file is read into a table of strings, exactly as delivered, so that every
row can be checked and, if bad, quarantined with its original text.
File-level problems raise `FeedFileError` with one line naming the file.
Files are read as a stream within the limits of `settings` (file size, line
and field length, columns), so no file can make a night run out of memory.
"""
from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from poverty_warning import settings
from poverty_warning.contract import FEEDS
from poverty_warning.ingest.errors import FeedFileError

DATED_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class FeedFile:
    feed: str
    path: Path
    rel: str  # path relative to the feeds directory, as reports name it
    delivery_date: str | None  # the dated folder it came in, if any

    def sha256(self) -> str:
        h = hashlib.sha256()
        with self.path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()


def feed_suffixes(feed: str) -> tuple[str, ...]:
    return (".csv", ".parquet", ".txt") + ((".xlsx",) if feed == "outreach_feedback" else ())


def discover(feeds_dir: Path, until: str | None = None) -> list[FeedFile]:
    """Every feed file below `feeds_dir`, dated deliveries after `until` left out."""
    if not feeds_dir.is_dir():
        raise FeedFileError(f"{feeds_dir}: feeds directory not found")
    found: list[FeedFile] = []
    for feed in FEEDS.values():
        folder = feeds_dir / feed.name
        if not folder.is_dir():
            if feed.required_feed:
                raise FeedFileError(f"{feed.name}/: required feed is missing")
            continue
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.name.startswith((".", "_")):
                continue
            if path.suffix.lower() not in feed_suffixes(feed.name):
                continue
            dated = next((p for p in path.relative_to(folder).parts[:-1] if DATED_FOLDER.match(p)), None)
            if until and dated and dated > until:
                continue
            found.append(FeedFile(feed.name, path, path.relative_to(feeds_dir).as_posix(), dated))
    return found


BOM = b"\xef\xbb\xbf"
LONE_CR = re.compile(r"(?<=\r)(?!\n)(?=.)", re.S)


def _byte_lines(f, ff: "FeedFile"):
    """The file's lines as bytes, each at most MAX_LINE_BYTES long: a longer line is never held whole.
    (Splitting on the newline byte is safe in UTF-8 and GB18030: it is never part of a longer character.)"""
    limit = settings.MAX_LINE_BYTES
    number = 0
    while line := f.readline(limit + 1):
        number += 1
        if len(line) > limit and not (len(line) == limit + 1 and line.endswith(b"\n")):
            raise FeedFileError(f"{ff.rel}: unreadable file: line {number} is longer than {limit} bytes")
        yield line


def _undecodable_lines(ff: "FeedFile", encoding: str) -> int:
    count = 0
    with ff.path.open("rb") as f:
        for line in _byte_lines(f, ff):
            try:
                line.decode(encoding)
            except UnicodeDecodeError:
                count += 1
    return count


def _encoding(ff: "FeedFile") -> str:
    """utf-8-sig with a BOM; else UTF-8 or GB18030 (a superset of GBK), whichever reads more lines."""
    with ff.path.open("rb") as f:
        if f.read(3) == BOM:
            return "utf-8-sig"
    bad_in_utf8 = _undecodable_lines(ff, "utf-8")
    if bad_in_utf8 and _undecodable_lines(ff, "gb18030") < bad_in_utf8:
        return "gb18030"
    return "utf-8"


class _DecodedLines:
    """The file's lines as text; a line with bytes the encoding cannot read is remembered (its row is
    quarantined) and passed on with those bytes replaced."""

    def __init__(self, f, ff: "FeedFile", encoding: str):
        self.f, self.ff, self.encoding = f, ff, encoding
        self.unreadable: set[int] = set()  # physical line numbers

    def __iter__(self):
        number = 0
        for line in _byte_lines(self.f, self.ff):
            try:
                text, readable = line.decode(self.encoding), True
            except UnicodeDecodeError:
                text, readable = line.decode(self.encoding, errors="replace"), False
            # A lone carriage return ends a line too (as the csv module expects of its input).
            for piece in LONE_CR.split(text):
                number += 1
                if not readable:
                    self.unreadable.add(number)
                yield piece


@dataclass
class RawTable:
    """A file's rows as strings, plus rows whose shape was already wrong."""
    columns: list[str]
    frame: pd.DataFrame  # one column per header name, "" for empty, plus _row_number
    malformed: list[tuple[int, str]]  # (row_number, reason)

    @property
    def rows_received(self) -> int:
        return len(self.frame) + len(self.malformed)


def read(ff: FeedFile) -> RawTable:
    try:
        if ff.path.suffix.lower() == ".parquet":
            try:
                return _read_parquet(ff)
            except (OSError, ValueError) as exc:
                if "magic bytes" in str(exc) or "Parquet" in str(exc):
                    raise FeedFileError(f"{ff.rel}: unreadable file: not a valid Parquet file") from None
                raise
        if ff.path.suffix.lower() == ".xlsx":
            from poverty_warning.ingest.returned_workbook import read_feedback

            return _from_rows(ff, *read_feedback(ff.path, ff.rel, ff.delivery_date))
        return _read_csv(ff)
    except FeedFileError:
        raise
    except Exception as exc:  # any parser failure is a file-level fault, never a traceback
        raise FeedFileError(f"{ff.rel}: unreadable file: {type(exc).__name__}: {exc}".splitlines()[0]) from None


def check_size(ff: FeedFile) -> None:
    size = ff.path.stat().st_size
    if size > settings.MAX_FEED_FILE_BYTES:
        raise FeedFileError(f"{ff.rel}: file too large: {size} bytes, the limit is {settings.MAX_FEED_FILE_BYTES} "
                            "(split the delivery into several files)")


def _read_csv(ff: FeedFile) -> RawTable:
    check_size(ff)
    encoding = _encoding(ff)
    previous_limit = csv.field_size_limit(settings.MAX_FIELD_CHARS)
    try:
        with ff.path.open("rb") as f:
            lines = _DecodedLines(f, ff, encoding)
            reader = csv.reader(lines)
            try:
                header = [h.strip() for h in next(reader, [])]
                if not any(header):
                    raise FeedFileError(f"{ff.rel}: unreadable file: empty, not even a header row")
                if lines.unreadable:
                    raise FeedFileError(f"{ff.rel}: unreadable file: the header is not UTF-8 or GBK text")
                if len(header) > settings.MAX_COLUMNS:
                    raise FeedFileError(f"{ff.rel}: header has {len(header)} columns, "
                                        f"the limit is {settings.MAX_COLUMNS}")
                _check_header(ff, header)
                return _rows(ff, header, reader, lines.unreadable)
            except csv.Error as exc:
                raise FeedFileError(f"{ff.rel}: unreadable file: line {reader.line_num}: {exc}") from None
    finally:
        csv.field_size_limit(previous_limit)


def _rows(ff: FeedFile, header: list[str], reader, unreadable: set[int]) -> RawTable:
    """The rows of the contract's columns (other columns are not kept). A row of the wrong width, or
    with bytes that are not text in the file's encoding, is malformed."""
    width = len(header)
    wanted = [i for i, h in enumerate(header) if h in FEEDS[ff.feed].column_names]
    good, malformed = [], []
    last_line = reader.line_num
    for i, row in enumerate(reader, start=1):
        first_line, last_line = last_line + 1, reader.line_num  # a quoted field may span lines
        if len(row) <= 1 and all(not c.strip() for c in row):
            continue  # blank line, e.g. a trailing newline: not a row
        if unreadable and any(n in unreadable for n in range(first_line, last_line + 1)):
            malformed.append((i, "含有无法识别的字节（不是UTF-8或GBK文本）"))
            continue
        if len(row) != width:
            malformed.append((i, f"字段数为{len(row)}，与表头的{width}列不符（行被截断或多出分隔符）"))
            continue
        good.append([row[j].strip() for j in wanted] + [i])
    columns = [header[j] for j in wanted] + ["_row_number"]
    frame = pd.DataFrame(good, columns=columns) if good else pd.DataFrame(columns=columns)
    return RawTable([header[j] for j in wanted], frame, malformed)


def _from_rows(ff: FeedFile, header: list[str], rows: list[list[str]]) -> RawTable:
    _check_header(ff, header)
    frame = pd.DataFrame([r + [i] for i, r in enumerate(rows, start=1)], columns=header + ["_row_number"])
    return RawTable(header, frame, [])


def _read_parquet(ff: FeedFile) -> RawTable:
    import pyarrow.parquet as pq

    check_size(ff)
    meta = pq.ParquetFile(ff.path).metadata
    if meta.num_columns > settings.MAX_COLUMNS:
        raise FeedFileError(f"{ff.rel}: file has {meta.num_columns} columns, the limit is {settings.MAX_COLUMNS}")
    unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if unpacked > settings.MAX_FEED_FILE_BYTES:  # a small file can unpack to a huge one
        raise FeedFileError(f"{ff.rel}: file too large: {unpacked} bytes uncompressed, "
                            f"the limit is {settings.MAX_FEED_FILE_BYTES}")
    names = pq.read_schema(ff.path).names
    header = [str(c).strip() for c in names]
    _check_header(ff, header)
    wanted = [name for name, h in zip(names, header) if h in FEEDS[ff.feed].column_names]
    df = pq.read_table(ff.path, columns=wanted).to_pandas() if wanted else pd.DataFrame(index=range(meta.num_rows))
    out = pd.DataFrame({h: _as_text(df[name]) for name, h in zip(names, header) if name in wanted})
    out["_row_number"] = range(1, len(out) + 1)
    return RawTable([h for h in header if h in FEEDS[ff.feed].column_names], out, [])


def _as_text(s: pd.Series) -> pd.Series:
    def one(v):
        if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if hasattr(v, "isoformat") and not isinstance(v, str):
            return v.isoformat()[:10]
        return str(v).strip()
    return s.map(one).astype(object)


def _check_header(ff: FeedFile, header: list[str]) -> None:
    feed = FEEDS[ff.feed]
    seen = set()
    for h in header:
        if h in seen and h in feed.column_names:
            raise FeedFileError(f"{ff.rel}: column {h} appears twice in the header")
        seen.add(h)
    missing = [c for c in feed.required_columns if c not in header]
    if missing:
        raise FeedFileError(f"{ff.rel}: required column {missing[0]} is missing")
