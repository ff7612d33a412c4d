"""Safety: no private targets, no remote-control surfaces, hostile input stays data, secrets masked."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.middlewares import PrivateAddressGuard, RefusedAddress, refusal
from crawler.runner import crawl_settings
from crawler.spiders.site import SiteSpider
from crawler.watchlist import normalise_site
from storage.archive import Archive, Capture
from tests.conftest import ROOT, add_site, stemwatch

PRIVATE = [
    "http://127.0.0.1/", "http://127.8.9.10:8080/x", "http://[::1]/", "http://[fe80::1]/",
    "http://169.254.169.254/latest/meta-data/",  # the cloud metadata endpoint
    "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/", "http://100.64.0.1/",
    "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/", "http://[fc00::1]/", "http://[::]/",
    "http://2130706433/", "http://0x7f000001/", "http://127.1/",  # 127.0.0.1 spelled otherwise
    "http://localhost/", "https://LOCALHOST:8443/",  # a name that resolves to loopback
]
PUBLIC = ["http://8.8.8.8/", "https://1.1.1.1/page", "http://[2606:4700:4700::1111]/"]


@pytest.mark.parametrize("url", PRIVATE)
def test_private_loopback_link_local_refused(url):
    reason = refusal(url, allow_private=False)
    assert reason and "refused" in reason, url
    assert refusal(url, allow_private=True) is None


@pytest.mark.parametrize("url", PUBLIC)
def test_public_addresses_allowed(url):
    assert refusal(url, allow_private=False) is None


@pytest.mark.parametrize("url", ["ftp://8.8.8.8/", "file:///etc/passwd", "data:text/html,hi",
                                 "javascript:alert(1)", "gopher://8.8.8.8/", "//8.8.8.8/"])
def test_only_http_and_https(url):
    # Even when private targets are allowed, other schemes are not.
    assert "only http and https" in (refusal(url, allow_private=True) or "")


def guard_and_redirect() -> tuple[PrivateAddressGuard, RedirectMiddleware]:
    crawler = get_crawler(SiteSpider, {"STEMWATCH_ALLOW_PRIVATE": False})
    crawler.spider = SiteSpider(site={"start_urls": ["http://8.8.8.8/"]})
    return PrivateAddressGuard.from_crawler(crawler), RedirectMiddleware.from_crawler(crawler)


@pytest.mark.parametrize("target", ["http://127.0.0.1/admin", "http://[::1]/", "http://169.254.169.254/",
                                    "http://localhost:6023/", "file:///etc/passwd"])
def test_redirect_from_public_host_to_private_refused(monkeypatch, target):
    monkeypatch.delenv("STEMWATCH_ALLOW_PRIVATE", raising=False)
    guard, redirect = guard_and_redirect()
    start = Request("http://8.8.8.8/start")
    assert guard.process_request(start) is None  # the public start passes
    hop = redirect.process_response(start, HtmlResponse(start.url, status=302, headers={"Location": target}))
    if isinstance(hop, Request):  # Scrapy follows http(s) redirects; the guard sees the hop again
        assert hop.url.rstrip("/") == target.rstrip("/")
        with pytest.raises(RefusedAddress):
            guard.process_request(hop)
    else:  # Scrapy itself will not follow a redirect to file://
        assert hop.status == 302


def test_guard_allows_private_when_asked(monkeypatch):
    monkeypatch.setenv("STEMWATCH_ALLOW_PRIVATE", "1")
    guard, _ = guard_and_redirect()
    assert guard.process_request(Request("http://127.0.0.1/")) is None


def test_guard_is_first_downloader_middleware():
    """It must see a request before robots.txt is fetched for it, and each redirect hop again."""
    settings = crawl_settings({"id": 1, "delay": 0, "concurrency": 1, "obey_robots": True}, "x.db", 1, False)
    middlewares = settings.getdict("DOWNLOADER_MIDDLEWARES")
    base = settings.getdict("DOWNLOADER_MIDDLEWARES_BASE")
    assert middlewares["crawler.middlewares.PrivateAddressGuard"] < min(
        base["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"],
        base["scrapy.downloadermiddlewares.redirect.RedirectMiddleware"])


EXTENSIONS_SCRIPT = """
import json
from scrapy.crawler import Crawler
from crawler.runner import crawl_settings
from crawler.spiders.site import SiteSpider
settings = crawl_settings({"id": 1, "delay": 0, "concurrency": 1, "obey_robots": True}, "x.db", 1, False)
crawler = Crawler(SiteSpider, settings, init_reactor=True)
crawler._apply_settings()  # builds the extension manager exactly as a crawl does
print(json.dumps([type(e).__module__ + "." + type(e).__name__ for e in crawler.extensions.middlewares]))
"""


def test_telnet_and_remote_control_off():
    settings = crawl_settings({"id": 1, "delay": 0, "concurrency": 1, "obey_robots": True}, "x.db", 1, False)
    assert settings.getbool("TELNETCONSOLE_ENABLED") is False
    # In a subprocess: building a crawler installs a Twisted reactor, which belongs to a crawl process.
    proc = subprocess.run([sys.executable, "-c", EXTENSIONS_SCRIPT], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=True)
    enabled = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not [e for e in enabled if "telnet" in e.lower() or "remote" in e.lower()], enabled
    assert "scrapy.extensions.corestats.CoreStats" in enabled  # the list is real, not empty


HOSTILE = ["x'); DROP TABLE sites;--", 'a"b', "Robert'); DELETE FROM versions; --", "%", "_",
           "\\", "name with 'quotes' and \"doubles\"", "ünï©ødé", "a;b", "--"]


def test_hostile_site_names_are_data(tmp_path):
    archive = Archive(str(tmp_path / "h.db"))
    # The watchlist refuses such names at the door, in one clear line...
    proc = stemwatch("sites", "add", HOSTILE[0], "https://clinic.example/", db=archive.path, check=False)
    assert proc.returncode != 0 and "bad name" in proc.stderr and "Traceback" not in proc.stderr
    # ...and below the door, the archive stores and finds them as plain data.
    for i, name in enumerate(HOSTILE):
        row = normalise_site({"name": f"site{i}", "start_urls": [f"http://clinic{i}.test/"]})
        archive.add_site({**row, "name": name})
    assert sorted(s["name"] for s in archive.sites()) == sorted(HOSTILE)
    assert archive.site("%")["start_urls"] == [f"http://clinic{HOSTILE.index('%')}.test/"]
    listed = json.loads(stemwatch("sites", "list", "--json", db=archive.path).stdout)
    assert sorted(r["name"] for r in listed) == sorted(HOSTILE)
    shown = json.loads(stemwatch("sites", "show", HOSTILE[0], "--json", db=archive.path).stdout)
    assert shown["name"] == HOSTILE[0]
    missing = stemwatch("sites", "show", "nope' OR '1'='1", db=archive.path, check=False)
    assert missing.returncode != 0 and "unknown site" in missing.stderr
    assert archive.conn.execute("SELECT count(*) FROM sites").fetchone()[0] == len(HOSTILE)
    archive.close()


@pytest.mark.parametrize("query", ["'", '"', "stem' OR 1=1 --", '"unbalanced', "NEAR(", "a:b", "*", "()",
                                   "x'); DROP TABLE versions;--", "AND", "stem OR", "^", "\x00"])
def test_hostile_search_queries_answer_or_refuse_cleanly(tmp_path, query):
    import storage.query as query_mod
    archive = Archive(str(tmp_path / "s.db"))
    site = add_site(archive, "s", "http://clinic.test")
    crawl_id = archive.start_crawl(site)
    archive.record_capture(crawl_id, site["id"], Capture(url="http://clinic.test/", status=200, body=b"<p>x</p>",
                                                         headers={"content-type": "text/html"}))
    archive.conn.execute("UPDATE versions SET text_z = pack_text('stem cell therapy')")
    try:
        rows = query_mod.search(archive.conn, query)
        assert isinstance(rows, list)
    except query_mod.QueryError as exc:  # a clear message about the query, not a SQL error
        assert "search query" in str(exc)
    assert archive.conn.execute("SELECT count(*) FROM versions").fetchone()[0] == 1
    try:
        assert isinstance(query_mod.search(archive.conn, query, literal=True), list)
    except query_mod.QueryError as exc:  # a query of nothing but control characters is empty
        assert "empty" in str(exc)
    archive.close()


def test_hostile_search_on_command_line_is_one_line(tmp_path):
    db = str(tmp_path / "c.db")
    Archive(db).close()
    proc = stemwatch("search", "stem' OR 1=1 --\"", db=db, check=False)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0 or len(proc.stderr.strip().splitlines()) == 1


SECRET_URLS = [
    ("mailto://user:hunter2pass@mail.example.com", ["hunter2pass"]),
    ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/123456", ["AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"]),
    ("slack://TokenA1b2/TokenB3c4/TokenC5d6e7f8g9h0/#general", ["TokenB3c4", "TokenC5d6e7f8g9h0"]),
    ("json://hooks.example.com/notify?token=s3cr3tvalue&x=1", ["s3cr3tvalue"]),
]


@pytest.mark.parametrize("url,secrets", SECRET_URLS)
def test_notification_credentials_masked(url, secrets):
    import storage.notify as notify
    masked = notify.mask_url(url)
    assert not [s for s in secrets if s in masked], masked
    assert "****" in masked or "*" in masked
    assert not [s for s in secrets if s in notify.redact(f"failed to send to {url}: 401", [url])]


def test_notification_targets_listed_masked(tmp_path):
    import storage.notify as notify
    archive = Archive(str(tmp_path / "n.db"))
    notify.add_target(archive, "mailto://user:hunter2pass@mail.example.com")
    assert "hunter2pass" not in json.dumps(notify.targets(archive))
    listed = stemwatch("notify", "list", "--json", db=archive.path, check=False)
    assert "hunter2pass" not in listed.stdout + listed.stderr
    archive.close()
