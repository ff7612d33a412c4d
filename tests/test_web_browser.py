"""A real headless Chromium on the web UI: search, a stored query, and an archived page that tries
to call home. The archived page's script, image, stylesheet, frame and refresh all point at a tiny
server on 127.0.0.1; the test asserts that server is never called while the page is shown from the
archive, and (as a control) that it is called when the same HTML is opened live.

Chromium is required, not optional: without it this test fails and says how to install it.
Screenshots of the main pages land in tests/screenshots/ (ignored by git).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crawler.localsite import LocalSite
from storage.archive import Archive, Capture
from tests.conftest import write_site
from tests.test_query import build_newsroom
from tests.test_web import free_port, start_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = Path(__file__).parent / "screenshots"
MARKER = "ARCHIVED-EVIDENCE-7731"


class Beacon:
    """Records every request; an archived page reaching it means the sandbox leaked."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_GET

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def evil_page(beacon: str) -> bytes:
    """Every way we know for a page to load or send something by itself."""
    return f"""<!DOCTYPE html>
<html><head><title>Exosome therapy for autism</title>
<meta http-equiv="refresh" content="1;url={beacon}/meta-refresh">
<link rel="stylesheet" href="{beacon}/stylesheet.css">
<link rel="prefetch" href="{beacon}/prefetch">
<link rel="icon" href="{beacon}/favicon.ico">
<style>@import url("{beacon}/import.css"); body {{ background: url("{beacon}/background.png"); }}</style>
<script src="{beacon}/external.js"></script>
<script>
  fetch("{beacon}/script-fetch");
  new Image().src = "{beacon}/script-image";
  navigator.sendBeacon && navigator.sendBeacon("{beacon}/send-beacon");
  document.title = "SCRIPT RAN";
</script>
</head>
<body onload="fetch('{beacon}/onload')">
<h1>Stem cell treatment for autism</h1>
<p>{MARKER}: our exosome protocol treats autism in children.</p>
<img src="{beacon}/image.png" alt="tracking pixel">
<img src="x" onerror="fetch('{beacon}/onerror')">
<iframe src="{beacon}/iframe"></iframe>
<object data="{beacon}/object"></object>
<video poster="{beacon}/poster.png"></video>
<form action="{beacon}/form" method="post"><input name="q" autofocus onfocus="this.form.submit()"></form>
</body></html>""".encode()


def chromium(tmp_path: Path):
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"headless Chromium is needed for this test but {', '.join(missing)} is missing: "
                    f"run `apt-get install -y chromium chromium-driver` (as root)", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", "--disable-component-update", "--disable-sync", "--window-size=1280,1100",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


def shoot(driver, name: str) -> Path:
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / ".gitignore").write_text("*\n")  # screenshots are test output, never committed
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def test_browser_search_query_and_sandboxed_version(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    beacon = Beacon()
    db = str(tmp_path / "browser.db")
    archive = Archive(db)
    build_newsroom(archive)
    body = evil_page(beacon.url)
    # Archived through the crawler's own write path, as a crawl of this page would.
    site = archive.add_site({"name": "evil-clinic", "start_urls": ["http://evil.example/"], "max_pages": 5,
                             "every": "1d", "delay": 0, "concurrency": 1})
    crawl = archive.start_crawl(site)
    archive.record_capture(crawl, site["id"], Capture(
        url="http://evil.example/autism.html", status=200, headers={"content-type": "text/html; charset=utf-8"},
        body=body, fetched_at="2026-03-01T08:00:00.000Z"))
    archive.finish_crawl(crawl, "finished")
    vid = archive.conn.execute("SELECT max(id) FROM versions").fetchone()[0]
    archive.conn.execute("UPDATE versions SET title = ?, text_z = pack_text(?) WHERE id = ?",
                         ("Exosome therapy for autism", f"{MARKER}: our exosome protocol treats autism in children.",
                          vid))
    archive.conn.execute(
        "INSERT INTO site_claims(site_id, kind, term, role, first_seen, last_seen, first_version_id, status, "
        "evidence, url) VALUES (?, 'condition', 'autism_spectrum_disorder', 'offered', ?, ?, ?, 'active', ?, ?)",
        (site["id"], "2026-03-01T08:00:00.000Z", "2026-03-01T08:00:00.000Z", vid,
         f"{MARKER}: our exosome protocol treats autism in children.", "http://evil.example/autism.html"))
    archive.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    archive.close()

    port = free_port()
    server = start_server(db, port)
    base = f"http://127.0.0.1:{port}"
    driver = chromium(tmp_path)
    try:
        wait = WebDriverWait(driver, 20)
        driver.get(base + "/")
        assert "stemwatch archive" in driver.title
        shoot(driver, "1-home")

        # A search typed into the stored query's form.
        driver.get(base + "/archive/search")
        box = wait.until(ec.presence_of_element_located((By.NAME, "q")))
        box.send_keys("exosome")
        box.submit()
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "td.col-snippet mark")))
        marks = [m.text.lower() for m in driver.find_elements(By.CSS_SELECTOR, "td.col-snippet mark")]
        assert marks and all(m.startswith("exosome") for m in marks)
        shoot(driver, "2-search")

        # A stored query: which clinics offer autism treatment, since when.
        driver.get(base + "/archive/clinics_offering?term=autism")
        cells = wait.until(ec.presence_of_all_elements_located((By.CSS_SELECTOR, "td.col-site")))
        assert {c.text for c in cells} == {"harbor", "evil-clinic"}
        shoot(driver, "3-clinics-offering-autism")

        # The archived version, reached by its link from the stored query.
        driver.find_element(By.LINK_TEXT, str(vid)).click()
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "iframe.sw-frame")))
        assert driver.current_url == f"{base}/-/version/{vid}"
        frame = driver.find_element(By.CSS_SELECTOR, "iframe.sw-frame")
        assert frame.get_attribute("sandbox") == ""
        time.sleep(2.5)  # longer than the page's meta refresh: give every trick its chance
        driver.switch_to.frame(frame)
        assert MARKER in driver.find_element(By.TAG_NAME, "body").text  # it did render, as inert HTML
        assert driver.title != "SCRIPT RAN"
        driver.switch_to.default_content()
        driver.set_window_size(1280, 2000)  # the whole version page: record, claims, frame, text
        shoot(driver, "4-version")
        driver.set_window_size(1280, 1100)

        # Opened directly, the raw bytes are sandboxed by their Content-Security-Policy alone.
        driver.get(f"{base}/-/version/{vid}/raw")
        time.sleep(2.5)
        assert MARKER in driver.find_element(By.TAG_NAME, "body").text
        assert driver.title != "SCRIPT RAN"
        shoot(driver, "5-raw")
        assert beacon.hits == [], f"the archived page reached outside the sandbox: {beacon.hits}"

        # Control: the same HTML served live does call the beacon, so the check above can fail.
        with LocalSite(write_site(tmp_path / "live", {"autism.html": body})) as live:
            driver.get(live.url + "/autism.html")
            deadline = time.monotonic() + 10
            while "/script-fetch" not in beacon.hits and time.monotonic() < deadline:
                time.sleep(0.1)
        assert "/script-fetch" in beacon.hits and "/image.png" in beacon.hits, beacon.hits
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=10)
        beacon.close()
