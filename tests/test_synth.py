"""The synthetic city is deterministic and looks like the published figures."""
import datetime as dt
import filecmp
import json

import numpy as np
import pandas as pd
import pytest

from poverty_warning.contract import ids
from poverty_warning.synth.generator import generate

from .conftest import read_csv


def _claims(feeds):
    return pd.concat([read_csv(f) for f in sorted((feeds / "claims").glob("*/part-0.csv"))], ignore_index=True)


def test_same_seed_same_city_other_seed_other_city(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 3), (b, 3), (c, 4)):
        generate("taizhou", 400, dt.date(2023, 1, 1), dt.date(2023, 3, 31), seed, out)
    same = filecmp.dircmp(a, b)
    assert not same.diff_files and not same.left_only and not same.right_only
    for sub in same.subdirs.values():
        assert not sub.diff_files
    assert (a / "persons" / "part-0.csv").read_bytes() != (c / "persons" / "part-0.csv").read_bytes()


def test_people_and_households_look_real(small_city):
    persons = pd.read_csv(small_city / "persons" / "part-0.csv", dtype=str, encoding="utf-8-sig")
    assert persons["person_id"].map(ids.is_valid).all()
    assert persons["person_id"].is_unique
    assert persons["person_id"].str[:6].isin(["310101", "310104", "310110", "310112", "310113", "310115"]).all()
    size = persons.groupby("household_id").size()
    assert 2.4 <= size.mean() <= 2.85  # census 2020: 2.62
    assert persons.groupby("district_code")["subdistrict_code"].nunique().min() >= 3
    ages = (2023 - persons["birth_date"].str[:4].astype(int))
    assert 0 <= ages.min() and ages.max() <= 105 and 35 <= ages.mean() <= 50
    assert persons["name"].str.len().between(2, 4).all()


def test_claims_follow_published_volumes_and_identities(small_city):
    claims = _claims(small_city)
    cents = {c: (claims[c].astype(float) * 100).round().astype(np.int64) for c in (
        "total_cost", "policy_scope_cost", "basic_fund_paid", "critical_illness_paid", "assistance_paid",
        "other_paid", "self_pay_in_scope", "self_pay_out_scope")}
    assert (cents["total_cost"] == cents["policy_scope_cost"] + cents["self_pay_out_scope"]).all()
    assert (cents["policy_scope_cost"] == cents["basic_fund_paid"] + cents["critical_illness_paid"]
            + cents["other_paid"] + cents["assistance_paid"] + cents["self_pay_in_scope"]).all()
    originals = claims[claims["reversal_of"] == ""]
    reversal_share = (claims["reversal_of"] != "").mean()
    assert 0.002 <= reversal_share <= 0.009  # ~0.5%
    persons = 1500
    inpatient = originals[originals["visit_type"] == "inpatient"]
    hospitalised_2023 = inpatient[inpatient["discharge_date"].str[:4] == "2023"]["person_id"].nunique() / persons
    assert 0.12 <= hospitalised_2023 <= 0.24  # ~16-21% a year
    assert 8000 <= inpatient["total_cost"].astype(float).mean() <= 17000  # ~10-11k a stay, level 3 higher
    outpatient = originals[originals["visit_type"] == "outpatient"]["total_cost"].astype(float)
    assert 250 <= outpatient.mean() <= 450  # ~330-360 a visit
    by_level = originals[originals["visit_type"] == "inpatient"].groupby("hospital_level")["total_cost"].apply(
        lambda s: s.astype(float).mean())
    assert by_level["3"] > by_level["2"]
    assert originals["diagnosis_code"].str.match(r"^[A-Z]\d{2}(\.\d{1,2})?$").all()


def test_categories_and_enrollment_are_realistic(small_city):
    categories = pd.read_csv(small_city / "assistance_categories" / "part-0.csv", dtype=str, encoding="gbk")
    share = categories[categories["category"] == "dibao"]["person_id"].nunique() / 1500
    assert 0.005 <= share <= 0.03  # dibao ~1-2%
    assert {"dibao", "low_income", "tekun"} <= set(categories["category"])
    assert (categories["valid_from"] > "2023-01-01").any()  # some identities start mid-period
    enrollment = read_csv(small_city / "enrollment" / "part-0.csv")
    assert set(enrollment["scheme"]) == {"employee", "resident"}
    assert (enrollment["premium_subsidy"] == "full").any()


def test_catastrophic_illness_shows_early_signs_before_heavy_costs(small_city):
    claims = _claims(small_city)
    cancer = claims[claims["diagnosis_code"].str.startswith("C") & (claims["reversal_of"] == "")]
    assert cancer["person_id"].nunique() >= 3
    early = claims[claims["diagnosis_code"].str.match(r"^R(05|10|53|63|59)")]
    patients_with_signs = set(early["person_id"]) & set(cancer["person_id"])
    assert patients_with_signs
    pid = sorted(patients_with_signs)[0]
    first_sign = early[early["person_id"] == pid]["settle_date"].min()
    first_cancer_claim = cancer[cancer["person_id"] == pid]["settle_date"].min()
    assert first_sign < first_cancer_claim


def test_income_sits_around_the_city_level(small_city):
    income = pd.read_csv(small_city / "household_income" / "part-0.csv", dtype=str, encoding="gbk")
    persons = pd.read_csv(small_city / "persons" / "part-0.csv", dtype=str, encoding="utf-8-sig")
    size = persons.groupby("household_id").size()
    per_capita = income["annual_disposable_income"].astype(float) / income["household_id"].map(size)
    assert 50000 <= per_capita.median() <= 90000  # Shanghai 2023: 84,834 mean (median lower)


