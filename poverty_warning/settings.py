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
OUTREACH_SETTINGS = DEFAULTS_DIR / "outreach.yaml"


def outreach_settings(path: Path = OUTREACH_SETTINGS) -> dict:
    """The bureau's outreach settings: cool-down, due days, thresholds of the lists."""
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))
