"""contract §2 / issue 10: a city figure not yet published is carried forward from the latest
published year; the transform step's log and the night's quality report say which figure and from
when (nothing personal), and a rerun replaces the report's warnings rather than repeating them."""
import logging

from .casebook import Casebook


def test_carried_forward_figures_are_logged_and_reported_once(tmp_path, caplog):
    # One night's transform is both the log test and the report test (each dbt build costs a minute here).
    from poverty_warning import nightly
    from poverty_warning.workspace import Workspace

    b = Casebook("310112")
    person = b.household("H1", 1, income=50000, assessed_on="2026-01-10")[0]
    b.claim(person, "outpatient", "2026-11-24", 100)
    feeds = b.write(tmp_path / "feeds")
    ws = Workspace(tmp_path / "data")
    nightly.ingest(ws, feeds, "2026-11-25")
    nightly.validate(ws, "2026-11-25", expect_daily_claims=False)
    with caplog.at_level(logging.WARNING, logger="poverty_warning.transform"):
        nightly.transform(ws, "2026-11-25", "shanghai-2022")
    lines = [r.getMessage() for r in caplog.records if r.name == "poverty_warning.transform"]
    # city-figures.md: Shanghai's city income is published to 2024; the dibao line to 2024 (assumed).
    assert "transform 2026-11-25: city_per_capita_disposable_income not published for 2025, 2026: " \
           "the 2024 figure is carried forward" in lines
    assert "transform 2026-11-25: dibao_monthly not published for 2025, 2026: the 2024 figure is carried forward" in lines
    assert not any("H1" in line or "3101" in line for line in lines)
    report = (ws.root / "reports" / "2026-11-25" / "quality.html").read_text(encoding="utf-8")
    assert "全市居民人均可支配收入：2025年的数字尚未公布，沿用2024年数字" in report
    assert "低保标准（月）：2026年的数字尚未公布，沿用2024年数字" in report
    nightly.transform(ws, "2026-11-25", "shanghai-2022")  # a rerun replaces the warnings, never repeats them
    report = (ws.root / "reports" / "2026-11-25" / "quality.html").read_text(encoding="utf-8")
    assert report.count("低保标准（月）：2026年的数字尚未公布") == 1
