"""Landing throughput on a feeds folder (a synthetic city): `python -m tests.landing_benchmark FEEDS NIGHT`.

Prints rows received per second, the process's CPU seconds (user + system, all threads) and peak
memory; a benchmark, not a test (nothing here asserts a time). Wall times on a shared machine are upper
bounds: the CPU seconds say what the work costs when other processes take the cores.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from poverty_warning.ingest.landing import land_feeds
from poverty_warning.settings import DEMO_ID_HASH_KEY
from poverty_warning.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("feeds", type=Path)
    parser.add_argument("night")
    args = parser.parse_args()
    # A synthetic city: its IDs are hashed with the published demo key unless a key is set.
    os.environ.setdefault("POVERTY_WARNING_ID_HASH_KEY", DEMO_ID_HASH_KEY)
    root = Path(tempfile.mkdtemp(prefix="landing-bench-"))
    try:
        started = time.perf_counter()
        landed = land_feeds(Workspace(root), args.feeds, args.night)
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(root, ignore_errors=True)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_gb, cpu_s = usage.ru_maxrss / 1024**2, usage.ru_utime + usage.ru_stime
    for feed in sorted({f.feed for f in landed}):
        rows = [f for f in landed if f.feed == feed]
        print(f"{feed}: files={len(rows)} received={sum(f.rows_received for f in rows)} "
              f"loaded={sum(f.rows_loaded for f in rows)} quarantined={sum(f.rows_quarantined for f in rows)}")
    received = sum(f.rows_received for f in landed)
    print(f"rows={received} seconds={seconds:.1f} rows_per_s={received / seconds:,.0f} cpu_s={cpu_s:.1f} "
          f"peak_gb={peak_gb:.2f}")


if __name__ == "__main__":
    main()
