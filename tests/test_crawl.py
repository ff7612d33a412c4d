"""The spine end to end: real Scrapy crawls in subprocesses against loopback sites."""

from __future__ import annotations

import zstandard

from crawler.crawls import run_crawl
from crawler.localsite import LocalSite
from storage.archive import digest_of
from tests.conftest import DEMO, add_site, db_size, write_site


def versions_by_url(archive) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for url, digest, status, captures in archive.conn.execute(
            "SELECT url, digest, status, captures FROM versions JOIN pages ON pages.id = page_id "
            "ORDER BY versions.id"):
        out.setdefault(url.split("/", 3)[3], []).append((digest, status, captures))
    return out


def test_first_crawl_archives_every_page_byte_exact(archive, demo_site):
    add_site(archive, "demo", demo_site.url)
    summary = run_crawl(archive.path, "demo")
    assert summary["status"] == "finished", summary
    got = versions_by_url(archive)
    for path in ["", "treatments/", "treatments/spinal-cord-injury.html", "about.html", "prices.html",
                 "faq.html", "news/open-day.html", "brochure.pdf"]:
        assert path in got, f"{path} not archived; got {sorted(got)}"
    assert summary["new_versions"] == len(got) == summary["pages"]
    # Bytes read back from the archive are exactly what the server holds.
    for path, [(digest, _status, _)] in got.items():
        file = DEMO / "v1" / (path + "index.html" if path.endswith("/") or not path else path)
        raw = archive.body(digest)
        assert raw == file.read_bytes(), path
        assert digest == digest_of(raw)
    stored = archive.conn.execute("SELECT codec, size, length(data) FROM bodies").fetchall()
    assert all(codec == "zstd" and comp < size for codec, size, comp in stored if size > 2000)
    row = archive.crawl(summary["id"])
    assert row["status"] == "finished" and row["finished_at"]


def test_robots_disallowed_and_out_of_scope_never_requested(archive, tmp_path):
    with LocalSite(DEMO / "v1") as site, LocalSite(write_site(tmp_path / "other", {
            "index.html": "<html><body>other host</body></html>"})) as other:
        root = write_site(tmp_path / "scoped", {
            "index.html": f'<a href="/a.html">a</a> <a href="/private/x.html">p</a> '
                          f'<a href="/skip/y.html">s</a> <a href="{other.url}/index.html">offsite</a>',
            "a.html": "<p>a</p>", "private/x.html": "<p>x</p>", "skip/y.html": "<p>y</p>",
            "robots.txt": "User-agent: *\nDisallow: /private/\n",
        })
        site.set_root(root)
        add_site(archive, "scoped", site.url, deny=["/skip/"])
        summary = run_crawl(archive.path, "scoped")
        assert summary["status"] == "finished"
        requested = site.paths()
        assert "/a.html" in requested
        assert "/private/x.html" not in requested
        assert "/skip/y.html" not in requested
        assert other.paths() == []
    # The demo's disallowed admin page is never fetched either.
    with LocalSite(DEMO / "v1") as demo:
        add_site(archive, "demo", demo.url)
        run_crawl(archive.path, "demo")
        assert not [p for p in demo.paths() if p.startswith("/admin")]
        assert "/robots.txt" in demo.paths()


def test_max_pages_respected(archive, tmp_path):
    pages = {"index.html": " ".join(f'<a href="/p{i}.html">{i}</a>' for i in range(30))}
    pages |= {f"p{i}.html": f"<p>page {i}</p>" for i in range(30)}
    with LocalSite(write_site(tmp_path, pages)) as site:
        add_site(archive, "capped", site.url, max_pages=10)
        summary = run_crawl(archive.path, "capped")
        fetched = [p for p in site.paths() if p.endswith(".html") or p == "/"]
    assert summary["pages"] == 10
    assert len(fetched) == 10


def test_recrawl_unchanged_costs_no_version_or_body(archive, demo_site):
    add_site(archive, "demo", demo_site.url)
    first = run_crawl(archive.path, "demo")
    versions, bodies = (archive.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                        for t in ("versions", "bodies"))
    size_before = db_size(archive)
    demo_site.clear_log()
    second = run_crawl(archive.path, "demo")
    assert second["status"] == "finished"
    assert second["new_versions"] == 0
    assert second["not_modified"] == first["pages"]  # every request was conditional and got a 304
    conditional = [h for m, p, h in demo_site.requests if "If-None-Match" in h]
    assert len(conditional) == first["pages"]
    # Without validators the server sends the same bytes again: collapsed by digest.
    archive.conn.execute("UPDATE pages SET etag = NULL, last_modified = NULL")
    third = run_crawl(archive.path, "demo")
    assert third["unchanged"] == first["pages"] and third["new_versions"] == 0
    assert archive.conn.execute("SELECT count(*) FROM versions").fetchone()[0] == versions
    assert archive.conn.execute("SELECT count(*) FROM bodies").fetchone()[0] == bodies
    assert {c for _, vs in versions_by_url(archive).items() for _, _, c in vs} == {3}
    growth = db_size(archive) - size_before
    # Two recrawls of every page: at most a couple of SQLite pages for the two crawl rows.
    assert growth <= 2 * 4096, growth


