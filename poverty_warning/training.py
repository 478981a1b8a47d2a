"""`poverty-warning train` / `evaluate`: a synthetic city through the real pipeline, then the backtest."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb

from poverty_warning.risk import backtest
from poverty_warning.risk import card
from poverty_warning.risk.features import load
from poverty_warning.risk.model import RiskModel
from poverty_warning.settings import MODELS_DIR

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
        nightly.ingest(ws, ws.root / "feeds", end)
        nightly.transform(ws, end, CITIES[city].policy_id)
        done.write_text(json.dumps({"city": city, "persons": persons, "months": months, "seed": seed,
                                    "end": end}), encoding="utf-8")
    return ws.duckdb_path


def _frame(db: Path):
    con = duckdb.connect(str(db))
    try:
        return load(con)
    finally:
        con.close()


def command_line(city, persons, months, seed, end) -> str:
    return (f"poverty-warning train --city {city} --persons {persons} --months {months} --seed {seed} --end {end}")


def train(root: Path, city: str, persons: int, months: int, seed: int, end: str,
          models_dir: Path = MODELS_DIR) -> tuple[RiskModel, dict, Path]:
    frame = _frame(prepare(root, city, persons, months, seed, end))
    k = k_for(frame["household_id"].nunique())
    model, metrics = backtest.run(frame, k, seed)
    model.meta["data"] = {"city": city, "persons": persons, "months": months, "seed": seed, "end": end,
                          "synthetic": True}
    model.meta["command"] = command_line(city, persons, months, seed, end)
    path = model.save(models_dir)
    card.write(models_dir / f"risk_model-{model.meta['version']}.card.md", model.meta)
    return model, metrics, path


def evaluate(root: Path, city: str, persons: int, months: int, seed: int, end: str) -> dict:
    frame = _frame(prepare(root, city, persons, months, seed, end))
    _, metrics = backtest.run(frame, k_for(frame["household_id"].nunique()), seed)
    return metrics
