"""dbt's cross-database macros (`dbt.dateadd(...)`) for sqlfluff's jinja templater (.sqlfluff): each renders
what dbt-duckdb's default implementation renders, so the linter reads the SQL dbt would run."""


def concat(fields):
    return f"({' || '.join(fields)})"


def date_trunc(datepart, date):
    return f"date_trunc('{datepart}', {date})"


def dateadd(datepart, interval, from_date_or_timestamp):
    return f"date_add({from_date_or_timestamp}, interval ({interval}) {datepart})"


def length(expression):
    return f"length({expression})"


def listagg(measure, delimiter_text="','", order_by_clause=None, limit_num=None):
    order_by = f" {order_by_clause}" if order_by_clause else ""
    return f"string_agg({measure}, {delimiter_text}{order_by})"


def position(substring_text, string_text):
    return f"position({substring_text} in {string_text})"


def right(string_text, length_expression):
    return f"right({string_text}, {length_expression})"


def type_string():
    return "varchar"
