"""Journalist queries (storage.query) and their commands, on a small archive with known dates.

The `newsroom` archive is built through Archive.record_capture (the crawler's own write path) with
fixed fetch times, then given text, claims and site claims as the extractor and the timeline
builder would write them, so every date in the assertions is known.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import zstandard
from click.testing import CliRunner

from crawler.cli import cli
from storage import query
from storage.archive import Archive, Capture, digest_of
from storage.codec import pack_claims
from tests.conftest import ROOT

M = "http://meridian.example"
H = "http://harbor.example"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"  # binary, shared by both sites


def page(title: str, body: str) -> bytes:
    return f"<!DOCTYPE html><html><head><title>{title}</title></head><body>{body}</body></html>".encode()


LONG_COVID_V1 = page("Long COVID", "<p>We treat long COVID with exosome infusions.</p>")
LONG_COVID_V2 = page("Long COVID", "<p>We treat long COVID. Our laboratory is FDA registered.</p>")
PRICES_A = page("Prices", "<p>Consultation free. Treatment $9,000.</p>")
PRICES_B = page("Prices", "<p>Consultation free. Treatment $7,500 special offer.</p>")
AUTISM = page("Autism", "<p>We treat autism with umbilical cord stem cells.</p>")
HTML_HEADERS = {"content-type": "text/html; charset=utf-8", "content-encoding": "gzip", "content-length": "17",
                "etag": '"abc"', "server": "nginx"}

# (site, url, fetched_at, status, headers, body) in crawl order; repeated bytes collapse into a version.
FETCHES = [
    ("meridian", M + "/treatments/long-covid.html", "2026-01-10T09:00:00.000Z", 200, HTML_HEADERS, LONG_COVID_V1),
    ("meridian", M + "/prices.html", "2026-01-10T09:00:01.000Z", 200, HTML_HEADERS, PRICES_A),
    ("meridian", M + "/brochure.pdf", "2026-01-10T09:00:02.000Z", 200, {"content-type": "application/pdf"}, PDF),
    ("meridian", M + "/old.html", "2026-01-10T09:00:03.000Z", 404, {"content-type": "text/html"}, b"not found"),
    ("meridian", M + "/treatments/long-covid.html", "2026-02-10T09:00:00.000Z", 200, HTML_HEADERS, LONG_COVID_V1),
    ("meridian", M + "/prices.html", "2026-02-10T09:00:01.000Z", 200, HTML_HEADERS, PRICES_B),
    ("harbor", H + "/", "2026-02-01T12:00:00.000Z", 200, HTML_HEADERS, AUTISM),
    ("harbor", H + "/brochure.pdf", "2026-02-01T12:00:01.000Z", 200, {"content-type": "application/pdf"}, PDF),
    ("meridian", M + "/treatments/long-covid.html", "2026-03-05T10:00:00.000Z", 200, HTML_HEADERS, LONG_COVID_V2),
    ("meridian", M + "/prices.html", "2026-03-05T10:00:01.000Z", 200, HTML_HEADERS, PRICES_A),  # back to A
]
TEXTS = {
    LONG_COVID_V1: ("Long COVID", "We treat long COVID with exosome infusions."),
    LONG_COVID_V2: ("Long COVID", "We treat long COVID. Our laboratory is FDA registered."),
    PRICES_A: ("Prices", "Consultation free. Treatment $9,000."),
    PRICES_B: ("Prices", "Consultation free. Treatment $7,500 special offer."),
    AUTISM: ("Autism", "We treat autism with umbilical cord stem cells."),
}
CLAIMS = {
    LONG_COVID_V1: [("condition", "long_covid", "offered", "We treat long COVID with exosome infusions."),
                    ("cell_type", "exosomes", "offered", "We treat long COVID with exosome infusions.")],
    LONG_COVID_V2: [("condition", "long_covid", "offered", "We treat long COVID."),
                    ("red_flag", "regulatory_legitimacy", "offered", "Our laboratory is FDA registered.")],
    AUTISM: [("condition", "autism_spectrum_disorder", "offered", "We treat autism with umbilical cord stem cells."),
             ("cell_type", "umbilical_cord", "offered", "We treat autism with umbilical cord stem cells.")],
}


def build_newsroom(archive: Archive) -> dict[str, int]:
    """Fill an empty archive; returns version ids by a short name."""
    sites = {}
    for name, url in (("meridian", M), ("harbor", H)):
        sites[name] = archive.add_site({"name": name, "start_urls": [url + "/"], "max_pages": 50, "every": "1d",
                                        "delay": 0, "concurrency": 1})
    crawls: dict[tuple[str, str], int] = {}
    for site, url, at, status, headers, body in FETCHES:
        key = (site, at[:10])
        if key not in crawls:
            crawls[key] = archive.start_crawl(sites[site])
        archive.record_capture(crawls[key], sites[site]["id"],
                               Capture(url=url, status=status, headers=dict(headers), body=body, fetched_at=at))
    for crawl_id in crawls.values():
        archive.finish_crawl(crawl_id, "finished")
    conn = archive.conn
    baseline = {site: min(cid for (s, _), cid in crawls.items() if s == site) for site in sites}
    for site, crawl_id in baseline.items():
        conn.execute("UPDATE sites SET baseline_crawl_id = ? WHERE name = ?", (crawl_id, site))
    ids: dict[str, int] = {}
    for vid, digest in conn.execute("SELECT id, digest FROM versions ORDER BY id").fetchall():
        body = archive.body(digest)
        if body in TEXTS:
            title, text = TEXTS[body]
            conn.execute("UPDATE versions SET title = ?, text_z = pack_text(?), extractor = 'test-1' WHERE id = ?",
                         (title, text, vid))
        claims = [(kind, term, role, evidence, "", None, 0, 0, None)
                  for kind, term, role, evidence in CLAIMS.get(body, [])]
        if claims:
            conn.execute("INSERT INTO version_claims(version_id, count, data) VALUES (?, ?, ?)",
                         (vid, len(claims), pack_claims(claims, TEXTS.get(body, ("", ""))[1])))
    for name, (url, n) in {"covid1": ("/treatments/long-covid.html", 0), "covid2": ("/treatments/long-covid.html", 1),
                           "pricesA": ("/prices.html", 0), "pricesB": ("/prices.html", 1),
                           "pricesA2": ("/prices.html", 2), "pdf": ("/brochure.pdf", 0),
                           "old": ("/old.html", 0)}.items():
        ids[name] = conn.execute(
            "SELECT versions.id FROM versions JOIN pages ON pages.id = page_id WHERE url = ? "
            "ORDER BY versions.first_seen LIMIT 1 OFFSET ?", (M + url, n)).fetchone()[0]
    ids["autism"] = conn.execute("SELECT versions.id FROM versions JOIN pages ON pages.id = page_id "
                                 "WHERE url = ?", (H + "/",)).fetchone()[0]
    ids["harbor_pdf"] = conn.execute("SELECT versions.id FROM versions JOIN pages ON pages.id = page_id "
                                     "WHERE url = ?", (H + "/brochure.pdf",)).fetchone()[0]
    site_claims = [
        # site, kind, term, role, first_seen, last_seen, first version, status, removed_at, evidence, url
        ("meridian", "condition", "long_covid", "offered", "2026-01-10T09:00:00.000Z", "2026-03-05T10:00:00.000Z",
         ids["covid1"], "active", None, "We treat long COVID with exosome infusions.",
         M + "/treatments/long-covid.html"),
        ("meridian", "cell_type", "exosomes", "offered", "2026-01-10T09:00:00.000Z", "2026-02-10T09:00:00.000Z",
         ids["covid1"], "removed", "2026-03-05T10:00:00.000Z", "We treat long COVID with exosome infusions.",
         None),  # the URL from the first version
        ("meridian", "red_flag", "regulatory_legitimacy", "offered", "2026-03-05T10:00:00.000Z",
         "2026-03-05T10:00:00.000Z", ids["covid2"], "active", None, "Our laboratory is FDA registered.",
         M + "/treatments/long-covid.html"),
        ("harbor", "condition", "autism_spectrum_disorder", "offered", "2026-02-01T12:00:00.000Z",
         "2026-02-01T12:00:00.000Z", ids["autism"], "active", None,
         "We treat autism with umbilical cord stem cells.", H + "/"),
    ]
    for site, kind, term, role, first, last, vid, status, removed, evidence, url in site_claims:
        conn.execute(
            "INSERT INTO site_claims(site_id, kind, term, role, first_seen, last_seen, first_version_id, "
            "last_version_id, status, removed_at, evidence, url, first_crawl_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT crawl_id FROM versions WHERE id = ?))",
            (sites[site]["id"], kind, term, role, first, last, vid, vid, status, removed, evidence, url, vid))
    return ids


@pytest.fixture
def newsroom(tmp_path) -> tuple[Archive, dict[str, int]]:
    archive = Archive(str(tmp_path / "newsroom.db"))
    ids = build_newsroom(archive)
    yield archive, ids
    archive.close()


def run(db: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--db", db])
    return result.exit_code, result.output


# ---- dates --------------------------------------------------------------------------------------

def test_dates_accept_days_and_iso_timestamps():
    assert query.parse_when("2026-03-03") == "2026-03-03T00:00:00.000Z"
    assert query.parse_when("2026-03-03", end_of_day=True) == "2026-03-03T23:59:59.999Z"
    assert query.parse_when("2026-03-03T14:05:06Z") == "2026-03-03T14:05:06.000Z"
    assert query.parse_when("2026-03-03T14:05:06.250Z") == "2026-03-03T14:05:06.250Z"
    assert query.parse_when("2026-03-03T15:05+01:00") == "2026-03-03T14:05:00.000Z"
    assert query.parse_when("2026-03-03T14:05") == "2026-03-03T14:05:00.000Z"  # no offset: UTC
    week_ago = datetime.now(UTC) - timedelta(days=7)
    assert abs(datetime.fromisoformat(query.parse_when("7d")) - week_ago) < timedelta(seconds=5)
    assert query.parse_when("2w") < query.parse_when("7d") < query.parse_when("24h")
    for bad in ("3 March", "2026-13-01", "yesterday", "2026/03/03"):
        with pytest.raises(query.QueryError, match="not a date"):
            query.parse_when(bad)


# ---- search -------------------------------------------------------------------------------------

def test_search_ranks_highlights_and_filters(newsroom):
    archive, ids = newsroom
    conn = archive.conn
    rows = query.search(conn, "exosome")
    assert [r["version_id"] for r in rows] == [ids["covid1"]]
    row = rows[0]
    assert row["site"] == "meridian" and row["url"] == M + "/treatments/long-covid.html"
    assert row["first_seen"] == "2026-01-10T09:00:00.000Z" and row["last_seen"] == "2026-02-10T09:00:00.000Z"
    assert "**exosome**" in row["snippet"]
    # Stemming: "treating" finds "treat"; both sites match; --site narrows.
    assert {r["site"] for r in query.search(conn, "treating")} == {"meridian", "harbor"}
    assert {r["site"] for r in query.search(conn, "treating", site="harbor")} == {"harbor"}
    # The title weighs more: "autism" in the title ranks above text-only matches.
    assert query.search(conn, "autism OR covid")[0]["url"] == H + "/"
    # A phrase, and the online window: v1 was online until 2026-02-10, v2 from 2026-03-05.
    assert [r["version_id"] for r in query.search(conn, '"long covid"', until="2026-02-28")] == [ids["covid1"]]
    assert [r["version_id"] for r in query.search(conn, '"long covid"', since="2026-03-01")] == [ids["covid2"]]
    assert query.search(conn, '"long covid"', since="2026-02-11", until="2026-03-04") == []
    assert query.search(conn, "FDA NOT exosome")[0]["version_id"] == ids["covid2"]
    assert query.search(conn, "nothingmatchesthis") == []


@pytest.mark.parametrize("bad", ['"unbalanced', "AND", "exosome AND", "(stem", "foo:bar", "NEAR(", "*"])
def test_malformed_search_is_one_clear_line(newsroom, bad):
    archive, _ = newsroom
    with pytest.raises(query.QueryError, match="cannot read search query"):
        query.search(archive.conn, bad)
    code, out = run(archive.path, "search", bad)
    assert code == 1
    assert out.startswith("Error: cannot read search query") and out.count("\n") == 1, out
    assert "Traceback" not in out
    # --literal searches the words as typed and never fails on syntax.
    code, out = run(archive.path, "search", bad, "--literal")
    assert code == 0, out


def test_search_command_formats(newsroom):
    archive, ids = newsroom
    code, out = run(archive.path, "search", "exosome")
    assert code == 0 and "1. meridian  " + M + "/treatments/long-covid.html" in out and "**exosome**" in out
    code, out = run(archive.path, "search", "treat", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert {r["site"] for r in table} == {"meridian", "harbor"} and "snippet" in table[0]
    code, out = run(archive.path, "search", "treat", "--json", "--site", "harbor")
    assert [r["version_id"] for r in json.loads(out)] == [ids["autism"]]
    code, out = run(archive.path, "search", "treat", "--site", "nosuch")
    assert code == 1 and out == "Error: unknown site: nosuch\n"


# ---- history and as-of --------------------------------------------------------------------------

def test_history_lists_every_version(newsroom):
    archive, ids = newsroom
    rows = query.history(archive.conn, M + "/prices.html")
    assert [r["version_id"] for r in rows] == [ids["pricesA"], ids["pricesB"], ids["pricesA2"]]
    assert rows[0]["digest"] == rows[2]["digest"] == digest_of(PRICES_A)  # the page went back to A
    assert rows[0]["size"] == len(PRICES_A) and rows[0]["status"] == 200 and rows[0]["quality"]
    covid = query.history(archive.conn, M + "/treatments/long-covid.html")
    assert covid[0]["captures"] == 2 and covid[0]["claims"] == 2
    assert query.history(archive.conn, H)[0]["version_id"] == ids["autism"]  # the trailing slash may be left off
    code, out = run(archive.path, "history", M + "/old.html", "--json")
    assert json.loads(out)[0]["status"] == 404
    code, out = run(archive.path, "history", M + "/prices")
    assert code == 1 and out.startswith("Error: unknown page: " + M + "/prices (did you mean: ")
    assert M + "/prices.html" in out and out.count("\n") == 1


def test_as_of_picks_the_version_live_then(newsroom):
    archive, ids = newsroom
    url = M + "/treatments/long-covid.html"
    conn = archive.conn
    assert query.as_of(conn, url)["version_id"] == ids["covid2"]
    assert query.as_of(conn, url, "2026-03-03")["version_id"] == ids["covid1"]  # "on 3 March"
    assert query.as_of(conn, url, "2026-03-05")["version_id"] == ids["covid2"]  # a day means its end
    assert query.as_of(conn, url, "2026-03-05T09:59:59Z")["version_id"] == ids["covid1"]
    assert query.as_of(conn, url, "2026-03-05T10:00:00Z")["version_id"] == ids["covid2"]
    assert query.as_of(conn, url, "2026-03-05T11:30:00+01:00")["version_id"] == ids["covid2"]
    with pytest.raises(query.QueryError, match="no version of .* on or before 2026-01-01; first seen 2026-01-10"):
        query.as_of(conn, url, "2026-01-01")
    code, out = run(archive.path, "show", url, "--at", "2026-03-03", "--text")
    assert out.strip() == "We treat long COVID with exosome infusions."
    code, out = run(archive.path, "show", url, "--at", "2026-03-03", "--claims", "--format", "csv")
    assert {r["term"] for r in csv.DictReader(io.StringIO(out))} == {"long_covid", "exosomes"}
    code, out = run(archive.path, "show", url, "--at", "3/3/2026")
    assert code == 1 and out.startswith("Error: not a date: '3/3/2026'") and out.count("\n") == 1
    code, out = run(archive.path, "show", url, "--json")
    shown = json.loads(out)
    assert shown["version_id"] == ids["covid2"] and shown["previous"] == ids["covid1"] and shown["next"] is None
    assert shown["headers"]["server"] == "nginx" and len(shown["claims"]) == 2
    code, out = run(archive.path, "show", url)
    assert code == 0 and "regulatory_legitimacy" in out and "first_seen" in out
    code, out = run(archive.path, "show", M + "/brochure.pdf", "--text")
    assert code == 1 and "has no text" in out and "--raw" in out


def test_show_raw_writes_the_exact_bytes(newsroom):
    """Through the real command in a subprocess: stdout carries binary bytes unchanged."""
    archive, ids = newsroom
    archive.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for url, at, want in [(M + "/brochure.pdf", None, PDF), (M + "/prices.html", "2026-02-20", PRICES_B),
                          (M + "/treatments/long-covid.html", "2026-01-10T09:00:00Z", LONG_COVID_V1)]:
        args = [sys.executable, "-m", "crawler.cli", "show", url, "--raw", "--db", archive.path]
        proc = subprocess.run(args + (["--at", at] if at else []), capture_output=True, cwd=ROOT, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == want
    proc = subprocess.run([sys.executable, "-m", "crawler.cli", "show", "--version", str(ids["pdf"]), "--raw",
                           "--db", archive.path], capture_output=True, cwd=ROOT, timeout=60)
    assert proc.stdout == PDF and digest_of(proc.stdout) == digest_of(PDF)
    stored = archive.conn.execute("SELECT data FROM bodies WHERE digest = ?", (digest_of(PDF),)).fetchone()[0]
    assert zstandard.ZstdDecompressor().decompress(stored) == PDF  # stored packed, read back exact


def test_show_argument_errors(newsroom):
    archive, _ = newsroom
    code, out = run(archive.path, "show")
    assert code == 2 and "give a URL" in out
    code, out = run(archive.path, "show", "--version", "99999")
    assert code == 1 and out == "Error: unknown version: 99999\n"


# ---- claims -------------------------------------------------------------------------------------

def test_timeline_of_a_site(newsroom):
    archive, ids = newsroom
    rows = query.timeline(archive.conn, "meridian")
    assert [(r["term"], r["status"]) for r in rows] == [
        ("exosomes", "removed"), ("long_covid", "active"), ("regulatory_legitimacy", "active")]
    removed = rows[0]
    # No URL on the site claim: it comes from the version where the claim first appeared.
    assert removed["evidence"] == "We treat long COVID with exosome infusions."
    assert removed["url"] == M + "/treatments/long-covid.html" and removed["removed_at"].startswith("2026-03-05")
    code, out = run(archive.path, "timeline", "meridian", "--status", "removed", "--json")
    assert [r["term"] for r in json.loads(out)] == ["exosomes"]
    code, out = run(archive.path, "timeline", "nosuch")
    assert code == 1 and out == "Error: unknown site: nosuch\n"


def test_claims_across_sites(newsroom):
    archive, ids = newsroom
    conn = archive.conn
    offered = query.claims(conn, term="autism", role="offered")  # part of the key finds the key
    assert [(r["site"], r["term"], r["first_seen"][:10]) for r in offered] == [
        ("harbor", "autism_spectrum_disorder", "2026-02-01")]
    assert offered[0]["evidence"].startswith("We treat autism") and offered[0]["url"] == H + "/"
    assert [r["site"] for r in query.claims(conn, term="Long COVID")] == ["meridian"]
    assert query.claims(conn, term="long_covid", role="excluded") == []
    # Active on a date: exosomes was removed on 5 March.
    assert {r["term"] for r in query.claims(conn, site="meridian", active_on="2026-03-04")} == {
        "long_covid", "exosomes"}
    assert {r["term"] for r in query.claims(conn, site="meridian", active_on="2026-03-05")} == {
        "long_covid", "regulatory_legitimacy"}
    assert [r["term"] for r in query.claims(conn, removed_since="2026-03-01")] == ["exosomes"]
    assert [r["term"] for r in query.claims(conn, kind="condition", added_since="2026-02-01")] == [
        "autism_spectrum_disorder"]
    assert query.claims(conn, term="nosuchterm") == []
    new = query.claims(conn, added_since="2026-01-01", after_baseline=True)  # baseline claims are not news
    assert {(r["site"], r["term"]) for r in new} == {("meridian", "regulatory_legitimacy")}
    code, out = run(archive.path, "claims", "--term", "long_covid", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert table[0]["site"] == "meridian" and table[0]["first_seen"] == "2026-01-10T09:00:00.000Z"
    assert list(table[0]) == ["site", "kind", "term", "role", "first_seen", "last_seen", "status", "removed_at",
                              "evidence", "url"]
    code, out = run(archive.path, "claims", "--active-on", "someday")
    assert code == 1 and out.startswith("Error: not a date")


# ---- the commands as a whole --------------------------------------------------------------------

JOURNALIST_COMMANDS = [["search"], ["history"], ["show"], ["timeline"], ["claims"], ["export", "warc"], ["serve"]]


@pytest.mark.parametrize("command", JOURNALIST_COMMANDS, ids=" ".join)
def test_every_command_documents_an_example(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and f"stemwatch {' '.join(command)}" in result.output


def test_missing_database_is_not_created(tmp_path):
    db = tmp_path / "typo.db"
    code, out = run(str(db), "search", "exosome")
    assert code == 1 and out == f"Error: no archive at {db} (give --db or set STEMWATCH_DB)\n"
    assert not db.exists()


def test_query_indexes_added_once(newsroom):
    archive, _ = newsroom
    query.ensure_indexes(archive.conn)
    names = {r[0] for r in archive.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert set(query.INDEXES) <= names
    plan = " ".join(r[3] for r in archive.conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM site_claims WHERE removed_at >= '2026' AND removed_at IS NOT NULL"))
    assert "site_claims_removed" in plan
    plan = " ".join(r[3] for r in archive.conn.execute(
        "EXPLAIN QUERY PLAN SELECT sites.name, site_claims.evidence, site_claims.url FROM site_claims "
        "JOIN sites ON sites.id = site_claims.site_id WHERE term IN ('long_covid') AND role = 'offered' "
        "ORDER BY site_claims.first_seen, site_claims.id"))
    assert "COVERING INDEX site_claims_term_cover" in plan and "TEMP B-TREE" not in plan


def test_site_search_paths_agree(newsroom, monkeypatch):
    """Seeking a site's runs of rowids and walking every match give the same answer."""
    archive, ids = newsroom
    conn = archive.conn
    results = {}
    for ratio in (0, 10**9):  # always walk / always seek
        monkeypatch.setattr(query, "SEEK_RATIO", ratio)
        results[ratio] = [(r["version_id"], r["rank"]) for r in query.search(conn, "treat OR prices", site="meridian")]
        assert [r["version_id"] for r in query.search(conn, "treat", site="meridian", until="2026-02-28")] == [
            ids["covid1"]]
    assert results[0] == results[10**9] and len(results[0]) == 5


