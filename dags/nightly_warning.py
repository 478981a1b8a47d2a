"""nightly_warning: ingest → validate → dbt build → score → publish → deliver, for the run's night.

Thin on purpose: every step is a function of poverty_warning.pipeline. The
tasks run strictly one after another and at most one run is active, so only
one process ever writes the DuckDB file.
"""
from __future__ import annotations

import os

import pendulum
from airflow.sdk import Param, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from poverty_warning import pipeline
from poverty_warning.policies import available
from poverty_warning.workspace import Workspace


def _workspace() -> Workspace:
    return Workspace.default()


def _webhook_from_connection():
    """The webhook from the Airflow connection `poverty_warning_webhook` (host = URL, password = HMAC
    secret), if one is defined; otherwise delivery reads the environment."""
    from airflow.sdk import BaseHook

    from poverty_warning.delivery import Webhook

    try:
        conn = BaseHook.get_connection("poverty_warning_webhook")
    except Exception:  # no such connection: the environment decides
        return None
    return Webhook(url=conn.host, secret=conn.password or "")


def _feeds(params) -> "os.PathLike":
    from pathlib import Path

    return Path(params["feeds_dir"]) if params.get("feeds_dir") else _workspace().feeds


@dag(
    dag_id="nightly_warning",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": int(os.environ.get("POVERTY_WARNING_TASK_RETRIES", "1")),
                  "retry_delay": pendulum.duration(minutes=10)},
    params={
        "policy_id": Param(os.environ.get("POVERTY_WARNING_POLICY", "shanghai-2022"), enum=available()),
        "feeds_dir": Param(None, type=["null", "string"], description="feeds directory; default <data>/feeds"),
        "expect_daily_claims": Param(True, type="boolean", description="a night without claims blocks publishing"),
        "night": Param(None, type=["null", "string"], description="YYYY-MM-DD; default: the day before the run"),
    },
    tags=["poverty-warning"],
    doc_md=__doc__,
)
def nightly_warning():
    @task
    def ingest(logical_date=None, params=None) -> dict:
        night = pipeline.night_of(logical_date, params.get("night"))
        return pipeline.ingest(_workspace(), _feeds(params), night)

    @task
    def validate(logical_date=None, params=None) -> dict:
        night = pipeline.night_of(logical_date, params.get("night"))
        return pipeline.validate(_workspace(), night, params["expect_daily_claims"])

    @task
    def dbt_build(logical_date=None, params=None) -> None:
        night = pipeline.night_of(logical_date, params.get("night"))
        pipeline.transform(_workspace(), night, params["policy_id"])

    @task
    def score(logical_date=None, params=None) -> dict:
        night = pipeline.night_of(logical_date, params.get("night"))
        return pipeline.score(_workspace(), night)

    @task
    def publish(verdict: dict, logical_date=None, params=None) -> dict:
        night = pipeline.night_of(logical_date, params.get("night"))
        try:
            return pipeline.publish(_workspace(), night, params["policy_id"], verdict)
        except pipeline.PublishBlocked as exc:
            raise AirflowSkipException(f"publishing held for {night}: {exc}") from None

    @task
    def deliver(logical_date=None, params=None) -> dict:
        night = pipeline.night_of(logical_date, params.get("night"))
        return pipeline.deliver(_workspace(), night, _webhook_from_connection())

    landed = ingest()
    verdict = validate()
    built = dbt_build()
    scored = score()
    published = publish(verdict)
    # Delivery also runs when publishing was held: earlier nights' failed deliveries are retried.
    delivered = deliver.override(trigger_rule="all_done")()
    landed >> verdict >> built >> scored >> published >> delivered


nightly_warning_dag = nightly_warning()
