"""The benchmark's two references compute the pipeline's candidates, to the cent, on a small city."""
import datetime as dt

import pytest

from poverty_warning import benchmark, nightly

AS_OF = dt.date(2024, 3, 31)


@pytest.fixture(scope="module")
def built(small_city):
    with nightly.throwaway_warehouse(small_city, "shanghai-2022", AS_OF.isoformat()) as ws:
        yield ws, benchmark.pipeline_candidates(ws)


def test_the_city_has_candidates_of_both_rules(built):
    _, pipeline = built
    assert len(pipeline) >= 3  # else the comparison below would prove little
    assert pipeline["person_id"].isna().all()


def test_hand_written_duckdb_query_gives_the_pipeline_candidates(built):
    ws, pipeline = built
    benchmark.check_same(pipeline, benchmark.duckdb_candidates(ws.lake, "shanghai-2022", AS_OF), "duckdb")


def test_pandas_gives_the_pipeline_candidates(built):
    ws, pipeline = built
    benchmark.check_same(pipeline, benchmark.pandas_candidates(ws.lake, "shanghai-2022", AS_OF), "pandas")


def test_a_one_cent_difference_is_caught(built):
    _, pipeline = built
    off = benchmark.pandas_candidates(built[0].lake, "shanghai-2022", AS_OF)
    off.loc[0, "burden_cents"] += 1
    with pytest.raises(benchmark.ReferenceMismatch, match="differ"):
        benchmark.check_same(pipeline, off, "pandas")


def test_the_window_is_the_twelve_whole_months_before_the_as_of_month():
    assert benchmark._window(dt.date(2026, 11, 24)) == (dt.date(2025, 11, 1), dt.date(2026, 10, 31))
    assert benchmark._window(dt.date(2024, 1, 1)) == (dt.date(2023, 1, 1), dt.date(2023, 12, 31))
