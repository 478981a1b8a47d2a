"""Incremental nights give what a full rebuild gives: a small city run night by night with a late claim,
a claim held back until its date, a re-delivered enrollment, a late reversal, a back-dated category, a
post-dated income assessment and a move to another household, then rebuilt whole; every mart compared row
for row."""
import datetime as dt

import pandas as pd
import pytest

from poverty_warning import nightly
from poverty_warning import transform as transform_module
from poverty_warning.transform import BuildPlan, TransformError, inputs_fingerprint, run_dbt, transform
from poverty_warning.warehouse import connect
from poverty_warning.workspace import Workspace

FIRST_BUILD = "2024-03-27"
LATE_CLAIM_NIGHT, LATE_REVERSAL_NIGHT, BACKDATED_CATEGORY_NIGHT = "2024-03-28", "2024-03-29", "2024-03-30"
KEPT_MODELS = ["int_claims_netted", "int_claim_diseases", "int_claim_benefits", "int_assistance_days", "int_household_months",
               "int_rule_measures", "int_persons_enriched", "int_enrollment_by_year", "int_household_income_as_of"]
AMOUNTS = ["total_cost", "policy_scope_cost", "basic_fund_paid", "critical_illness_paid", "assistance_paid",
           "other_paid", "self_pay_in_scope", "self_pay_out_scope"]


def _claims(feeds) -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False).assign(delivered=p.parent.name)
              for p in sorted((feeds / "claims").glob("*/*.csv"))]
    return pd.concat(frames, ignore_index=True)


def _deliver(feeds, feed: str, night: str, rows: pd.DataFrame) -> None:
    folder = feeds / feed / night
    folder.mkdir(parents=True, exist_ok=True)
    rows.to_csv(folder / "late.csv", index=False)


def _duplicate_trail_row(ws: Workspace, recomputed: bool) -> None:
    """Copy one fct_trail_claims row of a person the last night recomputed (or did not)."""
    con = connect(ws)
    try:
        changed = "SELECT person_id FROM intermediate.int_persons_changed_since_build"
        claim = con.execute(f"SELECT rule, claim_id FROM marts.fct_trail_claims WHERE person_id "
                            f"{'IN' if recomputed else 'NOT IN'} ({changed}) ORDER BY ALL LIMIT 1").fetchone()
        assert claim, "the city has such a trail row"
        con.execute("INSERT INTO marts.fct_trail_claims SELECT * FROM marts.fct_trail_claims "
                    "WHERE rule = ? AND claim_id = ?", list(claim))
    finally:
        con.close()


