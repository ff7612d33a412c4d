"""The journalist's questions on a real archive: the demo clinic crawled as v1, then as v2.

Real Scrapy crawls in subprocesses against the demo site on 127.0.0.1, with the real extractor and
timeline; then the commands a journalist would type, through the real `stemwatch` entry point.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.crawls import run_crawl
from crawler.demo import DEMO_SITE, demo_site_row
from crawler.localsite import LocalSite
from storage import query
from storage.archive import Archive, digest_of
from tests.conftest import DEMO, ROOT


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(archive, site url, first crawl, second crawl), crawled once for the module."""
    db = str(tmp_path_factory.mktemp("demo") / "demo.db")
    with LocalSite(DEMO / "v1") as site:
        archive = Archive(db)
        archive.add_site(demo_site_row(site.url))
        first = run_crawl(db, DEMO_SITE)
        site.set_root(DEMO / "v2")
        second = run_crawl(db, DEMO_SITE)
        assert first["status"] == second["status"] == "finished", (first, second)
        yield archive, site.url, archive.crawl(first["id"]), archive.crawl(second["id"])
        archive.close()


def cli(db: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "crawler.cli", *args, "--db", db], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_search_finds_the_new_autism_page_only_in_v2(demo):
    archive, url, first, second = demo
    rows = query.search(archive.conn, '"autism"')
    pages = {r["url"] for r in rows}
    assert url + "/treatments/autism.html" in pages
    # v1 said nothing about autism: every match was first seen in the second crawl.
    assert all(r["first_seen"] >= second["started_at"] for r in rows)
    assert query.search(archive.conn, "autism", until=first["finished_at"]) == []
    best = json.loads(cli(archive.path, "search", "autism", "--json", "--limit", "3"))
    assert best[0]["url"] == url + "/treatments/autism.html" and "**Autism**" in best[0]["snippet"]


def test_page_as_of_between_the_crawls(demo):
    archive, url, first, second = demo
    about = url + "/about.html"
    history = query.history(archive.conn, about)
    assert len(history) == 2 and history[0]["digest"] != history[1]["digest"]
    between = first["finished_at"]
    before = cli(archive.path, "show", about, "--at", between, "--text")
    after = cli(archive.path, "show", about, "--text")
    assert "FDA registered" not in before and "FDA registered" in after
    raw = subprocess.run([sys.executable, "-m", "crawler.cli", "show", about, "--at", between, "--raw", "--db",
                          archive.path], capture_output=True, cwd=ROOT, timeout=60).stdout
    assert raw == (DEMO / "v1" / "about.html").read_bytes() and digest_of(raw) == history[0]["digest"]
    claims = json.loads(cli(archive.path, "show", about, "--claims", "--json"))
    assert "regulatory_legitimacy" in {c["term"] for c in claims}


def test_timeline_and_claims_across_sites(demo):
    archive, url, first, second = demo
    timeline = {(r["kind"], r["term"], r["role"]): r for r in query.timeline(archive.conn, DEMO_SITE)}
    autism = timeline[("condition", "autism_spectrum_disorder", "offered")]
    assert autism["first_seen"] >= second["started_at"] and autism["status"] == "active"
    ms = timeline[("condition", "multiple_sclerosis", "offered")]
    assert ms["first_seen"] <= first["finished_at"] and ms["last_seen"] >= second["started_at"]  # since the baseline
    rows = list(csv.DictReader(io.StringIO(
        cli(archive.path, "claims", "--term", "autism", "--role", "offered", "--format", "csv"))))
    assert [(r["site"], r["term"]) for r in rows] == [(DEMO_SITE, "autism_spectrum_disorder")]
    assert rows[0]["url"].startswith(url) and rows[0]["evidence"]
    news = query.claims(archive.conn, added_since="1d", after_baseline=True, kind="condition", role="offered")
    assert {r["term"] for r in news} == {"autism_spectrum_disorder"}


def test_warc_of_the_demo_is_byte_exact(demo, tmp_path):
    archive, url, first, second = demo
    out = tmp_path / "demo.warc.gz"
    cli(archive.path, "export", "warc", str(out), "--site", DEMO_SITE)
    check = subprocess.run([str(Path(sys.executable).parent / "warcio"), "check", str(out)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout
    bodies: dict[str, bytes] = {}
    records = 0
    with out.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type in ("response", "revisit"):
                records += 1
                bodies[rec.rec_headers.get_header("WARC-Target-URI")] = rec.content_stream().read()
    assert bodies[url + "/brochure.pdf"] == (DEMO / "v1" / "brochure.pdf").read_bytes()
    assert bodies[url + "/treatments/autism.html"] == (DEMO / "v2" / "treatments" / "autism.html").read_bytes()
    assert records == archive.conn.execute("SELECT count(*) FROM versions").fetchone()[0]
