"""Training, calibration, persistence and scoring with reason codes."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.impute import SimpleImputer

from poverty_warning.risk.features import FEATURES, REASON_ZH
from poverty_warning.settings import MODELS_DIR

BANDS = [(0.30, "高"), (0.10, "中"), (0.0, "低")]  # calibrated probability of crossing the line in 6 months


def band(p: float) -> str:
    return next(label for cut, label in BANDS if p >= cut)


@dataclass
class RiskModel:
    estimator: object  # calibrated classifier
    reference: dict  # feature medians (for reason codes) and score/feature quantiles (for drift)
    meta: dict = field(default_factory=dict)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict_proba(frame[FEATURES].to_numpy(dtype=float))[:, 1]

    def reasons(self, frame: pd.DataFrame, top: int = 3) -> list[str]:
        """The features that raised each household's score most: each set to the population's
        median in turn, the drop in score is that feature's contribution."""
        x = frame[FEATURES].to_numpy(dtype=float)
        base = self.estimator.predict_proba(x)[:, 1]
        drops = np.zeros((len(frame), len(FEATURES)))
        for j, name in enumerate(FEATURES):
            probe = x.copy()
            probe[:, j] = self.reference["median"][name]
            drops[:, j] = base - self.estimator.predict_proba(probe)[:, 1]
        out = []
        for score, row in zip(base, drops):
            # A reason must explain a real part of the score: at least 5% of it.
            order = [j for j in np.argsort(-row)[:top] if row[j] > max(1e-6, 0.05 * score)]
            out.append("；".join(REASON_ZH[FEATURES[j]] for j in order))
        return out

    def write(self, folder: Path = MODELS_DIR) -> Path:
        """Keep this version's file (every version is kept; only `promote` makes it the one that scores)."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"risk_model-{self.meta['version']}.joblib"
        joblib.dump({"estimator": self.estimator, "reference": self.reference, "meta": self.meta}, path)
        return path

    def promote(self, folder: Path = MODELS_DIR) -> None:
        """Make this version the champion: latest.json is what the nightly score loads."""
        (folder / "latest.json").write_text(json.dumps(
            {"version": self.meta["version"], "file": f"risk_model-{self.meta['version']}.joblib"}, indent=2) + "\n",
            encoding="utf-8")

    def save(self, folder: Path = MODELS_DIR) -> Path:
        path = self.write(folder)
        self.promote(folder)
        return path

    def trained_on(self) -> str | None:
        """The identity of the warehouse this model learnt from (None: an older or synthetic-only model)."""
        return self.meta.get("data", {}).get("warehouse_id")

    @classmethod
    def load(cls, folder: Path = MODELS_DIR) -> "RiskModel | None":
        pointer = folder / "latest.json"
        if not pointer.exists():
            return None
        data = joblib.load(folder / json.loads(pointer.read_text(encoding="utf-8"))["file"])
        return cls(data["estimator"], data["reference"], data["meta"])


def gradient_boosting(seed: int = 0) -> HistGradientBoostingClassifier:
    # Shallow trees and no early stopping (its random hold-out would make training depend on the seed).
    return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_depth=3, min_samples_leaf=100,
                                          l2_regularization=1.0, early_stopping=False, random_state=seed)


def logistic() -> object:
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         LogisticRegression(max_iter=2000, C=0.5))


def fit_calibrated(train: pd.DataFrame, calibrate: pd.DataFrame, seed: int = 0):
    """Fit on earlier months, calibrate on the months after them: never shuffled. Platt (sigmoid)
    scaling keeps the ranking, which the workers' top-K lists depend on."""
    model = gradient_boosting(seed).fit(train[FEATURES].to_numpy(float), train["label"].to_numpy(int))
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method="sigmoid")
    calibrated.fit(calibrate[FEATURES].to_numpy(float), calibrate["label"].to_numpy(int))
    return calibrated


def bins_of(values: np.ndarray) -> dict:
    """Decile edges of the training values and the share of training values in each band (for PSI)."""
    values = values[~np.isnan(values)]
    edges = np.unique(np.quantile(values, np.linspace(0.1, 0.9, 9))) if len(values) else np.array([])
    shares = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1) / max(len(values), 1)
    return {"edges": [float(e) for e in edges], "shares": [float(x) for x in shares]}


def reference_of(frame: pd.DataFrame, scores: np.ndarray) -> dict:
    return {
        "median": {f: float(np.nanmedian(frame[f])) for f in FEATURES},
        "feature_bins": {f: bins_of(frame[f].to_numpy(float)) for f in FEATURES},
        "score_bins": bins_of(np.asarray(scores, dtype=float)),
    }


def version_of(meta: dict) -> str:
    digest = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{meta['trained_through']}-{digest}"
