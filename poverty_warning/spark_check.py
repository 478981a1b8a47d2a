"""`make spark-check`: the same dbt models on DuckDB and on Spark give the same contract outputs.

Each city's small synthetic feeds are landed once; dbt builds the night on DuckDB (as the nightly
run does) and then on a local Spark session (dbt-spark, `method: session`) over the same Parquet
lake and policy tables. `candidates`, `entitlements` and `enrollment_gaps` are then compared row
for row, every value as each engine returns it (amounts are decimals, compared to the cent).
"""
from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb

from poverty_warning import nightly
from poverty_warning.contract import ids
from poverty_warning.settings import DEMO_ID_HASH_KEY, id_hash_key  # synthetic residents
from poverty_warning.synth.cities import CITIES
from poverty_warning.synth.generator import generate
from poverty_warning.transform import run_dbt
from poverty_warning.workspace import Workspace

# Name on the last line (`gaps` is the enrollment_gaps output) -> the mart it is published from.
COMPARED = {"candidates": "fct_candidates", "entitlements": "fct_entitlements",
            "gaps": "fct_enrollment_gaps"}
HISTORY_DAYS = 540
SHOWN_DIFFERENCES = 5


@dataclass
class Outcome:
    rows: dict[str, int] = field(default_factory=lambda: {name: 0 for name in COMPARED})
    differences: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences

    def last_line(self) -> str:
        counts = " ".join(f"{name}={n}" for name, n in self.rows.items())
        return f"spark={'identical' if self.identical else 'different'} {counts}"


def _value(value):
    """One value as compared: decimals keep their scale (12.30 is not 12.3), dates as ISO text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _sort_key(row: tuple) -> tuple:
    return tuple((v is None, str(v)) for v in row)


def _masked(columns: list[str], row: tuple) -> str:
    return ", ".join(f"{c}={ids.mask(v) if c == 'person_id' and v else v}" for c, v in zip(columns, row))


def compare(label: str, columns: tuple[list[str], list[str]], rows: tuple[list[tuple], list[tuple]]) -> list[str]:
    """Differences between the DuckDB rows and the Spark rows of one output (resident IDs masked)."""
    (duck_columns, spark_columns), (duck_rows, spark_rows) = columns, rows
    if duck_columns != spark_columns:
        return [f"{label}: columns differ: duckdb {duck_columns} / spark {spark_columns}"]
    duck = sorted((tuple(_value(v) for v in r) for r in duck_rows), key=_sort_key)
    spark = sorted((tuple(_value(v) for v in r) for r in spark_rows), key=_sort_key)
    found = []
    if len(duck) != len(spark):
        found.append(f"{label}: {len(duck)} rows on duckdb, {len(spark)} on spark")
    only_duck = [r for r in duck if r not in set(spark)]
    only_spark = [r for r in spark if r not in set(duck)]
    for engine, extra in (("duckdb", only_duck), ("spark", only_spark)):
        for r in extra[:SHOWN_DIFFERENCES]:
            found.append(f"{label}: only on {engine}: {_masked(duck_columns, r)}")
    return found


def _duckdb_rows(ws: Workspace, table: str) -> tuple[list[str], list[tuple]]:
    con = duckdb.connect(str(ws.duckdb_path))
    try:
        result = con.execute(f"SELECT * FROM marts.{table}")
        return [d[0] for d in result.description], result.fetchall()
    finally:
        con.close()


def _spark_rows(spark, table: str) -> tuple[list[str], list[tuple]]:
    frame = spark.table(f"marts.{table}")
    return list(frame.columns), [tuple(r) for r in frame.collect()]


def check_city(root: Path, city: str, persons: int, night: str, outcome: Outcome, say=print) -> None:
    from poverty_warning import spark as on_spark

    policy = CITIES[city].policy_id
    feeds, ws = root / city / "feeds", Workspace(root / city / "data")
    end = dt.date.fromisoformat(night)
    generate(city, persons, end - dt.timedelta(days=HISTORY_DAYS), end, 20241124, feeds)
    nightly.ingest(ws, feeds, night, id_hash_key(DEMO_ID_HASH_KEY))
    nightly.transform(ws, night, policy)
    say(f"{city} ({persons} residents, {policy}, night {night}): built on duckdb")
    spark = on_spark.session(root / "spark")
    on_spark.register_raw(spark, ws.lake)
    on_spark.register_policy(spark, ws)
    run_dbt(ws, "build", night, policy, target="spark")
    say(f"{city}: built on spark")
    for name, table in COMPARED.items():
        duck_columns, duck_rows = _duckdb_rows(ws, table)
        spark_columns, spark_rows = _spark_rows(spark, table)
        outcome.rows[name] += len(duck_rows)
        outcome.differences += compare(f"{city} {name}", (duck_columns, spark_columns), (duck_rows, spark_rows))
    on_spark.drop_all(spark)


def run(cities: list[str], persons: int, night: str, keep: Path | None = None, say=print) -> Outcome:
    root = keep or Path(tempfile.mkdtemp(prefix="pw-spark-check-"))
    outcome = Outcome()
    try:
        for city in cities:
            check_city(root, city, persons, night, outcome, say)
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return outcome
