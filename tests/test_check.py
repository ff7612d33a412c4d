"""`stemwatch check`: a sound archive passes; each kind of damage is named, with exit 1."""

from __future__ import annotations

import json
import sqlite3
import zlib

import pytest

from storage import codec
from storage.archive import Archive, Capture
from storage.check import check_archive
from storage.locks import SiteLock
from tests.conftest import add_site, stemwatch

PAGES = {
    "/": b"<html><head><title>Clinic</title></head><body><p>Stem cells for knee pain</p></body></html>",
    "/about.html": b"<html><body><p>About us</p></body></html>",
    "/brochure.pdf": b"%PDF-1.4 not really a pdf",
}


@pytest.fixture
def filled(archive: Archive) -> Archive:
    """An archive with one finished crawl of three pages (no extraction hook: fast)."""
    site = add_site(archive, "clinic", "http://clinic.test")
    crawl_id = archive.start_crawl(site)
    for path, body in PAGES.items():
        archive.record_capture(crawl_id, site["id"], Capture(
            url="http://clinic.test" + path, status=200, body=body,
            headers={"content-type": "application/pdf" if path.endswith(".pdf") else "text/html"}))
    archive.conn.execute("UPDATE versions SET text_z = pack_text('stem cells for knee pain') WHERE id = 1")
    archive.finish_crawl(crawl_id, "finished")
    return archive


def raw(archive: Archive) -> sqlite3.Connection:
    """A second connection without foreign keys, to damage the archive the way a bug would."""
    conn = sqlite3.connect(archive.path, isolation_level=None)
    codec.register(conn)  # the full-text triggers unpack stored text
    conn.execute("PRAGMA foreign_keys=OFF")
    return conn


def problems(archive: Archive) -> dict[str, list[str]]:
    return {r.name: r.problems for r in check_archive(archive) if not r.ok}


def test_sound_archive_passes(filled):
    assert problems(filled) == {}
    proc = stemwatch("check", "--json", db=filled.path)
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    assert {c["name"] for c in report["checks"]} == {"integrity", "bodies", "texts", "orphans", "fulltext",
                                                     "crawls"}


def test_tampered_body_named_and_exit_1(filled):
    digest = filled.conn.execute("SELECT digest FROM bodies ORDER BY digest LIMIT 1").fetchone()[0]
    filled.conn.execute("UPDATE bodies SET data = ? WHERE digest = ?", (zlib.compress(b"tampered"), digest))
    proc = stemwatch("check", db=filled.path, check=False)
    assert proc.returncode == 1
    assert digest in proc.stdout and "FAIL  bodies" in proc.stdout
    report = json.loads(stemwatch("check", "--json", db=filled.path, check=False).stdout)
    [bodies] = [c for c in report["checks"] if c["name"] == "bodies"]
    assert report["ok"] is False and bodies["count"] == 1 and digest in bodies["problems"][0]


def test_wrong_size_and_undecompressable_bodies(filled):
    first, second = (d for (d,) in filled.conn.execute("SELECT digest FROM bodies ORDER BY digest LIMIT 2"))
    filled.conn.execute("UPDATE bodies SET size = size + 1 WHERE digest = ?", (first,))
    filled.conn.execute("UPDATE bodies SET data = x'00112233' WHERE digest = ?", (second,))
    found = problems(filled)["bodies"]
    assert any(first in p and "recorded size" in p for p in found)
    assert any(second in p and "does not decompress" in p for p in found)


def test_orphans_named(filled):
    conn = raw(filled)
    digest = conn.execute("SELECT digest FROM versions WHERE id = 2").fetchone()[0]
    conn.execute("DELETE FROM bodies WHERE digest = ?", (digest,))
    conn.execute("INSERT INTO version_claims(version_id, count, data) VALUES (999, 0, x'00')")
    conn.execute("INSERT INTO pages(site_id, url, first_seen, last_seen) VALUES (77, 'http://gone.test/', 'a', 'a')")
    conn.close()
    found = problems(filled)
    assert "version 2 has no body" in found["orphans"]
    assert "claims of version 999 have no version" in found["orphans"]
    assert any("has no site" in p for p in found["orphans"])
    assert found["integrity"]  # foreign_key_check agrees


def test_fulltext_out_of_step_named(filled):
    conn = raw(filled)
    # Drop version 1 from the index behind the triggers' back.
    conn.execute("INSERT INTO versions_fts(versions_fts, rowid, title, text) "
                 "SELECT 'delete', id, title, unpack_text(text_z) FROM versions WHERE id = 1")
    conn.close()
    found = problems(filled)["fulltext"]
    assert any("indexes 2 versions, the archive has 3" in p for p in found), found


def test_running_crawl_without_lock_named(filled):
    site = filled.site("clinic")
    ghost = filled.start_crawl(site, pid=999999)
    with SiteLock(filled.path, site["id"]):  # a live crawl holds the lock: nothing wrong
        assert "crawls" not in problems(filled)
    assert problems(filled)["crawls"] == [
        f"crawl {ghost} of clinic (started {filled.crawl(ghost)['started_at']}) is marked running but no "
        "crawl holds the site's lock (the next crawl marks it interrupted)"]


def test_missing_archive_is_one_line_error(tmp_path):
    proc = stemwatch("check", db=str(tmp_path / "nope.db"), check=False)
    assert proc.returncode == 1 and "no archive at" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "nope.db").exists()


def test_help_has_example():
    assert "Example:" in stemwatch("check", "--help").stdout
