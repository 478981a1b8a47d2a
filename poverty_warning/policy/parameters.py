"""City figures the policies refer to but do not state (shared/contract/city-figures.md).

They are the defaults of the `parameters` feed: a feed row for the same name
and year always wins.
"""
from __future__ import annotations

from functools import lru_cache

import pandas as pd
from poverty_warning.settings import DEFAULTS_DIR


@lru_cache(maxsize=None)
def all_defaults() -> pd.DataFrame:
    with (DEFAULTS_DIR / "city_parameters.csv").open(encoding="utf-8") as f:
        return pd.read_csv(f, dtype={"city": str, "name": str, "year": int, "value": float, "source": str})


def city_defaults(city: str) -> pd.DataFrame:
    """name, year, value, source for one city."""
    df = all_defaults()
    return df[df["city"] == city].reset_index(drop=True).copy()
