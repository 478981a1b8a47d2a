"""A synthetic city: every feed of the contract, deterministic per seed.

The shapes follow published figures (shared/contract/city-figures.md): mean
household size 2.62 (2020 census); about 6.5 outpatient visits per person a
year (National Health Commission statistical bulletin 2023: 9.55 billion visits,
6.8 per resident) and about 0.2 admissions (the same bulletin: 301.9 million,
21.4 per 100 people), so a city of 1,000,000 residents settles 7-8 million
claims a year; ~16-21% of people hospitalised a year; ~10,000 CNY a stay and
~330-360 a visit (more at level-3 hospitals); ~0.5% reversals. Each person has
a health trajectory: routine care, chronic conditions with monthly
special-outpatient claims, and catastrophic illnesses (cancer, dialysis,
stroke, childhood leukaemia) that start with a few diagnostic visits and
escalate, so that some households cross the 40%/70% lines months after the
first signs.

Amounts are built in integer cents so the contract's identities hold exactly.
Everything is drawn as whole columns (numpy, arrow): the cost is linear in the
number of persons, about a minute for a million. A city larger than CLAIM_BLOCK_PERSONS has its claims
drawn and written a block of persons at a time (`part-<block>.csv` in each day's folder), so that its
memory stays that of a million-person city's claims plus its small per-person feeds.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from faker import Faker

from poverty_warning.contract import ids
from poverty_warning.contract import FEEDS, VISIT_TYPES
from poverty_warning.policy.parameters import city_defaults
from poverty_warning.policy import load_policy
from poverty_warning.synth.cities import CITIES, City

DAY = np.timedelta64(1, "D")
NO_DAY = np.datetime64("1900-01-01", "D")  # the discharge day of a claim that is not a stay
VISIT_CODE = {v: i for i, v in enumerate(VISIT_TYPES)}

HOUSEHOLD_SIZES = np.array([1, 2, 3, 4, 5, 6])
HOUSEHOLD_SIZE_SHARE = np.array([0.22, 0.30, 0.24, 0.14, 0.07, 0.03])  # mean 2.6 (census 2020: 2.62)
NAME_POOL, STREET_POOL = 4000, 3000  # Faker draws per sex / for streets, sampled per person / household
PHONE_PREFIXES = np.array([130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155,
                           156, 157, 158, 159, 166, 177, 180, 181, 182, 183, 185, 186, 187, 188, 189, 199])
MONEY_COLUMNS = ("total_cost", "policy_scope_cost", "basic_fund_paid", "critical_illness_paid", "assistance_paid",
                 "other_paid", "self_pay_in_scope", "self_pay_out_scope")
DISTRICTS = sorted({d for c in CITIES.values() for d in c.districts})
# Claims are drawn and written this many persons at a time: they peak at ~5.6 GB resident per million.
CLAIM_BLOCK_PERSONS = 1_000_000
CLAIM_NUMBER_DIGITS = 9  # CL<seed%1000><9 digits>: 1e9 claims, a 10M-person city's ~13 years (~75M a year)

# Routine care by age band (0-14, 15-44, 45-64, 65+).
AGE_BANDS = np.array([15, 45, 65])
# Outpatient ~6.5 a person overall (NHC 2023: 6.8 visits per resident), most among the old and the young.
OUTPATIENT_VISITS_PER_YEAR = np.array([5.5, 4.0, 7.0, 11.0])
EMERGENCY_VISITS_PER_YEAR = np.array([0.25, 0.12, 0.15, 0.3])
INPATIENT_STAYS_PER_YEAR = np.array([0.10, 0.10, 0.21, 0.42])  # ~0.2 admissions a person, ~16% hospitalised
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


DIAGNOSES = sorted({*OUTPATIENT_DIAGNOSES, *INPATIENT_DIAGNOSES, *CHRONIC_DIAGNOSES, *EARLY_SIGN_DIAGNOSES,
                    *(code for c in CATASTROPHES for code in c.codes)})


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


def _within(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for each count c, concatenated: the position of each repeated row inside its group."""
    counts = np.asarray(counts, np.int64)
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)


def _iso(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(np.asarray(days, "datetime64[D]"), unit="D")


def _text(values) -> pa.Array:
    return pa.array(np.asarray(values, dtype=object), pa.string())


def _join(*parts) -> pa.Array:
    """Element-wise concatenation of arrow string arrays and plain strings."""
    return pc.binary_join_element_wise(*parts, "")


def _digits(values: np.ndarray, width: int) -> pa.Array:
    """Integers as zero-padded text (at least `width` digits)."""
    return pc.utf8_lpad(pc.cast(pa.array(np.asarray(values, np.int64)), pa.string()), width, "0")


def _numbered(prefix: str, number: np.ndarray, width: int) -> pa.Array:
    """`prefix` + the number in `width` digits, written straight as ASCII bytes: millions of ids in
    a fraction of a second, where formatting each in Python takes tens of seconds."""
    number = np.asarray(number, np.int64)
    m = len(number)
    if m and number.max() >= 10**width:  # the digits below would silently wrap round into duplicates
        raise ValueError(f"{prefix}: number {number.max()} does not fit in {width} digits")
    digits = (number[:, None] // 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)) % 10 + ord("0")
    head = np.broadcast_to(np.frombuffer(prefix.encode("ascii"), np.uint8), (m, len(prefix)))
    body = np.ascontiguousarray(np.hstack([head, digits.astype(np.uint8)]))
    offsets = np.arange(0, (m + 1) * body.shape[1], body.shape[1], dtype=np.int64)
    return pa.Array.from_buffers(pa.large_string(), m, [None, pa.py_buffer(offsets), pa.py_buffer(body)])


def _dates(days: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    """ISO dates as text ('' where not `present`), looked up from the few hundred distinct days."""
    days = np.asarray(days, "datetime64[D]")
    present = np.ones(len(days), bool) if present is None else present
    if not present.any():
        return pa.array(np.full(len(days), ""), pa.string())
    first = days[present].min()
    offset = np.where(present, (days - first) / DAY, 0).astype(np.int64)
    calendar = pa.array(_iso(first + np.arange(offset.max() + 1) * DAY).astype(object), pa.string())
    return pc.if_else(pa.array(present), calendar.take(pa.array(offset)), "")


def _money(cents: np.ndarray) -> pa.Array:
    """Integer cents as a 2-decimal amount (written `-12.30`): the unscaled decimal *is* the cents, so
    no float ever touches a figure and the contract's identities hold to the cent."""
    cents = np.asarray(cents, np.int64)
    words = np.ascontiguousarray(np.stack([cents, np.where(cents < 0, -1, 0)], axis=1))  # 128-bit LE
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words)])


