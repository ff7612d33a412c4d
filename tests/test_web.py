"""The web UI (Datasette + crawler/web) over HTTP, without a browser: queries, version view, safety."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest

from crawler.web import load_metadata, make_datasette
from crawler.web.plugin import RAW_CSP
from storage.archive import Archive, Capture
from tests.conftest import ROOT
from tests.test_query import AUTISM, PDF, H, M, newsroom  # noqa: F401  (the fixture)


def get(ds, path: str):
    async def fetch():
        await ds.invoke_startup()
        return await ds.client.get(path)
    return asyncio.run(fetch())


@pytest.fixture
def web(newsroom):  # noqa: F811
    archive, ids = newsroom
    archive.conn.execute("INSERT INTO notify_targets(url, added_at) VALUES ('https://hooks.example/T0KEN', 'now')")
    return make_datasette(archive.path), archive, ids


def rows(ds, path: str) -> list[dict]:
    """A page's JSON twin, as a list of row objects."""
    base, _, params = path.partition("?")
    response = get(ds, f"{base}.json?_shape=objects" + (f"&{params}" if params else ""))
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def test_home_lists_the_questions(web):
    ds, _, _ = web
    page = get(ds, "/").text
    assert "stemwatch archive" in page
    for query_name in ("search", "clinics_offering", "new_therapies_this_week", "claims_removed", "site_timeline",
                       "page_history", "page_as_of"):
        assert f'href="/archive/{query_name}' in page
    tables = get(ds, "/archive").text
    assert "bodies" not in tables.split("hidden")[0]  # raw blobs are reached through the version page


def test_stored_queries_answer(web):
    ds, _, ids = web
    found = rows(ds, "/archive/search?q=exosome&site=")
    assert [r["version_id"] for r in found] == [ids["covid1"]] and "**exosome**" in found[0]["snippet"]
    assert rows(ds, "/archive/search?q=treat&site=harbor")[0]["url"] == H + "/"
    assert rows(ds, "/archive/search?q=&site=") == []  # an empty form is no error
    offering = rows(ds, "/archive/clinics_offering?term=autism")
    assert [(r["site"], r["term"]) for r in offering] == [("harbor", "autism_spectrum_disorder")]
    assert offering[0]["first_seen"] == "2026-02-01T12:00:00.000Z" and offering[0]["evidence"]
    assert [r["term"] for r in rows(ds, "/archive/claims_removed?site=meridian&since=2026-03-01")] == ["exosomes"]
    assert rows(ds, "/archive/claims_removed?site=harbor&since=") == []
    timeline = rows(ds, "/archive/site_timeline?site=meridian")
    assert [r["term"] for r in timeline] == ["exosomes", "long_covid", "regulatory_legitimacy"]
    url = M + "/treatments/long-covid.html"
    assert [r["version_id"] for r in rows(ds, f"/archive/page_history?url={url}")] == [ids["covid1"], ids["covid2"]]
    assert rows(ds, f"/archive/page_as_of?url={url}&at=2026-03-03")[0]["version_id"] == ids["covid1"]
    assert rows(ds, f"/archive/page_as_of?url={url}&at=2026-03-05")[0]["version_id"] == ids["covid2"]
    assert rows(ds, "/archive/site_changes?site=meridian&since=") == []
    assert rows(ds, "/archive/recent_flags") == []
    # "This week" is relative to now: the newsroom's claims are all older.
    assert rows(ds, "/archive/new_therapies_this_week") == []


def test_every_stored_query_has_a_csv_twin(web):
    ds, _, _ = web
    response = get(ds, "/archive/clinics_offering.csv?term=autism")
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert lines[0].startswith("site,kind,term,first_seen") and lines[1].startswith("harbor,condition,autism")


def test_search_results_link_versions_and_escape_text(web):
    ds, archive, ids = web
    archive.conn.execute("UPDATE versions SET text_z = pack_text(unpack_text(text_z) || "
                         "' <script>alert(1)</script> exosome') WHERE id = ?", (ids["covid1"],))
    page = get(ds, "/archive/search?q=exosome&site=").text
    assert f'<a href="/-/version/{ids["covid1"]}">{ids["covid1"]}</a>' in page
    assert "<mark>exosome</mark>" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def test_version_page_shows_text_claims_and_a_sandboxed_frame(web):
    ds, archive, ids = web
    vid = ids["covid1"]
    page = get(ds, f"/-/version/{vid}")
    assert page.status_code == 200
    html = page.text
    assert f'<iframe class="sw-frame" sandbox="" referrerpolicy="no-referrer" src="/-/version/{vid}/raw"' in html
    assert "We treat long COVID with exosome infusions." in html  # the text
    assert "exosomes" in html and "long_covid" in html  # the claims
    assert "<p>We treat long COVID" not in html  # the archived HTML itself is never inlined
    assert f'href="/-/version/{ids["covid2"]}"' in html  # next version
    data = get(ds, f"/-/version/{vid}.json").json()
    assert data["version_id"] == vid and {c["term"] for c in data["claims"]} == {"long_covid", "exosomes"}
    assert get(ds, "/-/version/99999").status_code == 404
    # Not HTML: no frame, a download link.
    pdf = get(ds, f"/-/version/{ids['pdf']}").text
    assert "<iframe" not in pdf and f"/-/version/{ids['pdf']}/raw?download=1" in pdf


