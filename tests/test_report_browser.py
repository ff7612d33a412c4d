"""The HTML report opened in headless Chromium: it renders its charts and tables with no network at all.
A screenshot lands in tests/screenshots/report.png (ignored by git)."""

from __future__ import annotations

from click.testing import CliRunner

from crawler.cli import cli
from tests.test_report import report_db  # noqa: F401  (module fixture: the crawled archive)
from tests.test_web_browser import chromium, shoot


def test_report_renders_in_chromium(report_db, tmp_path):  # noqa: F811
    result = CliRunner().invoke(cli, ["report", "--since", "2026-01-01", "--until", "2026-03-31",
                                      "--out", str(tmp_path), "--db", report_db])
    assert result.exit_code == 0, result.output
    page = tmp_path / "report-2026-01-01_2026-03-31.html"
    driver = chromium(tmp_path)
    try:
        driver.get(page.as_uri())
        assert driver.title.startswith("stemwatch report 2026-01-01")
        charts = driver.find_elements("css selector", "figure.chart svg")
        assert len(charts) == 2 and all(c.size["width"] > 300 and c.size["height"] > 100 for c in charts)
        # The browser fetched nothing but the file itself.
        loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded == []
        driver.find_element("css selector", "#conditions-knee_pain details summary").click()
        assert "pacific" in driver.find_element("css selector", "#conditions-knee_pain details").text
        driver.set_window_size(1280, 2400)
        driver.execute_script("window.scrollTo(0, 0)")
        shot = shoot(driver, "report")
        assert shot.stat().st_size > 10_000
        driver.execute_script("document.getElementById('trends').scrollIntoView()")
        shoot(driver, "report-trends")
    finally:
        driver.quit()
