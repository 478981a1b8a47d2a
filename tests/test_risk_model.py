"""The early-warning model: no leakage in its features, a time-ordered backtest, artefacts with a card,
the evaluate line, and scores on the lists."""
import re
import shutil

import duckdb
import pandas as pd
import pytest

from poverty_warning.risk import backtest
from poverty_warning import training
from poverty_warning.risk.features import FEATURES, load
from poverty_warning.risk.model import RiskModel
from poverty_warning import nightly
from poverty_warning.workspace import Workspace

LINE = re.compile(r"^model PR-AUC=\d\.\d\d recall@K=\d\.\d\d brier=\d\.\d{3} \| ratio-baseline PR-AUC=\d\.\d\d "
                  r"recall@K=\d\.\d\d \| logit PR-AUC=\d\.\d\d recall@K=\d\.\d\d brier=\d\.\d{3} \| "
                  r"median_lead_months=\d+\.\d$")


def _features(feeds, tmp_path, name, night="2024-03-31"):
    ws = Workspace(tmp_path / name)
    nightly.ingest(ws, feeds, night)
    nightly.transform(ws, night, "shanghai-2022")
    con = duckdb.connect(str(ws.duckdb_path))
    try:
        return load(con)
    finally:
        con.close()


def test_features_for_a_month_use_nothing_after_it(small_city, tmp_path):
    """Claims after month M change nothing in M's features (labels may change: they look ahead)."""
    cut = pd.Timestamp("2023-10-01")
    altered = tmp_path / "altered"
    shutil.copytree(small_city, altered)
    for day in (altered / "claims").iterdir():
        if day.name >= "2023-11-01":
            frame = pd.read_csv(day / "part-0.csv", dtype=str, keep_default_na=False)
            for col in ("total_cost", "self_pay_out_scope"):  # tenfold out-of-scope costs after October
                extra = frame["self_pay_out_scope"].astype(float) * 9
                frame[col] = (frame[col].astype(float) + extra).map(lambda v: f"{v:.2f}")
            frame.to_csv(day / "part-0.csv", index=False)
    before = _features(small_city, tmp_path, "original")
    after = _features(altered, tmp_path, "altered")
    key = ["household_id", "feature_month"]
    a = before[before["feature_month"] <= cut].set_index(key).sort_index()[FEATURES]
    b = after[after["feature_month"] <= cut].set_index(key).sort_index()[FEATURES]
    pd.testing.assert_frame_equal(a, b)
    later_a = before[before["feature_month"] > cut].set_index(key).sort_index()["burden_3m"]
    later_b = after[after["feature_month"] > cut].set_index(key).sort_index()["burden_3m"]
    assert (later_b >= later_a).all() and (later_b > later_a).any()  # the change is visible after M


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("ml")
    models = root / "models"
    model, metrics, path = training.train(root / "data", "shanghai", 6000, 32, 3, "2024-06-30", models_dir=models)
    return model, metrics, path, models


def test_backtest_is_time_ordered_with_a_gap(trained):
    model, _, _, _ = trained
    train_end = pd.Timestamp(model.meta["train_months"][1])
    calibrate = [pd.Timestamp(d) for d in model.meta["calibration_months"]]
    test_start = pd.Timestamp(model.meta["test_months"][0])
    assert train_end < calibrate[0] <= calibrate[1]
    assert test_start >= calibrate[1] + pd.DateOffset(months=backtest.HORIZON)


def test_artefacts_card_and_summary_line(trained):
    model, metrics, path, models = trained
    assert path.exists() and (models / "latest.json").exists()
    card = (models / f"risk_model-{model.meta['version']}.card.md").read_text(encoding="utf-8")
    for words in ("synthetic data", "poverty-warning train", "By district", "Calibration", "recall@K"):
        assert words in card
    assert LINE.match(backtest.summary_line(metrics)), backtest.summary_line(metrics)
    loaded = RiskModel.load(models)
    assert loaded.meta["version"] == model.meta["version"]


def test_reasons_are_chinese_and_come_from_the_model(trained):
    model, _, _, _ = trained
    frame = pd.DataFrame([{f: model.reference["median"][f] for f in FEATURES}] * 2)
    frame.loc[1, ["burden_3m", "burden_6m", "burden_12m", "rule_ratio", "ratio_3m_annualised", "cancer_12m",
                  "inpatient_stays_3m", "catastrophic_3m"]] = [60000, 90000, 100000, 0.35, 0.9, 1, 2, 1]
    scores = model.predict(frame)
    assert scores[1] > scores[0]
    reasons = model.reasons(frame)
    assert reasons[0] == ""  # a median household: nothing raised its score
    assert 1 <= len(reasons[1].split("；")) <= 3 and re.search(r"[\u4e00-\u9fff]", reasons[1])


def test_cli_rejects_a_too_short_history(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "poverty_warning.cli", "evaluate", "--months", "12"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "--months" in result.stderr and "Traceback" not in result.stderr
