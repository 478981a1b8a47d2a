"""The DuckDB warehouse: one file per workspace, one writing process at a time."""
from __future__ import annotations

import duckdb

from poverty_warning.workspace import Workspace


def connect(ws: Workspace, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    ws.ensure()
    return duckdb.connect(str(ws.duckdb_path), read_only=read_only)
