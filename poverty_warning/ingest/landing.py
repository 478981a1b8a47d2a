"""Landing: each feed file is checked once and stored once, as Parquet.

A night lands the files it has not seen (by path and sha256): loaded rows go
to `lake/<feed>/`, quarantined rows to `lake/_quarantine/<feed>/`, and one
registry row per file to `meta.landed_files` in DuckDB. The files are read as
a stream into DuckDB tables of raw text, in chunks of bounded size, and checked
there in SQL (`rowcheck.checked_table`), so memory does not grow with the
delivery: DuckDB spills to disk within its memory limit. Nothing already landed
is read again except the keys a new batch is checked against, so a night costs
what its own delivery costs. The `raw.<feed>` views that dbt reads span the
landed Parquet files.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from poverty_warning import settings
from poverty_warning.contract import AMOUNT, BOOL, DATE, FEEDS, INT, LANDING_ORDER
from poverty_warning.contract.ids import person_keys
from poverty_warning.ingest import feeds as feedio
from poverty_warning.ingest.rowcheck import (
    CLAIM_AMOUNTS, REF_CASES, REF_ORIGINALS, REF_PERSONS, REF_REVERSED, check_codes_in_order, checked_table,
    forget_stage, stage_table)
from poverty_warning.warehouse import SPILL_FOLDER, connect, create_tables, limit_memory
from poverty_warning.workspace import Workspace

log = logging.getLogger(__name__)

SQL_TYPE = {AMOUNT: "DECIMAL(18,2)", DATE: "DATE", INT: "INTEGER", BOOL: "BOOLEAN"}


@dataclass
class LandedFile:
    feed: str
    file: str
    rows_received: int
    rows_loaded: int
    rows_quarantined: int


@dataclass
class _Staged:
    """A file read into its feed's stage table."""
    ff: feedio.FeedFile
    digest: str
    first_pos: int  # the `_pos` of its row 0 (rows are numbered on from it)
    rows: int  # rows staged (well-formed)
    malformed: list[tuple[int, str]]

    @property
    def rows_received(self) -> int:
        return self.rows + len(self.malformed)


def pending(con: duckdb.DuckDBPyConnection, feeds_dir: Path, night: str) -> list[tuple[feedio.FeedFile, str]]:
    """The night's files not landed before (by path and sha256), in landing order."""
    create_tables(con)
    seen = {(f, s) for f, s in con.execute("SELECT file, sha256 FROM meta.landed_files").fetchall()}
    order = {name: i for i, name in enumerate(LANDING_ORDER)}
    todo = []
    for ff in sorted(feedio.discover(feeds_dir, until=night),
                     key=lambda f: (order[f.feed], f.delivery_date or "", f.rel)):
        feedio.check_size(ff)  # before hashing: a huge file is refused without reading it
        digest = ff.sha256()
        if (ff.rel, digest) not in seen:
            todo.append((ff, digest))
    return todo


def land(con: duckdb.DuckDBPyConnection, lake: Path, feeds_dir: Path, night: str,
         id_key: bytes | None = None) -> list[LandedFile]:
    """Land every file not landed before; return what this call landed.

    Every new file is read into DuckDB first, so that a file-level fault (missing feed or column,
    unreadable file) stops the night before anything is written. The new files of a feed are then
    checked and written in parts of about LANDING_PART_ROWS rows (one Parquet file per part), so a
    backfill of years of daily files costs a few passes per feed, not one per file, and its checked rows
    never outgrow the memory bound. `id_key` keys the index of known persons
    (default: the bureau's key from the settings).
    """
    limit_memory(con, lake.parent / SPILL_FOLDER)
    todo = pending(con, feeds_dir, night)
    landed: list[LandedFile] = []
    key = (id_key or settings.id_hash_key()) if todo else b""
    if todo:
        _hash_old_person_index(con, key)
    try:
        staged = _stage(con, todo, night)
        for feed in LANDING_ORDER:
            if staged.get(feed):
                landed.extend(_land_batch(con, lake, feed, staged[feed], night, key))
    finally:
        for feed in FEEDS:
            con.execute(f"DROP TABLE IF EXISTS {_stage_name(feed)}")
        con.execute("DROP TABLE IF EXISTS checked_batch")
    refresh_raw_views(con, lake)
    return landed


