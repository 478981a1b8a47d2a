"""The calculation trail (issue 20): `explain` on the contract example, one clear line for a user's
mistake, the trail's totals equal to the marts' for every household of a small city, and the
计算明细 files beside each sub-district's lists."""
import re

import pandas as pd

from .conftest import EXAMPLES, run_cli, run_cli_here

NIGHT = "2024-03-31"


def test_explain_the_contract_example(tmp_path):
    """HH-A, 2024-03-10 (contract example, seed 001 四): window 2023-03-01 … 2024-02-29, so C00001 (42,000)
    and C00002 (5,000) make 47,000; C00003, discharged 2024-03-02, is out of the window; 40% × 110,000
    = 44,000 ≤ 47,000; 47,000 / 110,000 = 0.4273."""
    page = tmp_path / "hh-a.html"
    result = run_cli("explain", "--household", "HH-A", "--as-of", "2024-03-10", "--policy", "shanghai-2022",
                     "--feeds", str(EXAMPLES / "shanghai-2022" / "feeds"), "--html", str(page))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "47,000 ≥ 40% × 110,000 = 44,000 → 达到〔seed 001, 四 第二类支出型贫困家庭" in out
    assert "47,000 ÷ 110,000 = 0.4273" in out
    assert "结论：符合第二类支出型贫困条件，列入候选名单" in out
    assert re.search(r"C00003 2024-03-02（出院日期）住院 .*计算金额 20,000 → 不计入：不在计算期内", out)
    assert re.search(r"C00001 2023-08-15（出院日期）住院 .*计算金额 42,000 → 计入", out)
    assert "(110,000 − 47,000) ÷ 3 ÷ 12 = 1,750 ≥ 1,510" in out  # type 1 not met
    assert "310112198001010033" not in out and "310112********0033" in out
    assert "0.4273" in page.read_text(encoding="utf-8")


def same_money(trail_amount, mart_amount) -> bool:
    """Equal to the cent: the marts round to the cent (half up), the trail keeps full precision."""
    a = 0.0 if pd.isna(trail_amount) else float(trail_amount)
    b = 0.0 if pd.isna(mart_amount) else float(mart_amount)
    return abs(a - b) <= 0.005 + 1e-9


def test_the_trail_adds_up_to_the_marts_for_every_household(published_night):
    from poverty_warning.publish import trail
    from poverty_warning.warehouse import connect

    con = connect(published_night)
    try:
        households = [h for (h,) in con.execute("SELECT DISTINCT household_id FROM marts.fct_trail_households").fetchall()]
        trails = trail.read(con, households)
        candidates = con.execute("SELECT * FROM marts.fct_candidates").df()
        entitlements = con.execute("SELECT * FROM marts.fct_entitlements").df()
        warnings = con.execute("SELECT * FROM marts.fct_household_warnings").df().set_index("household_id")
    finally:
        con.close()
    assert len(trails) == len(households) > 500  # 1,500 residents
    assert len(candidates) and len(warnings) and len(entitlements)
    seen_candidates, seen_entitlements = 0, 0
    for h, t in trails.items():
        # rules: counted claims make the burden; the candidates are the rules' passes, with the same figures
        for _, r in t.rules.iterrows():
            counted = t.claims[(t.claims["rule"] == r["rule"]) & t.claims["is_counted"]]
            if isinstance(r["person_id"], str):
                counted = counted[counted["person_id"] == r["person_id"]]
            assert same_money(counted["amount"].sum(), r["burden_amount"]), (h, r["rule"])
        on_list = candidates[candidates["household_id"] == h]
        passed = t.rules[t.rules["is_candidate"]]
        assert sorted(passed["rule"]) == sorted(on_list["rule"]), h
        for _, c in on_list.iterrows():
            r = passed[passed["rule"] == c["rule"]].iloc[0]
            assert same_money(r["burden_amount"], c["burden_amount"])
            assert same_money(r["income_amount"], c["income_amount"])
            assert round(float(r["burden_ratio"]), 4) == float(c["burden_ratio"])
            seen_candidates += 1
        # entitlements: claims' bases, payments and the track-years' final amounts make each mart row
        rows = t.entitlements
        for (person, year, benefit), claims in rows.groupby(["person_id", "claim_year", "benefit"]):
            mart = entitlements[(entitlements["person_id"] == person) & (entitlements["year"] == year)
                                & (entitlements["benefit"] == benefit)]
            if not len(mart):  # no category of the policy in the year: the mart has no row, nothing is due
                assert not claims["is_covered"].any()
                continue
            m = mart.iloc[0]
            assert same_money(claims["base_amount"].sum(), m["base_amount"]), (person, year, benefit)
            assert same_money(claims["assistance_paid"].sum(), m["paid_assistance"])
            finals = claims[claims["is_covered"]].drop_duplicates("track")["year_final_amount"].sum()
            assert same_money(finals, m["expected_assistance"]), (person, year, benefit)
            seen_entitlements += 1
        # warning level
        if h in warnings.index:
            assert t.household["warning_level"] == warnings.loc[h, "warning_level"]
            assert round(float(t.household["warning_burden_ratio"]), 4) == float(warnings.loc[h, "burden_ratio"])
        else:
            assert not isinstance(t.household["warning_level"], str)
        trail.text(t)  # every household's trail can be written out
    assert seen_candidates == len(candidates)
    claim_based = entitlements[~entitlements["benefit"].isin(["outpatient_cash", "mutual_aid_subsidy"])]
    assert seen_entitlements == len(claim_based)