def test_raw_bytes_served_with_a_strict_policy(web):
    ds, archive, ids = web
    raw = get(ds, f"/-/version/{ids['covid1']}/raw")
    assert raw.status_code == 200
    assert raw.headers["content-security-policy"] == RAW_CSP
    assert RAW_CSP == "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
    assert raw.headers["x-content-type-options"] == "nosniff"
    assert raw.headers["content-type"].startswith("text/html")
    assert raw.content == archive.body(archive.conn.execute(
        "SELECT digest FROM versions WHERE id = ?", (ids["covid1"],)).fetchone()[0])
    assert "content-disposition" not in raw.headers
    pdf = get(ds, f"/-/version/{ids['pdf']}/raw")
    assert pdf.content == PDF and pdf.headers["content-security-policy"] == RAW_CSP
    assert pdf.headers["content-disposition"].startswith("attachment;")
    download = get(ds, f"/-/version/{ids['autism']}/raw?download=1")
    assert download.content == AUTISM and "attachment" in download.headers["content-disposition"]


def test_nothing_in_the_ui_can_write(web):
    ds, archive, ids = web
    before = archive.conn.execute("SELECT count(*), max(title) FROM versions").fetchone()
    # No stored query may write.
    for name, spec in load_metadata()["databases"]["archive"]["queries"].items():
        assert not spec.get("write"), name
        assert spec["sql"].lstrip().lower().startswith("select"), name
    # Arbitrary SQL is read-only: Datasette refuses non-SELECT, and the connection refuses writes.
    assert get(ds, "/archive.json?sql=update+versions+set+title%3D1").status_code == 400
    db = ds.get_database("archive")

    async def attempts():
        await ds.invoke_startup()
        errors = []
        for sql in ("UPDATE versions SET title = 'x'", "DELETE FROM bodies", "PRAGMA query_only = 0",
                    "CREATE TABLE evil(x)"):
            try:
                await db.execute_write(sql)
            except sqlite3.DatabaseError as exc:
                errors.append(str(exc))
        return errors

    errors = asyncio.run(attempts())
    assert len(errors) == 4, errors
    assert archive.conn.execute("SELECT count(*), max(title) FROM versions").fetchone() == before
    assert "evil" not in {r[0] for r in archive.conn.execute("SELECT name FROM sqlite_master")}
    # A webhook URL (it may hold a token) reads as empty through the UI.
    assert get(ds, "/archive.json?sql=select+url+from+notify_targets&_shape=array").json() == [{"url": None}]


def test_ui_sees_new_crawls_while_running(web):
    """Read-only is not a snapshot: a version recorded after the server started shows up."""
    ds, archive, ids = web
    assert rows(ds, "/archive/search?q=zebrafish&site=") == []
    site = archive.site("harbor")
    crawl = archive.start_crawl(site)
    archive.record_capture(crawl, site["id"], Capture(url=H + "/new.html", status=200,
                                                      headers={"content-type": "text/html"}, body=b"<p>z</p>"))
    vid = archive.conn.execute("SELECT max(id) FROM versions").fetchone()[0]
    archive.conn.execute("UPDATE versions SET text_z = pack_text('zebrafish stem cells') WHERE id = ?", (vid,))
    assert [r["version_id"] for r in rows(ds, "/archive/search?q=zebrafish&site=")] == [vid]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "crawler.cli", "serve", "--port", str(port), "--db", db],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {proc.stderr.read().decode()}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise AssertionError("serve did not start within 30 s")


def test_serve_command_runs_on_loopback(tmp_path):
    archive = Archive(str(tmp_path / "a.db"))
    archive.close()
    port = free_port()
    proc = start_server(str(tmp_path / "a.db"), port)
    try:
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/archive/search?q=x&site=", timeout=5).read()
        assert b"Search every archived version" in page
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert b"http://127.0.0.1:" in proc.stderr.read()


def test_serve_defaults_to_loopback_and_needs_an_archive(tmp_path):
    from click.testing import CliRunner

    from crawler.cli import cli

    serve = cli.commands["serve"]
    assert next(p for p in serve.params if p.name == "host").default == "127.0.0.1"
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1 and "no archive at" in result.output


def test_new_therapies_this_week_leaves_out_baselines(web):
    ds, archive, ids = web
    now = archive.conn.execute("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')").fetchone()[0]
    harbor, meridian = (archive.site(n) for n in ("harbor", "meridian"))
    later = archive.start_crawl(meridian)  # a crawl after meridian's baseline
    archive.conn.executemany(
        "INSERT INTO site_claims(site_id, kind, term, role, first_seen, last_seen, status, first_crawl_id) "
        "VALUES (?, 'condition', ?, 'offered', ?, ?, 'active', ?)",
        [(meridian["id"], "stroke", now, now, later),  # news
         (harbor["id"], "lupus", now, now, harbor["baseline_crawl_id"])])  # what harbor offered from the start
    assert [(r["site"], r["term"]) for r in rows(ds, "/archive/new_therapies_this_week")] == [("meridian", "stroke")]