def land_feeds(ws: Workspace, feeds_dir: Path, night: str) -> list[LandedFile]:
    """Land a feeds folder into a workspace on its own connection (what the ingest step and the
    landing benchmark time)."""
    con = connect(ws)
    try:
        return land(con, ws.lake, feeds_dir, night)
    finally:
        con.close()


def _stage_name(feed: str) -> str:
    return f"stage_{feed}"


FILE_POSITION_SHIFT = 32  # a row's position in a batch: the file's ordinal, shifted, plus its row number


def _stage(con, todo, night: str) -> dict[str, list[_Staged]]:
    """Read every file into its feed's stage table of raw text: plain CSV files split by DuckDB, many in one
    query (a query has a fixed cost, and daily files are small); other files chunk by chunk, small chunks
    gathered into one insert of up to CHUNK_ROWS rows."""
    staged: dict[str, list[_Staged]] = {}
    chunks: list[pa.Table] = []
    plain: dict[tuple, list] = {}  # header columns -> (PlainCsv, first position, delivery date)

    def flush(feed: str) -> None:
        if chunks:
            arrow = pa.concat_tables(chunks, promote_options="default")  # a column one file lacks: null
            names = ", ".join(f'coalesce("{c}", \'\') AS "{c}"' if c in FEEDS[feed].column_names else c
                              for c in arrow.schema.names)
            con.register("_chunk", arrow)
            con.execute(f"INSERT INTO {_stage_name(feed)} BY NAME SELECT {names} FROM _chunk")
            con.unregister("_chunk")
            chunks.clear()
        for (columns, _, _), files in plain.items():
            counts = feedio.stage_plain(con, files, list(columns), _stage_name(feed))
            for s in staged[feed]:
                if s.ff.rel in counts:
                    s.rows, s.malformed = counts[s.ff.rel]
        plain.clear()

    feed = None
    for ordinal, (ff, digest) in enumerate(todo):
        if ff.feed != feed:
            if feed:
                flush(feed)
            feed = ff.feed
            stage_table(con, feed, _stage_name(feed))
            staged[feed] = []
        first_pos = ordinal << FILE_POSITION_SHIFT
        raw = feedio.stream(ff, plain=True)
        if raw.plain:
            key = (tuple(raw.columns), raw.plain.width, tuple(raw.plain.wanted))
            plain.setdefault(key, []).append((raw.plain, first_pos, ff.delivery_date or night))
            staged[feed].append(_Staged(ff, digest, first_pos, 0, []))  # counted when the query has run
            continue
        rows = 0
        for chunk in raw.chunks:
            n = len(chunk["_row_number"])
            try:
                chunks.append(pa.table({
                    "_pos": pa.array(first_pos + np.asarray(chunk["_row_number"], dtype=np.int64)),
                    "_file": pa.array([ff.rel] * n, pa.string()),
                    "_row_number": pa.array(chunk["_row_number"], pa.int64()),
                    "_delivery_date": pa.array([ff.delivery_date or night] * n, pa.string()),
                    **{c: pa.array(chunk[c], pa.string()) for c in raw.columns}}))
            except (pa.ArrowException, UnicodeError) as exc:  # e.g. text that is not Unicode: a file fault
                raise feedio.FeedFileError(f"{ff.rel}: unreadable file: {type(exc).__name__}".splitlines()[0]) from None
            rows += n
            if sum(t.num_rows for t in chunks) >= feedio.CHUNK_ROWS:
                flush(feed)
        staged[feed].append(_Staged(ff, digest, first_pos, rows, raw.malformed))
    if feed:
        flush(feed)
    return staged


# Rows checked and written at a time: a backfill of months lands part by part, each part's checked rows
# (raw, typed and flags, ~0.5 KB a row) held well within DuckDB's default memory bound instead of spilling.
# A part is whole files; the night's batch is still staged (and its file faults found) before any is written.
LANDING_PART_ROWS = 1_000_000


def _parts(batch: list[_Staged]) -> list[list[_Staged]]:
    """The batch's files in order, grouped into parts of about LANDING_PART_ROWS rows (a bigger file alone)."""
    parts: list[list[_Staged]] = [[]]
    rows = 0
    for s in batch:
        if parts[-1] and rows + s.rows > LANDING_PART_ROWS:
            parts.append([])
            rows = 0
        parts[-1].append(s)
        rows += s.rows
    return parts