def _amounts(table: pa.Table) -> pa.Table:
    """The claims with their integer-cent amounts as 2-decimal amounts (done per written slice: a
    decimal takes twice an integer's memory)."""
    for name in MONEY_COLUMNS:
        i = table.column_names.index(name)
        if pa.types.is_integer(table.schema.field(i).type):
            table = table.set_column(i, name, _money(table.column(i).to_numpy()))
    return table


def _part(who, visit_type: str, day, level, cost, diag, out_share, discharge=None) -> dict:
    """One batch of claims, column by column (discharge NO_DAY for non-inpatient claims)."""
    m = len(who)
    return {"who": np.asarray(who, np.int64), "visit": np.full(m, VISIT_CODE[visit_type]),
            "day": np.asarray(day, "datetime64[D]"), "level": np.asarray(level, np.int64),
            "cost": np.asarray(cost, float), "diag": np.asarray(diag, np.int64),
            "out_share": np.asarray(out_share, float),
            "discharge": np.full(m, NO_DAY) if discharge is None else np.asarray(discharge, "datetime64[D]")}


def _diagnosis(codes) -> np.ndarray:
    return np.array([DIAGNOSES.index(c) for c in codes], np.int64)


def _pool(make, size: int) -> np.ndarray:
    return np.array([make() for _ in range(size)], dtype=object)