def test_every_synthetic_subdistrict_code_is_a_township_code_of_its_district():
    import re

    from poverty_warning.contract import FEEDS
    from poverty_warning.synth.cities import CITIES

    persons = FEEDS["persons"]
    for city in CITIES.values():
        for district, subdistrict, _ in city.subdistricts():
            assert re.fullmatch(persons.column("district_code").form, district)
            assert re.fullmatch(persons.column("subdistrict_code").form, subdistrict)
            assert subdistrict[:6] == district


def test_claim_volume_follows_the_national_rates(small_city):
    """NHC 2023: 6.8 visits per resident a year, 21.4 admissions per 100 people: 7-8 claim rows a person."""
    claims = _claims(small_city)
    originals = claims[claims["reversal_of"] == ""]
    person_years = 1500 * 15 / 12  # the test city: 1,500 residents, 15 months
    outpatient = (originals["visit_type"] == "outpatient").sum() / person_years
    admissions = (originals["visit_type"] == "inpatient").sum() / person_years
    assert 5.5 <= outpatient <= 8.0
    assert 0.15 <= admissions <= 0.28
    assert 6.5 <= len(claims) / person_years <= 9.0


def test_column_ids_are_the_ids_one_at_a_time():
    rng = np.random.default_rng(3)
    region = np.array(["310101", "150302", "330922", "321204"] * 500)
    birth = np.datetime64("1925-01-01") + rng.integers(0, 36000, len(region))
    sequence = rng.integers(0, 1000, len(region))
    made = ids.make_many(region, birth, sequence)
    assert list(made) == [ids.make(r, dt.date.fromisoformat(str(b)), int(s)) for r, b, s in zip(region, birth, sequence)]
    assert all(ids.is_valid(x) for x in made)


def test_a_large_feed_is_written_in_parts_holding_every_row_once(tmp_path, monkeypatch):
    """A large city's persons would exceed the feed-file size limit in one file (1M residents: 163 MB):
    undated feeds are written in parts (a feed is every file below its folder) holding every row once, in order."""
    from poverty_warning.synth import generator

    whole, parted = tmp_path / "whole", tmp_path / "parted"
    generate("taizhou", 400, dt.date(2023, 1, 1), dt.date(2023, 1, 31), 3, whole)
    monkeypatch.setattr(generator, "PART_ROWS", 150)
    generate("taizhou", 400, dt.date(2023, 1, 1), dt.date(2023, 1, 31), 3, parted)
    parts = sorted((parted / "persons").glob("part-*.csv"), key=lambda p: int(p.stem.split("-")[1]))
    assert len(parts) == 3 and all(len(read_csv(p)) <= 150 for p in parts)
    rejoined = pd.concat([read_csv(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(rejoined, read_csv(whole / "persons" / "part-0.csv"))


def test_a_large_city_draws_its_claims_in_blocks_of_persons(tmp_path, monkeypatch):
    """A city over CLAIM_BLOCK_PERSONS has its claims drawn and written a block of persons at a time (7,000
    persons in blocks of 3,000: three part files a night): ids unique across blocks, every reversal names a
    claim of its own block, every row counted in the manifest, every claimant a generated person."""
    from poverty_warning.synth import generator

    monkeypatch.setattr(generator, "CLAIM_BLOCK_PERSONS", 3000)
    out = tmp_path / "city"
    summary = generate("shanghai", 7000, dt.date(2025, 11, 1), dt.date(2026, 1, 31), 5, out)
    files = sorted((out / "claims").glob("*/part-*.csv"))
    assert {f.name for f in files} == {"part-0.csv", "part-1.csv", "part-2.csv"}
    assert max(len(list(day.iterdir())) for day in (out / "claims").iterdir()) == 3
    claims = pd.concat([read_csv(f).assign(block=int(f.stem.split("-")[1])) for f in files], ignore_index=True)
    assert claims["claim_id"].is_unique
    assert claims["claim_id"].str.fullmatch(r"CL005\d{9}").all()
    block_of = claims.set_index("claim_id")["block"]
    reversals = claims[claims["reversal_of"] != ""]
    assert len(reversals) > 0 and reversals["reversal_of"].isin(block_of.index).all()
    assert (block_of.loc[reversals["reversal_of"]].to_numpy() == reversals["block"].to_numpy()).all()
    manifest = json.loads((out / "_synth_manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"]["claims"] == summary.rows["claims"] == len(claims)
    assert manifest["claim_days"] == summary.claim_days == claims["settle_date"].nunique()
    persons = pd.concat([read_csv(p) for p in (out / "persons").glob("part-*.csv")], ignore_index=True)
    assert claims["person_id"].isin(persons["person_id"]).all()
    # Blocks are persons [0, 3000), [3000, 6000), [6000, 7000): each person's claims in one block's files.
    position = pd.Series(range(len(persons)), index=persons["person_id"])
    assert (position.loc[claims["person_id"]].to_numpy() // 3000 == claims["block"].to_numpy()).all()
    assert claims.groupby("block")["person_id"].nunique().min() > 500  # every block drew claims


def test_faults_are_refused_for_a_city_of_several_blocks(tmp_path, monkeypatch):
    from poverty_warning.synth import generator

    monkeypatch.setattr(generator, "CLAIM_BLOCK_PERSONS", 3000)
    with pytest.raises(ValueError, match="--faults"):
        generate("shanghai", 7000, dt.date(2025, 11, 1), dt.date(2026, 1, 31), 5, tmp_path / "city", faults=0.02)
