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
    "date_diff/datediff (argument order differs; use dbt.datediff)": r"(?<!\.)\bdate_?diff\s*\(",
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
    "today() (use current_date)": r"\btoday\s*\(",
    "struct_extract": r"\bstruct_extract\s*\(",
    "string_split/str_split": r"\bstr(ing)?_split\w*\s*\(",
    "array_length (Spark: size)": r"\barray_length\s*\(",
    "arg_max/arg_min (Spark: max_by/min_by)": r"\barg_(max|min)\s*\(",
    "dayofweek/isodow (numbering differs)": r"\b(dayofweek|isodow)\b",
    "regexp_full_match": r"\bregexp_full_match\s*\(",
    "quantile_cont/quantile_disc": r"\bquantile(_cont|_disc)?\s*\(",
    "generate_series": r"\bgenerate_series\s*\(",
    "COLUMNS(*) star expression": r"\bcolumns\s*\(",
    "~~ LIKE operator / ->> JSON operator": r"~~|->>",
}

DISPATCHED_IMPLEMENTATION = re.compile(r"{%-?\s*macro\s+\w+__\w+\s*\(.*?{%-?\s*endmacro\s*-?%}", re.S)
COMMENTS = re.compile(r"{#.*?#}|--[^\n]*", re.S)


def _portable_text(path: Path) -> str:
    """The SQL a file sends to every engine: without comments and without adapter-specific macro bodies."""
    return DISPATCHED_IMPLEMENTATION.sub("", COMMENTS.sub("", path.read_text(encoding="utf-8")))


def _findings(text: str) -> list[str]:
    return [name for name, pattern in DUCKDB_ONLY.items() if re.search(pattern, text, re.I)]


def test_models_and_shared_macros_use_no_duckdb_only_sql():
    files = sorted((DBT / "models").rglob("*.sql")) + sorted((DBT / "macros").rglob("*.sql")) \
        + sorted((DBT / "tests").rglob("*.sql"))
    assert len(files) > 40
    found = {str(f.relative_to(DBT)): _findings(_portable_text(f)) for f in files}
    assert {f: names for f, names in found.items() if names} == {}


EXAMPLES = {
    "`::` cast": "select amount::decimal(18, 2) from x",
    "strftime/strptime": "select strftime(d, '%Y') from x",
    "date_diff/datediff (argument order differs; use dbt.datediff)": "select date_diff('day', a, b) from x",
    "date_sub/date_add with a part": "select date_add('month', 1, d) from x",
    "epoch functions": "select epoch(d) from x",
    "list_ functions": "select list_sum(xs) from x",
    "struct_pack": "select struct_pack(a := 1)",
    "regexp_matches": "select regexp_matches(a, 'C')",
    "QUALIFY": "select * from x qualify row_number() over () = 1",
    "TRY_CAST": "select try_cast(a as integer) from x",
    "read_parquet/read_csv": "select * from read_parquet('lake/*.parquet')",
    "ILIKE": "select * from x where name ilike '%a%'",
    "unsized varchar/text (Spark needs a length)": "select cast(year as varchar) from x",
    "integer division operator //": "select a // 2 from x",
    "SELECT * EXCLUDE/REPLACE": "select * exclude (a) from x",
    "ORDER BY ALL": "select a from x order by all",
    "string_agg": "select string_agg(a, ',') from x",
    "unnest": "select unnest(xs) from x",
    "hugeint": "select cast(a as hugeint) from x",
    "raw date_trunc (use dbt.date_trunc)": "select date_trunc('month', d) from x",
    "prefix/suffix/strpos": "select * from x where prefix(code, 'C')",
    "today() (use current_date)": "select today()",
    "struct_extract": "select struct_extract(s, 'a') from x",
    "string_split/str_split": "select string_split(a, ',') from x",
    "array_length (Spark: size)": "select array_length(xs) from x",
    "arg_max/arg_min (Spark: max_by/min_by)": "select arg_max(a, b) from x",
    "dayofweek/isodow (numbering differs)": "select extract(isodow from d) from x",
    "regexp_full_match": "select regexp_full_match(a, 'C.*') from x",
    "quantile_cont/quantile_disc": "select quantile_cont(a, 0.5) from x",
    "generate_series": "select * from generate_series(1, 10)",
    "COLUMNS(*) star expression": "select max(columns(*)) from x",
    "~~ LIKE operator / ->> JSON operator": "select * from x where a ~~ 'C%'",
}


def test_every_construct_has_an_example():
    assert set(EXAMPLES) == set(DUCKDB_ONLY)


@pytest.mark.parametrize("construct", sorted(EXAMPLES))
def test_the_check_catches_each_construct(construct):
    assert construct in _findings(EXAMPLES[construct])


def test_portable_spellings_are_not_flagged():
    portable = ("select cast(amount as decimal(18, 2)), cast(y as varchar(10)), {{ dbt.datediff('a', 'b', 'day') }},"
                " {{ dbt.date_trunc('month', 'd') }}, {{ dbt.listagg('a', \"','\") }}, coalesce(a, 0) / 2,"
                " current_date, extract(year from d), substring(code, 1, 3) from x where code like 'C%'")
    assert _findings(portable) == []


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
