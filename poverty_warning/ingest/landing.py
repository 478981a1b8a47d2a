"""Landing: each feed file is checked once and stored once, as Parquet.

A night lands the files it has not seen (by path and sha256): loaded rows go
to `lake/<feed>/`, quarantined rows to `lake/_quarantine/<feed>/`, and one
registry row per file to `meta.landed_files` in DuckDB. Nothing already landed
is read again except the few keys a new batch must be checked against, so a
night costs what its own delivery costs. The `raw.<feed>` views that dbt reads
span the landed Parquet files.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from poverty_warning import settings
from poverty_warning.ingest import feeds as feedio
from poverty_warning.warehouse import create_tables
from poverty_warning.contract import AMOUNT, BOOL, DATE, FEEDS, INT, LANDING_ORDER
from poverty_warning.contract.ids import person_key
from poverty_warning.ingest.rowcheck import CLAIM_AMOUNTS, Reference, check

log = logging.getLogger(__name__)

SQL_TYPE = {AMOUNT: "DECIMAL(18,2)", DATE: "DATE", INT: "INTEGER", BOOL: "BOOLEAN"}


@dataclass
class LandedFile:
    feed: str
    file: str
    rows_received: int
    rows_loaded: int
    rows_quarantined: int


def pending(con: duckdb.DuckDBPyConnection, feeds_dir: Path, night: str) -> list[tuple[feedio.FeedFile, str]]:
    """The night's files not landed before, each opened once so that a file-level
    fault (missing feed or column, unreadable file) stops the night before
    anything is written."""
    create_tables(con)
    seen = {(f, s) for f, s in con.execute("SELECT file, sha256 FROM meta.landed_files").fetchall()}
    order = {name: i for i, name in enumerate(LANDING_ORDER)}
    todo = []
    for ff in sorted(feedio.discover(feeds_dir, until=night),
                     key=lambda f: (order[f.feed], f.delivery_date or "", f.rel)):
        feedio.check_size(ff)  # before hashing: a huge file is refused without reading it
        digest = ff.sha256()
        if (ff.rel, digest) not in seen:
            feedio.read(ff)
            todo.append((ff, digest))
    return todo


def land(con: duckdb.DuckDBPyConnection, lake: Path, feeds_dir: Path, night: str,
         id_key: bytes | None = None) -> list[LandedFile]:
    """Land every file not landed before; return what this call landed.

    All new files of a feed are checked together and written as one Parquet
    file per feed and night, so a backfill of years of daily files costs one
    pass per feed, not one per file. `id_key` keys the index of known persons
    (default: the bureau's key from the settings).
    """
    todo = pending(con, feeds_dir, night)
    landed: list[LandedFile] = []
    key = (id_key or settings.id_hash_key()) if todo else b""
    if todo:
        _hash_old_person_index(con, key)
    for feed in LANDING_ORDER:
        batch = [(ff, digest) for ff, digest in todo if ff.feed == feed]
        if batch:
            landed.extend(_land_batch(con, lake, feed, batch, night, key))
    refresh_raw_views(con, lake)
    return landed


def _land_batch(con, lake: Path, feed: str, batch, night: str, key: bytes) -> list[LandedFile]:
    frames, malformed, received = [], [], {}
    for ff, _ in batch:
        table = feedio.read(ff)
        frame = table.frame.copy()
        frame["_file"] = ff.rel
        frame["_delivery_date"] = ff.delivery_date or night
        frames.append(frame)
        malformed.extend((ff.rel, row, reason) for row, reason in table.malformed)
        received[ff.rel] = table.rows_received
    frame = pd.concat(frames, ignore_index=True)
    for col in FEEDS[feed].column_names:
        if col not in frame:
            frame[col] = ""
    frame = frame.fillna("")
    checked = check(feed, frame, _reference(con, feed, frame, key))
    keep = frame.loc[checked.loaded_index, ["_file", "_delivery_date"]].reset_index(drop=True)
    loaded = pd.concat([checked.loaded, keep], axis=1)
    lake_path = _new_batch_path(lake / feed, night)
    q_path = _new_batch_path(lake / "_quarantine" / feed, night)
    _write_loaded(con, feed, loaded, lake_path, night)
    _index_keys(con, feed, checked.loaded, key)
    _write_batch_projection(feed, frame, checked, lake / "_batches" / feed / f"night={night}.parquet")
    files_of_q = frame["_file"].to_numpy()[checked.quarantined_index]
    quarantine = pd.concat([
        checked.quarantined.assign(file=files_of_q),
        pd.DataFrame(malformed, columns=["file", "_row_number", "reason"]),
    ], ignore_index=True).sort_values(["file", "_row_number"])
    _write_quarantine(con, feed, quarantine, q_path, night)
    loaded_per_file = loaded["_file"].value_counts()
    q_per_file = quarantine["file"].value_counts()
    result = []
    for ff, digest in batch:
        n_loaded, n_q = int(loaded_per_file.get(ff.rel, 0)), int(q_per_file.get(ff.rel, 0))
        con.execute("INSERT INTO meta.landed_files VALUES (?,?,?,?,?,?,?,?,?,?)", [
            ff.feed, ff.rel, digest, ff.delivery_date or night, night, received[ff.rel], n_loaded, n_q,
            str(lake_path), str(q_path) if n_q else None])
        result.append(LandedFile(ff.feed, ff.rel, received[ff.rel], n_loaded, n_q))
    log.info("landed %s: %d files, %d rows loaded, %d quarantined", feed, len(batch), len(loaded), len(quarantine))
    return result


def _new_batch_path(folder: Path, night: str) -> Path:
    """`night=<night>.parquet`, or `night=<night>.<n>.parquet` when the night already landed a batch of
    this feed (a rerun that finds a late file): a landed batch is never overwritten."""
    path, n = folder / f"night={night}.parquet", 1
    while path.exists():
        n += 1
        path = folder / f"night={night}.{n}.parquet"
    return path


def _write_batch_projection(feed: str, frame: pd.DataFrame, checked, path: Path) -> None:
    """The privacy-safe view of the raw batch that the expectation suites validate."""
    from poverty_warning.quality.expectations import batch_projection

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    batch_projection(feed, frame, checked.failed).to_parquet(tmp, index=False)
    tmp.replace(path)


def _lake_glob(lake: Path, feed: str) -> str | None:
    folder = lake / feed
    return str(folder / "*.parquet") if folder.is_dir() and any(folder.glob("*.parquet")) else None


def _keyed(person_ids, key: bytes) -> pd.DataFrame:
    """Each distinct ID beside its keyed hash: the index of known persons holds only the hash."""
    ids = pd.Series(person_ids, dtype=object).astype(str).str.upper().drop_duplicates().tolist()
    return pd.DataFrame({"person_id": ids, "person_key": [person_key(v, key) for v in ids]}, dtype=object)


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


def _reference(con, feed: str, frame: pd.DataFrame, key: bytes) -> Reference:
    """Only the landed keys this batch must be checked against (from the key index)."""
    ref = Reference()
    if feed in ("claims", "enrollment", "assistance_categories") and "person_id" in frame:
        wanted = _keyed(frame["person_id"], key)
        con.register("wanted_persons", wanted)
        ref.person_ids = {r[0] for r in con.execute(
            "SELECT DISTINCT w.person_id FROM meta.person_keys k JOIN wanted_persons w USING (person_key)").fetchall()}
        con.unregister("wanted_persons")
    if feed == "claims":
        keys = pd.concat([frame["claim_id"], frame.get("reversal_of", pd.Series(dtype=object))]).astype(str)
        wanted = pd.DataFrame({"claim_id": keys[keys != ""].unique()})
        con.register("wanted_claims", wanted)
        for row in con.execute(
                "SELECT k.claim_id, k.cents FROM meta.claim_keys k JOIN wanted_claims w USING (claim_id) "
                "WHERE k.reversal_of IS NULL").fetchall():
            ref.claim_amounts[row[0]] = tuple(int(x) for x in row[1])
        ref.reversed_claims = {r[0] for r in con.execute(
            "SELECT k.reversal_of FROM meta.claim_keys k JOIN wanted_claims w ON w.claim_id = k.reversal_of").fetchall()}
        con.unregister("wanted_claims")
    if feed == "outreach_feedback":
        ref.cases = _sent_cases(con)
    return ref


def _sent_cases(con) -> dict[str, str] | None:
    """Every case ever put on a list, with its sub-district; None before the first list was published."""
    known = con.execute("SELECT count(*) FROM information_schema.tables "
                        "WHERE table_schema = 'meta' AND table_name = 'case_log'").fetchall()[0][0]
    if not known:
        return None
    return dict(con.execute("SELECT case_id, any_value(subdistrict_code) FROM meta.case_log GROUP BY case_id").fetchall())


def _index_keys(con, feed: str, loaded: pd.DataFrame, key: bytes) -> None:
    """Remember the keys later batches are checked against (persons by their keyed hash)."""
    if feed == "persons" and len(loaded):
        con.register("k", _keyed(loaded["person_id"], key)[["person_key"]])
        con.execute("INSERT INTO meta.person_keys SELECT DISTINCT person_key FROM k "
                    "WHERE person_key NOT IN (SELECT person_key FROM meta.person_keys)")
        con.unregister("k")
    elif feed == "claims" and len(loaded):
        frame = loaded[["claim_id", "reversal_of"] + CLAIM_AMOUNTS].copy()
        con.register("k", frame)
        cents = ", ".join(f"CAST({a} AS BIGINT)" for a in CLAIM_AMOUNTS)
        con.execute(f"INSERT INTO meta.claim_keys SELECT claim_id, reversal_of, [{cents}] FROM k")
        con.unregister("k")


def _select_typed(feed: str) -> str:
    cols = []
    for c in FEEDS[feed].columns:
        if c.type == AMOUNT:
            cols.append(f"CAST(CAST({c.name} AS DECIMAL(18,0)) / 100 AS DECIMAL(18,2)) AS {c.name}")
        else:
            cols.append(f"CAST({c.name} AS {SQL_TYPE.get(c.type, 'VARCHAR')}) AS {c.name}")
    return ", ".join(cols)


def _write_loaded(con, feed: str, loaded: pd.DataFrame, path: Path, night: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = loaded.copy()
    for c in FEEDS[feed].columns:
        if c.type in (DATE, BOOL):
            frame[c.name] = frame[c.name].map(
                lambda v: None if v is None or pd.isna(v)
                else (str(v).lower() if isinstance(v, bool) else str(v))).astype(object)
        elif c.type not in (AMOUNT, INT):
            frame[c.name] = frame[c.name].astype(object)
    con.register("batch", frame)
    tmp = path.with_suffix(".parquet.tmp")
    con.execute(
        f"COPY (SELECT {_select_typed(feed)}, CAST(_file AS VARCHAR) AS _file, "
        f"CAST(_row_number AS INTEGER) AS _row_number, CAST(_delivery_date AS DATE) AS _delivery_date, "
        f"DATE '{night}' AS _night FROM batch ORDER BY _file, _row_number) TO '{tmp}' (FORMAT parquet)")
    con.unregister("batch")
    tmp.replace(path)


def _write_quarantine(con, feed: str, quarantine: pd.DataFrame, path: Path, night: str) -> None:
    if quarantine.empty:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = quarantine.assign(feed=feed)
    con.register("q", frame)
    tmp = path.with_suffix(".parquet.tmp")
    con.execute(f"COPY (SELECT CAST(feed AS VARCHAR) AS feed, CAST(file AS VARCHAR) AS file, "
                f"CAST(_row_number AS INTEGER) AS row_number, CAST(reason AS VARCHAR) AS reason, "
                f"DATE '{night}' AS night FROM q ORDER BY file, row_number) TO '{tmp}' (FORMAT parquet)")
    con.unregister("q")
    tmp.replace(path)


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
