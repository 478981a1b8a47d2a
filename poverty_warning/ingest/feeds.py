"""Finding and reading feed files: CSV (UTF-8, UTF-8 with BOM, GBK) or Parquet, and for worker
feedback also the sub-district's own returned outreach workbook (`.xlsx`).

A file is read into a table of strings, exactly as delivered, so that every
row can be checked and, if bad, quarantined with its original text.
File-level problems raise `FeedFileError` with one line naming the file.
Files are read as a stream within the limits of `settings` (file size, line
and field length, columns), so no file can make a night run out of memory.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import itertools
import re
from collections.abc import Iterator
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


def _is_utf8(ff: "FeedFile") -> bool:
    """The whole file is UTF-8, read in blocks (lines split at a newline byte are then UTF-8 too)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with ff.path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _plain_scan(ff: "FeedFile") -> "PlainScan | None":
    """See PlainCsv: checked on the bytes, a block at a time; None if the file is not plain."""
    if any(c in str(ff.path) for c in GLOB_CHARACTERS):  # DuckDB would take the path as a pattern
        return None
    limit = min(settings.MAX_LINE_BYTES, settings.MAX_FIELD_CHARS)  # a field is never longer than its line
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, after_cr, offset, newlines, may_pad, last = 0, False, 0, 0, False, b""
    try:
        with ff.path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                decoder.decode(block)
                inner_bom = block.find(BOM, 1 if offset == 0 else 0)
                if b'"' in block or b"\x00" in block or inner_bom >= 0:
                    return None
                if after_cr and not block.startswith(b"\n"):
                    return None
                lone_crs = block.count(b"\r") - block.count(b"\r\n") - block.endswith(b"\r")
                if lone_crs:
                    return None
                after_cr = block.endswith(b"\r")
                # a character split between blocks is seen in the joined ends
                may_pad = may_pad or _has_padding(last[-3:] + block)
                newlines += block.count(b"\n")
                parts = block.split(b"\n")
                line += len(parts[0])
                if len(parts) > 1:
                    line = max(line, max(map(len, parts[1:-1]), default=0))
                    if line > limit:
                        return None
                    line = len(parts[-1])
                offset += len(block)
                last = block
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    if line > limit:
        return None
    return PlainScan(rows=newlines - last.endswith(b"\n"), may_pad=may_pad)


@dataclass
class PlainScan:
    rows: int  # lines after the header, the empty one after a final line break aside
    may_pad: bool  # white space other than line breaks occurs: a field may need stripping


# What str.strip() removes: the csv path strips each field with it.
WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
_WHITESPACE_CLASS = "[" + WHITESPACE + "]"  # none of its characters is special in a class
# Line breaks aside (a plain file's CR comes only before LF, and is cut first), how white space is spelt in UTF-8.
PADDING_BYTES = [c.encode() for c in WHITESPACE if c not in "\r\n"]


def _has_padding(data: bytes) -> bool:
    """Whether any of PADDING_BYTES occurs: single bytes and lead bytes are found by a fast scan, so the
    slower search for a longer sequence runs only where its lead byte occurs."""
    return any(w in data for w in PADDING_BYTES if len(w) == 1 or (w[:1] in data and w in data))


