"""Policy packs load, validate, and trace every figure to a clause."""
import re
from pathlib import Path

import pytest
import yaml

from poverty_warning.policy import PACK_DIR, PolicyError, available, load_file, load_policy

REPO = Path(__file__).resolve().parent.parent
CONTRACT_POLICIES = {"shanghai-2022", "shanghai-2018-mutual-aid", "wuhai-2020", "taizhou-2017", "zhoushan-2019"}


def test_every_contract_policy_has_a_pack():
    assert CONTRACT_POLICIES <= set(available())
    for pid in available():
        assert load_policy(pid).policy_id == pid


def _write(tmp_path, text: str, name="shanghai-2022.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_typod_category_is_a_clear_error(tmp_path):
    text = (PACK_DIR / "shanghai-2022.yaml").read_text(encoding="utf-8").replace(
        "{categories: [low_income], rate: 0.80", "{categories: [low_incom], rate: 0.80")
    with pytest.raises(PolicyError, match="unknown category 'low_incom'"):
        load_file(_write(tmp_path, text))


def test_a_rate_of_nine_is_a_clear_error(tmp_path):
    text = (PACK_DIR / "shanghai-2022.yaml").read_text(encoding="utf-8").replace("rate: 0.90", "rate: 9.0", 1)
    with pytest.raises(PolicyError, match="rate"):
        load_file(_write(tmp_path, text))


def test_a_figure_without_a_clause_is_rejected(tmp_path):
    raw = yaml.safe_load((PACK_DIR / "taizhou-2017.yaml").read_text(encoding="utf-8"))
    del raw["benefits"][0]["limits"][0]["clause"]
    with pytest.raises(PolicyError, match="clause"):
        load_file(_write(tmp_path, yaml.safe_dump(raw, allow_unicode=True), "taizhou-2017.yaml"))


def test_effective_dated_figures():
    zhoushan = load_policy("zhoushan-2019")
    inpatient = next(b for b in zhoushan.benefits if b.benefit == "inpatient")
    caps = sorted((str(lim.valid_from), lim.value) for lim in inpatient.limits if lim.kind == "annual_cap")
    assert caps == [("1900-01-01", 80000), ("2020-01-01", 100000)]
    mutual = load_policy("shanghai-2018-mutual-aid")
    assert (str(mutual.effective_from), str(mutual.effective_to)) == ("2018-01-01", "2022-12-31")


def test_every_figure_in_a_pack_cites_a_seed_clause():
    for pid in available():
        raw = yaml.safe_load((PACK_DIR / f"{pid}.yaml").read_text(encoding="utf-8"))
        seed = raw["seed"]

        def walk(node):
            if isinstance(node, dict):
                has_figure = any(k in node for k in ("rate", "value", "amount", "ratio", "threshold"))
                if has_figure and "clause" in node:
                    clause = node["clause"]
                    assert f"seed {seed}" in clause or "configurable" in clause, (pid, node)
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
        walk(raw)


def test_no_bare_rate_or_cap_in_sql():
    """Figures live in the packs: SQL holds no rate or money literal (only 0/1/12 and date parts)."""
    allowed = {"0", "1", "2", "4", "6", "9", "10", "12", "18"}  # decimal(p, s), months a year, ID region length
    allowed.update({"3", "100"})  # outreach severity ranks 1-3 (低, 中, 高); a ratio shown as a percentage
    # The risk model's feature windows and age bands are modelling choices, not policy figures.
    model_features = {"int_household_months.sql", "fct_household_features.sql"}
    for sql in (REPO / "dbt_project" / "models").rglob("*.sql"):
        if sql.name in model_features:
            continue
        text = re.sub(r"--.*", "", sql.read_text(encoding="utf-8"))
        text = re.sub(r"'[^']*'", "''", text)
        for number in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])", text):
            assert number in allowed, f"{sql.name}: literal {number}"
