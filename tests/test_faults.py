"""Hostile and broken servers: every fault is recorded as what it is, and the crawl carries on.

One crawl of one fault site answers most tests (a crawl costs a subprocess and seconds); the
robots.txt/sitemap/challenge variants need sites of their own and crawl side by side.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from crawler.crawls import run_crawl, run_crawls
from crawler.localsite import LocalSite
from crawler.middlewares import retry_after_seconds
from storage.archive import Archive, digest_of
from storage.check import check_archive
from tests.conftest import DEMO, add_site, write_site
from tests.faultserver import FaultServer, Reply, gzip_bomb, html, redirect
from tests.test_crash import wait_for

TIMEOUT = 1.5  # STEMWATCH_DOWNLOAD_TIMEOUT for the fault crawl
MAXSIZE = 200_000  # STEMWATCH_DOWNLOAD_MAXSIZE for the fault crawl
PDF = (DEMO / "v1" / "brochure.pdf").read_bytes()
BLOB = random.Random(7).randbytes(5000)
LATIN1 = "<html><head><title>Clínica</title></head><body><p>Terapia célula madre para rodilla</p></body></html>"
NESTED = ("<html><body>" + "<div>" * 5000 + "<p>Stem cell therapy for autism</p><a href='/deep.html'>d</a>"
          + "</div>" * 5000 + "</body></html>")
MALFORMED = ("<html><head><title>x</title><body><p>Stem cells <b>cure <i>everything</p></b><table><tr><td>"
             "<<>><a href='/good2.html'>ok</a><script>var a = '</div>';</scr ipt><!-- unterminated")

FAULTS: dict[str, list[Reply]] = {
    "/good1.html": [html("<h1>Good one</h1><p>Knee osteoarthritis stem cell therapy.</p>")],
    "/good2.html": [html("<h1>Good two</h1><p>We treat multiple sclerosis.</p>")],
    "/burst": [Reply(status=503), Reply(status=500), html("<p>recovered after a 5xx burst</p>")],
    "/down": [html("<p>bad gateway</p>", status=502)],
    "/hang": [Reply(hang=30)],
    "/drip": [Reply(headers={"Content-Type": "text/html"}, body=b"<p>" + b"x" * 200, drip=0.05)],
    "/reset": [Reply(reset=True)],
    "/chain1": [redirect("/chain2")],
    "/chain2": [redirect("/chain3", status=301)],
    "/chain3": [redirect("/final.html", status=307)],
    "/final.html": [html("<p>end of the redirect chain</p>")],
    "/loop-a": [redirect("/loop-b")],
    "/loop-b": [redirect("/loop-a")],
    "/limited": [Reply(status=429, headers={"Retry-After": "1"}), html("<p>thanks for waiting</p>")],
    "/limited-long": [Reply(status=429, headers={"Retry-After": "3600"})],
    "/too-big": [html("<p>" + "x" * (MAXSIZE + 1000))],
    # No Content-Length, body until close: the size limit must bite while streaming.
    "/too-big-stream": [Reply(raw=b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
                                  + b"y" * (MAXSIZE * 3))],
    "/bomb": [gzip_bomb(1_000_000_000)],  # 1 GB of zeros in ~1 MB of gzip
    "/brochure.pdf": [Reply(headers={"Content-Type": "application/pdf"}, body=PDF)],
    "/blob": [Reply(headers={"Content-Type": "application/octet-stream"}, body=BLOB)],
    "/no-charset.html": [Reply(headers={"Content-Type": "text/html"}, body=LATIN1.encode("latin-1"))],
    "/wrong-charset.html": [Reply(headers={"Content-Type": "text/html; charset=utf-8"},
                                  body=LATIN1.encode("cp1252"))],
    "/conflict.html": [Reply(headers={"Content-Type": "text/html; charset=iso-8859-1"},
                             body=LATIN1.replace("<head>", '<head><meta charset="utf-8">').encode())],
    "/bogus-charset.html": [Reply(headers={"Content-Type": "text/html; charset=x-no-such-thing"},
                                  body=LATIN1.encode())],
    "/invalid-utf8.html": [Reply(headers={"Content-Type": "text/html; charset=utf-8"},
                                 body=LATIN1.encode() + b"\xff\xfe\xc3\x28\xa0\xa1\xed\xa0\x80<p>stem cell</p>")],
    "/utf16.html": [Reply(headers={"Content-Type": "text/html"}, body=LATIN1.encode("utf-16"))],
    "/nested.html": [html(NESTED)],
    "/malformed.html": [html(MALFORMED)],
    "/empty": [Reply(headers={"Content-Type": "text/html"})],
    "/sitemap.xml": [Reply(headers={"Content-Type": "application/xml"},
                           body=b"<?xml version='1.0'?><urlset><url><loc>/good1.html</loc><url></urlset")],
    "/robots.txt": [Reply(headers={"Content-Type": "text/plain"}, body=b"User-agent: *\nAllow: /\n")],
}


OFFSITE = FaultServer()  # another host (a port is part of the host), for redirects out of scope

@pytest.fixture(scope="module")
def fault_crawl(tmp_path_factory) -> Iterator[tuple[Archive, FaultServer, dict]]:
    db = str(tmp_path_factory.mktemp("faults") / "faults.db")
    archive = Archive(db)
    with FaultServer() as srv, OFFSITE:
        OFFSITE.set("/landing.html", html("<p>another clinic</p>"))
        srv.set("/offsite", redirect(OFFSITE.url + "/landing.html"))
        srv.set("/denied-hop", redirect("/private/x.html"))
        for path, replies in FAULTS.items():
            srv.set(path, *replies)
        links = [p for p in FAULTS if p != "/robots.txt"] + ["/offsite", "/denied-hop"]
        srv.set("/", html("".join(f'<a href="{p}">{p}</a> ' for p in links)))
        add_site(archive, "faults", srv.url, concurrency=16, deny=["/private/"])
        # Short limits for this crawl only: the module's other crawls must not inherit them.
        limits = {"STEMWATCH_DOWNLOAD_TIMEOUT": str(TIMEOUT), "STEMWATCH_DOWNLOAD_MAXSIZE": str(MAXSIZE)}
        os.environ.update(limits)
        try:
            summary = run_crawl(db, "faults")
        finally:
            for name in limits:
                del os.environ[name]
        yield archive, srv, summary
    archive.close()


def page(archive: Archive, url: str) -> dict:
    """The page row with its versions and captures (errors), for asserting what was recorded."""
    row = archive.conn.execute("SELECT id, last_status FROM pages WHERE url = ?", (url,)).fetchone()
    assert row, f"{url} was never recorded"
    versions = archive.conn.execute(
        "SELECT status, digest, quality, unpack_text(text_z) FROM versions WHERE page_id = ? ORDER BY id",
        (row[0],)).fetchall()
    errors = [e for (e,) in archive.conn.execute("SELECT error FROM captures WHERE page_id = ?", (row[0],))]
    return {"status": row[1], "versions": versions, "errors": errors}


def test_fault_crawl_finishes_and_good_pages_archived(fault_crawl):
    archive, srv, summary = fault_crawl
    assert summary["status"] == "finished", summary
    for path in ("/", "/good1.html", "/good2.html"):
        got = page(archive, srv.url + path)
        assert got["status"] == 200 and got["versions"][0][2] == "ok", (path, got)


def test_5xx_burst_retried_then_recorded(fault_crawl):
    archive, srv, _ = fault_crawl
    burst = page(archive, srv.url + "/burst")
    assert len(srv.hits("/burst")) == 3  # 503, 500, then the page
    assert [v[0] for v in burst["versions"]] == [200]
    down = page(archive, srv.url + "/down")
    assert len(srv.hits("/down")) == 3  # tried RETRY_TIMES + 1 times, then recorded as it is
    assert [(v[0], v[2]) for v in down["versions"]] == [(502, "error")]


@pytest.mark.parametrize("path", ["/hang", "/drip", "/reset"])
def test_timeouts_drips_and_resets_are_error_captures(fault_crawl, path):
    archive, srv, _ = fault_crawl
    got = page(archive, srv.url + path)
    assert got["versions"] == [] and got["status"] == 0
    assert len(got["errors"]) == 1 and got["errors"][0], got
    expect = {"/hang": "timeout", "/drip": "timeout", "/reset": "connection"}[path]
    assert expect in got["errors"][0].lower(), got["errors"]
    # Retried twice before giving up; Twisted also retries a GET once on a reused connection.
    assert 3 <= len(srv.hits(path)) <= 6


def test_redirect_chain_archived_under_final_url(fault_crawl):
    archive, srv, _ = fault_crawl
    final = page(archive, srv.url + "/final.html")
    assert final["versions"][0][0] == 200
    assert archive.conn.execute("SELECT count(*) FROM pages WHERE url LIKE '%/chain_'").fetchone()[0] == 0


def test_redirect_out_of_scope_not_followed(fault_crawl):
    archive, srv, _ = fault_crawl
    assert OFFSITE.paths() == []  # the other host never saw a request
    for path, target in (("/offsite", OFFSITE.url + "/landing.html"), ("/denied-hop", srv.url + "/private/x.html")):
        got = page(archive, srv.url + path)
        assert got["versions"] == [] and f"redirected out of scope to {target}" in got["errors"][0], got
    assert "/private/x.html" not in srv.paths()


def test_redirect_loop_gives_up_with_error_capture(fault_crawl):
    archive, srv, _ = fault_crawl
    loop = page(archive, srv.url + "/loop-a")
    assert loop["versions"] == [] and "redirect" in loop["errors"][0].lower(), loop
    assert len(srv.hits("/loop-a")) <= 22  # two requests, REDIRECT_MAX_TIMES (20) hops each


def test_429_retry_after_is_waited_for(fault_crawl):
    archive, srv, _ = fault_crawl
    hits = srv.hits("/limited")
    assert len(hits) == 2 and hits[1] - hits[0] >= 0.95, hits
    assert [v[0] for v in page(archive, srv.url + "/limited")["versions"]] == [200]
    # An hour's pause is not waited for, nor hammered: one request, the 429 recorded.
    assert len(srv.hits("/limited-long")) == 1
    assert [v[0] for v in page(archive, srv.url + "/limited-long")["versions"]] == [429]


def test_retry_after_parsing():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds(b"120") == 120
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0  # in the past
    assert retry_after_seconds(b"soon") is None and retry_after_seconds(None) is None


@pytest.mark.parametrize("path", ["/too-big", "/too-big-stream", "/bomb"])
def test_oversized_and_gzip_bomb_refused(fault_crawl, path):
    archive, srv, summary = fault_crawl
    got = page(archive, srv.url + path)
    assert got["versions"] == [] and len(got["errors"]) == 1, got
    assert summary["status"] == "finished"  # and the crawler did not run out of memory doing it
    biggest = archive.conn.execute("SELECT max(size) FROM bodies").fetchone()[0]
    assert biggest <= MAXSIZE


@pytest.mark.parametrize("path,body", [("/brochure.pdf", PDF), ("/blob", BLOB)])
def test_binary_bodies_archived_byte_exact_not_parsed(fault_crawl, path, body):
    archive, srv, _ = fault_crawl
    [(status, digest, quality, text)] = page(archive, srv.url + path)["versions"]
    assert status == 200 and digest == digest_of(body) and archive.body(digest) == body
    assert text is None


@pytest.mark.parametrize("path", ["/no-charset.html", "/wrong-charset.html", "/conflict.html",
                                  "/bogus-charset.html", "/invalid-utf8.html", "/utf16.html"])
def test_bad_charsets_archived_byte_exact_and_extracted(fault_crawl, path):
    archive, srv, _ = fault_crawl
    [(status, digest, _quality, text)] = page(archive, srv.url + path)["versions"]
    assert archive.body(digest) == FAULTS[path][0].body
    assert status == 200
    assert text is not None  # extraction ran and did not crash on the bytes


@pytest.mark.parametrize("path", ["/nested.html", "/malformed.html", "/empty"])
def test_malformed_deep_and_empty_html(fault_crawl, path):
    archive, srv, _ = fault_crawl
    [(status, digest, quality, text)] = page(archive, srv.url + path)["versions"]
    assert status == 200 and archive.body(digest) == FAULTS[path][0].body
    if path == "/empty":
        assert quality == "empty"
    else:
        assert text is not None


def test_malformed_sitemap_skipped(fault_crawl):
    archive, srv, summary = fault_crawl
    assert "/sitemap.xml" in srv.paths() and summary["status"] == "finished"


# ---- robots.txt, sitemaps and challenge pages: one site each, crawled side by side -------------

def test_robots_and_sitemap_faults_and_challenge_site(tmp_path):
    db = str(tmp_path / "r.db")
    archive = Archive(db)
    sites = {name: FaultServer().__enter__() for name in ("no-robots", "robots-5xx", "robots-huge", "waf")}
    try:
        page_links = html('<a href="/a.html">a</a> <a href="/b.html">b</a>')
        for srv in sites.values():
            srv.set("/", page_links)
            srv.set("/a.html", html("<p>Stem cell therapy for knee pain</p>"))
            srv.set("/b.html", html("<p>Stem cells for autism</p>"))
        sites["robots-5xx"].set("/robots.txt", Reply(status=503, body=b"down"))
        huge = b"User-agent: *\n" + b"".join(b"Disallow: /x%d/\n" % i for i in range(25_000)) + b"Disallow: /b.html\n"
        sites["robots-huge"].set("/robots.txt", Reply(headers={"Content-Type": "text/plain"}, body=huge))
        urls = "".join(f"<url><loc>{sites['no-robots'].url}/s{i}.html</loc></url>" for i in range(20_000))
        sites["no-robots"].set("/sitemap.xml", Reply(headers={"Content-Type": "application/xml"},
                                                     body=f'<urlset>{urls}</urlset>'.encode()))
        challenge = ("<html><head><title>Just a moment...</title></head><body><h1>Verify you are human</h1>"
                     "<p>Checking your browser before accessing the site.</p></body></html>")
        sites["waf"].set("/", html(challenge, status=403, **{"cf-mitigated": "challenge"}))
        sites["waf"].set("/a.html", html(challenge, status=503, **{"Retry-After": "0"}))
        sites["waf"].set("/b.html", html(challenge, status=403))
        waf_map = "".join(f"<url><loc>{sites['waf'].url}{p}</loc></url>" for p in ("/a.html", "/b.html"))
        sites["waf"].set("/sitemap.xml", Reply(body=f"<urlset>{waf_map}</urlset>".encode()))
        for name, srv in sites.items():
            add_site(archive, name, srv.url, max_pages=25, concurrency=8)
        summaries = {s["site"]: s for s in run_crawls(db, list(sites), parallel=4)}
        assert {s["status"] for s in summaries.values()} == {"finished"}, summaries

        def statuses(name: str) -> dict[str, int]:
            rows = archive.conn.execute("SELECT url, last_status FROM pages WHERE url LIKE ?",
                                        (sites[name].url + "/%",))
            return {url.removeprefix(sites[name].url): status for url, status in rows}

        # Missing robots.txt: everything allowed; the 20,000-URL sitemap is capped by max_pages.
        assert summaries["no-robots"]["pages"] == 25, sites["no-robots"].paths()[:8]
        assert sum(p.startswith("/s") for p in statuses("no-robots")) >= 20
        # robots.txt answering 503: treated as no rules (Scrapy's choice), pages still archived.
        assert statuses("robots-5xx").get("/a.html") == 200, (sites["robots-5xx"].paths(), summaries["robots-5xx"])
        # A 440 KB robots.txt (25,000 rules) is read and obeyed, its last rule included.
        assert statuses("robots-huge")["/a.html"] == 200 and "/b.html" not in statuses("robots-huge")
        # Challenge pages are recorded as captures of their kind, never as real content.
        waf = archive.conn.execute(
            "SELECT status, quality FROM versions JOIN pages ON pages.id = page_id WHERE url LIKE ?",
            (sites["waf"].url + "/%",)).fetchall()
        assert {s for s, _ in waf} == {403, 503}
        assert all(q in ("blocked", "error") for _, q in waf), waf
        assert archive.conn.execute(
            "SELECT count(*) FROM version_claims JOIN versions ON versions.id = version_id "
            "JOIN pages ON pages.id = page_id WHERE url LIKE ?", (sites["waf"].url + "/%",)).fetchone()[0] == 0
    finally:
        for srv in sites.values():
            srv.__exit__()
        archive.close()


# ---- crash safety: SIGKILL at random moments; searches answer during a crawl -----------------

KILL_PAGES = 80


def changing_site(tmp_path, state: dict) -> LocalSite:
    """80 pages whose text changes every round, so every crawl writes new versions and bodies."""
    root = write_site(tmp_path / "kill", {"index.html": "".join(
        f'<a href="/p{i}.html">page {i}</a> ' for i in range(KILL_PAGES))})
    site = LocalSite(root)
    for i in range(KILL_PAGES):
        site.routes[f"/p{i}.html"] = lambda h, i=i: (200, {"Content-Type": "text/html; charset=utf-8"}, (
            f"<html><head><title>Page {i}</title></head><body><p>Round {state['round']}: stem cell "
            f"therapy for autism and knee pain, page {i}.</p></body></html>").encode())
    return site


def test_sigkill_at_20_random_moments_leaves_a_sound_archive(archive, tmp_path, monkeypatch):
    """Two sites crawl side by side (two cores, and two writers contending), each crawl killed at a
    seeded random moment: 10 rounds x 2 = 20 SIGKILLs, the archive checked after every round."""
    rng = random.Random(2026)
    procs: dict[str, list[subprocess.Popen]] = {"a": [], "b": []}
    real_popen = subprocess.Popen

    def recording_popen(cmd, *args, **kwargs):
        proc = real_popen(cmd, *args, **kwargs)
        procs[cmd[cmd.index("--site") + 1]].append(proc)
        return proc

    def versions(site_url: str) -> int:
        return archive.conn.execute("SELECT count(*) FROM versions JOIN pages ON pages.id = page_id "
                                    "WHERE url LIKE ?", (site_url + "/%",)).fetchone()[0]

    def crawl_and_kill(name: str, site_url: str, moment: float, out: dict) -> None:
        runner = threading.Thread(target=lambda: out.update(run_crawl(archive.path, name)))
        before = versions(site_url)
        runner.start()
        wait_for(lambda: len(procs[name]) == state["round"])
        if moment < 0:  # during start-up (~3 s with the extractor's warm-up): nothing written yet
            time.sleep(-moment)
        else:  # while pages are being written: the moments that can tear a transaction
            wait_for(lambda: versions(site_url) > before or not runner.is_alive())
            time.sleep(moment)
        procs[name][-1].kill()
        runner.join(30)

    monkeypatch.setattr("crawler.crawls.subprocess.Popen", recording_popen)
    state = {"round": 0}
    outcomes: list[int] = []
    with changing_site(tmp_path / "a", state) as site_a, changing_site(tmp_path / "b", state) as site_b:
        urls = {"a": site_a.url, "b": site_b.url}
        for name, url in urls.items():
            add_site(archive, name, url, delay=0.05, concurrency=1)  # ~4 s a crawl: room to land mid-way
        for state["round"] in range(1, 11):
            results: dict[str, dict] = {"a": {}, "b": {}}
            killers = [threading.Thread(target=crawl_and_kill, args=(
                name, url, -rng.uniform(0, 3) if rng.random() < 0.3 else rng.uniform(0, 0.5), results[name]))
                for name, url in urls.items()]
            for k in killers:
                k.start()
            for k in killers:
                k.join(60)
            for result in results.values():
                outcomes.append(result.get("pages", 0))
                assert result["status"] in ("interrupted", "finished"), result  # finished: killed too late
            failed = [(r.name, r.problems) for r in check_archive(archive) if not r.ok]
            assert failed == [], (state["round"], failed)
            assert archive.conn.execute("SELECT count(*) FROM crawls WHERE status = 'running'").fetchone()[0] == 0
        print("pages stored per killed crawl:", outcomes)
        # Most kills landed mid-crawl, with pages written and more to come.
        assert sum(0 < n < KILL_PAGES + 1 for n in outcomes) >= 8, outcomes
        monkeypatch.undo()
        state["round"] = 11
        final = run_crawls(archive.path, ["a", "b"], parallel=2)
    assert [(f["status"], f["pages"]) for f in final] == [("finished", KILL_PAGES + 1)] * 2, final
    assert [r.name for r in check_archive(archive) if not r.ok] == []
    # The last round's text is searchable on every page (once crawler.claims extracts text).
    hits = archive.conn.execute("SELECT count(*) FROM versions_fts WHERE versions_fts MATCH '\"round 11\"'")
    assert hits.fetchone()[0] == 2 * KILL_PAGES


def test_search_answers_while_a_crawl_writes(archive, tmp_path):
    state = {"round": 1}
    with changing_site(tmp_path, state) as site:
        add_site(archive, "busy", site.url, delay=0, concurrency=4)
        done = threading.Event()
        thread = threading.Thread(target=lambda: (run_crawl(archive.path, "busy"), done.set()))
        reader = sqlite3.connect(archive.path, timeout=5)  # a journalist's search, on its own connection
        thread.start()
        latencies, errors, seen_rows = [], [], 0
        while not done.is_set():
            start = time.monotonic()
            try:
                seen_rows = reader.execute("SELECT count(*) FROM versions_fts WHERE versions_fts MATCH ?",
                                           ('"stem cell" OR autism',)).fetchone()[0]
            except sqlite3.Error as exc:
                errors.append(str(exc))
            latencies.append(time.monotonic() - start)
            time.sleep(0.01)
        thread.join()
        reader.close()
    assert errors == []
    assert len(latencies) >= 20 and max(latencies) < 0.5, (len(latencies), max(latencies))
    assert archive.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    print(f"{len(latencies)} searches during the crawl, slowest {max(latencies) * 1000:.1f} ms, "
          f"last saw {seen_rows} matching versions")
