"""Airflow DAG nightly_warning: ingest → validate → dbt build → score → publish → deliver, for the run's night.

Thin on purpose: the steps and their order are defined once, in poverty_warning.nightly.
"""
from poverty_warning.nightly import build_dag

nightly_warning_dag = build_dag(__file__)
