"""The dbt project on Spark (dbt-spark, `method: session`): a local Spark session whose catalog
holds the same sources DuckDB has — `raw.<feed>` views over the landed Parquet lake and the
`policy.*` tables — so that `dbt build --target spark` computes the same marts.

Needs the `spark` extra (requirements-spark.lock) and Java 17.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from poverty_warning.contract import AMOUNT, BOOL, DATE, FEEDS, INT
from poverty_warning.workspace import Workspace

SPARK_TYPE = {AMOUNT: "DECIMAL(18,2)", DATE: "DATE", INT: "INT", BOOL: "BOOLEAN"}

# Modest settings for one machine: a province runs the same models on a cluster instead.
LOCAL_CONF = {
    "spark.master": "local[2]",
    "spark.driver.memory": "4g",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.catalogImplementation": "in-memory",
    # Tables dbt creates are Parquet data-source tables (no Hive metastore needed).
    "spark.sql.legacy.createHiveTableByDefault": "false",
    # Nights landed under different contract versions may differ in columns, as DuckDB's union_by_name allows.
    "spark.sql.parquet.mergeSchema": "true",
}


def session(workdir: Path):
    """The local Spark session dbt-spark's `session` method picks up (getOrCreate); one per process,
    its warehouse and scratch files under `workdir`."""
    from pyspark.sql import SparkSession

    if SparkSession.getActiveSession() is None:
        # The catalog lives in memory for one session: tables left by an earlier session are stale.
        shutil.rmtree(workdir / "warehouse", ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    log_conf = workdir / "log4j2.properties"
    log_conf.write_text("rootLogger.level = error\nrootLogger.appenderRef.stderr.ref = console\n"
                        "appender.console.type = Console\nappender.console.name = console\n"
                        "appender.console.target = SYSTEM_ERR\nappender.console.layout.type = PatternLayout\n"
                        "appender.console.layout.pattern = spark %p %c{1}: %m%n\n", encoding="utf-8")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName("poverty-warning")
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    builder = builder.config("spark.sql.warehouse.dir", str(workdir / "warehouse"))
    builder = builder.config("spark.local.dir", str(workdir / "tmp"))
    builder = builder.config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log_conf}")
    return builder.getOrCreate()


def _empty_select(feed: str) -> str:
    cols = [f"CAST(NULL AS {SPARK_TYPE.get(c.type, 'STRING')}) AS {c.name}" for c in FEEDS[feed].columns]
    return ("SELECT " + ", ".join(cols) + ", CAST(NULL AS STRING) AS _file, CAST(NULL AS INT) AS _row_number, "
            "CAST(NULL AS DATE) AS _delivery_date, CAST(NULL AS DATE) AS _night WHERE false")


def register_raw(spark, lake: Path) -> None:
    """`raw.<feed>` over every landed Parquet file of the feed, as `ingest.landing.refresh_raw_views` does in DuckDB."""
    spark.sql("CREATE DATABASE IF NOT EXISTS raw")
    for feed in FEEDS:
        folder = lake / feed
        body = (f"SELECT * FROM parquet.`{folder}`" if any(folder.glob("*.parquet")) else _empty_select(feed))
        spark.sql(f"CREATE OR REPLACE VIEW raw.{feed} AS {body}")
    quarantine = lake / "_quarantine"
    files = sorted(quarantine.glob("*/*.parquet"))
    spark.sql("CREATE OR REPLACE VIEW raw.quarantine AS " + (
        f"SELECT * FROM parquet.`{quarantine}/*/*.parquet`" if files else
        "SELECT CAST(NULL AS STRING) AS feed, CAST(NULL AS STRING) AS file, CAST(NULL AS INT) AS row_number, "
        "CAST(NULL AS STRING) AS reason, CAST(NULL AS DATE) AS night WHERE false"))


META_TABLES_DBT_READS = ("landed_files",)  # dbt_project/models/staging/__sources.yml, source `meta`


def register_policy(spark, ws: Workspace) -> None:
    """`policy.*`, `risk.*` and the `meta.*` tables dbt reads: the tables `policy.tables.write` and the pipeline
    (meta.sql) made in the DuckDB warehouse, exported as Parquet, so both engines read the very same rows and types."""
    for schema in ("policy", "risk", "meta"):
        folder = ws.root / "spark" / schema
        folder.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(ws.duckdb_path))
        try:
            names = [r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1",
                [schema]).fetchall() if schema != "meta" or r[0] in META_TABLES_DBT_READS]
            for name in names:
                con.execute(f"COPY {schema}.{name} TO '{folder / name}.parquet' (FORMAT parquet)")
        finally:
            con.close()
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {schema}")
        for name in names:
            spark.sql(f"CREATE OR REPLACE VIEW {schema}.{name} AS SELECT * FROM parquet.`{folder / name}.parquet`")


def drop_all(spark) -> None:
    """Forget every source and model, so that the session can build another workspace."""
    for database in ("marts", "intermediate", "staging", "policy", "risk", "raw"):
        spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")
