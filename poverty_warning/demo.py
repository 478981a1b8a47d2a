"""`make demo`: a synthetic city, then one night of the real DAG (dag.test on SQLite)."""
from __future__ import annotations

import datetime as dt
import json
import os
import time

from poverty_warning.settings import DEMO_ID_HASH_KEY
from poverty_warning.synth.cities import CITIES
from poverty_warning.workspace import Workspace

HISTORY_DAYS = 540  # about 18 months of claims before the demo night


def ensure_city(ws: Workspace, city: str, persons: int, night: str, seed: int = 20241124) -> bool:
    """Generate the city into <data>/feeds unless the same one is already there."""
    from poverty_warning.synth.generator import generate

    end = dt.date.fromisoformat(night)
    start = end - dt.timedelta(days=HISTORY_DAYS)
    wanted = {"city": city, "persons": persons, "start": start.isoformat(), "end": end.isoformat(), "seed": seed}
    manifest = ws.feeds / "_synth_manifest.json"
    if manifest.exists():
        have = json.loads(manifest.read_text(encoding="utf-8"))
        if all(have.get(k) == v for k, v in wanted.items()):
            return False
    generate(city, persons, start, end, seed, ws.feeds)
    return True


def run_demo(ws: Workspace, city: str, persons: int, night: str) -> None:
    from poverty_warning import airflow_local

    if city not in CITIES:
        raise ValueError(f"unknown city {city!r}; known: {', '.join(CITIES)}")
    ws.ensure()
    # A synthetic city: its IDs are hashed with the published demo key unless a key is set.
    os.environ.setdefault("POVERTY_WARNING_ID_HASH_KEY", DEMO_ID_HASH_KEY)
    t0 = time.monotonic()
    made = ensure_city(ws, city, persons, night)
    print(f"[1/2] synthetic city {city} ({persons} residents) {'generated' if made else 'already present'} "
          f"in {ws.feeds} ({time.monotonic() - t0:.0f}s)")
    policy = CITIES[city].policy_id
    run = airflow_local.run_night(ws.root / "airflow", night, {"policy_id": policy, "feeds_dir": str(ws.feeds)})
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    print(f"[2/2] DAG nightly_warning for {night} under {policy}: {run.state} "
          f"({', '.join(f'{k}={v}' for k, v in states.items())}) ({time.monotonic() - t0:.0f}s in all)")
    out = ws.outputs(night)
    print(f"\nOutputs for {night} in {out}:")
    for f in sorted(out.glob("*.csv")) if out.exists() else []:
        rows = sum(1 for _ in f.open(encoding="utf-8")) - 1
        print(f"  {f.name:<22} {rows:>7} rows")
    folders = sorted(p for p in ws.outbox.glob(f"*/{night}") if p.is_dir())
    print(f"\nLists for the sub-districts: {len(folders)} folders in {ws.outbox}/<sub-district>/{night}/ "
          "(workbook, CSVs, manifest)")
    for f in folders[:3]:
        print(f"  {f.relative_to(ws.root)}: " + ", ".join(sorted(p.name for p in f.iterdir())))
    reports = ws.reports(night)
    print(f"Data-quality report: {reports / 'quality.html'}")
    for f in sorted((reports / "lists").glob("*.csv")):
        rows = sum(1 for _ in f.open(encoding="utf-8-sig")) - 1
        print(f"  warning list {f.name}: {rows} rows (masked, by sub-district; .xlsx beside it)")
    print(f"Nightly summary page: {reports / 'summary.html'}")
    print(f"GX Data Docs: {ws.root / 'gx' / 'gx' / 'uncommitted' / 'data_docs' / 'local_site' / 'index.html'}")
    print(f"DuckDB warehouse: {ws.duckdb_path}  (marts.fct_*, risk.household_scores, meta.*)")
    print(f"Landed Parquet lake: {ws.lake}")
