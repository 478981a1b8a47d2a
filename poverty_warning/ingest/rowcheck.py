"""Row-level checks of ../shared/contract/README.md §3, vectorised per column.

`check` types a file's rows and splits them into loaded rows and quarantined
rows, each quarantined row with every reason that applies, in Chinese, so a
data-quality reviewer can act on it. Checks that need other files (does the
person exist, is the claim id new, does a reversal match an original) take
what is already landed as a `Reference`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from poverty_warning.contract import ids
from poverty_warning.contract import AMOUNT, BOOL, DATE, ENUM, FALSE_WORDS, FEEDS, ID, INT, TEXT, TRUE_WORDS, Feed

# ASCII digits only: \d would also match other scripts' digits, which int() and float() accept.
AMOUNT_RE = r"-?[0-9]+(\.[0-9]{1,2})?"
INT_RE = r"-?[0-9]+(\.0+)?"
DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# What the warehouse stores: INTEGER, and DECIMAL(18,2) (16 digits before the point).
INT_RANGE = (-(2**31 - 1), 2**31 - 1)
LARGEST_AMOUNT_CENTS = 10**18 - 1
# Control characters (tab and line breaks aside) in a text value: a NUL, an escape, a DEL.
CONTROL_RE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
CLAIM_AMOUNTS = ["total_cost", "policy_scope_cost", "basic_fund_paid", "critical_illness_paid",
                 "assistance_paid", "other_paid", "self_pay_in_scope", "self_pay_out_scope"]
LARGEST_PLAUSIBLE_CLAIM_CENTS = 5_000_000 * 100  # a single settlement over 5 million is not plausible
MAX_AGE_YEARS = 120


@dataclass
class Reference:
    """What earlier files (this night or before) already landed."""
    person_ids: set[str] = field(default_factory=set)
    claim_amounts: dict[str, tuple[int, ...]] = field(default_factory=dict)  # claim_id -> cents
    reversed_claims: set[str] = field(default_factory=set)
    # case_id -> sub-district of every case sent so far; None where no list was ever published (`assess`)
    cases: dict[str, str] | None = None


@dataclass
class Checked:
    loaded: pd.DataFrame  # typed columns, plus _row_number
    quarantined: pd.DataFrame  # _row_number, reason
    loaded_index: np.ndarray  # positions in the input frame
    quarantined_index: np.ndarray
    failed: dict[str, np.ndarray] = field(default_factory=dict)  # check code -> rows that failed it


class _Reasons:
    """Reasons per row, and per check code the rows that failed it (for the expectation suites)."""

    def __init__(self, n: int):
        self.n = n
        self.items: list[list[str]] = [[] for _ in range(n)]
        self.failed: dict[str, np.ndarray] = {}

    def _mark(self, check: str) -> np.ndarray:
        return self.failed.setdefault(check, np.zeros(self.n, dtype=bool))

    def add(self, mask, text, check: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        self._mark(check)[mask] = True
        idx = np.flatnonzero(mask)
        if isinstance(text, pd.Series):
            for i in idx:
                self.items[i].append(text.iloc[i])
        else:
            for i in idx:
                self.items[i].append(text)

    def fail(self, i: int, text: str, check: str) -> None:
        self._mark(check)[i] = True
        self.items[i].append(text)

    def bad(self) -> np.ndarray:
        return np.array([bool(r) for r in self.items], dtype=bool)


def _text(values: pd.Series, keep) -> pd.Series:
    """Object column with None (not NaN) where a value is missing or rejected."""
    return pd.Series([v if k else None for v, k in zip(values, keep)], dtype=object)


def _shown(value) -> str:
    """A raw value as a reason quotes it: digit runs as long as a resident ID masked, control
    characters replaced, long values cut, so a quarantine reason never carries an ID or a payload."""
    text = re.sub(r"[0-9]{17,}[0-9Xx]?", lambda m: ids.mask(m.group()), str(value))
    text = re.sub(CONTROL_RE, "\ufffd", text)
    return text if len(text) <= 40 else text[:40] + "…"


def _whole_int(v: str) -> int | None:
    """The integer a value matching INT_RE spells, exactly (no float rounding); None if absurdly long."""
    whole = v.split(".")[0]
    return int(whole) if len(whole) <= 24 else None


def _cents(v: str) -> int | None:
    """The cents a value matching AMOUNT_RE spells, exactly; None if absurdly long."""
    sign = -1 if v.startswith("-") else 1
    whole, _, frac = v.lstrip("-").partition(".")
    return sign * (int(whole) * 100 + int((frac + "00")[:2])) if len(whole) <= 24 else None


def _bool(v: str):
    low = v.lower()
    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    return None


def check(feed_name: str, frame: pd.DataFrame, ref: Reference) -> Checked:
    feed: Feed = FEEDS[feed_name]
    n = len(frame)
    reasons = _Reasons(n)
    out = pd.DataFrame({"_row_number": frame["_row_number"].astype(int).to_numpy()})
    if "_delivery_date" in frame:
        out["_delivery_date"] = frame["_delivery_date"].to_numpy()
    for col in feed.columns:
        raw = frame[col.name].astype(str) if col.name in frame else pd.Series([""] * n, dtype=object)
        raw = raw.reset_index(drop=True)
        empty = raw.eq("")
        if col.default is not None:
            raw = raw.mask(empty, col.default)
            empty = raw.eq("")
        if col.required:
            reasons.add(empty, f"必填字段 {col.name} 为空", f"required:{col.name}")
        present = ~empty
        if col.type == ID:
            problems = raw[present].map(ids.problem)
            bad = problems.notna()
            reasons.add(present & bad.reindex(raw.index, fill_value=False),
                        (col.name + " " + problems.reindex(raw.index).fillna("")), f"resident_id:{col.name}")
            out[col.name] = _text(raw.str.upper(), present)
        elif col.type == DATE:
            parsed = pd.to_datetime(raw.where(raw.str.fullmatch(DATE_RE)), format="%Y-%m-%d", errors="coerce")
            reasons.add(present & parsed.isna(), f"{col.name} 不是有效日期（应为YYYY-MM-DD）", f"date:{col.name}")
            out[col.name] = pd.Series([d.date() if not pd.isna(d) else None for d in parsed], dtype=object)
        elif col.type == INT:
            shaped = raw.str.fullmatch(INT_RE) & present
            values = [_whole_int(v) if g else None for v, g in zip(raw, shaped)]
            low, high = INT_RANGE
            ok = np.array([v is not None and low <= v <= high for v in values], dtype=bool)
            reasons.add(present & ~ok, f"{col.name} 不是整数（或超出±{high}）", f"integer:{col.name}")
            out[col.name] = pd.array([v if g else None for v, g in zip(values, ok)], dtype="Int64")
        elif col.type == AMOUNT:
            shaped = raw.str.fullmatch(AMOUNT_RE) & present
            values = [_cents(v) if g else None for v, g in zip(raw, shaped)]
            ok = np.array([v is not None and abs(v) <= LARGEST_AMOUNT_CENTS for v in values], dtype=bool)
            reasons.add(present & ~ok, f"{col.name} 金额格式错误（应为至多两位小数的数字）",
                        f"amount:{col.name}")
            cents = pd.array([v if g else None for v, g in zip(values, ok)], dtype="Int64")
            out[col.name] = cents
            if not col.signed:
                reasons.add(present & ok & (cents < 0).fillna(False).to_numpy(), f"{col.name} 不能为负数", f"non_negative:{col.name}")
        elif col.type == BOOL:
            parsed = raw.map(_bool)
            reasons.add(present & parsed.isna(), f"{col.name} 不是布尔值（true/false、1/0、是/否）", f"boolean:{col.name}")
            out[col.name] = pd.Series([v if p else None for v, p in zip(parsed, present)], dtype=object)
        elif col.type == ENUM:
            if col.aliases:  # e.g. a status written in Chinese: stored as its code
                raw = raw.replace(dict(col.aliases))
            ok = raw.isin(col.enum)
            label = "/".join(col.enum) + ("，或" + "/".join(a for a, _ in col.aliases) if col.aliases else "")
            reasons.add(present & ~ok,
                        raw.map(lambda v, c=col.name, lab=label: f"{c} 取值“{_shown(v)}”不在允许范围（{lab}）"),
                        f"enum:{col.name}")
            out[col.name] = _text(raw, present & ok)
        else:
            ok = ~raw.str.contains(CONTROL_RE)
            reasons.add(present & ~ok, f"{col.name} 含有控制字符", f"printable:{col.name}")
            if col.form:
                shaped = raw.str.fullmatch(col.form)
                reasons.add(present & ~shaped, f"{col.name} 格式错误（应为{col.form_zh}）", f"form:{col.name}")
                ok &= shaped
            out[col.name] = _text(raw, present & ok)
    extra = getattr(_FEED_CHECKS, feed_name, None)
    if extra:
        extra(out, reasons, ref)
    bad = reasons.bad()
    quarantined = pd.DataFrame({"_row_number": out["_row_number"][bad].to_numpy(),
                                "reason": ["；".join(r) for r, b in zip(reasons.items, bad) if b]})
    return Checked(out[~bad].drop(columns=["_delivery_date"], errors="ignore").reset_index(drop=True), quarantined,
                   np.flatnonzero(~bad), np.flatnonzero(bad), reasons.failed)


class _FEED_CHECKS:
    """Checks that look across columns or at other files, one function per feed."""

    @staticmethod
    def persons(out: pd.DataFrame, reasons: _Reasons, ref: Reference) -> None:
        pid = out["person_id"]
        valid = pid.notna() & pid.map(lambda v: isinstance(v, str) and ids.is_valid(v))
        derived_sex = pid.where(valid).map(lambda v: ids.sex(v) if isinstance(v, str) else None)
        out["sex"] = out["sex"].where(out["sex"].notna(), derived_sex)
        derived_birth = pid.where(valid).map(lambda v: ids.birth_date(v) if isinstance(v, str) else None)
        out["birth_date"] = out["birth_date"].where(out["birth_date"].notna(), derived_birth)
        reasons.add(pid.notna() & pid.duplicated(keep="first"), "person_id 在同一文件中重复", "unique:person_id")
        both = out["district_code"].notna() & out["subdistrict_code"].notna()
        reasons.add((both & (out["subdistrict_code"].str[:6] != out["district_code"])).to_numpy(),
                    "subdistrict_code 的前6位与 district_code 不一致", "area_within_district")
        if "_delivery_date" in out:
            born = pd.to_datetime(out["birth_date"], errors="coerce")
            delivered = pd.to_datetime(out["_delivery_date"], errors="coerce")
            implausible = (born > delivered) | (born < delivered - pd.DateOffset(years=MAX_AGE_YEARS))
            reasons.add(implausible.fillna(False).to_numpy(), f"出生日期不合理（晚于送达日期或年龄超过{MAX_AGE_YEARS}岁）",
                        "plausible:birth_date")

    @staticmethod
    def assistance_categories(out, reasons, ref) -> None:
        _known_person(out, reasons, ref)
        later = out["valid_to"].notna() & out["valid_from"].notna()
        reasons.add(later & (out["valid_to"] < out["valid_from"]).fillna(False), "valid_to 早于 valid_from", "valid_range")

    @staticmethod
    def enrollment(out, reasons, ref) -> None:
        _known_person(out, reasons, ref)

    @staticmethod
    def claims(out, reasons, ref) -> None:
        _known_person(out, reasons, ref)
        amounts = out[CLAIM_AMOUNTS]
        complete = amounts.notna().all(axis=1).to_numpy()
        a = {c: out[c].fillna(0).astype("int64").to_numpy() for c in CLAIM_AMOUNTS}
        reversal = out["reversal_of"].notna().to_numpy()
        negative = np.zeros(len(out), bool)
        for c in CLAIM_AMOUNTS:
            negative |= a[c] < 0
        reasons.add(complete & ~reversal & negative, "非冲销记录的金额为负数", "non_negative_original")
        reasons.add(complete & reversal & np.any([a[c] > 0 for c in CLAIM_AMOUNTS], axis=0),
                    "冲销记录的金额应为原结算的负数", "reversal_sign")
        total_ok = a["total_cost"] == a["policy_scope_cost"] + a["self_pay_out_scope"]
        scope_ok = a["policy_scope_cost"] == (a["basic_fund_paid"] + a["critical_illness_paid"] + a["other_paid"]
                                              + a["assistance_paid"] + a["self_pay_in_scope"])
        reasons.add(complete & ~total_ok, "total_cost 不等于 policy_scope_cost + self_pay_out_scope", "identity:total_cost")
        reasons.add(complete & ~scope_ok, "policy_scope_cost 不等于 基金+大病+其他+救助+个人自付 之和", "identity:policy_scope_cost")
        reasons.add(complete & (np.abs(a["total_cost"]) > LARGEST_PLAUSIBLE_CLAIM_CENTS),
                    "单笔结算金额超过500万元，不合理", "plausible:total_cost")
        inpatient = out["visit_type"].eq("inpatient").to_numpy()
        reasons.add(inpatient & out["discharge_date"].isna().to_numpy(), "住院结算缺少 discharge_date", "inpatient_discharge")
        has_both = out["admit_date"].notna() & out["discharge_date"].notna()
        reasons.add((has_both & (out["discharge_date"] < out["admit_date"]).fillna(False)).to_numpy(),
                    "discharge_date 早于 admit_date", "discharge_after_admit")
        # Claim ids: new to this file and to what is landed.
        cid = out["claim_id"]
        dup = cid.notna() & (cid.duplicated(keep="first") | cid.isin(ref.claim_amounts.keys()))
        reasons.add(dup.to_numpy(), "claim_id 重复（已有相同结算号）", "unique:claim_id")
        # Reversals: must name a known original (earlier in this file or landed), once.
        amounts_by_id = dict(ref.claim_amounts)
        already = set(ref.reversed_claims)
        vec = np.stack([a[c] for c in CLAIM_AMOUNTS], axis=1) if len(out) else np.zeros((0, 8), int)
        for i in range(len(out)):
            c = cid.iat[i]
            target = out["reversal_of"].iat[i]
            if target is not None and complete[i]:
                orig = amounts_by_id.get(target)
                if orig is None:
                    reasons.fail(i, f"冲销的原结算 {_shown(target)} 不存在", "reversal_known")
                elif target in already:
                    reasons.fail(i, f"原结算 {_shown(target)} 已被冲销过", "reversal_once")
                elif tuple(-x for x in vec[i]) != orig:
                    reasons.fail(i, f"冲销金额与原结算 {_shown(target)} 不符", "reversal_amounts")
            if not reasons.items[i] and c is not None:
                if target is None:
                    amounts_by_id[c] = tuple(int(x) for x in vec[i])
                else:
                    already.add(target)


    @staticmethod
    def outreach_feedback(out, reasons, ref) -> None:
        """Feedback applies to a case that was sent, and only from the sub-district it was sent to."""
        if ref.cases is None:
            return
        cid = out["case_id"]
        reasons.add((cid.notna() & ~cid.isin(ref.cases.keys())).to_numpy(),
                    cid.map(lambda c: f"案件编号 {c} 不存在（不是外展名单发出的案件）"), "known_case")
        home = cid.map(ref.cases)
        sender = out["subdistrict_code"]
        foreign = (sender.notna() & home.notna() & (sender != home)).to_numpy()
        reasons.add(foreign, pd.Series([f"案件 {c} 属于街道 {h}，不能由街道 {s} 的名单反馈" for c, h, s in
                                        zip(cid, home, sender)]), "own_subdistrict")


def _known_person(out: pd.DataFrame, reasons: _Reasons, ref: Reference) -> None:
    pid = out["person_id"]
    reasons.add((pid.notna() & ~pid.isin(ref.person_ids)).to_numpy(), "person_id 不在人员信息（persons）中", "known_person")


# Every check code `check` can report, per feed, with what it means: the expectation suites
# (expectations/<feed>.json) hold one expectation per code.
_TYPE_CHECKS = {ID: ("resident_id", "符合GB 11643的身份证号"), DATE: ("date", "有效日期"),
                INT: ("integer", "整数"), AMOUNT: ("amount", "至多两位小数的金额"), BOOL: ("boolean", "布尔值"),
                ENUM: ("enum", "取值在允许范围内")}
_FEED_CHECKS_ZH = {
    "persons": {"unique:person_id": "person_id 在文件中不重复", "plausible:birth_date": "出生日期在合理范围内",
                "area_within_district": "subdistrict_code 的前6位与 district_code 一致"},
    "assistance_categories": {"known_person": "人员在 persons 中", "valid_range": "valid_to 不早于 valid_from"},
    "enrollment": {"known_person": "人员在 persons 中"},
    "claims": {
        "known_person": "人员在 persons 中", "non_negative_original": "非冲销记录金额不为负",
        "reversal_sign": "冲销记录金额不为正", "identity:total_cost": "total_cost = policy_scope_cost + self_pay_out_scope",
        "identity:policy_scope_cost": "policy_scope_cost = 基金+大病+其他+救助+个人自付",
        "plausible:total_cost": "单笔结算不超过500万元", "inpatient_discharge": "住院结算有出院日期",
        "discharge_after_admit": "出院日期不早于入院日期", "unique:claim_id": "claim_id 不重复",
        "reversal_known": "冲销记录对应的原结算存在", "reversal_once": "原结算只被冲销一次",
        "reversal_amounts": "冲销金额与原结算相反",
    },
    "outreach_feedback": {"known_case": "案件编号是外展名单发出的案件",
                          "own_subdistrict": "反馈来自案件所属街道的名单"},
}


def checks_for(feed_name: str) -> dict[str, str]:
    feed = FEEDS[feed_name]
    checks: dict[str, str] = {}
    for col in feed.columns:
        if col.required:
            checks[f"required:{col.name}"] = f"{col.name} 必填"
        if col.type in _TYPE_CHECKS:
            code, text = _TYPE_CHECKS[col.type]
            checks[f"{code}:{col.name}"] = f"{col.name} 为{text}"
        if col.type == AMOUNT and not col.signed:
            checks[f"non_negative:{col.name}"] = f"{col.name} 不为负"
        if col.type == TEXT:
            checks[f"printable:{col.name}"] = f"{col.name} 不含控制字符"
        if col.form:
            checks[f"form:{col.name}"] = f"{col.name} 为{col.form_zh}"
    checks.update(_FEED_CHECKS_ZH.get(feed_name, {}))
    return checks


def _column_rules(col) -> str:
    """What the row checks validate in one column, in English, for the README."""
    low, high = INT_RANGE
    rule = {
        ID: "resident ID: 18 characters, 17 digits then a digit or X, a real birth date, valid check digit",
        DATE: "a real date, YYYY-MM-DD",
        INT: f"an integer (ASCII digits, `.0` allowed) within ±{high:,}",
        AMOUNT: "a number with at most 2 decimals and at most 16 digits before the point"
                + ("" if col.signed else ", not negative"),
        BOOL: "one of " + ", ".join(f"`{w}`" for w in TRUE_WORDS + FALSE_WORDS),
        ENUM: "one of " + ", ".join(f"`{v}`" for v in col.enum),
        TEXT: f"the whole value matches `{col.form}` ({col.form_zh})" if col.form
              else "no control characters (tab and line breaks allowed)",
    }[col.type]
    if col.default is not None:
        rule += f"; empty means `{col.default}`"
    return rule


def validation_table() -> str:
    """The README's list of what is validated for each feed column, generated so it cannot go stale."""
    from poverty_warning import settings

    lines = [
        "File-level checks (the run stops, exit 2, nothing written): required feed and columns present, no "
        "contract column twice, UTF-8 (with or without BOM) or GBK/GB18030 text or Parquet, and the limits in "
        f"`poverty_warning/settings.py`: at most {settings.MAX_FEED_FILE_BYTES:,} bytes per file, "
        f"{settings.MAX_LINE_BYTES:,} bytes per line, {settings.MAX_FIELD_CHARS:,} characters per field and "
        f"{settings.MAX_COLUMNS} columns (each overridable by the environment variable "
        "`POVERTY_WARNING_<NAME>`). A row of the wrong width is quarantined.",
        "",
    ]
    for feed in FEEDS.values():
        lines += [f"`{feed.name}` ({feed.title_zh})", "", "| column | required | validated |", "|---|---|---|"]
        for col in feed.columns:
            lines.append(f"| `{col.name}` | {'yes' if col.required else ''} | {_column_rules(col)} |")
        across = _FEED_CHECKS_ZH.get(feed.name, {})
        if across:
            lines += ["", "Across columns and files: " + "；".join(across.values()) + "。"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
