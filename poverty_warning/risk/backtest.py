"""Time-based backtest: train on earlier months, calibrate on the next, test on later months after a
gap as long as the label's horizon, so no training label peeks into the test period."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from poverty_warning.risk.features import FEATURES
from poverty_warning.risk.model import RiskModel, fit_calibrated, logistic, reference_of, version_of

HORIZON = 6  # months the label looks ahead
FULL_YEAR = 12  # months of history a household-month needs before it is used (the 12-month burden)
TEST_MONTHS, CALIBRATE_MONTHS = 4, 2


class HistoryTooShort(ValueError):
    """Too few labelled months for a time-ordered backtest."""

    def __init__(self, have: int, need: int):
        self.have, self.need = have, need
        # Landed months: the first year only builds history, the last HORIZON months have no complete label.
        super().__init__(f"{have} labelled months with a full year of history behind them, the backtest needs "
                         f"{need} (about {need + FULL_YEAR - 1 + HORIZON} months of landed claims)")


@dataclass
class Split:
    train: pd.DataFrame
    calibrate: pd.DataFrame
    test: pd.DataFrame
    scored_months: pd.DataFrame  # every full-history row from 6 months before the test on (for lead time)


def usable(frame: pd.DataFrame) -> pd.DataFrame:
    full = frame[frame["months_observed"] >= FULL_YEAR]
    return full[full["label"].notna() & full["label_complete"]].assign(label=lambda d: d["label"].astype(int))


def months_needed(test_months: int = TEST_MONTHS, calibrate_months: int = CALIBRATE_MONTHS) -> int:
    return test_months + calibrate_months + HORIZON + 2


def split(frame: pd.DataFrame, test_months: int = TEST_MONTHS, calibrate_months: int = CALIBRATE_MONTHS) -> Split:
    rows = usable(frame)
    months = sorted(rows["feature_month"].unique())
    if len(months) < months_needed(test_months, calibrate_months):
        raise HistoryTooShort(len(months), months_needed(test_months, calibrate_months))
    test = months[-test_months:]
    train_months = [m for m in months if m < test[0] - pd.DateOffset(months=HORIZON)]
    calibrate = train_months[-calibrate_months:]
    fit = train_months[:-calibrate_months]
    full = frame[frame["months_observed"] >= FULL_YEAR]
    return Split(rows[rows["feature_month"].isin(fit)], rows[rows["feature_month"].isin(calibrate)],
                 rows[rows["feature_month"].isin(test)],
                 full[full["feature_month"] >= test[0] - pd.DateOffset(months=HORIZON)])


def recall_precision_at_k(frame: pd.DataFrame, score: np.ndarray, k: int) -> tuple[float, float]:
    """Per month the K highest-scored households (what workers can visit), pooled over months."""
    d = frame[["feature_month", "label"]].assign(score=score)
    hits = flagged = positives = 0
    for _, month in d.groupby("feature_month"):
        top = month.nlargest(k, "score")
        hits += int(top["label"].sum())
        flagged += len(top)
        positives += int(month["label"].sum())
    return (hits / positives if positives else float("nan"), hits / flagged if flagged else float("nan"))


def lead_times(scored: pd.DataFrame, score: np.ndarray, k: int, first_firing: pd.Timestamp) -> list[int]:
    """Months between a household's first top-K score and the month its rule first fires."""
    d = scored[["household_id", "feature_month", "at_line_now"]].assign(score=score)
    d["rank"] = d.groupby("feature_month")["score"].rank(ascending=False, method="first")
    d["flagged"] = d["rank"] <= k
    d = d.sort_values(["household_id", "feature_month"])
    d["was_at_line"] = d.groupby("household_id")["at_line_now"].shift(1).fillna(True).astype(bool)
    fires = d[d["at_line_now"].fillna(False).astype(bool) & ~d["was_at_line"] & (d["feature_month"] >= first_firing)]
    leads = []
    flagged = d[d["flagged"]]
    for row in fires.itertuples():
        before = flagged[(flagged["household_id"] == row.household_id)
                         & (flagged["feature_month"] < row.feature_month)
                         & (flagged["feature_month"] >= row.feature_month - pd.DateOffset(months=HORIZON))]
        if len(before):
            first = before["feature_month"].min()
            leads.append((row.feature_month.year - first.year) * 12 + row.feature_month.month - first.month)
    return leads


# A group is named in the card when the model's recall@K there trails the ratio baseline's by this much
# (10 points: fewer than nine in ten of the households the simple rule would have caught).
MUCH_WORSE_RECALL_GAP = 0.10
GROUPS = {"district_code": "district", "age_group": "oldest member's age band", "category_group": "category"}


def category_group(frame: pd.DataFrame) -> pd.Series:
    """The household's assistance category, coarsest first (from the feature flags)."""
    return np.select([frame["has_dibao_or_tekun"] == 1, frame["has_low_income"] == 1, frame["has_disability"] == 1,
                      frame["has_policy_category"] == 1],
                     ["dibao/tekun", "low income/edge", "severe disability", "other category"], "no category")


