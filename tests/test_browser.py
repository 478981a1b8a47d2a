"""The pages people read open in a real headless Chromium (Debian's package) without errors."""
from pathlib import Path

import pytest

from poverty_warning import nightly
from poverty_warning.quality.expectations import data_docs_index
from poverty_warning.workspace import Workspace

from .conftest import CHROMIUM

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def open_page(browser, path: Path) -> tuple[object, list[str]]:
    """Load a local page; return it and every JavaScript error or failed local request."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" and
            "net::ERR" not in msg.text else None)
    page.on("requestfailed", lambda req: errors.append(f"failed: {req.url}") if req.url.startswith("file:") else None)
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    return page, errors


def test_quality_report_renders_with_its_chart(browser, faulty_night):
    ws, verdict = faulty_night
    page, errors = open_page(browser, Path(verdict["report"]))
    assert not errors, errors
    assert "数据质量日报" in page.title()
    assert page.locator("#volume-trend .main-svg").count() >= 1  # plotly drew the chart
    assert page.locator("table").count() >= 4


def test_data_docs_render(browser, faulty_night):
    ws, _ = faulty_night
    index = data_docs_index(ws)
    assert index.exists()
    page, errors = open_page(browser, index)
    assert not errors, errors
    assert "claims_nightly" in page.content()


def test_summary_page_renders_its_charts(browser, published_night):
    page, errors = open_page(browser, published_night.reports("2024-03-31") / "summary.html")
    assert not errors, errors
    assert "外展名单汇总" in page.title()
    assert page.locator("#by-subdistrict .main-svg").count() >= 1
    assert page.locator("#case-status .main-svg").count() >= 1


def test_held_report_and_its_mail_export_render(browser, claims_missing_night):
    from poverty_warning.quality.report import export_self_contained

    ws, verdict = claims_missing_night
    shared, mail = Path(verdict["report"]), export_self_contained(ws, "2024-03-31")
    for path in (shared, mail):
        page, errors = open_page(browser, path)
        assert not errors, (path.name, errors)
        assert page.locator(".verdict").inner_text().startswith("结论：暂停发布")
        assert page.locator("#volume-trend .main-svg").count() >= 1
        assert page.locator("#month-view .main-svg").count() >= 1
        assert "今晚 0 条" in page.locator("#volume-trend").inner_text()  # tonight's zero is drawn
    assert (ws.root / "reports" / "assets" / "plotly.min.js").exists()
    assert shared.stat().st_size < 300_000  # plotly.js is shared, not inlined
    assert mail.stat().st_size > 3_000_000  # the mailed copy carries it


def test_data_docs_show_chinese_descriptions_and_asset_names(browser, faulty_night):
    ws, _ = faulty_night
    pages = sorted((data_docs_index(ws).parent / "validations" / "claims_nightly").rglob("*.html"))
    assert pages
    page, errors = open_page(browser, pages[-1])
    assert not errors, errors
    text = page.locator("body").inner_text()
    assert "医保结算：每一行都应满足“claim_id 不重复”" in text
    assert "nightly_batches.claims" in text and "Data asset: None" not in text

def test_kpi_page_shows_the_funds_targets_with_their_clauses(browser, tmp_path):
    import datetime as dt

    from poverty_warning.synth.generator import generate

    feeds = tmp_path / "feeds"
    generate("wuhai", 1500, dt.date(2023, 1, 1), dt.date(2023, 9, 30), 3, feeds)
    ws = Workspace(tmp_path / "data")
    nightly.run_night(ws, feeds, "2023-09-30", "wuhai-2020")
    page, errors = open_page(browser, ws.root / "reports" / "2023-09-30" / "kpi.html")
    assert not errors, errors
    assert "医疗救助基金目标" in page.title()
    text = page.content()
    assert "重特大疾病救助人次占直接救助人次比例" in text and "≥ 28%" in text and "seed 002" in text
    assert "历年累计结余占当年筹集基金比例" in text and "无法计算" in text  # no fund_accounts delivered
    assert page.locator("td.met, td.missed").count() >= 2  # the person-time share is judged, not left blank
    assert page.locator(".main-svg").count() >= 1  # the monthly trend
