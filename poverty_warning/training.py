"""`poverty-warning train` / `evaluate` / `retrain`: the model learns from a warehouse's own landed history.

`--warehouse PATH` reads the nightly marts of a pipeline warehouse and the label models a night leaves out
(dbt tag `training`), which it first builds in that warehouse: it needs write access to the file. Without it a
synthetic city is generated, put through the same pipeline into its own warehouse, and that warehouse is read
the same way.
Every trained version, its card and the promotion decision are kept in the warehouse's meta.model_registry.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from poverty_warning import warehouse
from poverty_warning.risk import backtest
from poverty_warning.risk import card
from poverty_warning.risk.features import load_labelled
from poverty_warning.risk.model import RiskModel
from poverty_warning.settings import DEMO_ID_HASH_KEY, MODELS_DIR, id_hash_key

DEFAULT = {"city": "shanghai", "persons": 50000, "months": 36, "seed": 7, "end": "2024-06-30"}


def k_for(households: int, share: float = 0.01) -> int:
    """Households the workers can visit per month: 1% of the city's households (a bureau setting)."""
    return max(10, int(households * share))


def prepare(root: Path, city: str, persons: int, months: int, seed: int, end: str) -> Path:
    """Generate the city and run ingest + dbt once; reuse it when the same city is asked for again."""
    from poverty_warning import nightly
    from poverty_warning.synth.cities import CITIES
    from poverty_warning.synth.generator import generate
    from poverty_warning.workspace import Workspace

    key = f"{city}-{persons}-{months}m-seed{seed}-{end}"
    ws = Workspace(root / key)
    done = ws.root / "prepared.json"
    if not done.exists():
        stop = dt.date.fromisoformat(end)
        start = stop - dt.timedelta(days=int(months * 30.44))
        generate(city, persons, start, stop, seed, ws.root / "feeds")
        nightly.ingest(ws, ws.root / "feeds", end, id_hash_key(DEMO_ID_HASH_KEY))
        nightly.transform(ws, end, CITIES[city].policy_id)
        done.write_text(json.dumps({"city": city, "persons": persons, "months": months, "seed": seed,
                                    "end": end}), encoding="utf-8")
    return ws.duckdb_path


def warehouse_name(path: Path) -> str:
    """The warehouse as a card names it, without the machine's absolute path: relative to the data folder's
    parent when it lies in the data folder (data/ml/…/warehouse.duckdb), else its folder and file name.
    The warehouse identity beside it tells two warehouses of the same name apart."""
    from poverty_warning.workspace import default_root

    path = Path(path).resolve()
    data = default_root()
    if path.is_relative_to(data):
        return path.relative_to(data.parent).as_posix()
    return f"{path.parent.name}/{path.name}"


@dataclass
class History:
    """A warehouse's landed history as the model sees it."""
    path: Path
    warehouse_id: str
    policy_id: str
    frame: pd.DataFrame
    synthetic: dict | None  # the synthetic city the warehouse was filled from, if it was
    label: dict  # what a positive month is: the policy's candidate rules, or its alert warning level

    def describe(self) -> dict:
        months = self.frame["feature_month"]
        labelled = backtest.usable(self.frame)
        return {"warehouse": warehouse_name(self.path), "warehouse_id": self.warehouse_id,
                "policy_id": self.policy_id, "label": self.label,
                "first_month": str(months.min().date()), "last_month": str(months.max().date()),
                "households": int(self.frame["household_id"].nunique()), "feature_rows": int(len(self.frame)),
                "labelled_rows": int(len(labelled)), "synthetic": self.synthetic}