def _land_batch(con, lake: Path, feed: str, batch: list[_Staged], night: str, key: bytes) -> list[LandedFile]:
    """Check and write a feed's new files part by part (see LANDING_PART_ROWS): each part is checked against
    everything landed before it, this night's earlier parts included, so the reasons do not depend on how
    the batch is cut."""
    from poverty_warning.quality.expectations import clear_batch_projection, projection_path, projection_sql

    cases_known = _reference_views(con, feed, key)
    clear_batch_projection(lake, feed, night)
    parts = _parts(batch)
    result: list[LandedFile] = []
    for number, part in enumerate(parts):
        positions = (part[0].first_pos, part[-1].first_pos + (1 << FILE_POSITION_SHIFT) - 1)
        checked_table(con, feed, _stage_name(feed), "checked_batch", cases_known, positions, id_facts=number == 0)
        lake_path = _new_batch_path(lake / feed, night)
        _copy(con, f"SELECT {_select_typed(feed)}, _file, CAST(_row_number AS INTEGER) AS _row_number, "
                   f"CAST(_delivery_date AS DATE) AS _delivery_date, DATE '{night}' AS _night "
                   "FROM checked_batch WHERE reason = ''", lake_path)
        _index_keys(con, feed, key)
        if number + 1 < len(parts):
            _reference_this_part(con, feed)
        _copy(con, projection_sql(feed, "checked_batch"), projection_path(lake, feed, night, number))
        result += _register_part(con, lake, feed, part, night, lake_path)
        con.execute("DROP TABLE checked_batch")
    con.execute(f"DROP TABLE {_stage_name(feed)}")  # the next feed's batch needs the memory
    con.execute(f"DROP TABLE IF EXISTS {NAMED_LATER}")
    forget_stage(con, feed)
    log.info("landed %s: %d files in %d parts, %d rows loaded, %d quarantined", feed, len(batch), len(parts),
             sum(r.rows_loaded for r in result), sum(r.rows_quarantined for r in result))
    return result


