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


def test_a_city_too_large_for_the_pandas_reference_is_reported_not_measured(monkeypatch):
    free = type("Memory", (), {"available": 16 * 10**9, "total": 24 * 2**30})()
    monkeypatch.setattr(benchmark.psutil, "virtual_memory", lambda: free)
    assert benchmark.pandas_does_not_fit(7_761_857) == ""
    reason = benchmark.pandas_does_not_fit(30_800_000)
    assert "would need about 23 GB" in reason and "16 GB were free" in reason

    stage = benchmark.Stage(1.0, 10**9, 100)
    result = benchmark.SizeResult(4_000_000, 30_800_000, full=dict.fromkeys(benchmark.FULL_REBUILD, stage),
                                  night={"dbt": stage}, synth=stage, dbt_candidates_s=2.0, duckdb_query_s=1.0,
                                  pandas_skipped=reason)
    assert result.line().endswith("dbt_over_limit=2.00 pandas_over_pipeline=nan")
    assert f"pandas_over_pipeline: not measured ({reason})" in benchmark.verdicts(result)
    assert "| 4,000,000 | 0 | 2.00 | 1.00 | not run |" in benchmark.document([result], "no chart", dt.datetime.now())
