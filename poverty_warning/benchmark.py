"""`make benchmark`: the pipeline at city scale, with the figures printed (not a test)."""
from __future__ import annotations

import datetime as dt
import resource
import shutil
import tempfile
import time
from pathlib import Path

from poverty_warning import nightly
from poverty_warning.settings import DEMO_ID_HASH_KEY, id_hash_key  # synthetic residents
from poverty_warning.synth.cities import CITIES
from poverty_warning.synth.generator import generate
from poverty_warning.workspace import Workspace


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(persons: int, months: int, city: str = "shanghai", keep: Path | None = None) -> dict:
    root = keep or Path(tempfile.mkdtemp(prefix="pw-bench-"))
    feeds, ws = root / "feeds", Workspace(root / "data")
    end = dt.date(2024, 6, 30)
    start = end - dt.timedelta(days=int(months * 30.4))
    before = (end - dt.timedelta(days=1)).isoformat()
    policy = CITIES[city].policy_id
    figures: dict = {"persons": persons, "months": months, "city": city}
    try:
        t = time.perf_counter()
        summary = generate(city, persons, start, end, 7, feeds)
        figures["synth_s"] = time.perf_counter() - t
        figures["claims_rows"] = summary.rows["claims"]
        t = time.perf_counter()
        landed = nightly.ingest(ws, feeds, before, id_hash_key(DEMO_ID_HASH_KEY))
        figures["backfill_s"] = time.perf_counter() - t
        figures["backfill_rows_per_s"] = landed["rows_received"] / figures["backfill_s"]
        nightly.transform(ws, before, policy)
        t = time.perf_counter()
        night_landed = nightly.ingest(ws, feeds, end.isoformat(), id_hash_key(DEMO_ID_HASH_KEY))
        verdict = nightly.validate(ws, end.isoformat())
        figures["night_ingest_validate_s"] = time.perf_counter() - t
        figures["night_rows"] = night_landed["rows_received"]
        t = time.perf_counter()
        nightly.transform(ws, end.isoformat(), policy)
        figures["night_dbt_build_s"] = time.perf_counter() - t
        t = time.perf_counter()
        nightly.publish(ws, end.isoformat(), policy, verdict)
        figures["night_publish_s"] = time.perf_counter() - t
        figures["peak_rss_mb"] = _peak_mb()
        figures["duckdb_mb"] = ws.duckdb_path.stat().st_size / 1e6
        figures["lake_mb"] = sum(p.stat().st_size for p in ws.lake.rglob("*.parquet")) / 1e6
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return figures


def report(figures: dict) -> str:
    f = figures
    return "\n".join([
        f"benchmark: {f['persons']:,} residents, {f['months']} months of claims ({f['claims_rows']:,} claim rows), {f['city']}",
        f"  synthetic city            {f['synth_s']:8.1f} s",
        f"  backfill ingest           {f['backfill_s']:8.1f} s   ({f['backfill_rows_per_s']:,.0f} rows/s)",
        f"  one night ingest+checks   {f['night_ingest_validate_s']:8.1f} s   ({f['night_rows']:,} rows)",
        f"  one night dbt build       {f['night_dbt_build_s']:8.1f} s",
        f"  one night publish         {f['night_publish_s']:8.1f} s",
        f"  peak memory (RSS)         {f['peak_rss_mb']:8.0f} MB",
        f"  DuckDB file / Parquet lake {f['duckdb_mb']:7.0f} MB / {f['lake_mb']:.0f} MB",
    ])
