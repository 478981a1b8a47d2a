"""No resident ID in any analytics or model table, nor in anything a night writes for people to read.

The boundary (README, "Privacy of the warehouse"; `warehouse.RESIDENT_ID_TABLES`): the landed feeds, the
dbt staging and intermediate models, the contract outputs and the worker-list models hold the resident
ID, because the contract and the lists need it. Every other table (risk.*, the analytic marts, meta.*)
keys a person by `privacy.person_key` (HMAC-SHA256 with the bureau's key), never by the ID; and the
logs, the quality report, the GX results and the model card carry no ID at all.
"""
import datetime as dt
import logging
import re

import duckdb
import pytest

from poverty_warning import nightly, settings
from poverty_warning.contract import ids
from poverty_warning.settings import MODELS_DIR
from poverty_warning.warehouse import may_hold_resident_ids
from poverty_warning.workspace import Workspace

from .conftest import REPO

NIGHT = "2023-06-30"
# 18 characters that could be an ID, not inside a longer run of letters and digits (a hash, a case id)
ID_LIKE = r"(?:^|[^0-9A-Za-z])([0-9]{17}[0-9Xx])(?:$|[^0-9A-Za-z])"
TEXT_SUFFIXES = {".log", ".txt", ".json", ".html", ".md", ".csv", ".yml", ".yaml", ".sql"}


def resident_ids_in(text: str) -> list[str]:
    return [m for m in re.findall(ID_LIKE, text) if ids.is_valid(m.upper())]


def id_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """`schema.table.column` of every text column, outside the tables that may hold the resident ID
    (warehouse.may_hold_resident_ids), that holds one."""
    found = []
    columns = con.execute(
        "SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_catalog, table_schema, table_name) "
        "WHERE t.table_type = 'BASE TABLE' AND c.data_type = 'VARCHAR' ORDER BY ALL").fetchall()
    for schema, table, column in columns:
        if may_hold_resident_ids(schema, table):
            continue
        values = con.execute(f'SELECT DISTINCT unnest(regexp_extract_all("{column}", ?, 1)) '
                             f'FROM "{schema}"."{table}"', [ID_LIKE]).fetchall()
        if any(ids.is_valid(v.upper()) for (v,) in values if v):
            found.append(f"{schema}.{table}.{column}")
    return found


# The made-up residents of the dbt project's unit tests: dbt builds (and logs) its unit tests every night.
FIXTURE_IDS = {i for path in (REPO / "dbt_project").rglob("*.yml")
               for i in resident_ids_in(path.read_text(encoding="utf-8"))}


def id_files(folder, names=None) -> list[str]:
    """Every text file under `folder` (or the named files) that holds a resident ID."""
    paths = names if names is not None else [p for p in folder.rglob("*") if p.is_file()]
    return [str(p) for p in paths if p.suffix in TEXT_SUFFIXES
            and set(resident_ids_in(p.read_text(encoding="utf-8-sig", errors="replace"))) - FIXTURE_IDS]


@pytest.fixture(scope="module")
def night(faulty_city, tmp_path_factory):
    """A night of the synthetic Wuhai with 2% faulty rows (quarantined IDs, duplicates, bad codes), every
    log line of the pipeline at DEBUG written to a file."""
    feeds, _ = faulty_city
    root = tmp_path_factory.mktemp("privacy")
    ws = Workspace(root / "data")
    log_file = root / "night.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    logger = logging.getLogger("poverty_warning")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        try:
            nightly.run_night(ws, feeds, NIGHT, "wuhai-2020")
        except nightly.PublishHeld:
            pass  # a held night writes its report and logs too
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()
    return {"ws": ws, "log": log_file, "feeds": feeds}


def test_the_scan_finds_an_id_where_there_is_one(night, tmp_path):
    """The scan can fail: an analytic table and a log that hold an ID are named."""
    warehouse = duckdb.connect(str(night["ws"].duckdb_path))  # dbt holds it open in this process
    person = warehouse.execute("SELECT person_id FROM intermediate.int_persons_enriched LIMIT 1").fetchone()[0]
    warehouse.close()
    con = duckdb.connect()
    con.execute("CREATE SCHEMA risk; CREATE TABLE risk.leak (note VARCHAR)")
    con.execute("INSERT INTO risk.leak VALUES (?)", [f"病人{person}住院"])
    assert id_columns(con) == ["risk.leak.note"]
    (tmp_path / "a.log").write_text(f"scored {person.lower()}\n", encoding="utf-8")
    assert id_files(tmp_path) == [str(tmp_path / "a.log")]