def _label_of(con: duckdb.DuckDBPyConnection, policy_id: str) -> dict:
    """The label fct_household_features built for the policy, with its clauses: the candidate rules when the
    pack has any (int_rule_verdicts_monthly), else the pack's alert warning level on the burden ratio."""
    rules = con.execute("SELECT rule, threshold_clause FROM staging.stg_policy__rules WHERE policy_id = ? "
                        "ORDER BY rule", [policy_id]).fetchall()
    if rules:
        return {"kind": "rule", "rules": [{"rule": rule, "clause": clause} for rule, clause in rules]}
    level = con.execute("SELECT CAST(min(ratio) AS DOUBLE), min(clause) FROM staging.stg_policy__warning_levels "
                        "WHERE policy_id = ? AND warning_level = 'alert'", [policy_id]).fetchone()
    return {"kind": "warning_level", "level": "alert", "ratio": level[0], "clause": level[1]}


def _built_for(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The policy the marts were last built for, as recorded by the transform step."""
    last = warehouse.last_build(con)
    if last:
        return [last.policy_id]
    try:  # warehouses built before meta.builds existed: the policy the fund KPIs were computed for
        return [r[0] for r in con.execute("SELECT DISTINCT policy_id FROM marts.fct_fund_kpis").fetchall()]
    except duckdb.Error:
        return []


def _workspace_of(path: Path):
    """The pipeline workspace a warehouse file belongs to: dbt keeps its files beside the warehouse."""
    from poverty_warning.workspace import Workspace

    ws = Workspace(Path(path).resolve().parent)
    if ws.duckdb_path != Path(path).resolve():
        raise ValueError(f"{path} is not a pipeline workspace's warehouse (expected a file named "
                         f"{ws.duckdb_path.name}, with the workspace's dbt files beside it)")
    return ws


def _writable(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path))
    except duckdb.IOException as exc:
        # Held by another process (a night, a reader) or not writable: DuckDB's first line says which.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise warehouse.WarehouseBusy(f"{path}: training builds the label in the warehouse and cannot write to it "
                                      f"now ({reason}); try again when it is free") from None


def build_training_models(path: Path) -> None:
    """Build the models a night leaves out (the label: transform.TRAINING_MODELS) in the warehouse, as of its
    last build's night and for its policy (meta.builds), unless they were already built for that build with
    the same inputs (dbt code, policy tables, parameters: transform.inputs_fingerprint)."""
    from poverty_warning import transform

    path = Path(path).resolve()
    if not path.is_file():
        raise ValueError(f"no warehouse at {path}")
    ws = _workspace_of(path)
    with warehouse.exclusive(ws, "train: building the label"):
        con = _writable(path)
        try:
            warehouse.create_tables(con)
            last = warehouse.last_build(con)
            if last is None:
                raise ValueError(f"{path} has no night built (meta.builds): run a night on it first")
            fingerprint = transform.inputs_fingerprint(con, last.night, last.policy_id)
            current = con.execute("SELECT count(*) FROM meta.training_builds WHERE build_built_at = ? "
                                  "AND inputs_fingerprint = ?", [last.built_at, fingerprint]).fetchone()[0]
        finally:
            con.close()  # dbt opens the file itself
        if current:
            return
        # Built with their data tests (a label is checked like a night's marts); unit tests are the code's check.
        transform.run_dbt(ws, "build", last.night, last.policy_id, select=transform.TRAINING_MODELS, unit_tests=False)
        con = _writable(path)
        try:
            con.execute("INSERT INTO meta.training_builds VALUES (CAST(? AS DATE), ?, ?, ?, current_timestamp)",
                        [last.night, last.policy_id, last.built_at, fingerprint])
        finally:
            con.close()


def _read_only(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.ConnectionException:
        # This process already holds the file read-write (an in-process dbt build keeps its connection):
        # DuckDB allows one configuration per file and process. Only SELECTs follow.
        return duckdb.connect(str(path))


def read_history(path: Path, policy_id: str | None = None) -> History:
    """The warehouse's features and labels; the label models are built first (build_training_models)."""
    path = Path(path).resolve()
    build_training_models(path)
    con = _read_only(path)
    try:
        warehouse_id = warehouse.identity(con)
        built_for = _built_for(con)
        try:
            frame = load_labelled(con)
        except duckdb.CatalogException:
            raise ValueError(f"{path} has no marts.fct_household_features: run a night on it first") from None
    finally:
        con.close()
    if policy_id and built_for and policy_id not in built_for:
        raise ValueError(f"the marts in {path} were built for {', '.join(built_for)}, not {policy_id}")
    if not policy_id:
        if len(built_for) != 1:
            raise ValueError(f"cannot tell which policy the marts in {path} were built for: pass --policy")
        policy_id = built_for[0]
    if frame.empty:
        raise ValueError(f"{path} holds no household months yet: run nights on it first")
    con = _read_only(path)
    try:
        label = _label_of(con, policy_id)
    except duckdb.CatalogException:
        raise ValueError(f"{path} has no policy tables (staging.stg_policy__rules): run a night on it first") from None
    finally:
        con.close()
    if warehouse_id is None:  # a warehouse from before identities: stamp it now (a one-row meta write)
        warehouse_id = warehouse.stamp(path)
    prepared = path.parent / "prepared.json"
    synthetic = json.loads(prepared.read_text(encoding="utf-8")) if prepared.exists() else None
    return History(path, warehouse_id, policy_id, frame, synthetic, label)


def _fit(history: History, seed: int) -> tuple[RiskModel, dict]:
    model, metrics = backtest.run(history.frame, k_for(history.frame["household_id"].nunique()), seed)
    model.meta["data"] = history.describe()
    return model, metrics


def register(path: Path, model: RiskModel, card_text: str, decision: str, reason: str,
             champion: RiskModel | None = None, champion_scores: dict | None = None) -> None:
    """Keep the version, its card and the decision in the warehouse it was trained on."""
    m = model.meta
    con = duckdb.connect(str(path))
    try:
        warehouse.stamp_identity(con)
        con.execute("INSERT INTO meta.model_registry VALUES (?, current_timestamp, ?, CAST(? AS DATE), CAST(? AS DATE), "
                    "CAST(? AS DATE), ?, ?, ?, ?, ?, ?, ?, ?)",
                    [m["version"], m["data"]["warehouse_id"], m["trained_through"], m["test_months"][0],
                     m["test_months"][1], m["metrics"]["model"]["pr_auc"], m["metrics"]["model"]["brier"],
                     champion.meta["version"] if champion else None,
                     champion_scores["pr_auc"] if champion_scores else None,
                     champion_scores["brier"] if champion_scores else None, decision, reason, card_text])
    finally:
        con.close()


def _write(model: RiskModel, models_dir: Path) -> tuple[Path, str]:
    path = model.write(models_dir)
    card_path = card.write(models_dir / f"risk_model-{model.meta['version']}.card.md", model.meta)
    return path, card_path.read_text(encoding="utf-8")


def train_on_warehouse(db: Path, models_dir: Path = MODELS_DIR, policy_id: str | None = None, seed: int = 7,
                       command: str | None = None) -> tuple[RiskModel, dict, Path]:
    """Train on the warehouse's history and make the model the champion (a person asked for it)."""
    history = read_history(db, policy_id)
    model, metrics = _fit(history, seed)
    model.meta["command"] = command or (f"poverty-warning train --warehouse {warehouse_name(history.path)} "
                                        f"--policy {history.policy_id}")
    path, card_text = _write(model, models_dir)
    model.promote(models_dir)
    register(history.path, model, card_text, "promoted", "trained by hand (poverty-warning train)")
    return model, metrics, path


def evaluate_warehouse(db: Path, policy_id: str | None = None, seed: int = 7) -> dict:
    history = read_history(db, policy_id)
    return backtest.run(history.frame, k_for(history.frame["household_id"].nunique()), seed)[1]


@dataclass
class Decision:
    challenger: RiskModel
    challenger_scores: dict
    champion: RiskModel | None
    champion_scores: dict | None
    promoted: bool
    reason: str

    def line(self) -> str:
        c = self.challenger_scores
        text = f"challenger {self.challenger.meta['version']} PR-AUC={c['pr_auc']:.4f} brier={c['brier']:.4f}"
        if self.champion is not None:
            d = self.champion_scores
            text += f" | champion {self.champion.meta['version']} PR-AUC={d['pr_auc']:.4f} brier={d['brier']:.4f}"
        return f"{text} | {'promoted' if self.promoted else 'kept the champion'}: {self.reason}"


def judge(challenger: dict, champion: dict | None) -> tuple[bool, str]:
    """Promote only on a better PR-AUC with a Brier score no worse, both on the same test months."""
    if champion is None:
        return True, "no champion yet"
    if challenger["pr_auc"] <= champion["pr_auc"]:
        return False, "PR-AUC not better than the champion's"
    if challenger["brier"] > champion["brier"]:
        return False, "better PR-AUC but worse calibration (Brier)"
    return True, "better PR-AUC, calibration no worse"


def retrain(db: Path, models_dir: Path = MODELS_DIR, policy_id: str | None = None, seed: int = 7) -> Decision:
    """The monthly task: a challenger on the latest history, backtested against the champion on the same
    recent months; promoted only if judge() says so. Every version and decision is registered."""
    history = read_history(db, policy_id)
    challenger, _ = _fit(history, seed)
    challenger.meta["command"] = (f"poverty-warning retrain --warehouse {warehouse_name(history.path)} "
                                  f"--policy {history.policy_id}")
    test = backtest.split(history.frame)
    challenger_scores = backtest.score_test(test, challenger)
    champion = RiskModel.load(models_dir)
    champion_scores = backtest.score_test(test, champion) if champion is not None else None
    promoted, reason = judge(challenger_scores, champion_scores)
    _, card_text = _write(challenger, models_dir)
    if promoted:
        challenger.promote(models_dir)
    register(history.path, challenger, card_text, "promoted" if promoted else "refused", reason,
             champion, champion_scores)
    return Decision(challenger, challenger_scores, champion, champion_scores, promoted, reason)


def command_line(city, persons, months, seed, end) -> str:
    return (f"poverty-warning train --city {city} --persons {persons} --months {months} --seed {seed} --end {end}")


def train(root: Path, city: str, persons: int, months: int, seed: int, end: str,
          models_dir: Path = MODELS_DIR) -> tuple[RiskModel, dict, Path]:
    """A synthetic city through the pipeline into its own warehouse, then trained like any warehouse."""
    from poverty_warning.synth.cities import CITIES

    db = prepare(root, city, persons, months, seed, end)
    return train_on_warehouse(db, models_dir, CITIES[city].policy_id, seed,
                              command_line(city, persons, months, seed, end))


def evaluate(root: Path, city: str, persons: int, months: int, seed: int, end: str) -> dict:
    from poverty_warning.synth.cities import CITIES

    return evaluate_warehouse(prepare(root, city, persons, months, seed, end), CITIES[city].policy_id, seed)


def build_training_dag(fileloc: str):
    """The Airflow DAG `monthly_training`: on the 3rd of each month (the previous month's claims have
    settled), `retrain` on the workspace's warehouse; the nightly score then uses whichever model is champion."""
    import os

    import pendulum
    from airflow.sdk import DAG, Param, task

    from poverty_warning.nightly import WAREHOUSE_POOL
    from poverty_warning.workspace import Workspace

    with DAG(
        dag_id="monthly_training",
        schedule="0 4 3 * *",
        start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai"),
        catchup=False,
        max_active_runs=1,
        params={"policy_id": Param(os.environ.get("POVERTY_WARNING_POLICY"), type=["null", "string"],
                                   description="default: the policy the marts were last built for")},
        tags=["poverty-warning"],
        doc_md=build_training_dag.__doc__,
    ) as dag:
        @task(task_id="retrain", pool=WAREHOUSE_POOL)  # one writer of the DuckDB file, with the nightly tasks
        def retrain_task(params=None) -> dict:
            decision = retrain(Workspace.default().duckdb_path, MODELS_DIR, params.get("policy_id"))
            return {"challenger": decision.challenger.meta["version"], "promoted": decision.promoted,
                    "reason": decision.reason}

        retrain_task()
    dag.fileloc = fileloc
    return dag