def _snapshot(ws: Workspace) -> dict[str, list]:
    con = connect(ws)  # as the pipeline does (dbt keeps its in-process connection)
    try:
        marts = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = 'marts' ORDER BY 1").fetchall()]
        tables = [f"marts.{m}" for m in marts] + [f"intermediate.{m}" for m in KEPT_MODELS]
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
    finally:
        con.close()


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """3,000 residents of Shanghai with claims from October 2023 to March 2024, and the three late events
    delivered as files of their nights."""
    from poverty_warning.synth.generator import generate

    feeds = tmp_path_factory.mktemp("incremental_city")
    generate("shanghai", 3000, dt.date(2023, 10, 1), dt.date(2024, 3, 31), 23, feeds)
    claims = _claims(feeds)
    categories = pd.read_csv(feeds / "assistance_categories" / "part-0.csv", dtype=str, keep_default_na=False)
    held = set(categories["person_id"])
    plain = claims[(claims["reversal_of"] == "") & claims["visit_type"].isin(["outpatient", "special_outpatient"])
                   & (claims["delivered"] < "2024-03-01")]

    # A claim settled in January delivered in late March, for someone with a category and later claims:
    # the yearly deductible, taken in date order, moves for the claims after it.
    assisted = plain[plain["person_id"].isin(held) & (plain["settle_date"] > "2024-01-20")]
    late = assisted.iloc[[0]].drop(columns="delivered").assign(claim_id="CLLATE0000001", settle_date="2024-01-15")
    _deliver(feeds, "claims", LATE_CLAIM_NIGHT, late)

    # A claim delivered with the first build but settled on a later night: held back until that night.
    held = plain[plain["settle_date"] > "2024-02-01"].iloc[[1]].drop(columns="delivered").assign(
        claim_id="CLHELD0000001", settle_date=LATE_REVERSAL_NIGHT)
    _deliver(feeds, "claims", FIRST_BUILD, held)

    # The 2024 enrollment of someone with claims in 2024, delivered again the same night in the other scheme.
    enrollment = pd.read_csv(feeds / "enrollment" / "part-0.csv", dtype=str, keep_default_na=False)
    enrolled = enrollment[(enrollment["year"] == "2024") & enrollment["person_id"].isin(
        plain[plain["settle_date"] >= "2024-01-01"]["person_id"]) & ~enrollment["person_id"].isin(late["person_id"])]
    switched = enrolled.iloc[[0]].copy()
    switched["scheme"] = switched["scheme"].map({"employee": "resident", "resident": "employee"})
    _deliver(feeds, "enrollment", LATE_CLAIM_NIGHT, switched)

    # A claim of January reversed in late March, of someone with no other claim: their rows must go.
    counts = claims.groupby("person_id")["claim_id"].count()
    lone = plain[plain["person_id"].isin(counts[counts == 1].index) & (plain["settle_date"] >= "2024-01-01")]
    original = lone.iloc[0]
    reversal = lone.iloc[[0]].drop(columns="delivered").assign(
        claim_id="CLREV00000001", reversal_of=original["claim_id"], settle_date=LATE_REVERSAL_NIGHT)
    for column in AMOUNTS:
        reversal[column] = reversal[column].map(lambda v: f"-{v}" if v not in ("", "0.00") else v)
    _deliver(feeds, "claims", LATE_REVERSAL_NIGHT, reversal)

    # Dibao granted from December 2023 to someone without a category who had claims since: delivered late March.
    uncovered = plain[~plain["person_id"].isin(held) & (plain["settle_date"] >= "2024-01-01")]
    newly_held = uncovered.iloc[0]["person_id"]
    _deliver(feeds, "assistance_categories", BACKDATED_CATEGORY_NIGHT, pd.DataFrame([{
        "person_id": newly_held, "category": "dibao", "valid_from": "2023-12-01", "valid_to": "",
        "source": "civil_affairs", "dibao_class": "B", "disability_grade": ""}]))

    # An assessment delivered before the first build, dated for a later night: it takes effect then.
    income = pd.read_csv(feeds / "household_income" / "part-0.csv", dtype=str, keep_default_na=False)
    households = pd.read_csv(feeds / "persons" / "part-0.csv", dtype=str, keep_default_na=False)
    claimants = households[households["person_id"].isin(plain["person_id"])]["household_id"]
    later = income[income["household_id"].isin(claimants)].iloc[[0]].assign(assessed_on=LATE_REVERSAL_NIGHT)
    later["annual_disposable_income"] = later["annual_disposable_income"].map(lambda v: f"{float(v) / 2:.2f}")
    _deliver(feeds, "household_income", "2024-03-01", later)

    # A child with claims moves to a household of another sub-district, delivered again late March: every
    # claim of theirs now counts for the household joined and none for the one left.
    taken = {late.iloc[0]["person_id"], switched.iloc[0]["person_id"], original["person_id"], newly_held}
    movers = households[(households["relation"] == "child") & households["person_id"].isin(plain["person_id"])
                        & ~households["person_id"].isin(taken)]
    mover = movers.iloc[[0]].copy()
    joined = households[households["subdistrict_code"] != mover.iloc[0]["subdistrict_code"]].iloc[0]
    place = ["household_id", "district_code", "subdistrict_code", "subdistrict_name", "community_name", "address"]
    mover[place] = joined[place].to_numpy()
    _deliver(feeds, "persons", BACKDATED_CATEGORY_NIGHT, mover)
    return feeds, original["claim_id"], original["person_id"], newly_held, switched.iloc[0], mover.iloc[0]


