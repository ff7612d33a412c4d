"""Distributed crawls against a real redis-server: workers, one ingester, a worker killed mid-crawl."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from crawler.crawls import run_crawl
from crawler.localsite import LocalSite
from storage.archive import Archive
from storage.changes import claims_of
from tests.conftest import ROOT, add_site, stemwatch, write_site
from tests.redisserver import MISSING, RedisServer

PAGES = 240  # plus index, sitemap-only pages and a redirecting directory: a few hundred URLs

CLAIMS = [
    "Our clinic offers stem cell therapy for multiple sclerosis.",
    "We use umbilical cord mesenchymal stem cells delivered by IV infusion.",
    "Treatment costs $15,000 including follow-up.",
    "FDA registered laboratory.",
    "Stem cell treatment for knee osteoarthritis with a 90% success rate.",
    "",
]


@pytest.fixture(scope="module")
def redis_server():
    try:
        server = RedisServer().start()
    except RuntimeError as exc:
        pytest.fail(f"{exc}" if "not installed" in str(exc) else f"{MISSING}: {exc}", pytrace=False)
    yield server
    server.stop()


def page(i: int, v2: bool) -> str:
    links = " ".join(f'<a href="/p/{j}.html">page {j}</a>' for j in (i + 1, 2 * i + 1, 2 * i + 2) if j < PAGES)
    text = CLAIMS[i % len(CLAIMS)]
    if v2 and i % 10 == 3:
        text += " We now offer stem cell therapy for autism. A cure for Parkinson's disease."
    if v2 and i % 12 == 4:
        text = ""  # a claim removed
    return (f"<!DOCTYPE html><html><head><title>Page {i}</title></head><body><main><h1>Page {i}</h1>"
            f"<p>{text}</p><p>Regenerative medicine, page {i} of our clinic.</p>{links}</main></body></html>")


def make_site(root: Path, v2: bool = False) -> Path:
    pages: dict[str, str] = {f"p/{i}.html": page(i, v2) for i in range(PAGES)}
    pages["index.html"] = ('<a href="/p/0.html">start</a> <a href="/section">section</a> '
                           '<a href="/missing.html">gone</a> <a href="/private/x.html">private</a>')
    pages["section/index.html"] = "<p>Section page (reached through a redirect)</p>"
    pages["private/x.html"] = "<p>robots.txt says no</p>"
    for i in range(10):
        pages[f"only-in-sitemap/{i}.html"] = f"<p>Orphan {i}: stem cell therapy for autism.</p>"
    urls = "".join(f"<url><loc>{{{{BASE}}}}/only-in-sitemap/{i}.html</loc></url>" for i in range(10))
    pages["sitemap.xml"] = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    pages["robots.txt"] = "User-agent: *\nDisallow: /private/\nSitemap: {{BASE}}/sitemap.xml\n"
    return write_site(root, pages)


def start_worker(url: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "crawler.cli", "worker", "--redis", url, "--max-idle", "4", *extra],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "STEMWATCH_HEARTBEAT_TTL": "3"}, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def distributed_crawl(url: str, db: str, name: str, workers: int = 2) -> str:
    """dcrawl, N workers and one ingester as real processes; returns the ingester's and workers' stderr."""
    stemwatch("dcrawl", "--redis", url, name, db=db)
    procs = [start_worker(url) for _ in range(workers)]
    ingest = stemwatch("ingest", "--redis", url, "--until-idle", db=db, timeout=300)
    logs = ingest.stderr
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=60)
        finally:
            stop(proc)
        assert proc.returncode == 0, err
        logs += err
    return logs


def snapshot(db: str) -> dict[str, set]:
    """What must match between a local and a distributed crawl, with URLs made host-independent."""
    archive = Archive(db)
    q = archive.conn.execute
    path = "substr(pages.url, instr(substr(pages.url, 8), '/') + 7)"
    pages = q(f"SELECT {path}, versions.id FROM versions JOIN pages ON pages.id = page_id").fetchall()
    out = {
        "versions": set(q(f"SELECT {path}, digest, status FROM versions JOIN pages ON pages.id = page_id")),
        "claims": {(url, c.kind, c.term, c.role, c.evidence)
                   for url, vid in pages for c in claims_of(archive.conn, vid)},
        "site_claims": set(q("SELECT kind, term, role, status FROM site_claims")),
        "changes": set(q(f"SELECT {path}, claims_added, claims_removed FROM changes JOIN pages ON pages.id = page_id")),
        # A flag's page is the first page stored with the new claim: with several pages carrying it, which one
        # comes first depends on fetch order, so the page is checked to carry the claim, not to be the same.
        "flags": set(q("SELECT kind, claim_kind, term, role FROM flags")),
        "flag_pages_carry_the_claim": {all(
            (kind, term, role) in {c.key for v in q("SELECT versions.id FROM versions JOIN pages ON pages.id = page_id "
                                                   "WHERE url = ?", (url,)) for c in claims_of(archive.conn, v[0])}
            for kind, term, role, url in q("SELECT claim_kind, term, role, url FROM flags"))},
        "errors": set(q(f"SELECT {path}, status FROM captures JOIN pages ON pages.id = page_id")),
        "crawls": set(q("SELECT id, status, pages, new_versions, unchanged, not_modified, errors FROM crawls")),
    }
    archive.close()
    return out


def gets(site: LocalSite) -> dict[str, int]:
    counts: dict[str, int] = {}
    for method, p, _ in site.requests:
        if method == "GET":
            counts[p] = counts.get(p, 0) + 1
    return counts


def test_two_workers_match_a_local_crawl(redis_server, tmp_path):
    v1, v2 = make_site(tmp_path / "v1"), make_site(tmp_path / "v2", v2=True)
    local_db, dist_db = str(tmp_path / "local.db"), str(tmp_path / "dist.db")
    with LocalSite(v1) as site:
        for db in (local_db, dist_db):
            add_site(Archive(db), "clinic", site.url, max_pages=1000)
        for root in (v1, v2):
            site.set_root(root)
            site.clear_log()
            assert run_crawl(local_db, "clinic")["status"] == "finished"
            local_gets = gets(site)
            site.clear_log()
            distributed_crawl(redis_server.url, dist_db, "clinic")
            dist_gets = gets(site)
            # Every page fetched exactly once per crawl across both workers (robots.txt: once per worker).
            pages = {p: n for p, n in dist_gets.items() if p != "/robots.txt"}
            assert pages == {p: n for p, n in local_gets.items() if p != "/robots.txt"}
            assert set(pages.values()) == {1}, {p: n for p, n in pages.items() if n != 1}
            assert "/private/x.html" not in pages
    local, dist = snapshot(local_db), snapshot(dist_db)
    assert len(local["versions"]) > PAGES
    assert local["flags"], "the second crawl should raise flags"
    assert local["flag_pages_carry_the_claim"] == {True}
    for key in local:
        assert dist[key] == local[key], key
    # Nothing is left behind in Redis once both crawls are finished.
    client = redis.Redis.from_url(redis_server.url)
    assert not [k for k in client.keys("sw:c:*")] and not client.smembers("sw:crawls")


def slow_routes(site: LocalSite, root: Path, pause: float) -> None:
    """Every page answers after a pause, so a killed worker surely holds requests in flight."""
    def route(file: Path):
        return lambda handler: (time.sleep(pause), (200, {"Content-Type": "text/html; charset=utf-8"},
                                                     file.read_bytes()))[1]
    for file in root.rglob("*.html"):
        site.routes["/" + file.relative_to(root).as_posix()] = route(file)


def test_killed_worker_loses_nothing(redis_server, tmp_path):
    root = make_site(tmp_path / "site")
    db = str(tmp_path / "dist.db")
    client = redis.Redis.from_url(redis_server.url)
    with LocalSite(root) as site:
        slow_routes(site, root, 0.05)
        add_site(Archive(db), "clinic", site.url, max_pages=1000)
        out = stemwatch("dcrawl", "--redis", redis_server.url, "clinic", "--json", db=db)
        crawl_id = int(out.stdout.split('"crawl_id": ')[1].split(",")[0])
        victim, survivor = start_worker(redis_server.url), start_worker(redis_server.url)
        ingest = subprocess.Popen([sys.executable, "-m", "crawler.cli", "ingest", "--redis", redis_server.url,
                                   "--until-idle", "--db", db], cwd=ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            in_flight = 0
            while time.monotonic() < deadline:  # kill once the crawl is under way and the victim holds requests
                keys = client.keys(f"sw:c:{crawl_id}:p:*:{victim.pid}:*")
                in_flight = sum(client.hlen(k) for k in keys)
                if client.scard(f"sw:c:{crawl_id}:seen") > 60 and in_flight:
                    break
                time.sleep(0.02)
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            assert in_flight, "the victim never held a request"
            _, ingest_err = ingest.communicate(timeout=300)
            assert ingest.returncode == 0, ingest_err
            _, survivor_err = survivor.communicate(timeout=60)
        finally:
            for proc in (victim, survivor, ingest):
                stop(proc)
    assert "requeued" in ingest_err + survivor_err
    archive = Archive(db)
    crawl = archive.crawl(crawl_id)
    expected = PAGES + 10 + 3  # pages, sitemap-only pages, index, section (redirect target), missing
    assert crawl["status"] == "finished"
    assert crawl["pages"] == expected
    assert archive.conn.execute("SELECT count(*) FROM pages").fetchone()[0] == expected
    # Each page once: one version with one capture (a request refetched after the kill is not doubled).
    assert {n for (n,) in archive.conn.execute("SELECT captures FROM versions")} == {1}
    archive.close()


def test_commit_of_a_requeued_request_is_dropped(redis_server):
    from crawler.distributed import Shared, ck

    shared = Shared(redis_server.url)
    shared.r.flushdb()
    shared.r.lpush(ck(9, "q"), b"request")
    token = "w1/abc"
    assert shared.pop_script(keys=[ck(9, "q"), ck(9, "p:w1"), ck(9, "workers")], args=[token, "w1"]) == b"request"
    shared.r.sadd(ck(9, "workers"), "w1")
    assert not shared.is_drained(9)  # in flight
    shared.r.sadd("sw:crawls", 9)
    shared.r.sadd("sw:workers", "w1")  # registered, no heartbeat: dead
    assert shared.reap() == 1 and shared.r.llen(ck(9, "q")) == 1
    assert not shared.commit(9, token, 10, [("page", "http://x/a", b"r")], [("", b"cap")])
    assert shared.r.llen(ck(9, "items")) == 0 and shared.r.llen(ck(9, "q")) == 1
    shared.r.flushdb()


def test_user_errors_are_one_line(tmp_path, redis_server):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = str(tmp_path / "x.db")
    for args, expected in [
        (("worker", "--redis", "foo://nowhere"), "bad Redis URL"),
        (("ingest", "--redis", f"redis://127.0.0.1:{port}/0", "--db", db), "cannot reach Redis"),
        (("dcrawl", "--redis", f"redis://127.0.0.1:{port}/0", "acme", "--db", db), "cannot reach Redis"),
        (("dcrawl", "--redis", redis_server.url, "nosuchsite", "--db", db), "unknown site"),
    ]:
        proc = stemwatch(*args, check=False)
        assert proc.returncode != 0
        assert expected in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_commands_document_an_example():
    for name in ("dcrawl", "worker", "ingest"):
        out = stemwatch(name, "--help").stdout
        assert "Example:" in out and f"stemwatch {name} --redis" in out