def _register_part(con, lake: Path, feed: str, part: list[_Staged], night: str, lake_path: Path) -> list[LandedFile]:
    """Write the part's quarantined rows and one registry row per file."""
    q_path = _new_batch_path(lake / "_quarantine" / feed, night)
    malformed = pd.DataFrame([(s.ff.rel, row, reason) for s in part for row, reason in s.malformed],
                             columns=["file", "row_number", "reason"]).astype({"file": object, "reason": object})
    con.register("_malformed", malformed)
    quarantined = ("SELECT _file AS file, _row_number AS row_number, reason FROM checked_batch WHERE reason <> '' "
                   "UNION ALL SELECT file, row_number, reason FROM _malformed")
    q_rows = con.execute(f"SELECT count(*) FROM ({quarantined})").fetchall()[0][0]
    if q_rows:
        _copy(con, f"SELECT {_lit(feed)} AS feed, CAST(file AS VARCHAR) AS file, CAST(row_number AS INTEGER) "
                   f"AS row_number, CAST(reason AS VARCHAR) AS reason, DATE '{night}' AS night "
                   f"FROM ({quarantined}) ORDER BY file, row_number", q_path)
    con.unregister("_malformed")
    counts = {f: (int(loaded), int(bad)) for f, loaded, bad in con.execute(
        "SELECT _file, count(*) FILTER (WHERE reason = ''), count(*) FILTER (WHERE reason <> '') "
        "FROM checked_batch GROUP BY _file").fetchall()}
    result = []
    for s in part:
        n_loaded, n_bad = counts.get(s.ff.rel, (0, 0))
        n_q = n_bad + len(s.malformed)
        con.execute("INSERT INTO meta.landed_files VALUES (?,?,?,?,?,?,?,?,?,?)", [
            s.ff.feed, s.ff.rel, s.digest, s.ff.delivery_date or night, night, s.rows_received, n_loaded, n_q,
            str(lake_path), str(q_path) if n_q else None])
        result.append(LandedFile(s.ff.feed, s.ff.rel, s.rows_received, n_loaded, n_q))
    return result


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _copy(con, select: str, path: Path) -> None:
    """Write a query's rows as one Parquet file, in full or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    con.execute(f"COPY ({select}) TO {_lit(str(tmp))} (FORMAT parquet)")
    tmp.replace(path)


def _new_batch_path(folder: Path, night: str) -> Path:
    """`night=<night>.parquet`, or `night=<night>.<n>.parquet` when the night already landed a batch of
    this feed (a rerun that finds a late file): a landed batch is never overwritten."""
    path, n = folder / f"night={night}.parquet", 1
    while path.exists():
        n += 1
        path = folder / f"night={night}.{n}.parquet"
    return path


def _lake_glob(lake: Path, feed: str) -> str | None:
    folder = lake / feed
    return str(folder / "*.parquet") if folder.is_dir() and any(folder.glob("*.parquet")) else None


def _reference_views(con, feed: str, key: bytes) -> bool:
    """The landed keys the row checks read; returns whether any list was ever published (the cases). The
    index of known persons holds keyed hashes: the batch's IDs are hashed and looked up."""
    checks_persons = "known_person" in check_codes_in_order(feed)  # hashing a night's IDs is not free
    ids = [v for (v,) in con.execute(f"SELECT DISTINCT upper(person_id) FROM {_stage_name(feed)} "
                                     "WHERE person_id <> ''").fetchall()] if checks_persons else []
    con.register("_wanted_persons", _keyed(ids, key))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {REF_PERSONS} AS SELECT DISTINCT CAST(w.person_id AS VARCHAR) "
                "AS person_id FROM meta.person_keys AS k JOIN _wanted_persons AS w "
                "ON CAST(w.person_key AS VARCHAR) = k.person_key")
    con.unregister("_wanted_persons")
    # The landed claims the batch's claim ids and reversals name, not every claim ever landed (millions at
    # city scale): the checks join them on those values exactly as delivered (claim ids have no defaults).
    named = (f"SELECT claim_id FROM {_stage_name(feed)} UNION SELECT reversal_of FROM {_stage_name(feed)}"
             if feed == "claims" else "SELECT NULL")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {REF_ORIGINALS} AS SELECT claim_id, cents FROM meta.claim_keys "
                f"WHERE reversal_of IS NULL AND claim_id IN ({named})")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {REF_REVERSED} AS SELECT reversal_of FROM meta.claim_keys "
                f"WHERE reversal_of IS NOT NULL AND reversal_of IN ({named})")
    if feed == "claims":  # what a later part of the batch may name again: its reversals' originals, repeated ids
        con.execute(f"CREATE OR REPLACE TEMP TABLE {NAMED_LATER} AS SELECT reversal_of AS claim_id "
                    f"FROM {_stage_name(feed)} WHERE reversal_of <> '' UNION SELECT claim_id "
                    f"FROM {_stage_name(feed)} WHERE claim_id <> '' GROUP BY claim_id HAVING count(*) > 1")
    known = con.execute("SELECT count(*) FROM information_schema.tables "
                        "WHERE table_schema = 'meta' AND table_name = 'case_log'").fetchall()[0][0]
    if known:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {REF_CASES} AS SELECT case_id, subdistrict_code FROM meta.case_log")
    return bool(known)


NAMED_LATER = "named_later"


def _reference_this_part(con, feed: str) -> None:
    """Add the part's loaded claims that a later part names to the reference tables, as if landed before."""
    if feed != "claims":
        return
    cents = ", ".join(CLAIM_AMOUNTS)
    con.execute(f"INSERT INTO {REF_ORIGINALS} SELECT claim_id, [{cents}] FROM checked_batch WHERE reason = '' "
                f"AND reversal_of IS NULL AND claim_id IN (SELECT claim_id FROM {NAMED_LATER})")
    con.execute(f"INSERT INTO {REF_REVERSED} SELECT reversal_of FROM checked_batch WHERE reason = '' "
                f"AND reversal_of IS NOT NULL AND reversal_of IN (SELECT claim_id FROM {NAMED_LATER})")


def _keyed(person_ids, key: bytes) -> pd.DataFrame:
    """Each distinct ID beside its keyed hash: the index of known persons holds only the hash."""
    ids = pd.Series(person_ids, dtype=object).astype(str).str.upper().drop_duplicates().tolist()
    return pd.DataFrame({"person_id": ids, "person_key": person_keys(ids, key)}, dtype=object)


