"""The dbt models must also run on Spark (dbt-spark): no DuckDB-only SQL outside a dispatched macro.

`make spark-check` proves it end to end on a real Spark; this fast check (no Spark) keeps the usual
DuckDB-only constructs from creeping back in. Not listed, because both engines agree: greatest/least
skip NULLs in DuckDB and Spark alike; `||` concatenates strings in both.
"""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from poverty_warning.spark_check import Outcome, compare

DBT = Path(__file__).resolve().parent.parent / "dbt_project"

DUCKDB_ONLY = {
    "`::` cast": r"::",
    "strftime/strptime": r"\bstr[fp]time\s*\(",
    "date_diff/datediff (argument order differs)": r"\bdate_?diff\s*\(",
    "date_sub/date_add with a part": r"\bdate_(sub|add)\s*\(\s*'",
    "epoch functions": r"\bepoch(_ms|_us|_ns)?\s*\(",
    "list_ functions": r"\blist_\w+\s*\(",
    "struct_pack": r"\bstruct_pack\s*\(",
    "regexp_matches": r"\bregexp_matches\s*\(",
    "QUALIFY": r"\bqualify\b",
    "TRY_CAST": r"\btry_cast\s*\(",
    "read_parquet/read_csv": r"\bread_(parquet|csv\w*|json\w*)\s*\(",
    "ILIKE": r"\bilike\b",
    "unsized varchar/text (Spark needs a length)": r"\bas\s+(varchar|text)\s*\)",
    "integer division operator //": r"//",
    "SELECT * EXCLUDE/REPLACE": r"\*\s*(exclude|replace)\s*\(",
    "ORDER BY ALL": r"\border\s+by\s+all\b",
    "string_agg": r"\bstring_agg\s*\(",
    "unnest": r"\bunnest\s*\(",
    "hugeint": r"\bu?hugeint\b",
    "raw date_trunc (use dbt.date_trunc)": r"(?<!\.)\bdate_trunc\s*\(",
    "prefix/suffix/strpos": r"\b(prefix|suffix|strpos)\s*\(",
}

DISPATCHED_IMPLEMENTATION = re.compile(r"{%-?\s*macro\s+\w+__\w+\s*\(.*?{%-?\s*endmacro\s*-?%}", re.S)
COMMENTS = re.compile(r"{#.*?#}|--[^\n]*", re.S)


def _portable_text(path: Path) -> str:
    """The SQL a file sends to every engine: without comments and without adapter-specific macro bodies."""
    return DISPATCHED_IMPLEMENTATION.sub("", COMMENTS.sub("", path.read_text(encoding="utf-8")))


def _findings(text: str) -> list[str]:
    return [name for name, pattern in DUCKDB_ONLY.items() if re.search(pattern, text, re.I)]


def test_models_and_shared_macros_use_no_duckdb_only_sql():
    files = sorted((DBT / "models").rglob("*.sql")) + sorted((DBT / "macros").glob("*.sql")) \
        + sorted((DBT / "tests").rglob("*.sql"))
    assert len(files) > 40
    found = {str(f.relative_to(DBT)): _findings(_portable_text(f)) for f in files}
    assert {f: names for f, names in found.items() if names} == {}


@pytest.mark.parametrize("sql, construct", [
    ("select amount::decimal(18, 2) from x", "`::` cast"),
    ("select strftime(d, '%Y') from x", "strftime/strptime"),
    ("select date_diff('day', a, b) from x", "date_diff/datediff (argument order differs)"),
    ("select * from x qualify row_number() over () = 1", "QUALIFY"),
    ("select try_cast(a as integer) from x", "TRY_CAST"),
    ("select * from read_parquet('lake/*.parquet')", "read_parquet/read_csv"),
    ("select * from x where name ilike '%a%'", "ILIKE"),
    ("select cast(year as varchar) from x", "unsized varchar/text (Spark needs a length)"),
    ("select list_sum(xs) from x", "list_ functions"),
    ("select struct_pack(a := 1)", "struct_pack"),
    ("select regexp_matches(a, 'C')", "regexp_matches"),
    ("select epoch(d) from x", "epoch functions"),
    ("select date_trunc('month', d) from x", "raw date_trunc (use dbt.date_trunc)"),
])
def test_the_check_catches_each_construct(sql, construct):
    assert construct in _findings(sql)


def test_dispatched_implementations_and_comments_are_not_scanned(tmp_path):
    macro = tmp_path / "m.sql"
    macro.write_text("{# try_cast( is DuckDB's #}\n-- a::int\n"
                     "{% macro duckdb__thing(x) -%} try_cast({{ x }} as integer) {%- endmacro %}\n"
                     "{% macro thing(x) -%} {{ return(adapter.dispatch('thing')(x)) }} {%- endmacro %}\n",
                     encoding="utf-8")
    assert _findings(_portable_text(macro)) == []
    macro.write_text("{% macro thing(x) -%} try_cast({{ x }} as integer) {%- endmacro %}\n", encoding="utf-8")
    assert _findings(_portable_text(macro)) == ["TRY_CAST"]


def test_compare_ignores_row_order_and_reports_a_cent_with_the_id_masked():
    columns = (["person_id", "amount"], ["person_id", "amount"])
    duck = [("310104199001010035", Decimal("10.01")), ("310104199001010043", Decimal("5.00"))]
    assert compare("entitlements", columns, (duck, list(reversed(duck)))) == []
    spark = [duck[0], ("310104199001010043", Decimal("5.01"))]
    found = compare("entitlements", columns, (duck, spark))
    assert found == ["entitlements: only on duckdb: person_id=310104********0043, amount=5.00",
                     "entitlements: only on spark: person_id=310104********0043, amount=5.01"]


def test_compare_reports_different_columns_and_row_counts():
    assert compare("gaps", (["a"], ["b"]), ([], [])) == ["gaps: columns differ: duckdb ['a'] / spark ['b']"]
    assert compare("gaps", (["a"], ["a"]), ([(1,)], []))[0] == "gaps: 1 rows on duckdb, 0 on spark"


def test_last_line():
    outcome = Outcome()
    outcome.rows.update({"candidates": 3, "entitlements": 10, "gaps": 2})
    assert outcome.last_line() == "spark=identical candidates=3 entitlements=10 gaps=2"
    outcome.differences.append("x")
    assert outcome.last_line() == "spark=different candidates=3 entitlements=10 gaps=2"
