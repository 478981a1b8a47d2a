"""Where the project's resources live: the dbt project, the GX suites, the trained models, the DAG folder.

They sit beside the package in a checkout. `POVERTY_WARNING_PROJECT_DIR` points elsewhere (an installed
package in an Airflow image, with the project's folders copied next to it).
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULTS_DIR = PACKAGE_DIR / "defaults"


def project_dir() -> Path:
    return Path(os.environ.get("POVERTY_WARNING_PROJECT_DIR") or PACKAGE_DIR.parent).resolve()


PROJECT_DIR = project_dir()
DBT_PROJECT_DIR = PROJECT_DIR / "dbt_project"
SUITES_DIR = PROJECT_DIR / "expectations"
MODELS_DIR = PROJECT_DIR / "models"
DAGS_DIR = PROJECT_DIR / "dags"
VENDOR_DIR = PROJECT_DIR / "vendor" / "node_modules"


def _limit(name: str, default: int) -> int:
    return int(os.environ.get(f"POVERTY_WARNING_{name}") or default)


# Limits on one feed file, checked while it is read, so that a hostile or broken file ends in a
# file-level error instead of exhausting memory. A contract row is a few hundred bytes and at most
# 19 columns. Checking holds a file's rows in memory at about 25 times the file's size (measured:
# 100,000 claim rows, a 12.7 MB file, landed at a peak of 454 MB), so 128 MiB files keep a file
# within about 3.5 GB. Environment variables of the same name override these.
MAX_FEED_FILE_BYTES = _limit("MAX_FEED_FILE_BYTES", 128 * 1024 * 1024)
MAX_LINE_BYTES = _limit("MAX_LINE_BYTES", 1024 * 1024)
MAX_FIELD_CHARS = _limit("MAX_FIELD_CHARS", 64 * 1024)
MAX_COLUMNS = _limit("MAX_COLUMNS", 256)
