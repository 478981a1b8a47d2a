"""Airflow DAG monthly_training: a challenger model on the warehouse's latest history, promoted over the
champion only if it backtests better (poverty_warning.training.retrain)."""
from poverty_warning.training import build_training_dag

monthly_training_dag = build_training_dag(__file__)