class CityGenerator:
    def __init__(self, city: City, persons: int, start: dt.date, end: dt.date, seed: int,
                 faults: float = 0.0):
        if end < start:
            raise ValueError("--end is before --start")
        if persons < 10:
            raise ValueError("--persons must be at least 10")
        if faults > 0 and persons > CLAIM_BLOCK_PERSONS:
            raise ValueError(f"--faults is supported for a city of at most {CLAIM_BLOCK_PERSONS:,} persons "
                             "(a larger city's claims are drawn in blocks)")
        self.city, self.n, self.start, self.end, self.seed, self.fault_rate = (
            city, persons, start, end, seed, faults)
        self.rng = np.random.default_rng(seed)
        # Names, phones and streets are drawn from pools made once by Faker (a Faker call per row is
        # the slow part of a million-person city); names and streets stay real-looking.
        faker = Faker("zh_CN")
        faker.seed_instance(seed)
        self.male_names = _pool(faker.name_male, NAME_POOL)
        self.female_names = _pool(faker.name_female, NAME_POOL)
        address_faker = Faker("zh_CN")
        address_faker.seed_instance(seed + 1)
        self.streets = _pool(address_faker.street_name, STREET_POOL)
        self.policy = load_policy(city.policy_id)
        self.params = city_defaults(city.key)
        self.years = list(range(start.year, end.year + 1))
        self.t0 = np.datetime64(start, "D")
        self.t1 = np.datetime64(end, "D")
        self.span_days = int((self.t1 - self.t0) / DAY) + 1

    # ---------- people ----------
    def _household_sizes(self) -> np.ndarray:
        """Household sizes summing to exactly n (the last household is cut to fit)."""
        rng = self.rng
        sizes = np.zeros(0, np.int64)
        while sizes.sum() < self.n:
            more = int((self.n - sizes.sum()) / (HOUSEHOLD_SIZES @ HOUSEHOLD_SIZE_SHARE) * 1.05) + 8
            sizes = np.concatenate([sizes, rng.choice(HOUSEHOLD_SIZES, more, p=HOUSEHOLD_SIZE_SHARE)])
        total = np.cumsum(sizes)
        last = int(np.searchsorted(total, self.n))  # first household reaching n persons
        sizes = sizes[:last + 1].copy()
        sizes[-1] -= total[last] - self.n
        return sizes

    def persons(self) -> pd.DataFrame:
        rng = self.rng
        sizes = self._household_sizes()
        households = len(sizes)
        subdistricts = self.city.subdistricts()
        district_of = np.array([d for d, _, _ in subdistricts])
        code_of = np.array([s for _, s, _ in subdistricts])
        name_of = np.array([n for _, _, n in subdistricts], dtype=object)
        where = rng.integers(len(subdistricts), size=households)
        head_age = np.clip(rng.normal(np.where(sizes == 1, 60, 48), 15), 20, 95).astype(np.int64)

        # Members: head, spouse, then (in households of 5+ with a head under 62) one parent, then children.
        home = np.repeat(np.arange(households), sizes)
        rank = _within(sizes)
        head = head_age[home]
        n = len(home)
        relation = np.select(
            [rank == 0, rank == 1, (rank == 2) & (sizes[home] >= 5) & (head < 62)],
            ["head", "spouse", "parent"], "child")
        age = np.select(
            [rank == 0, rank == 1, relation == "parent"],
            [head, np.clip(head + rng.integers(-4, 5, n), 20, 98), np.minimum(head + rng.integers(24, 33, n), 100)],
            np.maximum(head - rng.integers(22, 36, n), 0))
        male = rng.random(n) < 0.5
        head_male = male[np.repeat(np.cumsum(sizes) - sizes, sizes)]
        male = np.where(rank == 1, ~head_male, male)  # the spouse is of the other sex
        birth = self.t0 - (age * 365.25 + rng.integers(0, 365, n)).astype(np.int64) * DAY

        district = district_of[where][home]
        # GB 11643 sequence: a running number per (district, birth date), odd for men.
        serial = pd.DataFrame({"d": district, "b": birth.astype(np.int64)}).groupby(["d", "b"]).cumcount()
        sequence = (2 * (serial.to_numpy() + 1) + male) % 1000
        person_id = ids.make_many(district, birth, sequence)

        street_a = rng.integers(len(self.streets), size=households)
        street_b = rng.integers(len(self.streets), size=households)
        address = _join(_text(name_of[where]), _text(self.streets[street_b]),
                        _digits(rng.integers(1, 1000, households), 1), "弄",
                        _digits(rng.integers(1, 41, households), 1), "号",
                        _digits(rng.integers(1, 19, households), 1), "0",
                        _digits(rng.integers(1, 5, households), 1), "室")
        household_id = _join("H", _text(code_of[where]), _digits(np.arange(1, households + 1), 6))
        name = np.where(male, self.male_names[rng.integers(NAME_POOL, size=n)],
                        self.female_names[rng.integers(NAME_POOL, size=n)])
        phone = _join(_digits(rng.choice(PHONE_PREFIXES, n), 3), _digits(rng.integers(0, 10**8, n), 8))
        df = pd.DataFrame({
            "person_id": person_id, "name": name, "sex": np.where(male, "M", "F"),
            "birth_date": _iso(birth), "household_id": household_id.take(home).to_numpy(zero_copy_only=False),
            "relation": relation, "district_code": district, "subdistrict_code": code_of[where][home],
            "subdistrict_name": name_of[where][home], "phone": phone.to_numpy(zero_copy_only=False),
            "community_name": pd.Series(self.streets[street_a][home]) + "居委会",
            "address": address.take(home).to_numpy(zero_copy_only=False),
        })
        df = df.drop_duplicates("person_id").reset_index(drop=True)
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
        households = persons.groupby("household_id").first().reset_index().sort_values("per_capita")
        dibao_line = self._dibao_annual(self.start.year)
        # Poorest households become dibao, then low-income, then dibao-edge (each until its share of
        # persons is reached); their incomes are pulled to what each status implies.
        order = households["household_id"].to_numpy()
        members = np.cumsum(persons.groupby("household_id").size().reindex(order).to_numpy())
        cursor, taken = 0, 0
        chosen, chosen_category = [], []
        for category, share in HOUSEHOLD_CATEGORIES.items():
            if cursor >= len(order):
                break
            count = min(int(np.searchsorted(members[cursor:] - taken, share * len(persons))) + 1,
                        len(order) - cursor)
            chosen.append(order[cursor:cursor + count])
            chosen_category += [category] * count
            taken = members[cursor + count - 1]
            cursor += count
        household_category = pd.Series(chosen_category, index=np.concatenate(chosen), dtype=object)
        factor = pd.DataFrame({"dibao": (0.3, 0.95), "low_income": (1.0, 1.9), "dibao_edge": (1.0, 1.5)},
                              index=["lo", "hi"]).T.reindex(household_category.to_numpy())
        pulled = pd.Series(np.round(dibao_line * rng.uniform(factor["lo"], factor["hi"])),
                           index=household_category.index)
        person_category = persons["household_id"].map(household_category)
        poor = person_category.notna().to_numpy()
        persons.loc[poor, "per_capita"] = persons.loc[poor, "household_id"].map(pulled).to_numpy()
        # Poor households rarely hold formal jobs or employee pensions: they are resident-scheme insured.
        persons.loc[poor, "employed"] = persons.loc[poor, "employed"].to_numpy() & (rng.random(poor.sum()) < 0.15)
        persons.loc[poor, "pensioner"] = persons.loc[poor, "pensioner"].to_numpy() & (rng.random(poor.sum()) < 0.25)
        dibao = household_category[household_category == "dibao"]
        household_class = pd.Series(np.where(rng.random(len(dibao)) < 0.3, "A", "B"), index=dibao.index)
        poor_persons = persons[poor]
        frames = [self._category_rows(
            poor_persons["person_id"].to_numpy(), person_category[poor].to_numpy(),
            poor_persons["household_id"].map(household_class).fillna("").to_numpy())]
        extra = dict(PERSON_CATEGORIES)
        extra.update(CITY_CATEGORIES.get(self.city.key, {}))
        for category, (share, lo, hi) in extra.items():
            pool = persons[(persons["age"] >= lo) & (persons["age"] <= hi)]
            k = min(len(pool), int(round(share * len(persons))))
            if k == 0:
                continue
            picked = pool.sample(n=k, random_state=int(rng.integers(2**31)))["person_id"].to_numpy()
            grade = rng.integers(1, 3, k).astype(str) if category == "severe_disability" else np.full(k, "")
            frames.append(self._category_rows(picked, np.full(k, category), np.full(k, ""), grade))
        df = pd.concat(frames, ignore_index=True)
        # Some dibao members also carry a disability grade (Wuhai's 400 allowance).
        dibao_rows = df["category"] == "dibao"
        df.loc[dibao_rows & (rng.random(len(df)) < 0.08), "disability_grade"] = "2"
        return df

    def _category_rows(self, person_id, category, dibao_class, disability_grade=None) -> pd.DataFrame:
        rng = self.rng
        m = len(person_id)
        identified_lately = rng.random(m) < 0.2  # identified during the period: starts then
        valid_from = np.where(identified_lately, self.t0 + rng.integers(0, self.span_days, m) * DAY,
                              self.t0 - rng.integers(30, 3000, m) * DAY)
        ends = rng.random(m) < 0.12
        valid_to = np.where(ends, _iso(valid_from + rng.integers(90, 900, m) * DAY), "")
        source = [CATEGORY_SOURCE.get(c, "civil_affairs") for c in category]
        return pd.DataFrame({"person_id": person_id, "category": category, "valid_from": _iso(valid_from),
                             "valid_to": valid_to, "source": source, "dibao_class": dibao_class,
                             "disability_grade": np.full(m, "") if disability_grade is None else disability_grade})

    def household_income(self, persons: pd.DataFrame) -> pd.DataFrame:
        rng = self.rng
        hh = persons.groupby("household_id").agg(
            size=("person_id", "size"), per_capita=("per_capita", "first")).reset_index()
        adults = persons[(persons["age"] >= 18) & ~persons["employed"] & ~persons["pensioner"]]
        hh["without_income"] = hh["household_id"].map(adults.groupby("household_id").size()).fillna(0).astype(int)
        assessed = hh[rng.random(len(hh)) < 0.88]
        frames = []
        for year in self.years:
            m = len(assessed)
            day = np.datetime64(dt.date(year, 1, 1), "D") + rng.integers(0, 365, m) * DAY
            growth = 1.045 ** (year - self.start.year)
            income = assessed["per_capita"].to_numpy() * assessed["size"].to_numpy() * growth * rng.uniform(0.93, 1.07, m)
            frames.append(pd.DataFrame({
                "household_id": assessed["household_id"].to_numpy(), "assessed_on": _iso(day),
                "annual_disposable_income": pc.cast(_money(np.round(income * 100)), pa.string()).to_numpy(
                    zero_copy_only=False),
                "members_without_fixed_income": assessed["without_income"].to_numpy(),
                "assets_within_limit": np.where(rng.random(m) < 0.93, "true", "false")}))
        return pd.concat(frames, ignore_index=True)

    def enrollment(self, persons: pd.DataFrame, categories: pd.DataFrame) -> pd.DataFrame:
        rng = self.rng
        n, years = len(persons), np.array(self.years)
        employee = (persons["employed"].to_numpy()
                    | (persons["pensioner"].to_numpy() & (rng.random(n) < 0.85)))
        birth_year = persons["birth_date"].str[:4].astype(int).to_numpy()
        # The best premium subsidy any category held in the year grants (resident scheme only).
        rank = {"none": 0, "fixed": 1, "full": 2}
        who = pd.Index(persons["person_id"]).get_indexer(categories["person_id"])
        best = np.zeros((n, len(years)), np.int64)
        for y, year in enumerate(years):
            active = ((categories["valid_from"] <= f"{year}-12-31")
                      & ((categories["valid_to"] == "") | (categories["valid_to"] >= f"{year}-01-01"))).to_numpy()
            held = pd.DataFrame({"who": who[active], "category": categories["category"].to_numpy()[active],
                                 "age": year - birth_year[who[active]]})
            grants = {key: rank[self.policy.premium_subsidy.grant(*key)]
                      for key in held[["category", "age"]].drop_duplicates().itertuples(index=False)}
            held["rank"] = [grants[key] for key in zip(held["category"], held["age"])]
            top = held.groupby("who")["rank"].max()
            best[top.index.to_numpy(), y] = top.to_numpy()
        best[employee] = 0
        subsidy = np.array(["none", "fixed", "full"])[best]
        r = rng.random((n, len(years)))
        has = subsidy != "none"
        enrolled = ~((r < 0.015) | (has & (r < 0.05)))  # not enrolled: a gap, more often for category members
        subsidy = np.where(has & (r < 0.10), "none", subsidy)  # enrolled, subsidy missing
        person, year = np.nonzero(enrolled)
        return pd.DataFrame({
            "person_id": persons["person_id"].to_numpy()[person], "year": years[year],
            "scheme": np.where(employee[person], "employee", "resident"),
            "enrolled_from": np.char.add(years[year].astype(str), "-01-01"),
            "enrolled_to": np.char.add(years[year].astype(str), "-12-31"),
            "premium_subsidy": subsidy[person, year]})

    # ---------- health ----------
    def claim_blocks(self, persons: pd.DataFrame, categories: pd.DataFrame,
                     enrollment: pd.DataFrame) -> Iterator[pa.Table]:
        """The claims of persons [0, B), [B, 2B), ... (B = CLAIM_BLOCK_PERSONS), one block at a time so that a
        large city's claims are never all in memory. Each block is numbered on after the rows of the
        blocks before it and reverses only its own claims; a city of one block is drawn as a whole."""
        drawn = 0
        for lo in range(0, len(persons), CLAIM_BLOCK_PERSONS):
            block = persons.iloc[lo:lo + CLAIM_BLOCK_PERSONS].reset_index(drop=True)
            if len(block) < len(persons):
                categories_of = categories[categories["person_id"].isin(block["person_id"])]
                enrollment_of = enrollment[enrollment["person_id"].isin(block["person_id"])]
            else:
                categories_of, enrollment_of = categories, enrollment
            claims = self.claims(block, categories_of, enrollment_of, first_number=drawn + 1)
            drawn += len(claims)
            yield claims
            del claims  # before the next block is drawn

    def claims(self, persons: pd.DataFrame, categories: pd.DataFrame, enrollment: pd.DataFrame,
               first_number: int = 1) -> pa.Table:
        """The claims of `persons`, numbered from `first_number`."""
        rng = self.rng
        n = len(persons)
        age = persons["age"].to_numpy()
        band = _band(age)
        years = self.span_days / 365.25
        parts = []

        def routine(visit_type, rate, level_share, mean, diagnoses, sigma):
            counts = rng.poisson(rate[band] * years)
            who = np.repeat(np.arange(n), counts)
            m = len(who)
            day = self.t0 + rng.integers(0, self.span_days, m) * DAY
            level = rng.choice([1, 2, 3], m, p=level_share)
            cost = _lognormal(rng, mean[level - 1], sigma)
            diag = _diagnosis(diagnoses)[rng.integers(len(diagnoses), size=m)]
            if visit_type == "inpatient":
                los = np.clip(rng.poisson(7, m) + 1, 1, 40)
                return _part(who, visit_type, day, level, cost, diag, rng.uniform(0.08, 0.2, m), discharge=day + los * DAY)
            return _part(who, visit_type, day, level, cost, diag, rng.uniform(0.03, 0.15, m))

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
        diag = _diagnosis(CHRONIC_DIAGNOSES)[rng.integers(len(CHRONIC_DIAGNOSES), size=len(chronic))]
        parts.append(self._monthly(chronic, first, 650.0, 0.5, diag, 0.05))

        parts.extend(self._catastrophes(age, band, years))
        return self._assemble(parts, persons, categories, enrollment, first_number)

    def _monthly(self, who, first, mean, sigma, diag, out_share, level=None) -> dict:
        """One special-outpatient claim about every 30 days from `first` to the end."""
        rng = self.rng
        span = ((self.t1 - first) / DAY).astype(np.int64)
        count = np.maximum(span // 30 + 1, 0)
        idx = np.repeat(np.arange(len(who)), count)
        day = first[idx] + (_within(count) * 30 + rng.integers(0, 5, len(idx))) * DAY
        keep = day <= self.t1
        idx, day = idx[keep], day[keep]
        m = len(idx)
        lvl = rng.choice([2, 3], m, p=[0.6, 0.4]) if level is None else np.full(m, level)
        return _part(np.asarray(who)[idx], "special_outpatient", day, lvl, _lognormal(rng, np.full(m, mean), sigma),
                     np.asarray(diag)[idx], np.full(m, out_share))

    def _catastrophes(self, age, band, years) -> list[dict]:
        """Who falls catastrophically ill, with what and when; then each illness's claims."""
        rng = self.rng
        hit = np.flatnonzero(rng.random(len(age)) < CATASTROPHIC_PER_YEAR[band] * (years + 0.5))
        fits = np.array([[c.min_age <= a <= c.max_age for c in CATASTROPHES] for a in range(121)])
        weight = fits[np.minimum(age[hit], 120)] * np.array([c.weight for c in CATASTROPHES])
        total = weight.sum(axis=1)
        hit, weight, total = hit[total > 0], weight[total > 0], total[total > 0]
        draw = rng.random(len(hit)) * total
        kind = (np.cumsum(weight, axis=1) <= draw[:, None]).sum(axis=1)
        onset = self.t0 + rng.integers(-180, self.span_days, len(hit)) * DAY
        code = np.empty(len(hit), np.int64)
        for k, catastrophe in enumerate(CATASTROPHES):
            mine = kind == k
            code[mine] = _diagnosis(catastrophe.codes)[rng.integers(len(catastrophe.codes), size=mine.sum())]
        treatment = {"cancer": self._cancer, "dialysis": self._dialysis, "stroke": self._stroke,
                     "leukaemia": self._leukaemia}
        parts = [self._early_signs(hit, onset)]
        for k, catastrophe in enumerate(CATASTROPHES):
            mine = kind == k
            parts += treatment[catastrophe.kind](hit[mine], code[mine], onset[mine])
        return parts

    def _early_signs(self, who, onset) -> dict:
        """A few diagnostic visits at level 3 in the weeks before the illness is named."""
        rng = self.rng
        idx = np.repeat(np.arange(len(who)), rng.integers(2, 5, len(who)))
        m = len(idx)
        return _part(who[idx], "outpatient", onset[idx] - rng.integers(5, 75, m) * DAY, np.full(m, 3),
                     rng.uniform(400, 1800, m), _diagnosis(EARLY_SIGN_DIAGNOSES)[rng.integers(5, size=m)],
                     np.full(m, 0.1))

    def _stays(self, who, code, admit, los, level, cost, out_share) -> dict:
        m = len(who)
        return _part(who, "inpatient", admit, np.broadcast_to(level, (m,)), cost, code,
                     np.broadcast_to(out_share, (m,)).astype(float), discharge=admit + los * DAY)

    def _cycles(self, count, start, gap_lo, gap_hi):
        """Treatment cycles: `count` (≥ 1) per patient from `start`, gaps drawn in [gap_lo, gap_hi) days.
        Returns (patient index, cycle number, day of each cycle, day after the last gap) per cycle."""
        idx = np.repeat(np.arange(len(count)), count)
        gap = self.rng.integers(gap_lo, gap_hi, len(idx))
        if not len(idx):
            return idx, idx, start[idx], start
        before = np.cumsum(gap) - gap
        first = np.cumsum(count) - count
        offset = before - np.repeat(before[first], count)
        return idx, _within(count), start[idx] + offset * DAY, start + np.add.reduceat(gap, first) * DAY

    def _cancer(self, who, code, onset) -> list[dict]:
        rng = self.rng
        m = len(who)
        parts = [self._stays(who, code, onset, rng.integers(10, 21, m), 3, rng.uniform(45000, 90000, m), 0.18)]
        idx, cycle, day, end = self._cycles(rng.integers(4, 11, m), onset + 25 * DAY, 21, 36)
        k = len(idx)
        share = np.where(cycle < 3, 0.18, 0.45)  # later cycles: targeted drugs outside the policy scope
        parts.append(self._stays(who[idx], code[idx], day, rng.integers(3, 7, k), 3,
                                 rng.uniform(12000, 30000, k) * (1 + 0.08 * cycle), share))
        follow = rng.random(m) < 0.6
        parts.append(self._monthly(who[follow], end[follow], 9000.0, 0.3, code[follow], 0.6, level=3))
        return parts

    def _dialysis(self, who, code, onset) -> list[dict]:
        rng = self.rng
        m = len(who)
        return [self._stays(who, code, onset, rng.integers(7, 15, m), 3, rng.uniform(20000, 40000, m), 0.1),
                self._monthly(who, onset + 14 * DAY, 7500.0, 0.15, code, 0.08, level=2)]

    def _stroke(self, who, code, onset) -> list[dict]:
        rng = self.rng
        m = len(who)
        return [self._stays(who, code, onset, rng.integers(14, 28, m), 3, rng.uniform(35000, 80000, m), 0.15),
                self._stays(who, code, onset + 35 * DAY, rng.integers(20, 40, m), 2, rng.uniform(20000, 45000, m), 0.25),
                self._monthly(who, onset + 80 * DAY, 1800.0, 0.3, code, 0.2)]

    def _leukaemia(self, who, code, onset) -> list[dict]:
        rng = self.rng
        idx, _, day, _ = self._cycles(rng.integers(6, 10, len(who)), onset, 28, 40)
        k = len(idx)
        return [self._stays(who[idx], code[idx], day, rng.integers(10, 25, k), 3, rng.uniform(30000, 70000, k), 0.25)]

    def _assemble(self, parts, persons, categories, enrollment, first_number: int) -> pa.Table:
        """The claims feed as an arrow table; amounts stay integer cents until written (`_amounts`)."""
        rng = self.rng
        part = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        parts.clear()  # the batches are copied into `part`: free them before the columns are built
        inpatient = part["discharge"] != NO_DAY
        settle = np.where(inpatient, part["discharge"] + rng.integers(0, 3, len(inpatient)) * DAY, part["day"])
        keep = (settle >= self.t0) & (settle <= self.t1)
        part = {key: v[keep] for key, v in part.items()}
        settle = settle[keep]
        order = np.lexsort((part["cost"], part["visit"], part["who"], settle))
        part = {key: v[order] for key, v in part.items()}
        settle, who, level = settle[order], part["who"], part["level"]
        m = len(who)
        in_city = rng.random(m) >= 0.03
        # Hospitals: 20 level-1, 10 level-2 and 6 level-3 per district, H<district><level><nn>.
        district = persons["district_code"].to_numpy()[who]
        hospital_number = rng.integers(1, 100, m) % np.array([0, 20, 10, 6])[level] + 1

        # Scheme of the claim's year decides the fund's share.
        year_index = settle.astype("datetime64[Y]").astype(np.int64) + 1970 - self.years[0]
        scheme = np.zeros((len(persons), len(self.years)), np.int8)  # 0 none, 1 employee, 2 resident
        enrolled_who = pd.Index(persons["person_id"]).get_indexer(enrollment["person_id"])
        scheme[enrolled_who, enrollment["year"].to_numpy() - self.years[0]] = np.where(
            enrollment["scheme"].to_numpy() == "employee", 1, 2)
        claim_scheme = scheme[who, year_index]
        inpatient_like = (part["visit"] == VISIT_CODE["inpatient"]) | (part["visit"] == VISIT_CODE["special_outpatient"])
        fund_ratio = np.select([claim_scheme == 1, claim_scheme == 2],
                               [np.where(inpatient_like, 0.85, 0.65), np.where(inpatient_like, 0.65, 0.5)], 0.0)
        fund_ratio = fund_ratio - np.where(level == 3, 0.05, 0.0) * (fund_ratio > 0)
        fund_ratio = np.where(in_city, fund_ratio, fund_ratio * 0.8)

        total = np.round(part["cost"] * 100).astype(np.int64)
        out = np.round(total * part["out_share"]).astype(np.int64)
        scope = total - out
        fund = np.round(scope * fund_ratio).astype(np.int64)
        after_fund = scope - fund
        critical = np.where((part["visit"] == VISIT_CODE["inpatient"]) & (after_fund > 1_500_000),
                            np.round((after_fund - 1_500_000) * 0.6), 0).astype(np.int64)
        other = np.where(rng.random(m) < 0.05, np.round((after_fund - critical) * 0.1), 0).astype(np.int64)
        before_assist = after_fund - critical - other
        covered = self._covered(who, settle, persons, categories)
        paid_rate = np.where(rng.random(m) < 0.7, rng.choice([0.5, 0.6, 0.7, 0.8, 0.9], m), 0.0)
        assist = np.where(covered, np.round(before_assist * paid_rate), 0).astype(np.int64)
        self_in = before_assist - assist
        cents = {"total_cost": total, "policy_scope_cost": scope, "basic_fund_paid": fund,
                 "critical_illness_paid": critical, "assistance_paid": assist, "other_paid": other,
                 "self_pay_in_scope": self_in, "self_pay_out_scope": out}
        # A million-person city holds ~8 million rows: drop what is spent before the columns are built.
        del fund_ratio, after_fund, before_assist, paid_rate, covered, claim_scheme, scheme, inpatient_like
        del part["cost"], part["out_share"]

        rows = np.arange(m)
        original, reversal, day, number = self._reversals(settle)
        rows = np.concatenate([rows, original])
        settle = np.concatenate([settle, day])
        number = np.concatenate([np.arange(1, m + 1), number])
        sign = np.concatenate([np.ones(m, np.int64), np.where(reversal, -1, 1)])
        order = np.lexsort((number, settle))
        rows, settle, number, sign = rows[order], settle[order], number[order], sign[order]
        number = number + (first_number - 1)
        prefix = f"CL{self.seed % 1000:03d}"
        inpatient_row = part["discharge"][rows] != NO_DAY
        hospital = (np.searchsorted(DISTRICTS, district[rows]) * 4 + level[rows]) * 100 + hospital_number[rows]
        hospitals, hospital_index = np.unique(hospital, return_inverse=True)
        hospital_names = [f"H{DISTRICTS[h // 400]}{h // 100 % 4}{h % 100:02d}" for h in hospitals]
        columns = {
            "claim_id": _numbered(prefix, number, CLAIM_NUMBER_DIGITS),
            "person_id": pa.array(persons["person_id"].to_numpy(), pa.string()).take(pa.array(who[rows])),
            "visit_type": pa.array(list(VISIT_TYPES)).take(pa.array(part["visit"][rows])),
            "admit_date": _dates(part["day"][rows], inpatient_row),
            "discharge_date": _dates(part["discharge"][rows], inpatient_row),
            "settle_date": _dates(settle),
            "hospital_id": pa.array(hospital_names, pa.string()).take(pa.array(hospital_index)),
            "hospital_level": pa.array(["", "1", "2", "3"]).take(pa.array(level[rows])),
            "in_city": pc.if_else(pa.array(in_city[rows]), "true", "false"),
            "diagnosis_code": pa.array(DIAGNOSES).take(pa.array(part["diag"][rows])),
            **{name: pa.array(v[rows] * sign) for name, v in cents.items()},  # cents, formatted when written
            "reversal_of": pc.if_else(pa.array(sign < 0), _numbered(prefix, rows + first_number, CLAIM_NUMBER_DIGITS),
                                      ""),
        }
        return pa.table({c: columns[c] for c in FEEDS["claims"].column_names})

    def _covered(self, who, settle, persons, categories) -> np.ndarray:
        """Whether the person held any assistance category on the claim's date."""
        covered = np.zeros(len(who), bool)
        if categories.empty:
            return covered
        holder = pd.Index(persons["person_id"]).get_indexer(categories["person_id"])
        candidates = np.flatnonzero(np.isin(who, holder))
        claims = pd.DataFrame({"row": candidates, "who": who[candidates], "day": _iso(settle[candidates])})
        spans = pd.DataFrame({"who": holder, "valid_from": categories["valid_from"].to_numpy(),
                              "valid_to": categories["valid_to"].replace("", "9999-12-31").to_numpy()})
        merged = claims.merge(spans, on="who")
        covered[merged.loc[(merged["valid_from"] <= merged["day"]) & (merged["day"] <= merged["valid_to"]), "row"]] = True
        return covered

    def _reversals(self, settle: np.ndarray):
        """~0.5% of settlements are reversed (冲销) a few days later; half are settled again.

        Returns, per extra row: the original row, whether it is the reversal (else the new settlement),
        its settle day and its claim number (numbered on after the originals)."""
        rng = self.rng
        m = len(settle)
        picked = np.flatnonzero(rng.random(m) < 0.005)
        day = settle[picked] + rng.integers(1, 21, len(picked)) * DAY
        again = rng.random(len(picked)) < 0.5
        inside = day <= self.t1
        picked, day, again = picked[inside], day[inside], again[inside]
        per = 1 + again.astype(np.int64)
        original = np.repeat(picked, per)
        reversal = _within(per) == 0
        number = m + 1 + np.arange(len(original))
        return original, reversal, np.repeat(day, per), number

    # ---------- faults ----------
    def inject_faults(self, feeds: dict) -> dict[str, dict[str, int]]:
        """Append deliberately bad rows (copies of good rows, each broken one way)."""
        rng = self.rng
        report: dict[str, dict[str, int]] = {}
        if self.fault_rate <= 0:
            return report
        for feed, kinds in FAULT_KINDS.items():
            good = feeds[feed]
            k = int(round(len(good) * self.fault_rate))
            if k == 0 or len(good) == 0:
                continue
            picked = rng.integers(0, len(good), k)
            if isinstance(good, pa.Table):  # the claims: broken as text, like every other feed
                good = _amounts(good).cast(pa.schema([(name, pa.string()) for name in good.column_names]))
                sample = good.take(pa.array(picked)).to_pandas()
            else:
                sample = good.iloc[picked].copy().reset_index(drop=True)
            chosen = rng.choice(kinds, k)
            report[feed] = {str(x): int((chosen == x).sum()) for x in kinds}
            for i, kind in enumerate(chosen):
                sample.loc[i] = self._break(feed, kind, sample.loc[i].copy(), i)
            if isinstance(good, pa.Table):
                feeds[feed] = pa.concat_tables([good, pa.Table.from_pandas(sample, good.schema, preserve_index=False)])
            else:
                feeds[feed] = pd.concat([good, sample], ignore_index=True)
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
    def build(self) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
        """Every feed but the claims, and the persons with what their claims are drawn by (age): the
        claims are drawn after, block by block (`claim_blocks`)."""
        persons = self.economy(self.persons())
        categories = self.categories(persons)
        enrollment = self.enrollment(persons, categories)
        income = self.household_income(persons)
        params = self.params[["name", "year", "value"]].copy()
        charity = pd.DataFrame(CHARITY_PROGRAMS, columns=FEEDS["charity_programs"].column_names)
        return {
            "persons": persons[FEEDS["persons"].column_names],
            "household_income": income, "assistance_categories": categories,
            "enrollment": enrollment, "parameters": params,
            "charity_programs": charity,
            "outreach_feedback": pd.DataFrame(columns=FEEDS["outreach_feedback"].column_names),
        }, persons


def _write_daily(claims: pa.Table, folder: Path, last_night: str, encoding: str, part: int) -> None:
    """One folder per settle date, the rows in `part-<part>.csv` (a block of persons' claims); a row with an
    unparseable date arrives in the last night's delivery."""
    settle = claims["settle_date"]
    real = pc.is_valid(pc.strptime(settle, format="%Y-%m-%d", unit="s", error_is_null=True))
    night = pc.if_else(real, settle, last_night)
    order = pc.sort_indices(night)  # stable: each day keeps the feed's order
    if not np.array_equal(order.to_numpy(), np.arange(len(order))):  # only appended faults move: no copy else
        claims, night = claims.take(order), night.take(order)
    nights = pc.dictionary_encode(night).combine_chunks() if isinstance(night, pa.ChunkedArray) else \
        pc.dictionary_encode(night)
    codes = nights.indices.to_numpy()
    bounds = [0, *(np.flatnonzero(np.diff(codes)) + 1), len(codes)]
    header = (",".join(claims.column_names) + "\n").encode(encoding)
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    for lo, hi in zip(bounds, bounds[1:]):
        day = nights.dictionary[codes[lo]].as_py()
        (folder / day).mkdir(exist_ok=True)
        with open(folder / day / f"part-{part}.csv", "wb") as sink:
            sink.write(header)
            pa_csv.write_csv(_amounts(claims.slice(lo, hi - lo)), sink, options)


# Rows per file of an undated feed: a person row is about 160 bytes, so a part stays far below the
# feed-file limit (settings.max_feed_file_bytes, 128 MiB) whatever the city's size.
PART_ROWS = 250_000


def generate(city: str, persons: int, start: dt.date, end: dt.date, seed: int, out: Path,
             faults: float = 0.0) -> Summary:
    """Write every feed of the contract for a synthetic city into `out`."""
    gen = CityGenerator(CITIES[city], persons, start, end, seed, faults)
    feeds, residents = gen.build()
    summary = Summary(out=out)
    rows: dict[str, int] = {}
    claim_days: set[str] = set()
    claims_folder = out / "claims"
    claims_folder.mkdir(parents=True, exist_ok=True)
    blocks = gen.claim_blocks(residents, feeds["assistance_categories"], feeds["enrollment"])
    for block, claims in enumerate(blocks):
        if block == 0:  # faults are drawn after the claims (a city with faults has a single block)
            feeds["claims"] = claims
            summary.faults = gen.inject_faults(feeds)
            claims = feeds.pop("claims")
        _write_daily(claims, claims_folder, end.isoformat(), FEED_ENCODING.get("claims", "utf-8"), block)
        rows["claims"] = rows.get("claims", 0) + len(claims)
        claim_days.update(pc.unique(claims["settle_date"]).to_pylist())
        del claims  # before the next block is drawn
    summary.claim_days = len(claim_days)
    for name, df in feeds.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        encoding = FEED_ENCODING.get(name, "utf-8")
        # In parts, as a large city delivers them: each within the feed-file size limit.
        for part, lo in enumerate(range(0, max(len(df), 1), PART_ROWS)):
            df.iloc[lo:lo + PART_ROWS].to_csv(folder / f"part-{part}.csv", index=False, encoding=encoding)
        rows[name] = len(df)
    summary.rows = {name: rows[name] for name in FEEDS if name in rows}
    (out / "_synth_manifest.json").write_text(json.dumps(
        {"city": city, "persons": persons, "start": start.isoformat(), "end": end.isoformat(),
         "seed": seed, "fault_rate": faults, "rows": summary.rows, "faults": summary.faults,
         "claim_days": summary.claim_days}, ensure_ascii=False, indent=2),
        encoding="utf-8")
    return summary