def by_group(test: pd.DataFrame, p_model: np.ndarray, p_baseline: np.ndarray, k: int) -> dict:
    """Recall at K (K shared out by the group's size) and calibration per group, beside the ratio baseline."""
    d = test.assign(score=p_model, baseline=p_baseline, category_group=category_group(test))
    out = {}
    for col in GROUPS:
        out[col] = []
        for value, part in d.groupby(col):
            if part["label"].sum() == 0:
                continue
            k_group = max(1, k * len(part) // len(d))
            recall, _ = recall_precision_at_k(part, part["score"].to_numpy(), k_group)
            baseline, _ = recall_precision_at_k(part, part["baseline"].to_numpy(), k_group)
            out[col].append({"group": str(value), "rows": int(len(part)), "positives": int(part["label"].sum()),
                             "pr_auc": float(average_precision_score(part["label"], part["score"])),
                             "recall_at_k": recall, "baseline_recall_at_k": baseline,
                             "mean_predicted": float(part["score"].mean()), "observed": float(part["label"].mean()),
                             "much_worse": bool(recall < baseline - MUCH_WORSE_RECALL_GAP)})
    return out


def score_test(split_: Split, model) -> dict:
    """PR-AUC and Brier of a trained model on a split's test months (the champion/challenger comparison)."""
    y = split_.test["label"].to_numpy(int)
    p = model.predict(split_.test)
    return {"pr_auc": float(average_precision_score(y, p)), "brier": float(brier_score_loss(y, p))}


def run(frame: pd.DataFrame, k: int, seed: int = 0) -> tuple[RiskModel, dict]:
    s = split(frame)
    calibrated = fit_calibrated(s.train, s.calibrate, seed)
    logit = logistic().fit(pd.concat([s.train, s.calibrate])[FEATURES].to_numpy(float),
                           pd.concat([s.train, s.calibrate])["label"].to_numpy(int))
    x_test, y_test = s.test[FEATURES].to_numpy(float), s.test["label"].to_numpy(int)
    p_model = calibrated.predict_proba(x_test)[:, 1]
    p_logit = logit.predict_proba(x_test)[:, 1]
    ratio = s.test["rule_ratio"].fillna(0).to_numpy(float)
    ratio_flag = np.where(ratio >= s.test["alert_ratio"].to_numpy(float) * 0.75, ratio, 0.0)  # the 30% watch line
    metrics = {"k_per_month": k, "test_rows": int(len(s.test)), "test_positives": int(y_test.sum())}
    for name, score in (("model", p_model), ("ratio_baseline", ratio_flag), ("logit", p_logit)):
        recall, precision = recall_precision_at_k(s.test, score, k)
        metrics[name] = {"roc_auc": float(roc_auc_score(y_test, score)),
                         "pr_auc": float(average_precision_score(y_test, score)),
                         "recall_at_k": recall, "precision_at_k": precision}
    metrics["model"]["brier"] = float(brier_score_loss(y_test, p_model))
    metrics["logit"]["brier"] = float(brier_score_loss(y_test, p_logit))
    observed, predicted = calibration_curve(y_test, p_model, n_bins=8, strategy="quantile")
    metrics["calibration"] = [{"predicted": float(p), "observed": float(o)} for p, o in zip(predicted, observed)]
    scored = s.scored_months
    leads = lead_times(scored, calibrated.predict_proba(scored[FEATURES].to_numpy(float))[:, 1], k,
                       s.test["feature_month"].min())
    metrics["lead_months"] = {"median": float(np.median(leads)) if leads else 0.0, "detected_firings": len(leads)}
    metrics["by_group"] = by_group(s.test, p_model, ratio_flag, k)
    meta = {"trained_through": str(s.calibrate["feature_month"].max().date()),
            "train_months": [str(s.train["feature_month"].min().date()), str(s.train["feature_month"].max().date())],
            "calibration_months": [str(s.calibrate["feature_month"].min().date()),
                                   str(s.calibrate["feature_month"].max().date())],
            "test_months": [str(s.test["feature_month"].min().date()), str(s.test["feature_month"].max().date())],
            "train_rows": int(len(s.train)), "train_positives": int(s.train["label"].sum()),
            "features": list(FEATURES), "seed": seed}
    meta["version"] = version_of(meta)
    model = RiskModel(calibrated, reference_of(pd.concat([s.train, s.calibrate]),
                                               calibrated.predict_proba(
                                                   pd.concat([s.train, s.calibrate])[FEATURES].to_numpy(float))[:, 1]),
                      {**meta, "metrics": metrics})
    return model, metrics


def summary_line(m: dict) -> str:
    return (f"model PR-AUC={m['model']['pr_auc']:.2f} recall@K={m['model']['recall_at_k']:.2f} "
            f"brier={m['model']['brier']:.4f} | ratio-baseline PR-AUC={m['ratio_baseline']['pr_auc']:.2f} "
            f"recall@K={m['ratio_baseline']['recall_at_k']:.2f} | logit PR-AUC={m['logit']['pr_auc']:.2f} "
            f"recall@K={m['logit']['recall_at_k']:.2f} brier={m['logit']['brier']:.4f} | "
            f"median_lead_months={m['lead_months']['median']:.1f}")
