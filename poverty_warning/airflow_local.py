"""Airflow on SQLite inside the data directory, for the demo and the tests (dag.test)."""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from poverty_warning.settings import DAGS_DIR



def configure(home: Path) -> None:
    """Point Airflow at a private home and SQLite database; call before importing airflow."""
    home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_DIR)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*deprecated.*")


def init_db() -> None:
    from airflow.utils import db

    db.initdb()


def load_dag():
    """The nightly DAG, built by the same factory as the DAG file the scheduler parses."""
    from poverty_warning.nightly import build_dag

    return build_dag(str(DAGS_DIR / "nightly_warning.py"))


def run_night(home: Path, night: str, conf: dict):
    """Run the nightly DAG for one night in this process; return the finished DagRun."""
    import pendulum

    configure(home)
    init_db()
    dag = load_dag()
    run_at = pendulum.parse(night, tz="Asia/Shanghai").add(days=1, hours=2)  # the 02:00 run after the night
    return dag.test(logical_date=run_at, run_conf={**conf, "night": night})