def test_incremental_nights_equal_a_full_rebuild(city, tmp_path, monkeypatch):
    feeds, reversed_claim, lone_person, newly_held, switched, mover = city
    ws = Workspace(tmp_path)
    nightly.ingest(ws, feeds, FIRST_BUILD)
    transform(ws, FIRST_BUILD, "shanghai-2022")
    for night in (LATE_CLAIM_NIGHT, LATE_REVERSAL_NIGHT, BACKDATED_CATEGORY_NIGHT, "2024-03-31"):
        nightly.ingest(ws, feeds, night)
        transform(ws, night, "shanghai-2022")

    con = connect(ws)  # as the pipeline does (dbt keeps its in-process connection)
    try:
        modes = con.execute("SELECT full_refresh FROM meta.builds ORDER BY built_at").fetchall()
        late = con.execute("SELECT claim_date FROM intermediate.int_claims_netted "
                           "WHERE claim_id = 'CLLATE0000001'").fetchall()
        held = con.execute("SELECT claim_date FROM intermediate.int_claims_netted "
                           "WHERE claim_id = 'CLHELD0000001'").fetchall()
        reversed_rows = con.execute("SELECT count(*) FROM intermediate.int_claims_netted WHERE person_id = ?",
                                    [lone_person]).fetchone()[0]
        categories = con.execute("SELECT DISTINCT category FROM intermediate.int_claim_benefits "
                                 "WHERE person_id = ? AND claim_date < DATE '2024-03-30'", [newly_held]).fetchall()
        schemes = con.execute("SELECT DISTINCT scheme_of_year FROM intermediate.int_claims_netted "
                              "WHERE person_id = ? AND claim_year = 2024", [switched["person_id"]]).fetchall()
        moved = con.execute("SELECT DISTINCT household_id, subdistrict_code FROM intermediate.int_claims_netted "
                            "WHERE person_id = ?", [mover["person_id"]]).fetchall()
    finally:
        con.close()
    assert modes == [(True,), (False,), (False,), (False,), (False,)], "the nights after the first are incremental"
    assert late == [(dt.date(2024, 1, 15),)]
    assert held == [(dt.date(2024, 3, 29),)], "the claim held back is counted once its date is reached"
    assert reversed_rows == 0, f"{reversed_claim} was reversed: its person has no claim left"
    assert ("dibao",) in categories, "the back-dated category applies to the claims before its delivery"
    assert schemes == [(switched["scheme"],)], "the re-delivered enrollment dates the person's claims of 2024"
    assert moved == [(mover["household_id"], mover["subdistrict_code"])], "a move carries all the mover's claims"

    incremental = _snapshot(ws)

    # A kept model's uniqueness test, on an incremental night, checks the rows the night recomputed (the
    # others passed it the night before): a duplicate among them fails the night; one elsewhere is left
    # to the whole test of a full build.
    last_night = BuildPlan(False, BACKDATED_CATEGORY_NIGHT, "as the last night")
    _duplicate_trail_row(ws, recomputed=False)
    run_dbt(ws, "test", "2024-03-31", "shanghai-2022", select="fct_trail_claims,test_name:unique_combination", plan=last_night)
    with pytest.raises(TransformError, match="unique_combination_fct_trail_claims"):
        run_dbt(ws, "test", "2024-03-31", "shanghai-2022", select="fct_trail_claims,test_name:unique_combination")
    _duplicate_trail_row(ws, recomputed=True)
    with pytest.raises(TransformError, match="unique_combination_fct_trail_claims"):
        run_dbt(ws, "test", "2024-03-31", "shanghai-2022", select="fct_trail_claims,test_name:unique_combination", plan=last_night)

    transform(ws, "2024-03-31", "shanghai-2022", full_refresh=True)
    full = _snapshot(ws)
    assert set(incremental) == set(full)
    for table in ("marts.fct_candidates", "marts.fct_entitlements", "marts.fct_enrollment_gaps",
                  "marts.fct_household_warnings", "marts.fct_household_features", "marts.fct_outreach_items",
                  "marts.fct_trail_claims", "marts.fct_trail_entitlements"):
        assert table in full
    assert any(full[t] for t in full if t.startswith("marts.fct_entitlements"))
    different = [t for t in full if incremental[t] != full[t]]
    assert different == [], f"incremental nights differ from a full rebuild in {different}"


    # The trailing rule windows hold within a month: a night in the next month rebuilds every model whole.
    con = connect(ws)
    try:
        march = inputs_fingerprint(con, "2024-03-31", "shanghai-2022")
        assert inputs_fingerprint(con, BACKDATED_CATEGORY_NIGHT, "shanghai-2022") == march
        assert inputs_fingerprint(con, "2024-04-01", "shanghai-2022") != march
    finally:
        con.close()

    # The quality report's views, drawn before the night's build, are the last build's while the dbt code is.
    runs = []
    monkeypatch.setattr(transform_module, "run_dbt", lambda *args, **kwargs: runs.append(kwargs.get("select")))
    transform_module.build_quality_report_models(ws, "2024-04-01")
    assert runs == []
    monkeypatch.setattr(transform_module, "dbt_code_digest", lambda: "changed dbt code")
    transform_module.build_quality_report_models(ws, "2024-04-01")
    assert runs == ["+tag:quality_report"]