def _hash_old_person_index(con, key: bytes) -> None:
    """A warehouse from before the keyed hash kept the known persons' IDs: replace them by their keys once."""
    columns = {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns "
                                         "WHERE table_schema = 'meta' AND table_name = 'person_keys'").fetchall()}
    if "person_id" not in columns:
        return
    old = [v for (v,) in con.execute("SELECT DISTINCT person_id FROM meta.person_keys").fetchall()]
    con.execute("DROP TABLE meta.person_keys")
    create_tables(con)
    con.register("k", _keyed(old, key)[["person_key"]])
    con.execute("INSERT INTO meta.person_keys SELECT person_key FROM k")
    con.unregister("k")


def _index_keys(con, feed: str, key: bytes) -> None:
    """Remember the keys later batches are checked against (persons by their keyed hash)."""
    if feed == "persons":
        loaded = [v for (v,) in con.execute("SELECT DISTINCT person_id FROM checked_batch WHERE reason = ''").fetchall()]
        con.register("_loaded_persons", _keyed(loaded, key)[["person_key"]])
        con.execute("INSERT INTO meta.person_keys SELECT DISTINCT CAST(person_key AS VARCHAR) FROM _loaded_persons "
                    "WHERE person_key NOT IN (SELECT person_key FROM meta.person_keys)")
        con.unregister("_loaded_persons")
    elif feed == "claims":
        cents = ", ".join(CLAIM_AMOUNTS)
        # No order needed: a claim id loads once (unique:claim_id), and the index is only looked up.
        con.execute(f"INSERT INTO meta.claim_keys SELECT claim_id, reversal_of, [{cents}] FROM checked_batch "
                    "WHERE reason = ''")


def _select_typed(feed: str) -> str:
    cols = []
    for c in FEEDS[feed].columns:
        if c.type == AMOUNT:  # held in cents
            cols.append(f'CAST(CAST("{c.name}" AS DECIMAL(18,0)) / 100 AS DECIMAL(18,2)) AS "{c.name}"')
        else:
            cols.append(f'CAST("{c.name}" AS {SQL_TYPE.get(c.type, "VARCHAR")}) AS "{c.name}"')
    return ", ".join(cols)


def _empty_select(feed: str) -> str:
    cols = [f"CAST(NULL AS {SQL_TYPE.get(c.type, 'VARCHAR') if c.type != AMOUNT else 'DECIMAL(18,2)'}) AS {c.name}"
            for c in FEEDS[feed].columns]
    return ("SELECT " + ", ".join(cols) + ", CAST(NULL AS VARCHAR) AS _file, CAST(NULL AS INTEGER) AS _row_number, "
            "CAST(NULL AS DATE) AS _delivery_date, CAST(NULL AS DATE) AS _night WHERE false")


def refresh_raw_views(con, lake: Path) -> None:
    """`raw.<feed>` spans every landed Parquet file of the feed (empty if none)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for feed in FEEDS:
        glob = _lake_glob(lake, feed)
        body = (f"SELECT * FROM read_parquet('{glob}', union_by_name = true)" if glob else _empty_select(feed))
        con.execute(f"CREATE OR REPLACE VIEW raw.{feed} AS {body}")
    q_any = lake / "_quarantine"
    q_glob = str(q_any / "*" / "*.parquet") if q_any.is_dir() and any(q_any.glob("*/*.parquet")) else None
    con.execute("CREATE OR REPLACE VIEW raw.quarantine AS " + (
        f"SELECT * FROM read_parquet('{q_glob}')" if q_glob else
        "SELECT CAST(NULL AS VARCHAR) AS feed, CAST(NULL AS VARCHAR) AS file, CAST(NULL AS INTEGER) AS row_number, "
        "CAST(NULL AS VARCHAR) AS reason, CAST(NULL AS DATE) AS night WHERE false"))


def night_reports(con, night: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """load_report and quarantine rows for the files landed for `night`."""
    report = con.execute(
        "SELECT feed, file, rows_received, rows_loaded, rows_quarantined FROM meta.landed_files "
        "WHERE night = CAST(? AS DATE) ORDER BY feed, file", [night]).df()
    quarantine = con.execute(
        "SELECT feed, file, row_number, reason FROM raw.quarantine WHERE night = CAST(? AS DATE) "
        "ORDER BY feed, file, row_number", [night]).df()
    return report, quarantine