def stage_plain(con, files: list[tuple[PlainCsv, int, str]], columns: list[str], table: str
                ) -> dict[str, tuple[int, list[tuple[int, str]]]]:
    """Split plain CSV files with the same header columns in DuckDB, in one query, into `table`.
    `files` holds (file, first position, delivery date); a row's position is the file's first position
    plus its row number (line number − 1, as the csv path numbers it). Returns per file (rel) the rows
    staged and the malformed rows."""
    width = files[0][0].width
    wanted = files[0][0].wanted
    meta = pd.DataFrame({"path": [str(p.ff.path) for p, _, _ in files], "rel": [p.ff.rel for p, _, _ in files],
                         "first_pos": [pos for _, pos, _ in files], "delivery": [d for _, _, d in files],
                         "may_pad": [p.scan.may_pad for p, _, _ in files]})
    con.register("_plain_files", meta)
    paths = ", ".join("'" + path.replace("'", "''") + "'" for path in meta["path"])
    ws = _WHITESPACE_CLASS
    lines = ("SELECT f.rel, f.first_pos, f.delivery, x.n - 1 AS row_number, "
             "string_split(rtrim(x.line, chr(13)), ',') AS fields, "
             f"NOT contains(x.line, ',') AND regexp_full_match(x.line, '{ws}*') AS blank, "
             # str.strip() of each field: trimming a character set is slow, so only on lines that need it
             f"f.may_pad AND regexp_matches(rtrim(x.line, chr(13)), '(^|,){ws}|{ws}(,|$)') AS padded "
             "FROM (SELECT filename, unnest(l) AS line, generate_subscripts(l, 1) AS n "
             f"FROM (SELECT filename, string_split(content, chr(10)) AS l FROM read_text([{paths}]))) AS x "
             "JOIN _plain_files AS f ON f.path = x.filename "
             "WHERE x.n > 1")
    values = ", ".join(f"CASE WHEN padded THEN trim(fields[{j + 1}], '{WHITESPACE}') ELSE fields[{j + 1}] END "
                       f'AS "{c}"' for j, c in zip(wanted, columns))
    con.execute(f"INSERT INTO {table} BY NAME SELECT first_pos + row_number AS _pos, rel AS _file, "
                f"row_number AS _row_number, delivery AS _delivery_date, {values} FROM ({lines}) "
                f"WHERE NOT blank AND len(fields) = {width}")
    staged = dict(con.execute(f"SELECT _file, count(*) FROM {table} WHERE _file IN (SELECT rel FROM _plain_files) "
                              "GROUP BY _file").fetchall())
    malformed: dict[str, list[tuple[int, str]]] = {p.ff.rel: [] for p, _, _ in files}
    if any(staged.get(p.ff.rel, 0) != p.scan.rows for p, _, _ in files):  # else every line loaded: read them once
        for rel, n, found in con.execute(f"SELECT rel, row_number, len(fields) FROM ({lines}) WHERE NOT blank AND "
                                         f"len(fields) <> {width} ORDER BY rel, row_number").fetchall():
            malformed[rel].append((n, f"字段数为{found}，与表头的{width}列不符（行被截断或多出分隔符）"))
    con.unregister("_plain_files")
    return {p.ff.rel: (int(staged.get(p.ff.rel, 0)), malformed[p.ff.rel]) for p, _, _ in files}


def _encoding(ff: "FeedFile") -> str:
    """utf-8-sig with a BOM; else UTF-8 or GB18030 (a superset of GBK), whichever reads more lines."""
    with ff.path.open("rb") as f:
        if f.read(3) == BOM:
            return "utf-8-sig"
    if _is_utf8(ff):
        return "utf-8"
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
            for piece in (LONE_CR.split(text) if "\r" in text else (text,)):
                number += 1
                if not readable:
                    self.unreadable.add(number)
                yield piece


CHUNK_ROWS = 100_000  # rows handed on at a time: a file is never held whole as Python objects


@dataclass
class RawStream:
    """A file's rows as strings, in chunks of at most CHUNK_ROWS rows. A chunk maps each of `columns`
    (the contract's columns the file has, "" for empty) and `_row_number` to a list of values. Rows whose
    shape is already wrong are collected in `malformed` as the chunks are read.

    A plain file (`plain`: see `_plain_scan`) has no chunks: DuckDB splits it (`stage_plain`)."""
    columns: list[str]
    chunks: Iterator[dict[str, list]]
    malformed: list[tuple[int, str]]  # (row_number, reason)
    plain: "PlainCsv | None" = None


GLOB_CHARACTERS = "*?[]{}"


@dataclass
class PlainCsv:
    """A CSV file whose every line is one row and every comma a separator (no quotes, no line break
    inside a line but CR LF, no NUL, no BOM but the first, UTF-8, no line beyond the limits, no pattern
    character in its path): the csv module would read it exactly as splitting its lines at commas does."""
    ff: FeedFile
    width: int  # columns of the header
    wanted: list[int]  # positions (0-based) of the contract's columns
    scan: PlainScan


@dataclass
class RawTable:
    """A file's rows as strings, whole (for small files and tests), plus rows whose shape was already wrong."""
    columns: list[str]
    frame: pd.DataFrame  # one column per header name, "" for empty, plus _row_number
    malformed: list[tuple[int, str]]  # (row_number, reason)

    @property
    def rows_received(self) -> int:
        return len(self.frame) + len(self.malformed)