def test_changed_page_makes_new_version(archive, demo_site):
    add_site(archive, "demo", demo_site.url)
    run_crawl(archive.path, "demo")
    demo_site.set_root(DEMO / "v2")
    summary = run_crawl(archive.path, "demo")
    got = versions_by_url(archive)
    assert len(got["treatments/autism.html"]) == 1  # a new page
    assert len(got["about.html"]) == 2  # a changed claim
    assert summary["new_versions"] >= 2
    assert len(got["brochure.pdf"]) == 1  # untouched: one version, two captures
    assert got["brochure.pdf"][0][2] == 2


def test_sitemap_only_page_found_and_non_html_unparsed(archive, demo_site):
    add_site(archive, "demo", demo_site.url)
    run_crawl(archive.path, "demo")
    assert "/sitemap.xml" in demo_site.paths()
    assert "/news/open-day.html" in demo_site.paths()
    text, claims = archive.conn.execute(
        "SELECT versions.text_z, (SELECT count(*) FROM version_claims WHERE version_id = versions.id) "
        "FROM versions JOIN pages ON pages.id = page_id WHERE url LIKE '%brochure.pdf'").fetchone()
    assert text is None and claims == 0
    pdf = archive.conn.execute(
        "SELECT digest, content_type FROM versions JOIN pages ON pages.id = page_id "
        "WHERE url LIKE '%brochure.pdf'").fetchone()
    assert pdf[1] == "application/pdf"
    assert archive.body(pdf[0]).startswith(b"%PDF")


def test_errors_are_captures_not_versions(archive, tmp_path):
    root = write_site(tmp_path, {"index.html": '<a href="/gone.html">x</a> <a href="/boom">y</a>'})
    with LocalSite(root) as site:
        site.routes["/boom"] = lambda h: (500, {"Content-Type": "text/html"}, b"<p>server error</p>")
        add_site(archive, "errs", site.url)
        summary = run_crawl(archive.path, "errs")
    assert summary["status"] == "finished"
    statuses = dict(archive.conn.execute(
        "SELECT url, last_status FROM pages").fetchall())
    assert statuses[site.url + "/gone.html"] == 404
    assert statuses[site.url + "/boom"] == 500
    quality = dict(archive.conn.execute(
        "SELECT url, quality FROM versions JOIN pages ON pages.id = page_id").fetchall())
    assert quality[site.url + "/gone.html"] == "error"


def test_unreachable_site_recorded_as_error_capture(archive):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    add_site(archive, "down", f"http://127.0.0.1:{port}", )
    summary = run_crawl(archive.path, "down")
    assert summary["status"] == "finished"
    assert summary["errors"] == 1 and summary["new_versions"] == 0
    error = archive.conn.execute("SELECT error FROM captures").fetchone()[0]
    assert "refused" in error.lower() or "connect" in error.lower()


def test_body_compression_roundtrip_exact(archive):
    from storage.archive import Capture

    site = add_site(archive, "x", "http://127.0.0.1:9")
    crawl_id = archive.start_crawl(site)
    body = bytes(range(256)) * 40
    out = archive.record_capture(crawl_id, site["id"], Capture(
        url="http://127.0.0.1:9/bin", status=200, headers={"content-type": "application/octet-stream"},
        body=body))
    assert out.kind == "new"
    digest, codec, data = archive.conn.execute("SELECT digest, codec, data FROM bodies").fetchone()
    assert codec == "zstd" and zstandard.ZstdDecompressor().decompress(data) == body == archive.body(digest)


def test_private_addresses_refused_unless_allowed(archive, tmp_path, monkeypatch):
    monkeypatch.delenv("STEMWATCH_ALLOW_PRIVATE")
    with LocalSite(write_site(tmp_path, {"index.html": "<p>hi</p>"})) as site:
        add_site(archive, "local", site.url)
        summary = run_crawl(archive.path, "local")
        assert site.paths() == []  # not even robots.txt
    assert summary["errors"] == 1 and summary["new_versions"] == 0
    error = archive.conn.execute("SELECT error FROM captures").fetchone()[0]
    assert "loopback" in error
