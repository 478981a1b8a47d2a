"""The early-warning model: no leakage in its features, a time-ordered backtest, artefacts with a card,
the evaluate line, and scores on the lists."""
import datetime as dt
import json
import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from poverty_warning.contract import ids
from poverty_warning.ingest import rowcheck
from poverty_warning.risk import backtest
from poverty_warning import training
from poverty_warning.risk.features import FEATURES, load, load_labelled
from poverty_warning.risk.model import RiskModel
from poverty_warning import nightly
from poverty_warning.workspace import Workspace

from .conftest import run_cli_here

LINE = re.compile(r"^model PR-AUC=\d\.\d\d recall@K=\d\.\d\d brier=\d\.\d{4} \| ratio-baseline PR-AUC=\d\.\d\d "
                  r"recall@K=\d\.\d\d \| logit PR-AUC=\d\.\d\d recall@K=\d\.\d\d brier=\d\.\d{4} \| "
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


@pytest.fixture(scope="module")
def original_features(small_city, tmp_path_factory):
    return _features(small_city, tmp_path_factory.mktemp("features"), "original")


CUT_END = "2023-10-31"  # month M = October 2023: everything dated after this day is perturbed
DIAGNOSES = ["C34.1", "N18.5", "I63.9", "E11.9", "R50.9", "K35.8"]  # cancer, kidney failure, stroke, chronic, symptom


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _claim(claim_id, person_id, day, admit, discharge, diagnosis="C50.9", sign=""):
    # 50000 = 40000 in scope + 10000 out of scope; 40000 = 20000 fund + 20000 self-pay
    amounts = {"total_cost": "50000.00", "policy_scope_cost": "40000.00", "basic_fund_paid": "20000.00",
               "critical_illness_paid": "0.00", "assistance_paid": "0.00", "other_paid": "0.00",
               "self_pay_in_scope": "20000.00", "self_pay_out_scope": "10000.00"}
    return {"claim_id": claim_id, "person_id": person_id, "visit_type": "inpatient", "admit_date": admit,
            "discharge_date": discharge, "settle_date": day, "hospital_id": "H310101109", "hospital_level": "3",
            "in_city": "true", "diagnosis_code": diagnosis, "reversal_of": "",
            **{k: sign + v for k, v in amounts.items()}}


def _perturb_everything_after_month(feeds: Path) -> None:
    """Change, add or remove everything the feeds date after CUT_END; nothing on or before it."""
    persons = _read(feeds / "persons" / "part-0.csv")
    days = sorted((feeds / "claims").iterdir())
    later = [d for d in days if d.name > CUT_END]
    # Claims of every kind settled after M: visit types and diagnoses rotated, out-of-scope costs tenfold.
    for day in later:
        frame = _read(day / "part-0.csv")
        originals = frame["reversal_of"].eq("")
        rot = pd.Series(range(len(frame)), index=frame.index)
        frame.loc[originals, "visit_type"] = rot.map(
            lambda i: ["inpatient", "outpatient", "emergency", "special_outpatient"][i % 4])[originals]
        frame.loc[originals, "diagnosis_code"] = rot.map(lambda i: DIAGNOSES[i % len(DIAGNOSES)])[originals]
        stay = frame["visit_type"].eq("inpatient") & originals
        frame.loc[stay, "admit_date"] = frame.loc[stay, "settle_date"]
        frame.loc[stay, "discharge_date"] = frame.loc[stay, "settle_date"]
        extra = frame["self_pay_out_scope"].astype(float) * 9
        for col in ("total_cost", "self_pay_out_scope"):
            frame[col] = (frame[col].astype(float) + extra).map(lambda v: f"{v:.2f}")
        frame.to_csv(day / "part-0.csv", index=False)
    # New claims settled after M for stays discharged in M, and reversals after M of claims settled in M.
    first_later = later[0] / "part-0.csv"
    frame = _read(first_later)
    stays = [_claim(f"LATE{i:05d}", pid, later[0].name, "2023-10-10", "2023-10-20")
             for i, pid in enumerate(persons["person_id"].iloc[::5])]
    in_m = pd.concat([_read(d / "part-0.csv") for d in days if d.name.startswith(CUT_END[:7])])
    reversed_already = set(pd.concat([_read(d / "part-0.csv") for d in days])["reversal_of"])
    to_reverse = in_m[in_m["reversal_of"].eq("") & ~in_m["claim_id"].isin(reversed_already)].head(60)
    reversals = to_reverse.copy()
    reversals["reversal_of"] = reversals["claim_id"]
    reversals["claim_id"] = "REV" + reversals["claim_id"]
    reversals["settle_date"] = later[0].name
    for col in rowcheck.CLAIM_AMOUNTS:
        reversals[col] = reversals[col].map(lambda v: v[1:] if v.startswith("-") else "-" + v)
    pd.concat([frame, pd.DataFrame(stays), reversals], ignore_index=True).to_csv(first_later, index=False)
    # Income assessed after M: every household reassessed at a tenth of its income, assets over the limit,
    # and households never assessed before get their first assessment.
    income = _read(feeds / "household_income" / "part-0.csv")
    reassessed = income.drop_duplicates("household_id").assign(
        assessed_on="2023-11-15", members_without_fixed_income="3", assets_within_limit="false",
        annual_disposable_income=lambda f: (f["annual_disposable_income"].astype(float) / 10).map(lambda v: f"{v:.2f}"))
    unassessed = sorted(set(persons["household_id"]) - set(income["household_id"]))
    first = pd.DataFrame({"household_id": unassessed, "assessed_on": "2023-12-01", "annual_disposable_income": "1000.00",
                          "members_without_fixed_income": "0", "assets_within_limit": "true"})
    pd.concat([income, reassessed, first], ignore_index=True).to_csv(feeds / "household_income" / "part-0.csv",
                                                                     index=False)
    # Categories from after M for every third person; open categories end after M.
    cats = _read(feeds / "assistance_categories" / "part-0.csv")
    cats.loc[cats["valid_to"].eq(""), "valid_to"] = "2023-12-31"
    kinds = ["dibao", "tekun", "low_income", "severe_disability", "dibao_edge"]
    new = pd.DataFrame([{"person_id": pid, "category": kinds[i % len(kinds)], "valid_from": "2023-11-01", "valid_to": "",
                         "source": "civil_affairs", "dibao_class": "",
                         "disability_grade": "1" if kinds[i % len(kinds)] == "severe_disability" else ""}
                        for i, pid in enumerate(persons["person_id"].iloc[::3])])
    pd.concat([cats, new], ignore_index=True).to_csv(feeds / "assistance_categories" / "part-0.csv", index=False)
    # Household membership: a child born after M joins every fourth household.
    heads = persons.drop_duplicates("household_id").iloc[::4]
    born = dt.date(2024, 1, 5)
    babies = heads.assign(person_id=[ids.make(d, born, 900 + i) for i, d in enumerate(heads["district_code"])],
                          name="新生儿", sex="", birth_date=born.isoformat(), relation="child", phone="")
    pd.concat([persons, babies], ignore_index=True).to_csv(feeds / "persons" / "part-0.csv", index=False)
    # Enrollment for the year after M: schemes and premium subsidies changed.
    enrol = _read(feeds / "enrollment" / "part-0.csv")
    next_year = enrol["year"].eq("2024")
    enrol.loc[next_year, "scheme"] = enrol.loc[next_year, "scheme"].map({"employee": "resident", "resident": "employee"})
    enrol.loc[next_year, "premium_subsidy"] = "full"
    enrol.to_csv(feeds / "enrollment" / "part-0.csv", index=False)


def test_no_feature_at_or_before_a_month_sees_anything_after_it(small_city, original_features, tmp_path):
    """Perturb everything after month M — claims of every kind, diagnoses, income assessments, categories,
    household membership, enrollment — and every feature of every household at or before M stays the same."""
    altered = tmp_path / "altered"
    shutil.copytree(small_city, altered)
    _perturb_everything_after_month(altered)
    before, after = original_features, _features(altered, tmp_path, "altered")
    key = ["household_id", "feature_month"]
    cut = pd.Timestamp(CUT_END).replace(day=1)
    a = before[before["feature_month"] <= cut].set_index(key).sort_index()[FEATURES]
    b = after[after["feature_month"] <= cut].set_index(key).sort_index()[FEATURES]
    assert len(a) > 1000
    pd.testing.assert_frame_equal(a, b)
    # Each perturbation is seen after M, so the comparison above is not vacuous.
    later_a = before[before["feature_month"] > cut].set_index(key).sort_index()
    later_b = after[after["feature_month"] > cut].set_index(key).sort_index().loc[later_a.index]
    for feature in ("burden_1m", "inpatient_stays_3m", "emergency_visits_6m", "special_outpatient_12m", "cancer_12m",
                    "kidney_failure_12m", "stroke_12m", "symptom_visits_3m", "per_capita_income", "assets_within_limit",
                    "has_dibao_or_tekun", "has_low_income", "has_disability", "household_size", "youngest_age"):
        assert not later_a[feature].equals(later_b[feature]), f"{feature} did not change after M"



def test_features_for_a_month_use_nothing_after_it(small_city, original_features, tmp_path):
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
    before = original_features
    after = _features(altered, tmp_path, "altered")
    key = ["household_id", "feature_month"]
    a = before[before["feature_month"] <= cut].set_index(key).sort_index()[FEATURES]
    b = after[after["feature_month"] <= cut].set_index(key).sort_index()[FEATURES]
    pd.testing.assert_frame_equal(a, b)
    later_a = before[before["feature_month"] > cut].set_index(key).sort_index()["burden_3m"]
    later_b = after[after["feature_month"] > cut].set_index(key).sort_index()["burden_3m"]
    assert (later_b >= later_a).all() and (later_b > later_a).any()  # the change is visible after M


ML_CITY = ("shanghai", 6000, 32, 3, "2024-06-30")


@pytest.fixture(scope="module")
def ml_root(tmp_path_factory):
    return tmp_path_factory.mktemp("ml")


@pytest.fixture(scope="module")
def trained(ml_root):
    models = ml_root / "models"
    model, metrics, path = training.train(ml_root / "data", *ML_CITY, models_dir=models)
    return model, metrics, path, models


@pytest.fixture(scope="module")
def trained_db(trained, ml_root):
    """The warehouse the trained model learnt from (prepared once: this only finds it)."""
    return training.prepare(ml_root / "data", *ML_CITY)


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
    result = run_cli_here("evaluate", "--months", "12")
    assert result.returncode == 2 and "--months" in result.stderr and "Traceback" not in result.stderr


# --- learning from a warehouse's own history (issue 16) ---------------------------------------------------

def _copy_warehouse(db, tmp_path, name):
    target = tmp_path / name / "warehouse.duckdb"
    target.parent.mkdir(parents=True)
    con = duckdb.connect(str(db))
    con.execute("CHECKPOINT")  # this process still holds the file (dbt ran in it): flush the WAL before copying
    con.close()
    shutil.copy(db, target)
    return target


def test_card_names_the_warehouse_its_period_policy_and_rows(trained, trained_db):
    model, _, _, models = trained
    data = model.meta["data"]
    card = (models / f"risk_model-{model.meta['version']}.card.md").read_text(encoding="utf-8")
    con = duckdb.connect(str(trained_db))
    try:
        first, last, rows, households = con.execute(
            "SELECT CAST(min(feature_month) AS VARCHAR), CAST(max(feature_month) AS VARCHAR), count(*), "
            "count(DISTINCT household_id) FROM marts.fct_household_features").fetchone()
        warehouse_id = con.execute("SELECT warehouse_id FROM meta.warehouse_identity").fetchone()[0]
    finally:
        con.close()
    assert data["policy_id"] == "shanghai-2022" and data["warehouse_id"] == warehouse_id
    for words in (data["warehouse"], warehouse_id, "shanghai-2022", f"{first} … {last}", f"{households} households",
                  f"{rows} household-months", "By category", "baseline recall@K"):
        assert words in card, words


def test_card_holds_no_path_of_the_machine(trained, trained_db):
    """The card and the model's metadata name the warehouse by folder and file plus its identity, never by
    the absolute path it had on the machine that trained it."""
    model, _, _, models = trained
    card = (models / f"risk_model-{model.meta['version']}.card.md").read_text(encoding="utf-8")
    meta = json.dumps(model.meta, ensure_ascii=False)
    assert model.meta["data"]["warehouse"] == f"{trained_db.parent.name}/warehouse.duckdb"
    for text in (card, meta):
        assert str(trained_db.parent.parent) not in text and str(trained_db.resolve().parent.parent) not in text
        assert not re.search(r"(?<![\w.])/(tmp|home|work|root|Users)/", text)
    assert f"Warehouse `{trained_db.parent.name}/warehouse.duckdb` (identity `{model.meta['data']['warehouse_id']}`)" in card


def test_warehouse_name_is_relative_to_the_data_folder(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setattr("poverty_warning.workspace.default_root", lambda: data)
    assert training.warehouse_name(data / "ml" / "city-1" / "warehouse.duckdb") == "data/ml/city-1/warehouse.duckdb"
    assert training.warehouse_name(tmp_path / "elsewhere" / "w.duckdb") == "elsewhere/w.duckdb"


def test_card_says_which_rule_is_the_label(trained):
    """shanghai-2022 has candidate rules: the card names both and their clauses (seed 001, 四)."""
    model, _, _, models = trained
    card = (models / f"risk_model-{model.meta['version']}.card.md").read_text(encoding="utf-8")
    assert model.meta["data"]["label"]["kind"] == "rule"
    for words in ("`expenditure_poverty_type1` (seed 001, 四 第一类支出型贫困家庭",
                  "`expenditure_poverty_type2` (seed 001, 四 第二类支出型贫困家庭", "int_rule_verdicts_monthly"):
        assert words in card, words


def test_too_short_history_is_one_line_with_the_months_needed(trained_db, tmp_path):
    short = _copy_warehouse(trained_db, tmp_path, "short")
    con = duckdb.connect(str(short))
    # Keep the first 21 household months: months 12..21 have a year of history, and of those only the
    # ones with 6 months of label window after them (12..15) are labelled: 4 months, against the 14 the
    # backtest needs (4 test + 2 calibration + a 6-month gap + at least 2 training months).
    # The copy's label models were built for its last night (the `trained` fixture), so training reads the
    # shortened rows as they are.
    con.execute("DELETE FROM marts.fct_household_features WHERE feature_month >= "
                "(SELECT min(feature_month) FROM marts.fct_household_features) + INTERVAL 21 MONTH")
    con.execute("UPDATE marts.fct_household_labels SET label = NULL, label_complete = false "
                "WHERE feature_month >= (SELECT max(feature_month) FROM marts.fct_household_features) - INTERVAL 5 MONTH")
    have = con.execute("SELECT count(DISTINCT feature_month) FROM marts.fct_household_features JOIN "
                       "marts.fct_household_labels USING (household_id, feature_month) WHERE "
                       "months_observed >= 12 AND label_complete AND label IS NOT NULL").fetchone()[0]
    con.close()
    models = tmp_path / "models"
    result = run_cli_here("train", "--warehouse", str(short), "--models-dir", str(models))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"{have} labelled months" in result.stderr and "needs 14" in result.stderr
    assert not models.exists() or not list(models.iterdir())  # no model written


def test_train_on_a_busy_warehouse_is_one_line(trained_db, tmp_path):
    """train --warehouse builds the label in the warehouse: another process holding the file gives one line."""
    import subprocess
    import sys

    busy = _copy_warehouse(trained_db, tmp_path, "busy")
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
                               "print('ready', flush=True); time.sleep(120)", str(busy)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = run_cli_here("train", "--warehouse", str(busy), "--models-dir", str(tmp_path / "models"))
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot write to it" in result.stderr and "try again" in result.stderr


def _predictions_after_altering(trained, trained_db, tmp_path, name, months_sql):
    """Train on a copy of the warehouse whose labels are flipped in some months; score fixed rows."""
    model, _, _, _ = trained
    copy = _copy_warehouse(trained_db, tmp_path, name)
    con = duckdb.connect(str(copy))
    con.execute(f"UPDATE marts.fct_household_labels SET label = 1 - label WHERE label IS NOT NULL AND {months_sql}")
    frame = load(con)
    con.close()
    retrained, _, _ = training.train_on_warehouse(copy, tmp_path / name / "models", "shanghai-2022", seed=3)
    probe = frame[frame["feature_month"] == frame["feature_month"].max()]
    return model.predict(probe), retrained.predict(probe)


def test_no_leakage_test_labels_never_reach_the_fit(trained, trained_db, tmp_path):
    model, _, _, _ = trained
    test_from = model.meta["test_months"][0]
    original, altered = _predictions_after_altering(trained, trained_db, tmp_path, "flip-test",
                                                    f"feature_month >= DATE '{test_from}'")
    assert (original == altered).all()
    # The same check can fail: flipping the calibration months' labels does change the model.
    calibration = model.meta["calibration_months"]
    original, altered = _predictions_after_altering(
        trained, trained_db, tmp_path, "flip-calibration",
        f"feature_month BETWEEN DATE '{calibration[0]}' AND DATE '{calibration[1]}'")
    assert not (original == altered).all()


def test_promotion_rule_worked_by_hand():
    assert training.judge({"pr_auc": 0.30, "brier": 0.010}, None) == (True, "no champion yet")
    assert training.judge({"pr_auc": 0.31, "brier": 0.0100}, {"pr_auc": 0.30, "brier": 0.0100})[0]
    assert not training.judge({"pr_auc": 0.30, "brier": 0.0090}, {"pr_auc": 0.30, "brier": 0.0100})[0]
    promoted, reason = training.judge({"pr_auc": 0.40, "brier": 0.0101}, {"pr_auc": 0.30, "brier": 0.0100})
    assert not promoted and "Brier" in reason


def test_champion_challenger_promotes_then_refuses_and_registers(trained, trained_db, tmp_path):
    from sklearn.dummy import DummyClassifier

    model, _, _, _ = trained
    db = _copy_warehouse(trained_db, tmp_path, "registry")
    models = tmp_path / "models"
    # A weak champion: 0.5 for every household (PR-AUC = the positive share, Brier about 0.25).
    con = duckdb.connect(str(db))
    frame = backtest.usable(load_labelled(con))
    con.close()
    weak = RiskModel(DummyClassifier(strategy="uniform").fit(frame[FEATURES].to_numpy(float), frame["label"]),
                     model.reference, {"version": "weak-uniform"})
    weak.save(models)
    first = training.retrain(db, models, seed=3)
    assert first.promoted and first.challenger_scores["pr_auc"] > first.champion_scores["pr_auc"]
    assert json.loads((models / "latest.json").read_text())["version"] == first.challenger.meta["version"]
    second = training.retrain(db, models, seed=3)  # the same data: an equal challenger is not better
    assert not second.promoted and second.reason == "PR-AUC not better than the champion's"
    assert json.loads((models / "latest.json").read_text())["version"] == first.challenger.meta["version"]
    con = duckdb.connect(str(db))
    registry = con.execute("SELECT model_version, champion_version, decision, card FROM meta.model_registry "
                           "ORDER BY trained_at").df()
    con.close()
    assert list(registry["decision"]) == ["promoted", "promoted", "refused"]  # the copy's own train, then two
    assert list(registry["champion_version"])[1:] == ["weak-uniform", first.challenger.meta["version"]]
    assert registry["card"].str.startswith("# Risk model card").all()
    assert (models / f"risk_model-{second.challenger.meta['version']}.joblib").exists()  # refused ones are kept


def test_scores_say_when_the_model_did_not_learn_here(trained, trained_db, tmp_path):
    from poverty_warning.risk.scoring import NOT_LOCAL_ZH, score

    model, _, _, _ = trained
    night = "2024-06-30"
    con = duckdb.connect(str(trained_db))
    try:
        local = score(con, night, model)
    finally:
        con.close()
    assert local["model_trained_locally"].all() and (local["model_note"] == "").all()
    other = _copy_warehouse(trained_db, tmp_path, "other-city")
    con = duckdb.connect(str(other))
    try:
        con.execute("UPDATE meta.warehouse_identity SET warehouse_id = 'another-bureau'")
        foreign = score(con, night, model)
        stored = con.execute("SELECT DISTINCT model_note FROM risk.household_scores").fetchall()
    finally:
        con.close()
    assert not foreign["model_trained_locally"].any() and stored == [(NOT_LOCAL_ZH,)]