def read(ff: FeedFile) -> RawTable:
    """The whole file as one table (landing reads `stream` instead)."""
    raw = stream(ff)
    chunks = list(raw.chunks)
    frame = pd.DataFrame({c: [v for chunk in chunks for v in chunk[c]] for c in raw.columns + ["_row_number"]})
    return RawTable(raw.columns, frame, raw.malformed)


def stream(ff: FeedFile, chunk_rows: int = CHUNK_ROWS, plain: bool = False) -> RawStream:
    """Open a feed file: its header is checked now, its rows as the chunks are read. Either may raise
    FeedFileError (one line naming the file). With `plain`, a plain CSV file comes without chunks, for
    `stage_plain`."""
    malformed: list[tuple[int, str]] = []
    chunks = _guarded(ff, _chunks(ff, chunk_rows, malformed, plain))
    columns = next(chunks)
    first = next(chunks, None)
    if isinstance(first, PlainCsv):
        return RawStream(columns, iter(()), malformed, first)
    rest = chunks if first is None else itertools.chain([first], chunks)
    return RawStream(columns, rest, malformed)


def _guarded(ff: FeedFile, chunks: Iterator) -> Iterator:
    """Any parser failure is a file-level fault, never a traceback."""
    try:
        yield from chunks
    except FeedFileError:
        raise
    except Exception as exc:
        if ff.path.suffix.lower() == ".parquet" and ("magic bytes" in str(exc) or "Parquet" in str(exc)):
            raise FeedFileError(f"{ff.rel}: unreadable file: not a valid Parquet file") from None
        raise FeedFileError(f"{ff.rel}: unreadable file: {type(exc).__name__}: {exc}".splitlines()[0]) from None


def _chunks(ff: FeedFile, chunk_rows: int, malformed: list, plain: bool) -> Iterator:
    """First the file's contract columns, then its rows in chunks (or PlainCsv)."""
    suffix = ff.path.suffix.lower()
    if suffix == ".csv" or suffix == ".txt":
        yield from _csv_chunks(ff, chunk_rows, malformed, plain)
        return
    if suffix == ".parquet":
        table = _read_parquet(ff)
    else:
        from poverty_warning.ingest.returned_workbook import read_feedback

        table = _from_rows(ff, *read_feedback(ff.path, ff.rel, ff.delivery_date))
    yield table.columns
    for start in range(0, len(table.frame), chunk_rows):
        part = table.frame.iloc[start:start + chunk_rows]
        yield {c: part[c].tolist() for c in table.columns + ["_row_number"]}


def check_size(ff: FeedFile) -> None:
    size = ff.path.stat().st_size
    if size > settings.MAX_FEED_FILE_BYTES:
        raise FeedFileError(f"{ff.rel}: file too large: {size} bytes, the limit is {settings.MAX_FEED_FILE_BYTES} "
                            "(split the delivery into several files)")


def _csv_chunks(ff: FeedFile, chunk_rows: int, malformed: list, plain: bool) -> Iterator:
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
                wanted = [i for i, h in enumerate(header) if h in FEEDS[ff.feed].column_names]
                columns = [header[j] for j in wanted]
                yield columns
                scan = _plain_scan(ff) if plain and encoding != "gb18030" else None
                if scan:
                    yield PlainCsv(ff, len(header), wanted, scan)
                    return
                for rows in _csv_rows(header, wanted, reader, lines.unreadable, malformed, chunk_rows):
                    yield dict(zip(columns + ["_row_number"], map(list, zip(*rows))))
            except csv.Error as exc:
                raise FeedFileError(f"{ff.rel}: unreadable file: line {reader.line_num}: {exc}") from None
    finally:
        csv.field_size_limit(previous_limit)


def _csv_rows(header: list[str], wanted: list[int], reader, unreadable: set[int], malformed: list,
              chunk_rows: int) -> Iterator[list[list]]:
    """The rows of the contract's columns (other columns are not kept), `chunk_rows` at a time. A row of
    the wrong width, or with bytes that are not text in the file's encoding, is malformed."""
    width = len(header)
    chunk: list[list] = []
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
        chunk.append([row[j].strip() for j in wanted] + [i])
        if len(chunk) >= chunk_rows:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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
