"""The model card written beside each trained model."""
from __future__ import annotations

from pathlib import Path

from poverty_warning.risk.backtest import summary_line
from poverty_warning.risk.features import FEATURES, REASON_ZH


def write(path: Path, meta: dict) -> Path:
    m = meta["metrics"]
    rows = "\n".join(
        f"| {name} | {m[key]['roc_auc']:.3f} | {m[key]['pr_auc']:.3f} | {m[key]['recall_at_k']:.3f} | "
        f"{m[key]['precision_at_k']:.3f} | {('%.4f' % m[key]['brier']) if 'brier' in m[key] else '—'} |"
        for name, key in (("gradient boosting, calibrated (this model)", "model"),
                          ("current ratio ≥ 30% (baseline)", "ratio_baseline"), ("logistic regression", "logit")))
    calibration = "\n".join(f"| {c['predicted']:.3f} | {c['observed']:.3f} |" for c in m["calibration"])
    groups = ""
    for col, title in (("age_group", "oldest member's age band"), ("district_code", "district")):
        groups += f"\n**By {title}** (test months)\n\n| group | rows | positives | PR-AUC | recall@K |\n|---|---|---|---|---|\n"
        groups += "\n".join(f"| {g['group']} | {g['rows']} | {g['positives']} | {g['pr_auc']:.3f} | "
                            f"{g['recall_at_k']:.3f} |" for g in m["by_group"][col]) + "\n"
    data = meta.get("data", {})
    text = f"""# Risk model card — version {meta['version']}

**What it predicts.** For a household in a month M, the probability that it reaches its policy's
identification line (the alert ratio of the configured policy: 40% of household income for
`shanghai-2022`) in one of the next 6 months, having not reached it at M (seed 001, 二(三) early warning).

**Model.** scikit-learn `HistGradientBoostingClassifier`, calibrated with Platt (sigmoid) scaling on later
months (`CalibratedClassifierCV` on a frozen estimator). Scores are banded 高 ≥ 0.30, 中 ≥ 0.10, else 低.
Each scored household gets 2–3 reason codes in Chinese: the features whose replacement by the city median
lowers its score most.

**Data window.** Synthetic city: {data.get('persons')} residents of {data.get('city')}, {data.get('months')} months
of claims to {data.get('end')} (seed {data.get('seed')}). Training months {meta['train_months'][0]} … {meta['train_months'][1]}
({meta['train_rows']} household-months, {meta['train_positives']} positive); calibration
{meta['calibration_months'][0]} … {meta['calibration_months'][1]}; test {meta['test_months'][0]} … {meta['test_months'][1]}
after a 6-month gap, never shuffled. Only household-months with a full year of history are used.

**Reproduce.**

```
{meta.get('command')}
poverty-warning evaluate --city {data.get('city')} --persons {data.get('persons')} --months {data.get('months')} --seed {data.get('seed')} --end {data.get('end')}
```

## Backtest (test months)

K = {m['k_per_month']} households a month (1% of households: what the workers can visit).
{m['test_rows']} test household-months, {m['test_positives']} positive.

| scorer | ROC-AUC | PR-AUC | recall@K | precision@K | Brier |
|---|---|---|---|---|---|
{rows}

Median lead time: **{m['lead_months']['median']:.1f} months** between a household's first top-K month and the
month its rule first fired ({m['lead_months']['detected_firings']} firings flagged beforehand).

`{summary_line(m)}`

**Calibration** (test months, quantile bins)

| mean predicted | observed rate |
|---|---|
{calibration}
{groups}
## Features

{", ".join(f"`{f}` ({REASON_ZH[f]})" for f in FEATURES)} — built in dbt (`marts.fct_household_features`)
from data up to the end of the feature month only.

## Known limits

* **The figures come from synthetic data.** The generator's illness trajectories decide what is learnable;
  on real claims the model must be retrained and the backtest rerun before anyone relies on it.
* The label is the burden ratio at the policy's alert line; the per-capita income and asset tests of the
  full rule are inputs, not part of the label.
* The first 12 months of any data are not used (the 12-month burden would be understated).
* Reason codes explain the model, not the household: a worker still has to visit.
"""
    path.write_text(text, encoding="utf-8")
    return path