def test_ranking_pool_is_the_newest_matches(newsroom, monkeypatch):
    archive, ids = newsroom
    conn = archive.conn
    everything = query.search(conn, "treat")
    assert len(everything) == 3
    monkeypatch.setattr(query, "SEARCH_POOL", 1)
    newest = max(r["version_id"] for r in everything)
    assert [r["version_id"] for r in query.search(conn, "treat", limit=1)] == [newest]
    assert {r["version_id"] for r in query.search(conn, "treat", rank_all=True)} == {
        r["version_id"] for r in everything}


def test_bad_fetch_is_shown_as_such_with_the_readable_version_named(newsroom):
    archive, ids = newsroom
    url = M + "/treatments/long-covid.html"
    site = archive.site("meridian")
    crawl = archive.start_crawl(site)
    archive.record_capture(crawl, site["id"], Capture(
        url=url, status=503, headers={"content-type": "text/html"}, body=b"<h1>Service Unavailable</h1>",
        fetched_at="2026-03-20T10:00:00.000Z"))
    bad = query.as_of(archive.conn, url, "2026-03-21")
    assert bad["status"] == 503 and bad["quality"] != "ok"
    assert query.as_of(archive.conn, url, "2026-03-21", readable=True)["version_id"] == ids["covid2"]
    result = CliRunner().invoke(cli, ["show", url, "--at", "2026-03-21", "--db", archive.path])
    assert result.exit_code == 0 and "503" in result.stdout
    assert f"the latest readable one is {ids['covid2']}" in result.stderr
    result = CliRunner().invoke(cli, ["show", url, "--readable", "--text", "--db", archive.path])
    assert result.stdout.strip() == "We treat long COVID. Our laboratory is FDA registered." and not result.stderr
    result = CliRunner().invoke(cli, ["show", M + "/old.html", "--db", archive.path])
    assert "no readable version came before it" in result.stderr
