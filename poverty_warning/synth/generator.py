"""A synthetic city: every feed of the contract, deterministic per seed.

The shapes follow published figures (shared/contract/city-figures.md): mean
household size ~2.6, ~16% of people hospitalised a year, ~10,000 CNY a stay
and ~330 a visit (more at level-3 hospitals), ~0.5% reversals. Each person has
a health trajectory: routine care, chronic conditions with monthly
special-outpatient claims, and catastrophic illnesses (cancer, dialysis,
stroke, childhood leukaemia) that start with a few diagnostic visits and
escalate, so that some households cross the 40%/70% lines months after the
first signs.

Amounts are built in integer cents so the contract's identities hold exactly.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from faker import Faker

from poverty_warning.contract import ids
from poverty_warning.contract import FEEDS
from poverty_warning.policy.parameters import city_defaults
from poverty_warning.policy import load_policy
from poverty_warning.synth.cities import CITIES, City

DAY = np.timedelta64(1, "D")

# Routine care by age band (0-14, 15-44, 45-64, 65+).
AGE_BANDS = np.array([15, 45, 65])
OUTPATIENT_VISITS_PER_YEAR = np.array([3.0, 2.0, 3.5, 6.5])
EMERGENCY_VISITS_PER_YEAR = np.array([0.25, 0.12, 0.15, 0.3])
INPATIENT_STAYS_PER_YEAR = np.array([0.10, 0.10, 0.21, 0.42])  # ~16% hospitalised overall
CHRONIC_PREVALENCE = np.array([0.0, 0.02, 0.10, 0.25])
CATASTROPHIC_PER_YEAR = np.array([0.0008, 0.0008, 0.005, 0.012])

HOSPITAL_LEVEL_SHARE_OUTPATIENT = np.array([0.55, 0.30, 0.15])
HOSPITAL_LEVEL_SHARE_INPATIENT = np.array([0.10, 0.45, 0.45])
# Mean cost by level (1, 2, 3): level-2/3 from city-figures.md (Q1 2022); level 1 assumed.
OUTPATIENT_MEAN = np.array([150.0, 219.0, 354.0]) * 1.6
INPATIENT_MEAN = np.array([4500.0, 6762.0, 13931.0])

OUTPATIENT_DIAGNOSES = ["J06.9", "K29.7", "I10", "E11.9", "M54.5", "J20.9", "L30.9", "H10.9", "R51", "K59.0"]
INPATIENT_DIAGNOSES = ["J18.9", "K35.8", "I25.1", "K80.2", "S72.0", "I10", "E11.9", "N39.0", "J44.1", "I48.9"]
CHRONIC_DIAGNOSES = ["I10", "E11.9", "J44.9", "I25.1"]
EARLY_SIGN_DIAGNOSES = ["R05", "R10.4", "R53", "R63.4", "R59.9"]


@dataclass(frozen=True)
class Catastrophe:
    kind: str
    codes: tuple[str, ...]
    min_age: int
    max_age: int
    weight: float


CATASTROPHES = (
    Catastrophe("cancer", ("C34.9", "C16.9", "C50.9", "C22.0", "C18.9"), 40, 120, 0.55),
    Catastrophe("dialysis", ("N18.5",), 35, 120, 0.15),
    Catastrophe("stroke", ("I63.9",), 50, 120, 0.27),
    Catastrophe("leukaemia", ("C92.0",), 0, 17, 0.03),
)

# Category prevalence (share of persons) and how each is assigned.
HOUSEHOLD_CATEGORIES = {"dibao": 0.015, "low_income": 0.02, "dibao_edge": 0.01}
PERSON_CATEGORIES = {  # category: (share, min_age, max_age)
    "tekun": (0.003, 60, 120), "orphan": (0.0005, 0, 17), "distressed_child": (0.001, 0, 17),
    "hardship_worker": (0.003, 25, 59), "priority_care": (0.003, 50, 120),
    "severe_disability": (0.005, 0, 120), "severe_mental_illness": (0.003, 18, 120),
}
CITY_CATEGORIES = {  # categories only some cities' documents name
    "shanghai": {"special_relief": (0.002, 18, 120), "returnee": (0.004, 62, 120),
                 "expenditure_poverty": (0.001, 0, 120)},
    "wuhai": {"poverty_alleviated": (0.01, 0, 120), "sanmin": (0.001, 60, 120),
              "expenditure_poverty": (0.002, 0, 120)},
    "taizhou": {"downsized_worker": (0.001, 70, 120)},
    "zhoushan": {"three_old": (0.001, 75, 120), "downsized_worker": (0.001, 70, 120)},
}
CATEGORY_SOURCE = {
    "hardship_worker": "trade_union", "poverty_alleviated": "rural_revitalization",
    "severe_disability": "disability_federation", "priority_care": "veterans",
    "returnee": "medical_security",
}

CHARITY_PROGRAMS = [
    ("CP01", "少儿大病慈善救助项目", "C91;C92;Q21", 0, 17, 50000, 40),
    ("CP02", "肺癌患者援助项目", "C34", 18, 120, 30000, 60),
    ("CP03", "尿毒症透析救助项目", "N18", 18, 120, 20000, 50),
    ("CP04", "脑卒中康复帮扶项目", "I63;I61", 50, 120, 15000, 40),
    ("CP05", "困难家庭大病综合救助", "", 0, 120, 20000, 120),
    ("CP06", "妇女两癌救助项目", "C50;C53", 18, 120, 10000, 30),
]

FAULT_KINDS = {
    "persons": ["bad_checksum", "bad_birth_date"],
    "claims": ["bad_visit_type", "bad_date", "negative_amount", "broken_identity",
               "duplicate_claim_id", "unknown_reversal", "unknown_person"],
    "enrollment": ["bad_scheme", "unknown_person"],
    "assistance_categories": ["bad_category", "unknown_person"],
    "household_income": ["bad_amount"],
}

# Agencies send all three encodings; the synthetic city does too.
FEED_ENCODING = {"persons": "utf-8-sig", "household_income": "gbk", "assistance_categories": "gbk"}


@dataclass
class Summary:
    out: Path
    rows: dict[str, int] = field(default_factory=dict)
    faults: dict[str, dict[str, int]] = field(default_factory=dict)
    claim_days: int = 0

    def as_dict(self) -> dict:
        return {"out": str(self.out), "rows": self.rows, "faults": self.faults,
                "claim_days": self.claim_days}


def _band(age: np.ndarray) -> np.ndarray:
    return np.searchsorted(AGE_BANDS, age, side="right")


def _lognormal(rng: np.random.Generator, mean: np.ndarray, sigma: float) -> np.ndarray:
    """Lognormal draws with the given arithmetic mean."""
    mu = np.log(mean) - sigma**2 / 2
    return rng.lognormal(mu, sigma)


class CityGenerator:
    def __init__(self, city: City, persons: int, start: dt.date, end: dt.date, seed: int,
                 faults: float = 0.0):
        if end < start:
            raise ValueError("--end is before --start")
        if persons < 10:
            raise ValueError("--persons must be at least 10")
        self.city, self.n, self.start, self.end, self.seed, self.fault_rate = (
            city, persons, start, end, seed, faults)
        self.rng = np.random.default_rng(seed)
        self.faker = Faker("zh_CN")
        self.faker.seed_instance(seed)
        # Addresses from their own generator, so that adding them left names and IDs as they were.
        self.address_faker = Faker("zh_CN")
        self.address_faker.seed_instance(seed + 1)
        self.policy = load_policy(city.policy_id)
        self.params = city_defaults(city.key)
        self.years = list(range(start.year, end.year + 1))
        self.t0 = np.datetime64(start, "D")
        self.t1 = np.datetime64(end, "D")
        self.span_days = int((self.t1 - self.t0) / DAY) + 1

    # ---------- people ----------
    def persons(self) -> pd.DataFrame:
        rng = self.rng
        sizes = []
        while sum(sizes) < self.n:
            sizes.append(int(rng.choice([1, 2, 3, 4, 5, 6], p=[0.22, 0.30, 0.24, 0.14, 0.07, 0.03])))
        sizes[-1] -= sum(sizes) - self.n
        if sizes[-1] == 0:
            sizes.pop()
        subdistricts = self.city.subdistricts()
        rows = []
        seq: dict[tuple[str, dt.date], int] = defaultdict(int)
        for h, size in enumerate(sizes):
            d_code, s_code, s_name = subdistricts[int(rng.integers(len(subdistricts)))]
            household_id = f"H{s_code}{h + 1:06d}"
            community = f"{self.address_faker.street_name()}居委会"
            af = self.address_faker
            address = (f"{s_name}{af.street_name()}{af.random_int(1, 999)}弄{af.random_int(1, 40)}号"
                       f"{af.random_int(1, 18)}0{af.random_int(1, 4)}室")
            head_age = int(np.clip(rng.normal(60 if size == 1 else 48, 15), 20, 95))
            members = [("head", head_age, str(rng.choice(["M", "F"])))]
            if size >= 2:
                members.append(("spouse", int(np.clip(head_age + rng.integers(-4, 5), 20, 98)),
                                "F" if members[0][2] == "M" else "M"))
            for _ in range(size - len(members)):
                if size >= 5 and not any(r == "parent" for r, _, _ in members) and head_age < 62:
                    members.append(("parent", int(min(head_age + rng.integers(24, 33), 100)),
                                    str(rng.choice(["M", "F"]))))
                else:
                    members.append(("child", int(max(head_age - rng.integers(22, 36), 0)),
                                    str(rng.choice(["M", "F"]))))
            for relation, age, sex in members:
                birth = self.start - dt.timedelta(days=int(age * 365.25 + rng.integers(0, 365)))
                key = (d_code, birth)
                seq[key] += 1
                number = 2 * seq[key] + (1 if sex == "M" else 0)  # odd for men
                name = self.faker.name_male() if sex == "M" else self.faker.name_female()
                rows.append({
                    "person_id": ids.make(d_code, birth, number % 1000), "name": name, "sex": sex,
                    "birth_date": birth.isoformat(), "household_id": household_id,
                    "relation": relation, "district_code": d_code, "subdistrict_code": s_code,
                    "subdistrict_name": s_name, "phone": self.faker.phone_number(),
                    "community_name": community, "address": address,
                })
        df = pd.DataFrame(rows).drop_duplicates("person_id").reset_index(drop=True)
        df["age"] = ((pd.Timestamp(self.start) - pd.to_datetime(df["birth_date"])).dt.days // 365.25).astype(int)
        return df

    def economy(self, persons: pd.DataFrame) -> pd.DataFrame:
        """Employment, pensions and a per-capita income level per household."""
        rng = self.rng
        age = persons["age"].to_numpy()
        working = (age >= 18) & (age < 60)
        persons["employed"] = working & (rng.random(len(persons)) < 0.72)
        persons["pensioner"] = (age >= 60) & (rng.random(len(persons)) < 0.8)
        level = self._income_level(self.start.year)
        households = persons.groupby("household_id").agg(size=("person_id", "size")).reset_index()
        households["per_capita"] = np.round(
            _lognormal(rng, np.full(len(households), level * 0.85), 0.55), 0)
        return persons.merge(households[["household_id", "per_capita"]], on="household_id")

    def _income_level(self, year: int) -> float:
        p = self.params
        rows = p[p["name"] == "city_per_capita_disposable_income"]
        if len(rows):
            near = rows.iloc[(rows["year"] - year).abs().argsort()].iloc[0]
            return float(near["value"])
        return 50000.0

    def _dibao_annual(self, year: int) -> float:
        rows = self.params[self.params["name"] == "dibao_monthly"]
        if not len(rows):
            return 9000.0
        near = rows.iloc[(rows["year"] - year).abs().argsort()].iloc[0]
        return float(near["value"]) * 12

    def categories(self, persons: pd.DataFrame) -> pd.DataFrame:
        rng = self.rng
        rows = []
        households = persons.groupby("household_id").first().reset_index().sort_values("per_capita")
        dibao_line = self._dibao_annual(self.start.year)
        # Poorest households become dibao, then low-income, then dibao-edge; their
        # incomes are pulled to what each status implies.
        order = list(households["household_id"])
        sizes = persons.groupby("household_id").size()
        cursor = 0
        household_category = {}
        for category, share in HOUSEHOLD_CATEGORIES.items():
            target, got = share * len(persons), 0
            while got < target and cursor < len(order):
                household_category[order[cursor]] = category
                got += sizes[order[cursor]]
                cursor += 1
        factor = {"dibao": (0.3, 0.95), "low_income": (1.0, 1.9), "dibao_edge": (1.0, 1.5)}
        for hid, category in household_category.items():
            lo, hi = factor[category]
            persons.loc[persons["household_id"] == hid, "per_capita"] = round(dibao_line * rng.uniform(lo, hi))
        # Poor households rarely hold formal jobs or employee pensions: they are resident-scheme insured.
        poor = persons["household_id"].isin(household_category).to_numpy()
        persons.loc[poor, "employed"] = persons.loc[poor, "employed"].to_numpy() & (rng.random(poor.sum()) < 0.15)
        persons.loc[poor, "pensioner"] = persons.loc[poor, "pensioner"].to_numpy() & (rng.random(poor.sum()) < 0.25)
        household_class = {h: ("A" if rng.random() < 0.3 else "B") for h, c in household_category.items()
                           if c == "dibao"}
        by_household = persons[persons["household_id"].isin(household_category)]
        for person in by_household.itertuples():
            category = household_category[person.household_id]
            rows.append(self._category_row(person.person_id, category,
                                           household_class.get(person.household_id, "")))
        extra = dict(PERSON_CATEGORIES)
        extra.update(CITY_CATEGORIES.get(self.city.key, {}))
        for category, (share, lo, hi) in extra.items():
            pool = persons[(persons["age"] >= lo) & (persons["age"] <= hi)]
            k = min(len(pool), int(round(share * len(persons))))
            if k == 0:
                continue
            chosen = pool.sample(n=k, random_state=int(rng.integers(2**31)))
            for person in chosen.itertuples():
                grade = str(int(rng.integers(1, 3))) if category == "severe_disability" else ""
                rows.append(self._category_row(person.person_id, category, "", grade))
        # Some dibao members also carry a disability grade (Wuhai's 400 allowance).
        df = pd.DataFrame(rows)
        dibao = df["category"] == "dibao"
        df.loc[dibao & (rng.random(len(df)) < 0.08), "disability_grade"] = "2"
        return df

    def _category_row(self, person_id: str, category: str, dibao_class: str = "",
                      disability_grade: str = "") -> dict:
        rng = self.rng
        if rng.random() < 0.2:  # identified during the period: starts mid-year
            valid_from = self.t0 + int(rng.integers(0, self.span_days)) * DAY
        else:
            valid_from = self.t0 - int(rng.integers(30, 3000)) * DAY
        valid_to = ""
        if rng.random() < 0.12:
            end = valid_from + int(rng.integers(90, 900)) * DAY
            valid_to = str(end)
        return {"person_id": person_id, "category": category, "valid_from": str(valid_from),
                "valid_to": valid_to, "source": CATEGORY_SOURCE.get(category, "civil_affairs"),
                "dibao_class": dibao_class, "disability_grade": disability_grade}

    def household_income(self, persons: pd.DataFrame) -> pd.DataFrame:
        rng = self.rng
        hh = persons.groupby("household_id").agg(
            size=("person_id", "size"), per_capita=("per_capita", "first"),
            without_income=("person_id", lambda s: 0)).reset_index()
        adults = persons[(persons["age"] >= 18) & ~persons["employed"] & ~persons["pensioner"]]
        hh["without_income"] = hh["household_id"].map(adults.groupby("household_id").size()).fillna(0).astype(int)
        assessed = rng.random(len(hh)) < 0.88
        rows = []
        for year in self.years:
            growth = 1.045 ** (year - self.start.year)
            for h in hh[assessed].itertuples():
                day = dt.date(year, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365)))
                income = h.per_capita * h.size * growth * rng.uniform(0.93, 1.07)
                rows.append({"household_id": h.household_id, "assessed_on": day.isoformat(),
                             "annual_disposable_income": f"{income:.2f}",
                             "members_without_fixed_income": h.without_income,
                             "assets_within_limit": "true" if rng.random() < 0.93 else "false"})
        return pd.DataFrame(rows)

    def enrollment(self, persons: pd.DataFrame, categories: pd.DataFrame) -> pd.DataFrame:
        rng = self.rng
        subsidy_rules = self.policy.premium_subsidy
        active = categories.copy()
        rows = []
        best_by_person = defaultdict(list)
        for c in active.itertuples():
            best_by_person[c.person_id].append(c)
        for p in persons.itertuples():
            scheme = "employee" if (p.employed or p.pensioner and rng.random() < 0.85) else "resident"
            for year in self.years:
                y0, y1 = dt.date(year, 1, 1), dt.date(year, 12, 31)
                age = year - int(p.birth_date[:4])
                subsidy = "none"
                if scheme == "resident":
                    for c in best_by_person.get(p.person_id, []):
                        if c.valid_from <= y1.isoformat() and (not c.valid_to or c.valid_to >= y0.isoformat()):
                            grant = subsidy_rules.grant(c.category, age)
                            if grant == "full" or (grant == "fixed" and subsidy == "none"):
                                subsidy = grant
                r = rng.random()
                if r < 0.015 or (subsidy != "none" and r < 0.05):
                    continue  # not enrolled this year: a gap for category members
                if subsidy != "none" and r < 0.10:
                    subsidy = "none"  # enrolled, subsidy missing
                rows.append({"person_id": p.person_id, "year": year, "scheme": scheme,
                             "enrolled_from": y0.isoformat(), "enrolled_to": y1.isoformat(),
                             "premium_subsidy": subsidy})
        return pd.DataFrame(rows)

    # ---------- health ----------
    def claims(self, persons: pd.DataFrame, categories: pd.DataFrame,
               enrollment: pd.DataFrame) -> pd.DataFrame:
        rng = self.rng
        n = len(persons)
        age = persons["age"].to_numpy()
        band = _band(age)
        years = self.span_days / 365.25
        parts = []

        def routine(visit_type, rate, level_share, mean, diagnoses, sigma):
            counts = rng.poisson(rate[band] * years)
            who = np.repeat(np.arange(n), counts)
            day = self.t0 + rng.integers(0, self.span_days, len(who)) * DAY
            level = rng.choice([1, 2, 3], len(who), p=level_share)
            cost = _lognormal(rng, mean[level - 1], sigma)
            diag = rng.choice(diagnoses, len(who))
            if visit_type == "inpatient":
                los = np.clip(rng.poisson(7, len(who)) + 1, 1, 40)
                return dict(who=who, visit_type=visit_type, admit=day, discharge=day + los * DAY,
                            level=level, cost=cost, diag=diag, out_share=rng.uniform(0.08, 0.2, len(who)))
            return dict(who=who, visit_type=visit_type, admit=None, discharge=None, settle=day,
                        level=level, cost=cost, diag=diag, out_share=rng.uniform(0.03, 0.15, len(who)))

        parts.append(routine("outpatient", OUTPATIENT_VISITS_PER_YEAR, HOSPITAL_LEVEL_SHARE_OUTPATIENT,
                             OUTPATIENT_MEAN, OUTPATIENT_DIAGNOSES, 0.8))
        parts.append(routine("emergency", EMERGENCY_VISITS_PER_YEAR, HOSPITAL_LEVEL_SHARE_OUTPATIENT,
                             OUTPATIENT_MEAN * 2.5, OUTPATIENT_DIAGNOSES, 0.8))
        parts.append(routine("inpatient", INPATIENT_STAYS_PER_YEAR, HOSPITAL_LEVEL_SHARE_INPATIENT,
                             INPATIENT_MEAN, INPATIENT_DIAGNOSES, 0.7))

        # Chronic conditions: a monthly special-outpatient claim from onset on.
        chronic = np.flatnonzero(rng.random(n) < CHRONIC_PREVALENCE[band])
        onset = self.t0 + rng.integers(-720, self.span_days, len(chronic)) * DAY
        # Patients already ill at the start come back on their own day of the month, not all on day one.
        first = np.where(onset < self.t0, self.t0 + rng.integers(0, 30, len(chronic)) * DAY, onset)
        parts.append(self._monthly(chronic, first, 650.0, 0.5,
                                   rng.choice(CHRONIC_DIAGNOSES, len(chronic)), 0.05))

        parts.extend(self._catastrophes(age, band, years))
        claims = self._assemble(parts, persons, categories, enrollment)
        return claims

    def _monthly(self, who, first, mean, sigma, diag, out_share, months=None, level=None):
        """One special-outpatient claim about every 30 days from `first` to the end."""
        rng = self.rng
        span = ((self.t1 - first) / DAY).astype(int)
        count = np.maximum(span // 30 + 1, 0) if months is None else np.minimum(months, span // 30 + 1)
        idx = np.repeat(np.arange(len(who)), count)
        k = np.concatenate([np.arange(c) for c in count]) if len(count) else np.array([], int)
        day = first[idx] + (k * 30 + rng.integers(0, 5, len(idx))) * DAY
        keep = day <= self.t1
        idx, day = idx[keep], day[keep]
        lvl = rng.choice([2, 3], len(idx), p=[0.6, 0.4]) if level is None else np.full(len(idx), level)
        return dict(who=np.asarray(who)[idx], visit_type="special_outpatient", admit=None, discharge=None,
                    settle=day, level=lvl, cost=_lognormal(rng, np.full(len(idx), mean), sigma),
                    diag=np.asarray(diag)[idx], out_share=np.full(len(idx), out_share))

    def _catastrophes(self, age, band, years) -> list[dict]:
        rng = self.rng
        n = len(age)
        hit = np.flatnonzero(rng.random(n) < CATASTROPHIC_PER_YEAR[band] * (years + 0.5))
        parts = []
        for p in hit:
            options = [c for c in CATASTROPHES if c.min_age <= age[p] <= c.max_age]
            if not options:
                continue
            weights = np.array([c.weight for c in options])
            kind = options[int(rng.choice(len(options), p=weights / weights.sum()))]
            code = str(rng.choice(kind.codes))
            onset = self.t0 + int(rng.integers(-180, self.span_days)) * DAY
            parts.extend(self._trajectory(p, kind.kind, code, onset))
        return parts

    def _trajectory(self, p: int, kind: str, code: str, onset) -> list[dict]:
        """Early signs, then escalating treatment: the claims of one catastrophic illness."""
        rng = self.rng
        stays, visits = [], []  # (admit, los, level, cost, out_share) / (day, level, cost, out_share, type)
        for k in range(int(rng.integers(2, 5))):  # diagnostic visits in the weeks before
            visits.append((onset - int(rng.integers(5, 75)) * DAY, 3, rng.uniform(400, 1800),
                           0.1, "outpatient", str(rng.choice(EARLY_SIGN_DIAGNOSES))))
        if kind == "cancer":
            stays.append((onset, int(rng.integers(10, 21)), 3, rng.uniform(45000, 90000), 0.18))
            day = onset + 25 * DAY
            for cycle in range(int(rng.integers(4, 11))):
                share = 0.18 if cycle < 3 else 0.45  # targeted drugs outside the policy scope
                stays.append((day, int(rng.integers(3, 7)), 3, rng.uniform(12000, 30000) * (1 + 0.08 * cycle), share))
                day = day + int(rng.integers(21, 36)) * DAY
            if rng.random() < 0.6:
                visits_part = self._monthly(np.array([p]), np.array([day]), 9000.0, 0.3, [code], 0.6, level=3)
                return [self._stays(p, code, stays), self._visits(p, code, visits), visits_part]
        elif kind == "dialysis":
            stays.append((onset, int(rng.integers(7, 15)), 3, rng.uniform(20000, 40000), 0.1))
            weekly = np.array([onset + 14 * DAY])
            part = self._monthly(np.array([p]), weekly, 7500.0, 0.15, [code], 0.08, level=2)
            return [self._stays(p, code, stays), self._visits(p, code, visits), part]
        elif kind == "stroke":
            stays.append((onset, int(rng.integers(14, 28)), 3, rng.uniform(35000, 80000), 0.15))
            stays.append((onset + 35 * DAY, int(rng.integers(20, 40)), 2, rng.uniform(20000, 45000), 0.25))
            part = self._monthly(np.array([p]), np.array([onset + 80 * DAY]), 1800.0, 0.3, [code], 0.2)
            return [self._stays(p, code, stays), self._visits(p, code, visits), part]
        else:  # leukaemia
            day = onset
            for cycle in range(int(rng.integers(6, 10))):
                stays.append((day, int(rng.integers(10, 25)), 3, rng.uniform(30000, 70000), 0.25))
                day = day + int(rng.integers(28, 40)) * DAY
        return [self._stays(p, code, stays), self._visits(p, code, visits)]

    def _stays(self, p, code, stays):
        admit = np.array([s[0] for s in stays], dtype="datetime64[D]")
        los = np.array([s[1] for s in stays])
        return dict(who=np.full(len(stays), p), visit_type="inpatient", admit=admit,
                    discharge=admit + los * DAY, level=np.array([s[2] for s in stays]),
                    cost=np.array([s[3] for s in stays]), diag=np.full(len(stays), code),
                    out_share=np.array([s[4] for s in stays]))

    def _visits(self, p, code, visits):
        return dict(who=np.full(len(visits), p), visit_type=np.array([v[4] for v in visits]), admit=None,
                    discharge=None, settle=np.array([v[0] for v in visits], dtype="datetime64[D]"),
                    level=np.array([v[1] for v in visits]), cost=np.array([v[2] for v in visits]),
                    diag=np.array([v[5] for v in visits]), out_share=np.array([v[3] for v in visits]))

    def _assemble(self, parts, persons, categories, enrollment) -> pd.DataFrame:
        rng = self.rng
        frames = []
        for part in parts:
            m = len(part["who"])
            if m == 0:
                continue
            inpatient = part["admit"] is not None
            settle = part["discharge"] + rng.integers(0, 3, m) * DAY if inpatient else part["settle"]
            frames.append(pd.DataFrame({
                "who": part["who"], "visit_type": np.broadcast_to(part["visit_type"], (m,)),
                "admit_date": part["admit"] if inpatient else np.full(m, np.datetime64("NaT"), "datetime64[D]"),
                "discharge_date": part["discharge"] if inpatient else np.full(m, np.datetime64("NaT"), "datetime64[D]"),
                "settle_date": settle, "hospital_level": part["level"], "cost": part["cost"],
                "diagnosis_code": part["diag"], "out_share": part["out_share"],
            }))
        df = pd.concat(frames, ignore_index=True)
        df = df[(df["settle_date"] >= self.t0) & (df["settle_date"] <= self.t1)].copy()
        df["person_id"] = persons["person_id"].to_numpy()[df["who"].to_numpy()]
        df = df.sort_values(["settle_date", "person_id", "visit_type", "cost"], kind="stable").reset_index(drop=True)
        m = len(df)
        df["in_city"] = np.where(rng.random(m) < 0.03, "false", "true")
        hospitals_per_level = {1: 20, 2: 10, 3: 6}
        district = df["person_id"].str[:6]
        df["hospital_id"] = [f"H{d}{lvl}{int(k):02d}" for d, lvl, k in zip(
            district, df["hospital_level"], rng.integers(1, 100, m) % np.array(
                [hospitals_per_level[int(x)] for x in df["hospital_level"]]) + 1)]

        # Scheme of the claim's year decides the fund's share.
        year = pd.to_datetime(df["settle_date"]).dt.year
        scheme = enrollment.set_index(["person_id", "year"])["scheme"]
        key = pd.MultiIndex.from_arrays([df["person_id"], year])
        claim_scheme = pd.Series(scheme.reindex(key).to_numpy(), index=df.index).fillna("none")
        inpatient_like = df["visit_type"].isin(["inpatient", "special_outpatient"]).to_numpy()
        level = df["hospital_level"].to_numpy()
        fund_ratio = np.where(claim_scheme == "employee", np.where(inpatient_like, 0.85, 0.65),
                              np.where(claim_scheme == "resident", np.where(inpatient_like, 0.65, 0.5), 0.0))
        fund_ratio = fund_ratio - np.where(level == 3, 0.05, 0.0) * (fund_ratio > 0)
        fund_ratio = np.where(df["in_city"] == "false", fund_ratio * 0.8, fund_ratio)

        total = np.round(df["cost"].to_numpy() * 100).astype(np.int64)
        out = np.round(total * df["out_share"].to_numpy()).astype(np.int64)
        scope = total - out
        fund = np.round(scope * fund_ratio).astype(np.int64)
        after_fund = scope - fund
        critical = np.where(df["visit_type"].eq("inpatient").to_numpy() & (after_fund > 1_500_000),
                            np.round((after_fund - 1_500_000) * 0.6), 0).astype(np.int64)
        other = np.where(rng.random(m) < 0.05, np.round((after_fund - critical) * 0.1), 0).astype(np.int64)
        before_assist = after_fund - critical - other
        covered = self._covered(df, categories)
        paid_rate = np.where(rng.random(m) < 0.7, rng.choice([0.5, 0.6, 0.7, 0.8, 0.9], m), 0.0)
        assist = np.where(covered, np.round(before_assist * paid_rate), 0).astype(np.int64)
        self_in = before_assist - assist

        cents = {"total_cost": total, "policy_scope_cost": scope, "basic_fund_paid": fund,
                 "critical_illness_paid": critical, "assistance_paid": assist, "other_paid": other,
                 "self_pay_in_scope": self_in, "self_pay_out_scope": out}
        for name, v in cents.items():
            df[name] = v
        df["claim_id"] = [f"CL{self.seed % 1000:03d}{i + 1:09d}" for i in range(m)]
        df["reversal_of"] = ""
        df = self._reversals(df, list(cents))
        for name in cents:
            df[name] = df[name].map(lambda c: f"{c / 100:.2f}")
        for col in ("admit_date", "discharge_date", "settle_date"):
            df[col] = pd.to_datetime(df[col]).dt.strftime("%Y-%m-%d").fillna("")
        df["hospital_level"] = df["hospital_level"].astype(str)
        return df[FEEDS["claims"].column_names]

    def _covered(self, df, categories) -> np.ndarray:
        """Whether the person held any assistance category on the claim's date."""
        if categories.empty:
            return np.zeros(len(df), bool)
        cat = categories[["person_id", "valid_from", "valid_to"]].copy()
        cat["valid_to"] = cat["valid_to"].replace("", "9999-12-31")
        merged = df[["person_id", "settle_date"]].reset_index().merge(cat, on="person_id")
        day = pd.to_datetime(merged["settle_date"]).dt.strftime("%Y-%m-%d")
        hit = merged[(merged["valid_from"] <= day) & (day <= merged["valid_to"])]["index"].unique()
        covered = np.zeros(len(df), bool)
        covered[hit] = True
        return covered

    def _reversals(self, df: pd.DataFrame, amount_cols: list[str]) -> pd.DataFrame:
        """~0.5% of settlements are reversed (冲销) a few days later; half are settled again."""
        rng = self.rng
        picked = np.flatnonzero(rng.random(len(df)) < 0.005)
        extra = []
        next_id = len(df)
        for i in picked:
            orig = df.iloc[i]
            day = orig["settle_date"] + int(rng.integers(1, 21)) * DAY
            if day > self.t1:
                continue
            rev = orig.copy()
            next_id += 1
            rev["claim_id"] = f"CL{self.seed % 1000:03d}{next_id:09d}"
            rev["reversal_of"] = orig["claim_id"]
            rev["settle_date"] = day
            for c in amount_cols:
                rev[c] = -orig[c]
            extra.append(rev)
            if rng.random() < 0.5:
                again = orig.copy()
                next_id += 1
                again["claim_id"] = f"CL{self.seed % 1000:03d}{next_id:09d}"
                again["settle_date"] = day
                extra.append(again)
        if extra:
            df = pd.concat([df, pd.DataFrame(extra)], ignore_index=True)
        return df.sort_values(["settle_date", "claim_id"], kind="stable").reset_index(drop=True)

    # ---------- faults ----------
    def inject_faults(self, feeds: dict[str, pd.DataFrame]) -> dict[str, dict[str, int]]:
        """Append deliberately bad rows (copies of good rows, each broken one way)."""
        rng = self.rng
        report: dict[str, dict[str, int]] = {}
        if self.fault_rate <= 0:
            return report
        for feed, kinds in FAULT_KINDS.items():
            df = feeds[feed]
            k = int(round(len(df) * self.fault_rate))
            if k == 0 or df.empty:
                continue
            sample = df.iloc[rng.integers(0, len(df), k)].copy().reset_index(drop=True)
            chosen = rng.choice(kinds, k)
            report[feed] = {str(x): int((chosen == x).sum()) for x in kinds}
            for i, kind in enumerate(chosen):
                sample.loc[i] = self._break(feed, kind, sample.loc[i].copy(), i)
            feeds[feed] = pd.concat([df, sample], ignore_index=True)
        return report

    def _break(self, feed: str, kind: str, row: pd.Series, i: int) -> pd.Series:
        unknown_person = ids.make("110101", dt.date(1950, 1, 1), 990 + i % 9)
        if feed == "claims" and kind != "duplicate_claim_id":
            row["claim_id"] = f"CLF{self.seed % 1000:03d}{i:08d}"
            row["reversal_of"] = ""
        if kind == "bad_checksum":
            last = row["person_id"][-1]
            row["person_id"] = row["person_id"][:-1] + ("0" if last != "0" else "1")
        elif kind == "bad_birth_date":
            row["birth_date"] = "1980-02-30"
            row["person_id"] = ids.make(row["person_id"][:6], dt.date(1931, 1, 1), 100 + i % 800)
        elif kind == "bad_visit_type":
            row["visit_type"] = "门诊"
        elif kind == "bad_date":
            row["settle_date"] = "2023-13-45"
        elif kind == "negative_amount":
            row["self_pay_out_scope"] = "-" + row["self_pay_out_scope"].lstrip("-")
            if row["self_pay_out_scope"] == "-0.00":
                row["self_pay_out_scope"] = "-1.00"
        elif kind == "broken_identity":
            row["total_cost"] = f"{float(row['total_cost']) + 1:.2f}"
        elif kind == "unknown_reversal":
            row["reversal_of"] = "CL_NO_SUCH_CLAIM"
            for c in ("total_cost", "policy_scope_cost", "basic_fund_paid", "critical_illness_paid",
                      "assistance_paid", "other_paid", "self_pay_in_scope", "self_pay_out_scope"):
                v = float(row[c])
                row[c] = f"{-v:.2f}" if v else "0.00"
        elif kind == "unknown_person":
            row["person_id"] = unknown_person
        elif kind == "bad_scheme":
            row["scheme"] = "commercial"
        elif kind == "bad_category":
            row["category"] = "vip"
        elif kind == "bad_amount":
            row["annual_disposable_income"] = "约五万"
        return row

    # ---------- all ----------
    def build(self) -> dict[str, pd.DataFrame]:
        persons = self.economy(self.persons())
        categories = self.categories(persons)
        enrollment = self.enrollment(persons, categories)
        income = self.household_income(persons)
        claims = self.claims(persons, categories, enrollment)
        params = self.params[["name", "year", "value"]].copy()
        charity = pd.DataFrame(CHARITY_PROGRAMS, columns=FEEDS["charity_programs"].column_names)
        return {
            "persons": persons[FEEDS["persons"].column_names],
            "household_income": income, "assistance_categories": categories,
            "enrollment": enrollment, "claims": claims, "parameters": params,
            "charity_programs": charity,
            "outreach_feedback": pd.DataFrame(columns=FEEDS["outreach_feedback"].column_names),
        }