def test_no_resident_id_in_any_analytics_or_model_table(night):
    con = duckdb.connect(str(night["ws"].duckdb_path))  # dbt holds it open in this process
    try:
        assert con.execute("SELECT count(*) FROM risk.household_scores").fetchone()[0] > 0
        assert id_columns(con) == []
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                             "WHERE table_type = 'BASE TABLE'").fetchall()
        scanned = {f"{s}.{t}" for s, t in tables if not may_hold_resident_ids(s, t)}
        assert {"risk.household_scores", "meta.person_keys", "meta.case_log", "marts.fct_household_features",
                "meta.model_monitoring"} <= scanned
    finally:
        con.close()


def test_no_resident_id_in_the_logs_reports_or_model_card(night):
    ws = night["ws"]
    assert night["log"].stat().st_size > 0
    assert id_files(night["log"].parent, [night["log"]]) == []
    assert id_files(ws.reports(NIGHT)) == []
    assert id_files(ws.root / "gx") == []
    assert id_files(ws.dbt_logs) == []
    assert id_files(MODELS_DIR) == []


def test_known_persons_are_indexed_by_their_keyed_hash(night):
    con = duckdb.connect(str(night["ws"].duckdb_path))  # dbt holds it open in this process
    try:
        persons = [p for (p,) in con.execute("SELECT person_id FROM intermediate.int_persons_enriched").fetchall()]
        keys = {k for (k,) in con.execute("SELECT person_key FROM meta.person_keys").fetchall()}
    finally:
        con.close()
    key = settings.id_hash_key()
    assert keys == {ids.person_key(p, key) for p in persons}
    assert all(re.fullmatch(r"[0-9a-f]{64}", k) for k in keys)


def test_the_keyed_hash_is_hmac_sha256_of_the_upper_cased_id():
    # worked with the standard library's HMAC, not with the function under test
    import hashlib
    import hmac

    person, key = "11010519491231002X", b"k" * 16
    expected = hmac.new(key, b"11010519491231002X", hashlib.sha256).hexdigest()
    assert ids.person_key(person, key) == expected == ids.person_key(person.lower(), key)
    assert ids.person_key(person, b"another-key-16ch") != expected


def test_a_missing_or_short_key_is_one_line(monkeypatch):
    monkeypatch.delenv("POVERTY_WARNING_ID_HASH_KEY", raising=False)
    with pytest.raises(settings.SettingsError) as missing:
        settings.id_hash_key()
    assert "POVERTY_WARNING_ID_HASH_KEY" in str(missing.value) and "\n" not in str(missing.value)
    monkeypatch.setenv("POVERTY_WARNING_ID_HASH_KEY", "short")
    with pytest.raises(settings.SettingsError, match="POVERTY_WARNING_ID_HASH_KEY"):
        settings.id_hash_key()
    assert settings.id_hash_key("an-airflow-variable-key") == b"an-airflow-variable-key"


def test_a_night_without_a_key_stops_before_landing_anything(small_city, tmp_path, monkeypatch):
    monkeypatch.delenv("POVERTY_WARNING_ID_HASH_KEY", raising=False)
    ws = Workspace(tmp_path / "data")
    with pytest.raises(settings.SettingsError, match="POVERTY_WARNING_ID_HASH_KEY"):
        nightly.ingest(ws, small_city, "2024-03-31")
    assert not any(ws.lake.glob("*/*.parquet"))


def test_an_older_warehouse_index_of_ids_is_replaced_by_keys(tmp_path):
    from poverty_warning.ingest import landing

    person = ids.make("310112", dt.date(1960, 5, 1), 33)
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE SCHEMA meta; CREATE TABLE meta.person_keys (person_id VARCHAR)")
    con.execute("INSERT INTO meta.person_keys VALUES (?)", [person])
    key = b"0123456789abcdef"
    landing._hash_old_person_index(con, key)
    assert con.execute("SELECT * FROM meta.person_keys").fetchall() == [(ids.person_key(person, key),)]
    assert id_columns(con) == []