def test_explain_from_the_warehouse_and_mistakes_in_one_line(published_night):
    env = {"POVERTY_WARNING_DATA": str(published_night.root)}
    from poverty_warning.warehouse import connect

    con = connect(published_night)
    try:
        household = con.execute("SELECT household_id FROM marts.fct_household_warnings ORDER BY household_id LIMIT 1").fetchone()[0]
    finally:
        con.close()
    ok = run_cli("explain", "--household", household, "--as-of", NIGHT, env=env)
    assert ok.returncode == 0, ok.stderr
    assert "【预警】" in ok.stdout and "负担比例" in ok.stdout
    assert not re.search(r"\b\d{17}[\dX]\b", ok.stdout)  # resident IDs masked
    for args, says in [(["--household", "NO-SUCH", "--as-of", NIGHT], "not in the data"),
                       (["--household", household, "--as-of", "2024-03-30"], "holds the night of 2024-03-31"),
                       (["--household", household, "--as-of", NIGHT, "--policy", "wuhai-2020"], "not wuhai-2020"),
                       (["--household", household, "--as-of", "2099-01-01"], "in the future"),
                       (["--household", household, "--as-of", "31/03/2024"], "must be a date")]:
        bad = run_cli_here("explain", *args, env=env)
        assert bad.returncode == 2, (args, bad.stderr)
        assert bad.stderr.count("\n") == 1 and says in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def test_each_subdistrict_folder_carries_its_cases_trails(published_night, tmp_path):
    from poverty_warning.outreach import cases as outreach
    from poverty_warning.publish import delivery
    from poverty_warning.publish.trail import write_case_trails
    from poverty_warning.warehouse import connect

    con = connect(published_night)
    try:
        night = outreach.decide(con, NIGHT, "shanghai-2022")
        delivery.write_outbox(tmp_path, NIGHT, night.items, night.referrals)
        files = write_case_trails(con, tmp_path, NIGHT, night.items)
        persons = con.execute("SELECT person_id, household_id, subdistrict_code FROM intermediate.int_persons_enriched").df()
    finally:
        con.close()
    sent = night.items[night.items["sent"]]
    assert len(files) == sent["subdistrict_code"].nunique() > 1
    for path in files:
        code = path.parent.parent.name
        assert path.name == f"计算明细_{code}_{NIGHT}.html" and (path.parent / "manifest.json").exists()
        page = path.read_text(encoding="utf-8")
        own = sent[sent["subdistrict_code"] == code]
        assert page.count("<section>") == len(own)
        for case in own["case_id"]:
            assert f"案件 {case}" in page
        others = persons[persons["subdistrict_code"] != code]
        for h in others["household_id"].unique()[:200]:
            assert f"家庭 {h}｜" not in page and f"家庭 {h}，" not in page
        assert not re.search(r"\d{17}[\dX]", page)  # no full resident ID


def test_trail_rows_read_as_pandas_would_give_them():
    """The trail formats plain records for speed (issue 14); they must be pandas' own: `to_dict("records")`
    values, and groups as `groupby(keys, sort=True)` gives them (key order, row order kept, null keys dropped)."""
    from poverty_warning.publish.trail import _groups, _records

    frame = pd.DataFrame({
        "track": pd.array(["b", "a", None, "b", "a"], dtype="str"),
        "claim_date": pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-01", "2024-01-01", "2024-01-01"]),
        "claim_id": ["C5", "C4", "C3", "C2", "C1"],
        "binding": pd.array([True, None, False, None, True], dtype="boolean"),
        "days": pd.array([1, None, 3, 4, None], dtype="Int64"),
        "amount": [1.5, float("nan"), 2.0, 3.25, 4.0]})
    records = _records(frame)
    expected = frame.to_dict("records")
    assert [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in records] == \
        [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in expected]
    assert [[type(v) for v in r.values()] for r in records] == [[type(v) for v in r.values()] for r in expected]
    grouped = [(key, [r["claim_id"] for r in rows]) for key, rows in _groups(records, ("track", "claim_date"))]
    assert grouped == [(key, list(rows["claim_id"])) for key, rows in frame.groupby(["track", "claim_date"], sort=True)]
    assert grouped == [(("a", pd.Timestamp("2024-01-01")), ["C4", "C1"]), (("b", pd.Timestamp("2024-01-01")), ["C2"]),
                       (("b", pd.Timestamp("2024-01-02")), ["C5"])]