def generate(city: str, persons: int, start: dt.date, end: dt.date, seed: int, out: Path,
             faults: float = 0.0) -> Summary:
    """Write every feed of the contract for a synthetic city into `out`."""
    gen = CityGenerator(CITIES[city], persons, start, end, seed, faults)
    feeds = gen.build()
    summary = Summary(out=out)
    summary.faults = gen.inject_faults(feeds)
    out.mkdir(parents=True, exist_ok=True)
    for name, df in feeds.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        encoding = FEED_ENCODING.get(name, "utf-8")
        if FEEDS[name].dated:
            real_date = pd.to_datetime(df["settle_date"], format="%Y-%m-%d", errors="coerce").notna()
            for day, chunk in df.groupby(df["settle_date"].where(real_date, end.isoformat())):
                # A row with an unparseable date arrives in the last night's delivery.
                (folder / day).mkdir(exist_ok=True)
                chunk.to_csv(folder / day / "part-0.csv", index=False, encoding=encoding)
            summary.claim_days = df["settle_date"].nunique()
        else:
            df.to_csv(folder / "part-0.csv", index=False, encoding=encoding)
        summary.rows[name] = len(df)
    (out / "_synth_manifest.json").write_text(json.dumps(
        {"city": city, "persons": persons, "start": start.isoformat(), "end": end.isoformat(),
         "seed": seed, "fault_rate": faults, "rows": summary.rows, "faults": summary.faults,
         "claim_days": summary.claim_days}, ensure_ascii=False, indent=2),
        encoding="utf-8")
    return summary
