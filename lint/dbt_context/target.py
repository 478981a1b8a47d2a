"""`target` for sqlfluff's jinja templater (.sqlfluff): the models are linted as built on DuckDB, the
default target (a dispatched or `target.type`-dependent config renders its DuckDB branch)."""

type = "duckdb"  # noqa: A001 - dbt's attribute name
name = "dev"
