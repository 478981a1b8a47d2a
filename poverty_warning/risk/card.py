"""The model card written beside each trained model."""
from __future__ import annotations

from pathlib import Path

from poverty_warning.risk.backtest import GROUPS, MUCH_WORSE_RECALL_GAP, summary_line
from poverty_warning.risk.features import FEATURES, REASON_ZH


def _origin(synthetic: dict | None) -> str:
    if not synthetic:
        return "The warehouse was filled by the nightly pipeline from the bureau's own feeds."
    return (f"The warehouse was filled by the pipeline from a synthetic city: {synthetic['persons']} residents of "
            f"{synthetic['city']}, {synthetic['months']} months of claims to {synthetic['end']} (seed {synthetic['seed']}).")


def _synthetic_limit(synthetic: dict | None) -> str:
    if not synthetic:
        return ""
    return ("* **The figures come from synthetic data.** The generator's illness trajectories decide what is learnable;\n"
            "  on real claims the model must be retrained and the backtest rerun before anyone relies on it.\n")


def _evaluate_command(meta: dict) -> str:
    data = meta.get("data", {})
    synthetic = data.get("synthetic")
    if synthetic:
        return (f"poverty-warning evaluate --city {synthetic['city']} --persons {synthetic['persons']} "
                f"--months {synthetic['months']} --seed {synthetic['seed']} --end {synthetic['end']}")
    return f"poverty-warning evaluate --warehouse {data.get('warehouse')} --policy {data.get('policy_id')}"


def _label(label: dict | None, policy_id: str | None) -> str:
    """Which label the model learnt, with the clauses it comes from."""
    if not label:
        return (f"the burden ratio reaches the alert warning level of `{policy_id}` (a model trained before the "
                f"label followed the rules)")
    if label["kind"] == "rule":
        rules = "; ".join(f"`{r['rule']}` ({r['clause']})" for r in label["rules"])
        return (f"one of the candidate rules of `{policy_id}` holds at that month-end, as the nightly lists "
                f"judge it — burden, per-capita income line and asset tests included: {rules}. "
                f"Judged in dbt at every month-end from what was known that day "
                f"(`intermediate.int_rule_verdicts_monthly`)")
    return (f"`{policy_id}` has no candidate rule, so the label is the pack's {label['level']} warning level: "
            f"the burden ratio reaches {label['ratio']:.0%} ({label['clause']})")


def _groups(by_group: dict) -> str:
    """Recall at K and calibration per group beside the ratio baseline; groups much worse are named."""
    text = ""
    worse = []
    for col, title in GROUPS.items():
        text += (f"\n**By {title}** (test months; K shared out by the group's size)\n\n"
                 "| group | rows | positives | PR-AUC | recall@K | baseline recall@K | mean predicted | observed |\n"
                 "|---|---|---|---|---|---|---|---|\n")
        for g in by_group.get(col, []):
            text += (f"| {g['group']} | {g['rows']} | {g['positives']} | {g['pr_auc']:.3f} | {g['recall_at_k']:.3f} | "
                     f"{g['baseline_recall_at_k']:.3f} | {g['mean_predicted']:.4f} | {g['observed']:.4f} |\n")
            if g["much_worse"]:
                worse.append(f"{title} {g['group']} (recall@K {g['recall_at_k']:.3f} against the baseline's "
                             f"{g['baseline_recall_at_k']:.3f})")
    gap = f"{MUCH_WORSE_RECALL_GAP:.0%}".replace("%", " points")
    if worse:
        text += (f"\n**Groups where the model is much worse than the ratio baseline** (recall@K more than {gap} "
                 f"lower): {'; '.join(worse)}. Check these households by the rule, not by the score.\n")
    else:
        text += f"\nNo group's recall@K is more than {gap} below the ratio baseline's.\n"
    return text


def write(path: Path, meta: dict) -> Path:
    m = meta["metrics"]
    rows = "\n".join(
        f"| {name} | {m[key]['roc_auc']:.3f} | {m[key]['pr_auc']:.3f} | {m[key]['recall_at_k']:.3f} | "
        f"{m[key]['precision_at_k']:.3f} | {('%.4f' % m[key]['brier']) if 'brier' in m[key] else '—'} |"
        for name, key in (("gradient boosting, calibrated (this model)", "model"),
                          ("current ratio ≥ 30% (baseline)", "ratio_baseline"), ("logistic regression", "logit")))
    calibration = "\n".join(f"| {c['predicted']:.3f} | {c['observed']:.3f} |" for c in m["calibration"])
    groups = _groups(m["by_group"])
    data = meta.get("data", {})
    synthetic = data.get("synthetic")
    text = f"""# Risk model card — version {meta['version']}

**What it predicts.** For a household in a month M, the probability that it is identified in one of the
next 6 months, not being identified at M (seed 001, 二(三) early warning).

**Label.** A month-end counts as identified when {_label(data.get('label'), data.get('policy_id'))}.

**Model.** scikit-learn `HistGradientBoostingClassifier`, calibrated with Platt (sigmoid) scaling on later
months (`CalibratedClassifierCV` on a frozen estimator). Scores are banded 高 ≥ 0.30, 中 ≥ 0.10, else 低.
Each scored household gets 2–3 reason codes in Chinese: the features whose replacement by the city median
lowers its score most.

**Where it learnt.** Warehouse `{data.get('warehouse')}` (identity `{data.get('warehouse_id')}`), marts built for
policy `{data.get('policy_id')}`; household months {data.get('first_month')} … {data.get('last_month')}:
{data.get('households')} households, {data.get('feature_rows')} household-months, {data.get('labelled_rows')} with a
full year of history and a complete label. {_origin(synthetic)}
Scores from this model carry the mark 模型未使用本地数据训练 in any other warehouse.

**Data window.** Training months {meta['train_months'][0]} … {meta['train_months'][1]}
({meta['train_rows']} household-months, {meta['train_positives']} positive); calibration
{meta['calibration_months'][0]} … {meta['calibration_months'][1]}; test {meta['test_months'][0]} … {meta['test_months'][1]}
after a 6-month gap, never shuffled. Only household-months with a full year of history are used.

**Reproduce.**

```
{meta.get('command')}
{_evaluate_command(meta)}
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

{_synthetic_limit(synthetic)}* A rule's verdict at a past month-end takes claims as settled by then and city figures as published
  now (a figure published late for an earlier year is used for that year).
* The first 12 months of any data are not used (the 12-month burden would be understated).
* Reason codes explain the model, not the household: a worker still has to visit.
"""
    path.write_text(text, encoding="utf-8")
    return path
