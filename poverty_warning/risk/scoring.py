"""Nightly scoring: the latest complete month's features, the trained model, reason codes, and
drift (PSI) of the score and the features against the training reference."""
from __future__ import annotations

import datetime as dt
import math

import duckdb
import numpy as np
import pandas as pd

from poverty_warning.risk.features import FEATURES, load_month
from poverty_warning.risk.model import RiskModel, band
from poverty_warning.warehouse import create_tables, identity

# Shown beside every score from a model that never learnt from this warehouse's households.
NOT_LOCAL_ZH = "模型未使用本地数据训练"


def psi(reference: dict, values: np.ndarray) -> float:
    """Population stability index of tonight's values against their training distribution."""
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return 0.0
    edges = np.asarray(reference["edges"], dtype=float)
    got = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1) / len(values)
    total = 0.0
    for e, a in zip(reference["shares"], got):
        e, a = max(e, 1e-4), max(a, 1e-4)
        total += (a - e) * math.log(a / e)
    return float(total)


def trained_locally(con: duckdb.DuckDBPyConnection, model: RiskModel) -> bool:
    """True only when the model's training warehouse is this one (same stamped identity)."""
    here = identity(con)
    return here is not None and model.trained_on() == here


def listed_households(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The households tonight's lists and referrals can show (the dbt outreach models the night built)."""
    return [h for (h,) in con.execute(
        "SELECT household_id FROM marts.fct_outreach_items UNION "
        "SELECT household_id FROM intermediate.int_outreach_referral_options").fetchall()]


def score(con: duckdb.DuckDBPyConnection, night: str, model: RiskModel) -> pd.DataFrame:
    """Score every household on the last complete month before the night; store and return the scores."""
    month = (dt.date.fromisoformat(night).replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    rows = load_month(con, month)
    probability = model.predict(rows) if len(rows) else np.array([])
    rows["risk_score"] = probability
    rows["risk_band"] = [band(p) for p in probability]
    # Reasons are read beside a listed household only (lists, referrals, their trail pages): each costs one
    # prediction per feature, so they are worked out for those households; NULL elsewhere (not computed).
    rows["risk_reasons"] = None
    listed = rows["household_id"].isin(listed_households(con)).to_numpy()
    if listed.any():
        rows.loc[listed, "risk_reasons"] = model.reasons(rows[listed])
    local = trained_locally(con, model)
    scored = rows[["household_id", "feature_month", "risk_score", "risk_band", "risk_reasons"]].assign(
        model_version=model.meta["version"], model_trained_locally=local, model_note="" if local else NOT_LOCAL_ZH)
    create_tables(con)
    con.register("scored", scored)
    con.execute("DELETE FROM risk.household_scores")  # the latest night's scores only
    con.execute("INSERT INTO risk.household_scores BY NAME SELECT * FROM scored")
    con.unregister("scored")
    con.execute("DELETE FROM meta.model_monitoring WHERE night = CAST(? AS DATE)", [night])
    drift = [("score", psi(model.reference["score_bins"], probability))]
    drift += [(f, psi(model.reference["feature_bins"][f], rows[f].to_numpy(float))) for f in FEATURES]
    con.executemany("INSERT INTO meta.model_monitoring (night, model_version, item, psi, sample_size, "
                    "trained_locally) VALUES (CAST(? AS DATE), ?, ?, ?, ?, ?)",
                    [[night, model.meta["version"], item, value, len(rows), local] for item, value in drift])
    return scored
