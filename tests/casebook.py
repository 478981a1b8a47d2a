"""A small builder for hand-worked policy cases: households, people, categories and claims
written as contract feeds, then run through `assess`."""
from __future__ import annotations

import csv
import datetime as dt
import itertools
from pathlib import Path

from poverty_warning.contract import ids
from poverty_warning.contract import FEEDS
from poverty_warning.nightly import assess

from .conftest import read_csv


class Casebook:
    def __init__(self, region: str):
        self.region = region
        self.rows: dict[str, list[dict]] = {name: [] for name in FEEDS}
        self._seq = itertools.count(101)
        self._claim = itertools.count(1)

    def person(self, household: str, birth: str, sex: str = "M", subdistrict: str | None = None) -> str:
        seq = next(self._seq) * 2 + (1 if sex == "M" else 0)
        pid = ids.make(self.region, dt.date.fromisoformat(birth), seq % 1000)
        self.rows["persons"].append({
            "person_id": pid, "name": "测试", "sex": sex, "birth_date": birth, "household_id": household,
            "relation": "head", "district_code": self.region,
            "subdistrict_code": subdistrict or f"{self.region}001", "subdistrict_name": "测试街道"})
        return pid

    def household(self, household: str, members: int, birth: str = "1970-01-01", **income) -> list[str]:
        people = [self.person(household, birth) for _ in range(members)]
        if income:
            self.income(household, **income)
        return people

    def income(self, household: str, income: float, assessed_on: str = "2020-01-01",
               without_fixed_income: int = 0, assets_ok: bool = True) -> None:
        self.rows["household_income"].append({
            "household_id": household, "assessed_on": assessed_on, "annual_disposable_income": f"{income:.2f}",
            "members_without_fixed_income": without_fixed_income,
            "assets_within_limit": "true" if assets_ok else "false"})

    def category(self, person: str, category: str, valid_from: str = "2000-01-01", valid_to: str = "",
                 dibao_class: str = "", disability_grade: str = "") -> None:
        self.rows["assistance_categories"].append({
            "person_id": person, "category": category, "valid_from": valid_from, "valid_to": valid_to,
            "source": "civil_affairs", "dibao_class": dibao_class, "disability_grade": disability_grade})

    def enroll(self, person: str, year: int, scheme: str = "resident", subsidy: str = "none",
               enrolled_from: str | None = None) -> None:
        self.rows["enrollment"].append({
            "person_id": person, "year": year, "scheme": scheme, "enrolled_from": enrolled_from or f"{year}-01-01",
            "enrolled_to": f"{year}-12-31", "premium_subsidy": subsidy})

    def parameter(self, name: str, year: int, value: float) -> None:
        self.rows["parameters"].append({"name": name, "year": year, "value": value})

    def fund_account(self, year: int, funding: float, spending: float, balance: float) -> None:
        self.rows["fund_accounts"].append({
            "year": year, "funding": f"{funding:.2f}", "spending": f"{spending:.2f}", "balance": f"{balance:.2f}"})

    def claim(self, person: str, visit_type: str, day: str, self_in: float, self_out: float = 0.0,
              assistance_paid: float = 0.0, fund: float = 1000.0, level: int = 2, in_city: bool = True,
              diagnosis: str = "K35.8", admit: str | None = None) -> str:
        claim_id = f"T{next(self._claim):06d}"
        scope = fund + assistance_paid + self_in
        inpatient = visit_type == "inpatient"
        self.rows["claims"].append({
            "claim_id": claim_id, "person_id": person, "visit_type": visit_type,
            "admit_date": (admit or day) if inpatient else "", "discharge_date": day if inpatient else "",
            "settle_date": day, "hospital_id": "H1", "hospital_level": level,
            "in_city": "true" if in_city else "false", "diagnosis_code": diagnosis,
            "total_cost": f"{scope + self_out:.2f}", "policy_scope_cost": f"{scope:.2f}",
            "basic_fund_paid": f"{fund:.2f}", "critical_illness_paid": "0.00",
            "assistance_paid": f"{assistance_paid:.2f}", "other_paid": "0.00",
            "self_pay_in_scope": f"{self_in:.2f}", "self_pay_out_scope": f"{self_out:.2f}", "reversal_of": ""})
        return claim_id

    def burden_household(self, household: str, ratio: float, day: str) -> None:
        """Two people, 100,000 a year, and one stay whose in-scope self-pay is `ratio` of it."""
        members = self.household(household, 2, income=100000)
        self.claim(members[0], "inpatient", day, self_in=round(ratio * 100000, 2))

    def reverse(self, claim_id: str, day: str) -> None:
        original = next(r for r in self.rows["claims"] if r["claim_id"] == claim_id)
        amounts = ("total_cost", "policy_scope_cost", "basic_fund_paid", "critical_illness_paid",
                   "assistance_paid", "other_paid", "self_pay_in_scope", "self_pay_out_scope")
        row = dict(original, claim_id=f"R{claim_id}", settle_date=day, reversal_of=claim_id)
        for a in amounts:
            row[a] = f"{-float(original[a]):.2f}"
        self.rows["claims"].append(row)

    def write(self, folder: Path) -> Path:
        for name, rows in self.rows.items():
            if not rows and not FEEDS[name].required_feed:
                continue
            (folder / name).mkdir(parents=True, exist_ok=True)
            with (folder / name / "part-0.csv").open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=FEEDS[name].column_names)
                writer.writeheader()
                writer.writerows(rows)
        return folder

    def assess(self, tmp_path: Path, policy: str, as_of: str) -> dict:
        feeds = self.write(tmp_path / "feeds")
        out = tmp_path / "out"
        assess(feeds, policy, as_of, out)
        result = {name: read_csv(out / f"{name}.csv") for name in
                  ("candidates", "entitlements", "enrollment_gaps", "load_report", "quarantine",
                   "suspected_dibao_uncovered", "household_warnings", "fund_kpis")}
        assert result["quarantine"].empty, result["quarantine"].to_string()
        return result


def rows_for(frame, **match):
    sel = frame
    for k, v in match.items():
        sel = sel[sel[k] == str(v)]
    return sel


def one(frame, **match) -> dict:
    sel = rows_for(frame, **match)
    assert len(sel) == 1, f"expected one row for {match}, got {len(sel)}:\n{frame.to_string()}"
    return sel.iloc[0].to_dict()


def money(value: str) -> float:
    return round(float(value), 2)
