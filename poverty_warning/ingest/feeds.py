"""Finding and reading feed files: CSV (UTF-8, UTF-8 with BOM, GBK) or Parquet, and for worker
feedback also the sub-district's own returned outreach workbook (`.xlsx`).

A file is read into a table of strings, exactly as delivered, so that every
row can be checked and, if bad, quarantined with its original text.
File-level problems raise `FeedFileError` with one line naming the file.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from poverty_warning.contract import FEEDS

DATED_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class FeedFileError(Exception):
    """A file-level fault: the run stops before writing anything."""


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


def _decode(raw: bytes, rel: str) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")  # a superset of GBK
    except UnicodeDecodeError:
        raise FeedFileError(f"{rel}: unreadable file: not UTF-8 or GBK text") from None


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


def _read_csv(ff: FeedFile) -> RawTable:
    raw = ff.path.read_bytes()
    if not raw.strip():
        raise FeedFileError(f"{ff.rel}: unreadable file: empty, not even a header row")
    text = _decode(raw, ff.rel)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
        rows = list(reader)
    except csv.Error as exc:
        raise FeedFileError(f"{ff.rel}: unreadable file: {exc}") from None
    _check_header(ff, header)
    width = len(header)
    good, malformed = [], []
    for i, row in enumerate(rows, start=1):
        if not row or all(not c.strip() for c in row):
            if len(row) <= 1:
                continue  # blank line, e.g. a trailing newline: not a row
        if len(row) != width:
            malformed.append((i, f"字段数为{len(row)}，与表头的{width}列不符（行被截断或多出分隔符）"))
            continue
        good.append([c.strip() for c in row] + [i])
    frame = pd.DataFrame(good, columns=header + ["_row_number"]) if good else pd.DataFrame(
        columns=header + ["_row_number"])
    return RawTable(header, frame, malformed)


def _from_rows(ff: FeedFile, header: list[str], rows: list[list[str]]) -> RawTable:
    _check_header(ff, header)
    frame = pd.DataFrame([r + [i] for i, r in enumerate(rows, start=1)], columns=header + ["_row_number"])
    return RawTable(header, frame, [])


def _read_parquet(ff: FeedFile) -> RawTable:
    import pyarrow.parquet as pq

    table = pq.read_table(ff.path)
    header = [str(c).strip() for c in table.column_names]
    _check_header(ff, header)
    df = table.to_pandas()
    out = pd.DataFrame({c: _as_text(df[c]) for c in df.columns})
    out.columns = header
    out["_row_number"] = range(1, len(out) + 1)
    return RawTable(header, out, [])


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
