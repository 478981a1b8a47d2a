"""Row-level checks of ../shared/contract/README.md §3, as one DuckDB query over a feed's raw rows.

`checked_table` types a batch of rows held as strings in DuckDB and gives each row every reason that
applies, in Chinese, so a data-quality reviewer can act on it; a row with no reason loads. The checks are
SQL expressions (so a feed of millions of rows is checked at DuckDB's speed, spilling to disk within its
memory limit), except what only Python knows, evaluated once per distinct value: the resident-ID rules of
`contract.ids` and how a reason quotes a raw value (`_shown`). Checks that need other files (does the
person exist, is the claim id new, does a reversal match an original) read what is already landed from
reference tables (`Reference`, or the key index in `meta`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from poverty_warning.contract import ids
from poverty_warning.warehouse import limit_memory
from poverty_warning.contract import AMOUNT, BOOL, DATE, ENUM, FALSE_WORDS, FEEDS, ID, INT, TEXT, TRUE_WORDS, Feed

# ASCII digits only: \d would also match other scripts' digits, which int() and float() accept.
AMOUNT_RE = r"-?[0-9]+(\.[0-9]{1,2})?"
INT_RE = r"-?[0-9]+(\.0+)?"
DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# The dates pandas can hold (scoring and publishing read the warehouse into pandas).
DATE_RANGE = ("1677-09-22", "2262-04-11")
# What the warehouse stores: INTEGER, and DECIMAL(18,2) (16 digits before the point).
INT_RANGE = (-(2**31 - 1), 2**31 - 1)
LARGEST_AMOUNT_CENTS = 10**18 - 1
STORED_AMOUNT = "DECIMAL(18,2)"  # 16 digits before the point: |cents| <= LARGEST_AMOUNT_CENTS
LONGEST_NUMBER_DIGITS = 24  # longer digit runs are refused before any arithmetic
# Control characters (tab and line breaks aside) in a text value: a NUL, an escape, a DEL.
CONTROL_RE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
CLAIM_AMOUNTS = ["total_cost", "policy_scope_cost", "basic_fund_paid", "critical_illness_paid",
                 "assistance_paid", "other_paid", "self_pay_in_scope", "self_pay_out_scope"]
LARGEST_PLAUSIBLE_CLAIM_CENTS = 5_000_000 * 100  # a single settlement over 5 million is not plausible
MAX_AGE_YEARS = 120
REASON_SEPARATOR = "；"


@dataclass
class Reference:
    """What earlier files (this night or before) already landed."""
    person_ids: set[str] = field(default_factory=set)
    claim_amounts: dict[str, tuple[int, ...]] = field(default_factory=dict)  # claim_id -> cents
    reversed_claims: set[str] = field(default_factory=set)
    # case_id -> sub-district of every case sent so far; None where no list was ever published (`assess`)
    cases: dict[str, str] | None = None


# The reference tables `checked_table` reads (created by `reference_views` or `_reference_tables`).
REF_PERSONS, REF_ORIGINALS, REF_REVERSED, REF_CASES = "ref_persons", "ref_originals", "ref_reversed", "ref_cases"


@dataclass
class Checked:
    loaded: pd.DataFrame  # typed columns, plus _row_number
    quarantined: pd.DataFrame  # _row_number, reason
    loaded_index: np.ndarray  # positions in the input frame
    quarantined_index: np.ndarray
    failed: dict[str, np.ndarray] = field(default_factory=dict)  # check code -> rows that failed it


def _shown(value) -> str:
    """A raw value as a reason quotes it: digit runs as long as a resident ID masked, control
    characters replaced, long values cut, so a quarantine reason never carries an ID or a payload."""
    text = re.sub(r"[0-9]{17,}[0-9Xx]?", lambda m: ids.mask(m.group()), str(value))
    text = re.sub(CONTROL_RE, "\ufffd", text)
    return text if len(text) <= 40 else text[:40] + "…"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def flag(code: str) -> str:
    """The column of `checked_table` that is true where a row failed the check `code`."""
    return _q(f"f:{code}")


def raw(column: str) -> str:
    """The column of `checked_table` with the value as delivered ("" for empty)."""
    return _q(f"raw:{column}")


def _id_facts(con: duckdb.DuckDBPyConnection, stage: str, column: str, table: str, derive: bool) -> None:
    """What `contract.ids` says of each distinct delivered value of an ID column (once per value, not per
    row, all values at once): why it is not a valid ID, its upper-case and masked forms, and (if `derive`)
    the sex and birth date a valid one encodes."""
    values = [v for (v,) in con.execute(f"SELECT DISTINCT {_q(column)} FROM {stage}").fetchall()]
    problems = [problem if v else None for v, problem in zip(values, ids.problems_many(values))]
    encoded = [derive and bool(v) and problem is None for v, problem in zip(values, problems)]
    frame = pd.DataFrame({
        "value": values, "problem": problems, "upper_value": [v.upper() for v in values],
        "masked": [ids.mask(v) for v in values],
        "sex": [ids.sex(v) if e else None for v, e in zip(values, encoded)],
        "birth_date": [ids.birth_date(v) if e else None for v, e in zip(values, encoded)]}, dtype=object)
    con.register("_id_facts_frame", frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT CAST(value AS VARCHAR) AS value, "
                "CAST(problem AS VARCHAR) AS problem, CAST(upper_value AS VARCHAR) AS upper_value, "
                "CAST(masked AS VARCHAR) AS masked, CAST(sex AS VARCHAR) AS sex, "
                "CAST(birth_date AS DATE) AS birth_date FROM _id_facts_frame")
    con.unregister("_id_facts_frame")


def id_facts_table(column: str) -> str:
    return f"_id_facts_{column}"


def _register_functions(con: duckdb.DuckDBPyConnection) -> None:
    known = con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = 'pw_shown'").fetchall()[0][0]
    if not known:  # called only on the rare rows a reason quotes (CASE evaluates it there alone)
        con.create_function("pw_shown", _shown, ["VARCHAR"], "VARCHAR", side_effects=False)


class _Query:
    """The checks of one feed, in the order their reasons are listed: per column (required, type, sign,
    printable, form), then the checks across columns and files."""

    def __init__(self, feed: Feed):
        self.feed = feed
        self.reasons: list[tuple[str, str]] = []  # (check code, SQL of its reason text)
        self.internal: list[str] = []  # columns the reasons read that are not kept

    def reason(self, code: str, text_sql: str) -> None:
        self.reasons.append((code, text_sql))


def _typed_columns(q: _Query) -> tuple[list[str], list[str]]:
    """Per contract column: the value after defaults and aliases (`v:`), then its typed value and flags."""
    values, typed = [], []
    for col in q.feed.columns:
        v = raw(col.name)
        if col.default is not None:
            v = f"(CASE WHEN {v} = '' THEN {_lit(col.default)} ELSE {v} END)"
        if col.aliases:  # e.g. a status written in Chinese: stored as its code
            whens = " ".join(f"WHEN {_lit(a)} THEN {_lit(code)}" for a, code in col.aliases)
            v = f"(CASE {v} {whens} ELSE {v} END)"
        values.append(f"{v} AS {_q('v:' + col.name)}")
    for col in q.feed.columns:
        c, v = col.name, _q("v:" + col.name)
        present = f"({v} <> '')"
        if col.required:
            typed.append(f"NOT {present} AS {flag('required:' + c)}")
            q.reason(f"required:{c}", _lit(f"必填字段 {c} 为空"))
        if col.type == ID:
            typed.append(f"CASE WHEN {present} THEN {_q('upper:' + c)} END AS {_q(c)}")
            typed.append(f"{present} AND {_q('problem:' + c)} IS NOT NULL AS {flag('resident_id:' + c)}")
            q.reason(f"resident_id:{c}", f"{_lit(c + ' ')} || {_q('problem:' + c)}")
        elif col.type == DATE:
            low, high = DATE_RANGE
            parsed = f"TRY_CAST(try_strptime({v}, '%Y-%m-%d') AS DATE)"
            typed.append(f"CASE WHEN regexp_full_match({v}, {_lit(DATE_RE)}) AND {parsed} BETWEEN DATE '{low}' "
                         f"AND DATE '{high}' THEN {parsed} END AS {_q(c)}")
            q.reason(f"date:{c}", _lit(f"{c} 不是有效日期（应为YYYY-MM-DD）"))
        elif col.type == INT:
            low, high = INT_RANGE
            whole = f"split_part({v}, '.', 1)"
            number = f"TRY_CAST({whole} AS HUGEINT)"
            typed.append(f"CASE WHEN regexp_full_match({v}, {_lit(INT_RE)}) AND length({whole}) <= "
                         f"{LONGEST_NUMBER_DIGITS} AND {number} BETWEEN {low} AND {high} "
                         f"THEN CAST({number} AS INTEGER) END AS {_q(c)}")
            q.reason(f"integer:{c}", _lit(f"{c} 不是整数（或超出±{high}）"))
        elif col.type == AMOUNT:
            # STORED_AMOUNT holds exactly the amounts within ±LARGEST_AMOUNT_CENTS: a larger one does not cast.
            # A short value cannot have too many digits: only a long one is split to count them.
            cents = f"CAST(CAST(TRY_CAST({v} AS {STORED_AMOUNT}) AS DECIMAL(38,2)) * 100 AS BIGINT)"
            typed.append(f"CASE WHEN regexp_full_match({v}, {_lit(AMOUNT_RE)}) AND (length({v}) <= "
                         f"{LONGEST_NUMBER_DIGITS} OR length(ltrim(split_part({v}, '.', 1), '-')) <= "
                         f"{LONGEST_NUMBER_DIGITS}) THEN {cents} END AS {_q(c)}")
            q.reason(f"amount:{c}", _lit(f"{c} 金额格式错误（应为至多两位小数的数字）"))
            if not col.signed:
                q.reason(f"non_negative:{c}", _lit(f"{c} 不能为负数"))
        elif col.type == BOOL:
            words = lambda ws: ", ".join(_lit(w) for w in ws)  # noqa: E731
            typed.append(f"CASE WHEN lower({v}) IN ({words(TRUE_WORDS)}) THEN true "
                         f"WHEN lower({v}) IN ({words(FALSE_WORDS)}) THEN false END AS {_q(c)}")
            q.reason(f"boolean:{c}", _lit(f"{c} 不是布尔值（true/false、1/0、是/否）"))
        elif col.type == ENUM:
            allowed = ", ".join(_lit(e) for e in col.enum)
            typed.append(f"CASE WHEN {v} IN ({allowed}) THEN {v} END AS {_q(c)}")
            label = "/".join(col.enum) + ("，或" + "/".join(a for a, _ in col.aliases) if col.aliases else "")
            # A value that fails is as delivered (defaults and aliases are allowed values).
            q.reason(f"enum:{c}", f"{_lit(c + ' 取值“')} || pw_shown({raw(c)}) || "
                                  f"{_lit('”不在允许范围（' + label + '）')}")
        else:
            control = f"regexp_matches({v}, {_lit(CONTROL_RE)})"
            typed.append(f"{present} AND {control} AS {flag('printable:' + c)}")
            q.reason(f"printable:{c}", _lit(f"{c} 含有控制字符"))
            ok = f"NOT {control}"
            if col.form:
                shaped = f"regexp_full_match({v}, {_lit(col.form)})"
                typed.append(f"{present} AND NOT {shaped} AS {flag('form:' + c)}")
                q.reason(f"form:{c}", _lit(f"{c} 格式错误（应为{col.form_zh}）"))
                ok += f" AND {shaped}"
            typed.append(f"CASE WHEN {present} AND {ok} THEN {v} END AS {_q(c)}")
    return values, typed


def _type_flags(feed: Feed) -> list[str]:
    """Flags that follow from a typed value: present but not typed, and negative where it may not be."""
    flags = []
    for col in feed.columns:
        c, present = col.name, f"({_q('v:' + col.name)} <> '')"
        code = {DATE: "date", INT: "integer", AMOUNT: "amount", BOOL: "boolean", ENUM: "enum"}.get(col.type)
        if code:
            flags.append(f"{present} AND {_q(c)} IS NULL AS {flag(code + ':' + c)}")
        if col.type == AMOUNT and not col.signed:
            flags.append(f"{present} AND coalesce({_q(c)} < 0, false) AS {flag('non_negative:' + c)}")
    return flags


def checked_table(con: duckdb.DuckDBPyConnection, feed_name: str, stage: str, table: str,
                  cases_known: bool, positions: tuple[int, int] | None = None, id_facts: bool = True) -> None:
    """Create `table` from the raw rows in `stage` (columns `_pos`, `_file`, `_row_number`, `_delivery_date`
    and every contract column as text, "" for empty): the raw values (`raw:<column>`), the typed values
    (`<column>`), one flag per check (`f:<code>`) and `reason`, "" where the row loads. Reads the reference
    tables REF_*; REF_CASES only when `cases_known` (no list was ever published otherwise).

    `positions` (first, last `_pos`) checks one part of the stage: duplicates are still found across the
    whole stage, so a batch checked part by part gets the reasons it gets whole, provided each part's loaded
    keys reach the reference tables before the next part. `id_facts=False`: the ID facts and first
    positions of the stage were worked out for an earlier part (`forget_stage` drops them)."""
    feed = FEEDS[feed_name]
    _register_functions(con)
    q = _Query(feed)
    values, typed = _typed_columns(q)
    joins, carried = [], []
    for col in feed.columns:
        if col.type == ID:
            facts = id_facts_table(col.name)
            if id_facts:
                _id_facts(con, stage, col.name, facts, derive=feed_name == "persons")
            joins.append(f"LEFT JOIN {facts} AS {_q('id:' + col.name)} ON {_q('id:' + col.name)}.value = "
                         f"s.{_q(col.name)}")
            carried += [f"{_q('id:' + col.name)}.problem AS {_q('problem:' + col.name)}",
                        f"{_q('id:' + col.name)}.upper_value AS {_q('upper:' + col.name)}",
                        f"{_q('id:' + col.name)}.masked AS {_q('masked:' + col.name)}",
                        f"{_q('id:' + col.name)}.sex AS {_q('sex:' + col.name)}",
                        f"{_q('id:' + col.name)}.birth_date AS {_q('birth:' + col.name)}"]
    if id_facts:
        _first_positions(con, stage, feed_name)
    raws = ", ".join(f"s.{_q(c.name)} AS {raw(c.name)}" for c in feed.columns)
    step1 = (f"SELECT s._pos, s._file, s._row_number, s._delivery_date, {raws}"
             + "".join(", " + c for c in carried) + f" FROM {stage} AS s " + " ".join(joins)
             + (f" WHERE s._pos BETWEEN {int(positions[0])} AND {int(positions[1])}" if positions else ""))
    # Typed values need the defaulted values, and the flags the typed values: one layer each.
    step2 = f"SELECT *, {', '.join(values)} FROM ({step1}) AS s"
    step3 = f"SELECT s.*, {', '.join(typed)} FROM ({step2}) AS s"
    step4 = f"SELECT *, {', '.join(_type_flags(feed))} FROM ({step3})" if _type_flags(feed) else step3
    across = getattr(_ACROSS, feed_name, None)
    body = across(q, f"({step4})", cases_known) if across else step4
    texts = ", ".join(f"CASE WHEN {flag(code)} THEN {text} END" for code, text in q.reasons)
    internal = [_q("v:" + c.name) for c in feed.columns]
    internal += [_q(f"{kind}:{c.name}") for c in feed.columns if c.type == ID for kind in ("problem", "upper", "sex", "birth")]
    internal += [_q(c) for c in q.internal]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * EXCLUDE ({', '.join(internal)}), "
                f"concat_ws({_lit(REASON_SEPARATOR)}, {texts}) AS reason FROM ({body})")


def check_codes_in_order(feed_name: str) -> list[str]:
    """The check codes of a feed in the order `checked_table` lists their reasons."""
    q = _Query(FEEDS[feed_name])
    _typed_columns(q)
    across = getattr(_ACROSS, feed_name, None)
    if across:
        across(q, "(SELECT 1)", True)
    return [code for code, _ in q.reasons]


def _known_person(q: _Query) -> tuple[str, str]:
    """A join to the landed persons and the flag it gives."""
    q.reason("known_person", _lit("person_id 不在人员信息（persons）中"))
    return (f"LEFT JOIN (SELECT DISTINCT person_id AS known_person_id FROM {REF_PERSONS}) AS kp "
            "ON kp.known_person_id = s.person_id",
            f"s.person_id IS NOT NULL AND kp.known_person_id IS NULL AS {flag('known_person')}")


# The key whose later rows are duplicates, per feed (and whether it is a resident ID, compared upper-cased).
FIRST_KEYS = {"persons": ("person_id", True), "claims": ("claim_id", False)}


def _first_positions(con: duckdb.DuckDBPyConnection, stage: str, feed_name: str) -> None:
    """Per key value, the position of its first row in the whole stage (worked out once, read by every
    part). Read from the narrow raw rows, not the wide typed ones: a text key is typed as delivered, a
    resident ID upper-cased (`_id_facts`)."""
    if feed_name not in FIRST_KEYS:
        return
    key, resident_id = FIRST_KEYS[feed_name]
    # Only values that occur again: every other row is its value's first (and a part joins a small table).
    if resident_id:
        source = (f"SELECT f.upper_value AS first_key, min(r._pos) AS first_pos FROM {stage} AS r "
                  f"JOIN {id_facts_table(key)} AS f ON f.value = r.{_q(key)} WHERE r.{_q(key)} <> '' GROUP BY 1 "
                  "HAVING count(*) > 1")
    else:
        source = (f"SELECT {_q(key)} AS first_key, min(_pos) AS first_pos FROM {stage} WHERE {_q(key)} <> '' "
                  "GROUP BY 1 HAVING count(*) > 1")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_first_positions_table(key)} AS {source}")


def forget_stage(con: duckdb.DuckDBPyConnection, feed_name: str) -> None:
    """Drop what `checked_table` worked out for a stage (its ID facts and first positions)."""
    for col in FEEDS[feed_name].columns:
        if col.type == ID:
            con.execute(f"DROP TABLE IF EXISTS {id_facts_table(col.name)}")
    if feed_name in FIRST_KEYS:
        con.execute(f"DROP TABLE IF EXISTS {_first_positions_table(FIRST_KEYS[feed_name][0])}")


def _first_positions_table(key: str) -> str:
    return f"_first_pos_{key}"


def _first_of(key: str, alias: str, resident_id: bool = False) -> str:
    """A join giving, per key value, the position of its first row (`{alias}.first_pos`): a later row with
    the same value is a duplicate."""
    on = f"s.{_q(key)}" if resident_id else f"s.{raw(key)}"
    return f"LEFT JOIN {_first_positions_table(key)} AS {alias} ON {alias}.first_key = {on}"


class _ACROSS:
    """Checks that look across columns, rows or at other files, one function per feed: each reads the
    typed rows (a subquery) once and adds its flags (and registers its reasons, in order)."""

    @staticmethod
    def persons(q: _Query, rows: str, cases_known: bool) -> str:
        valid = f"({raw('person_id')} <> '' AND {_q('problem:person_id')} IS NULL)"
        q.reason("unique:person_id", _lit("person_id 在同一文件中重复"))
        q.reason("area_within_district", _lit("subdistrict_code 的前6位与 district_code 不一致"))
        q.reason("plausible:birth_date", _lit(f"出生日期不合理（晚于送达日期或年龄超过{MAX_AGE_YEARS}岁）"))
        delivered = "CAST(s._delivery_date AS DATE)"
        birth = f"coalesce(s.birth_date, CASE WHEN {valid} THEN s.{_q('birth:person_id')} END)"
        return (f"SELECT s.* REPLACE (coalesce(s.sex, CASE WHEN {valid} THEN s.{_q('sex:person_id')} END) AS sex, "
                f"{birth} AS birth_date), "
                f"s.person_id IS NOT NULL AND coalesce(s._pos > fp.first_pos, false) AS {flag('unique:person_id')}, "
                f"coalesce(s.district_code IS NOT NULL AND s.subdistrict_code IS NOT NULL "
                f"AND left(s.subdistrict_code, 6) <> s.district_code, false) AS {flag('area_within_district')}, "
                f"coalesce({birth} > {delivered} OR {birth} < {delivered} - INTERVAL {MAX_AGE_YEARS} YEAR, "
                f"false) AS {flag('plausible:birth_date')} FROM {rows} AS s {_first_of('person_id', 'fp', resident_id=True)}")

    @staticmethod
    def assistance_categories(q: _Query, rows: str, cases_known: bool) -> str:
        join, known = _known_person(q)
        q.reason("valid_range", _lit("valid_to 早于 valid_from"))
        return (f"SELECT s.*, {known}, coalesce(s.valid_to < s.valid_from, false) AS {flag('valid_range')} "
                f"FROM {rows} AS s {join}")

    @staticmethod
    def enrollment(q: _Query, rows: str, cases_known: bool) -> str:
        join, known = _known_person(q)
        return f"SELECT s.*, {known} FROM {rows} AS s {join}"

    @staticmethod
    def claims(q: _Query, rows: str, cases_known: bool) -> str:
        join, known = _known_person(q)
        a = {c: f"coalesce(s.{c}, 0)" for c in CLAIM_AMOUNTS}
        complete = "(" + " AND ".join(f"s.{c} IS NOT NULL" for c in CLAIM_AMOUNTS) + ")"
        reversal = "s.reversal_of IS NOT NULL"
        negative = " OR ".join(f"{a[c]} < 0" for c in CLAIM_AMOUNTS)
        positive = " OR ".join(f"{a[c]} > 0" for c in CLAIM_AMOUNTS)
        scope_parts = ["basic_fund_paid", "critical_illness_paid", "other_paid", "assistance_paid", "self_pay_in_scope"]
        for code, text in (
                ("non_negative_original", "非冲销记录的金额为负数"), ("reversal_sign", "冲销记录的金额应为原结算的负数"),
                ("identity:total_cost", "total_cost 不等于 policy_scope_cost + self_pay_out_scope"),
                ("identity:policy_scope_cost", "policy_scope_cost 不等于 基金+大病+其他+救助+个人自付 之和"),
                ("plausible:total_cost", "单笔结算金额超过500万元，不合理"),
                ("inpatient_discharge", "住院结算缺少 discharge_date"),
                ("discharge_after_admit", "discharge_date 早于 admit_date"),
                ("unique:claim_id", "claim_id 重复（已有相同结算号）")):
            q.reason(code, _lit(text))
        within = (
            f"SELECT s.*, {known}, "
            f"{complete} AND NOT {reversal} AND ({negative}) AS {flag('non_negative_original')}, "
            f"{complete} AND {reversal} AND ({positive}) AS {flag('reversal_sign')}, "
            f"{complete} AND {a['total_cost']} <> {a['policy_scope_cost']} + {a['self_pay_out_scope']} "
            f"AS {flag('identity:total_cost')}, "
            f"{complete} AND {a['policy_scope_cost']} <> {' + '.join(a[c] for c in scope_parts)} "
            f"AS {flag('identity:policy_scope_cost')}, "
            f"{complete} AND abs({a['total_cost']}) > {LARGEST_PLAUSIBLE_CLAIM_CENTS} AS {flag('plausible:total_cost')}, "
            f"coalesce(s.visit_type = 'inpatient', false) AND s.discharge_date IS NULL AS {flag('inpatient_discharge')}, "
            f"coalesce(s.discharge_date < s.admit_date, false) AS {flag('discharge_after_admit')}, "
            f"s.claim_id IS NOT NULL AND (coalesce(s._pos > fc.first_pos, false) OR lo.claim_id IS NOT NULL) "
            f"AS {flag('unique:claim_id')}, "
            f"{complete} AS _complete "
            f"FROM {rows} AS s {join} {_first_of('claim_id', 'fc')} "
            f"LEFT JOIN (SELECT DISTINCT claim_id FROM {REF_ORIGINALS}) AS lo ON lo.claim_id = s.claim_id")
        clean = "NOT (" + " OR ".join(flag(code) for code, _ in q.reasons) + ")"
        # Reversals, in file order: each must name an original that is landed or loads earlier in this
        # batch, carry its amounts negated, and be its first reversal to load. Worked out on the few rows
        # concerned (reversals and the originals they name), then joined back.
        q.reason("reversal_known", f"{_lit('冲销的原结算 ')} || pw_shown(reversal_of) || {_lit(' 不存在')}")
        q.reason("reversal_once", f"{_lit('原结算 ')} || pw_shown(reversal_of) || {_lit(' 已被冲销过')}")
        q.reason("reversal_amounts", f"{_lit('冲销金额与原结算 ')} || pw_shown(reversal_of) || {_lit(' 不符')}")
        cents = "[" + ", ".join(f"w.{c}" for c in CLAIM_AMOUNTS) + "]"
        negated = "[" + ", ".join(f"-w.{c}" for c in CLAIM_AMOUNTS) + "]"
        originals = (f"SELECT w.claim_id, w._pos AS original_pos, {cents} AS original_cents FROM w "
                     f"WHERE w.reversal_of IS NULL AND w.claim_id IS NOT NULL AND {clean} "
                     "AND w.claim_id IN (SELECT reversal_of FROM w WHERE reversal_of IS NOT NULL)")
        matched = (
            f"SELECT w._pos, w.reversal_of, {clean} AS _clean, coalesce(lo.cents, o.original_cents) AS _original, "
            "lr.reversal_of IS NOT NULL AS _reversed_before, "
            f"coalesce(coalesce(lo.cents, o.original_cents) = {negated}, false) AS _matches "
            "FROM w "
            f"LEFT JOIN (SELECT claim_id, any_value(cents) AS cents FROM {REF_ORIGINALS} GROUP BY claim_id) AS lo "
            "ON lo.claim_id = w.reversal_of "
            f"LEFT JOIN ({originals}) AS o ON o.claim_id = w.reversal_of AND o.original_pos < w._pos "
            f"LEFT JOIN (SELECT DISTINCT reversal_of FROM {REF_REVERSED}) AS lr ON lr.reversal_of = w.reversal_of "
            "WHERE w.reversal_of IS NOT NULL AND w._complete")
        first = ("SELECT reversal_of, min(_pos) AS first_pos FROM m WHERE _clean AND _original IS NOT NULL "
                 "AND _matches AND NOT _reversed_before GROUP BY reversal_of")
        already = "(m._reversed_before OR coalesce(fr.first_pos < m._pos, false))"
        verdicts = (f"SELECT m._pos AS reversal_pos, m._original IS NULL AS known_fails, "
                    f"m._original IS NOT NULL AND {already} AS once_fails, "
                    f"m._original IS NOT NULL AND NOT {already} AND NOT m._matches AS amounts_fail "
                    f"FROM m LEFT JOIN ({first}) AS fr ON fr.reversal_of = m.reversal_of")
        return (f"WITH w AS MATERIALIZED ({within}), m AS MATERIALIZED ({matched}) "
                f"SELECT w.* EXCLUDE (_complete), coalesce(v.known_fails, false) AS {flag('reversal_known')}, "
                f"coalesce(v.once_fails, false) AS {flag('reversal_once')}, "
                f"coalesce(v.amounts_fail, false) AS {flag('reversal_amounts')} "
                f"FROM w LEFT JOIN ({verdicts}) AS v ON v.reversal_pos = w._pos")

    @staticmethod
    def outreach_feedback(q: _Query, rows: str, cases_known: bool) -> str:
        """Feedback applies to a case that was sent, and only from the sub-district it was sent to."""
        q.reason("known_case", f"{_lit('案件编号 ')} || case_id || {_lit(' 不存在（不是外展名单发出的案件）')}")
        q.reason("own_subdistrict", f"{_lit('案件 ')} || case_id || {_lit(' 属于街道 ')} || _home || "
                                    f"{_lit('，不能由街道 ')} || subdistrict_code || {_lit(' 的名单反馈')}")
        q.internal.append("_home")
        if not cases_known:
            return (f"SELECT *, CAST(NULL AS VARCHAR) AS _home, false AS {flag('known_case')}, "
                    f"false AS {flag('own_subdistrict')} FROM {rows}")
        return (f"SELECT s.*, rc.subdistrict_code AS _home, "
                f"s.case_id IS NOT NULL AND rc.case_id IS NULL AS {flag('known_case')}, "
                f"coalesce(s.subdistrict_code <> rc.subdistrict_code, false) AS {flag('own_subdistrict')} "
                f"FROM {rows} AS s LEFT JOIN (SELECT case_id, any_value(subdistrict_code) AS subdistrict_code "
                f"FROM {REF_CASES} GROUP BY case_id) AS rc ON rc.case_id = s.case_id")


def _reference_tables(con: duckdb.DuckDBPyConnection, ref: Reference) -> None:
    """The reference tables from a `Reference` held in Python."""
    frames = {
        REF_PERSONS: pd.DataFrame({"person_id": pd.Series(sorted(ref.person_ids), dtype=object)}),
        REF_ORIGINALS: pd.DataFrame({"claim_id": pd.Series(list(ref.claim_amounts), dtype=object),
                                     "cents": pd.Series([list(v) for v in ref.claim_amounts.values()], dtype=object)}),
        REF_REVERSED: pd.DataFrame({"reversal_of": pd.Series(sorted(ref.reversed_claims), dtype=object)}),
        REF_CASES: pd.DataFrame({"case_id": pd.Series(list(ref.cases or {}), dtype=object),
                                 "subdistrict_code": pd.Series(list((ref.cases or {}).values()), dtype=object)}),
    }
    types = {REF_PERSONS: "person_id VARCHAR", REF_ORIGINALS: "claim_id VARCHAR, cents BIGINT[]",
             REF_REVERSED: "reversal_of VARCHAR", REF_CASES: "case_id VARCHAR, subdistrict_code VARCHAR"}
    for name, frame in frames.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({types[name]})")
        if len(frame):
            con.register("_ref_frame", frame)
            con.execute(f"INSERT INTO {name} SELECT * FROM _ref_frame")
            con.unregister("_ref_frame")


def stage_table(con: duckdb.DuckDBPyConnection, feed_name: str, table: str) -> None:
    """An empty table of raw rows as `checked_table` reads them (a column a file lacks is "")."""
    cols = ", ".join(f"{_q(c)} VARCHAR DEFAULT ''" for c in FEEDS[feed_name].column_names)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (_pos BIGINT, _file VARCHAR DEFAULT '', _row_number BIGINT, "
                f"_delivery_date VARCHAR, {cols})")


def check(feed_name: str, frame: pd.DataFrame, ref: Reference) -> Checked:
    """Check a frame of raw rows held in Python (small batches and tests); landing checks in DuckDB."""
    feed = FEEDS[feed_name]
    con = duckdb.connect()
    try:
        limit_memory(con)
        stage = pd.DataFrame({"_pos": np.arange(len(frame), dtype="int64"),
                              "_file": "", "_row_number": frame["_row_number"].astype("int64").to_numpy(),
                              "_delivery_date": (frame["_delivery_date"].astype(str).to_numpy()
                                                 if "_delivery_date" in frame else "")})
        for c in feed.column_names:
            stage[c] = frame[c].astype(str).to_numpy() if c in frame else ""
        stage_table(con, feed_name, "stage")
        if len(stage):
            con.register("_frame", stage)
            con.execute("INSERT INTO stage SELECT * FROM _frame")
            con.unregister("_frame")
        _reference_tables(con, ref)
        checked_table(con, feed_name, "stage", "checked", cases_known=ref.cases is not None)
        codes = check_codes_in_order(feed_name)
        result = con.execute(f"SELECT _pos, _row_number, reason, {', '.join(_q(c) for c in feed.column_names)}, "
                             f"{', '.join(flag(code) for code in codes)} FROM checked ORDER BY _pos").df()
    finally:
        con.close()
    bad = (result["reason"] != "").to_numpy()
    loaded = result.loc[~bad, ["_row_number", *feed.column_names]].reset_index(drop=True)
    quarantined = pd.DataFrame({"_row_number": result.loc[bad, "_row_number"].to_numpy(),
                                "reason": result.loc[bad, "reason"].to_numpy()})
    failed = {code: result[f"f:{code}"].to_numpy(dtype=bool) for code in codes}
    return Checked(loaded, quarantined, np.flatnonzero(~bad), np.flatnonzero(bad), failed)


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
