"""Stored text and bodies: compressed, per-site dictionaries, byte-exact reads, and the schema 1 migration."""

from __future__ import annotations

import random
import sqlite3
import zlib

import pytest

from storage import codec, query
from storage.archive import Archive, Capture, digest_of
from storage.check import check_archive
from tests.conftest import add_site

HTML = {"content-type": "text/html; charset=utf-8"}


def templated_page(i: int) -> bytes:
    """A page of a CMS-like site: a long shared header and footer around a little page-specific text."""
    rng = random.Random(i)
    menu = "".join(f'<li class="menu-item menu-item-type-post_type menu-item-{k}"><a href="/t/{k}">Therapy {k}'
                   "</a></li>" for k in range(120))
    words = " ".join(rng.choice(["stem", "cells", "knee", "clinic", "visit", "results", "care"]) for _ in range(300))
    return (f"<!DOCTYPE html><html><head><title>Page {i}</title><style>{'.a{color:red}' * 200}</style></head>"
            f"<body><header><nav><ul>{menu}</ul></nav></header><main><p>{words}</p></main>"
            f"<footer>{'<a href=/f>Footer link</a>' * 100}</footer></body></html>").encode()


def record(archive: Archive, site: dict, url: str, body: bytes, headers: dict = HTML):
    crawl = archive.start_crawl(site)
    out = archive.record_capture(crawl, site["id"], Capture(url=url, status=200, headers=headers, body=body))
    archive.finish_crawl(crawl, "finished")
    return out


def codec_of(archive: Archive, body: bytes) -> tuple[str, int]:
    return archive.conn.execute("SELECT codec, length(data) FROM bodies WHERE digest = ?",
                                (digest_of(body),)).fetchone()


def test_text_round_trip():
    for text in (None, "", "Stem cells für Knie — 膝の幹細胞", "x" * 100_000):
        assert codec.unpack_text(codec.pack_text(text)) == text
    assert len(codec.pack_text("stem cell " * 1000)) < 200


def test_site_pages_share_a_dictionary_and_read_back_exactly(archive: Archive):
    a, b = add_site(archive, "a", "http://a.test"), add_site(archive, "b", "http://b.test")
    pages = [templated_page(i) for i in range(6)]
    for i, body in enumerate(pages):
        record(archive, a, f"http://a.test/{i}", body)
    record(archive, b, "http://b.test/", pages[0] + b"<!-- b -->")
    pdf = b"%PDF-1.4 " + bytes(range(256)) * 30
    record(archive, a, "http://a.test/doc.pdf", pdf, {"content-type": "application/pdf"})

    dicts = dict(archive.conn.execute("SELECT site_id, id FROM body_dicts").fetchall())
    assert set(dicts) == {a["id"], b["id"]}  # one dictionary a site
    for body in pages:
        assert codec_of(archive, body)[0] == f"zlib+dict:{dicts[a['id']]}"
        assert archive.body(digest_of(body)) == body
    assert codec_of(archive, pdf)[0] == "zlib"  # a PDF is not compressed against an HTML template
    # The template is what the pages repeat: with it they store far smaller than zlib alone makes them.
    with_dict = sum(codec_of(archive, body)[1] for body in pages[1:])
    alone = sum(len(zlib.compress(body, codec.LEVEL)) for body in pages[1:])
    assert with_dict < 0.5 * alone, (with_dict, alone)
    assert [c.name for c in check_archive(archive) if c.problems] == []  # bodies included: all read back


def test_rolled_back_dictionary_is_never_used(archive: Archive):
    site = add_site(archive, "a", "http://a.test")

    def fail(db, version_id, cap):
        raise RuntimeError("extraction crashed")

    archive.version_hooks.append(fail)
    crawl = archive.start_crawl(site)
    with pytest.raises(RuntimeError):
        archive.record_capture(crawl, site["id"], Capture(url="http://a.test/0", status=200, headers=HTML,
                                                          body=templated_page(0)))
    assert archive.conn.execute("SELECT count(*) FROM body_dicts").fetchone()[0] == 0
    archive.version_hooks.clear()
    for i in (1, 2):
        body = templated_page(i)
        out = archive.record_capture(crawl, site["id"], Capture(url=f"http://a.test/{i}", status=200,
                                                                headers=HTML, body=body))
        digest = archive.conn.execute("SELECT digest FROM versions WHERE id = ?", (out.version_id,)).fetchone()[0]
        assert archive.body(digest) == body


def test_missing_dictionary_is_reported(archive: Archive):
    site = add_site(archive, "a", "http://a.test")
    record(archive, site, "http://a.test/0", templated_page(0))
    conn = sqlite3.connect(archive.path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("DELETE FROM body_dicts")
    conn.close()
    [bodies] = [c for c in check_archive(archive) if c.name == "bodies"]
    assert len(bodies.problems) == 1 and "dictionary" in bodies.problems[0] and "missing" in bodies.problems[0]
    digest = archive.conn.execute("SELECT digest FROM bodies").fetchone()[0]
    with pytest.raises(query.QueryError, match="missing"):
        query.read_body(archive.conn, digest)


def test_truncated_body_does_not_read_as_good(archive: Archive):
    site = add_site(archive, "a", "http://a.test")
    body = templated_page(0)
    record(archive, site, "http://a.test/0", body)
    archive.conn.execute("UPDATE bodies SET data = substr(data, 1, length(data) / 2)")
    digest = archive.conn.execute("SELECT digest FROM bodies").fetchone()[0]
    with pytest.raises(codec.CodecError, match="truncated|decompress"):
        codec.read_body(archive.conn, digest)


def downgrade_to_schema_1(path: str) -> None:
    """Rewrite an archive the way schema 1 stored it: plain text, an index whose content is versions."""
    conn = sqlite3.connect(path, isolation_level=None)
    codec.register(conn)
    conn.executescript("""
        DROP TRIGGER versions_fts_ai; DROP TRIGGER versions_fts_ad; DROP TRIGGER versions_fts_au;
        DROP TABLE versions_fts; DROP VIEW versions_text;
        ALTER TABLE versions ADD COLUMN text TEXT;
        UPDATE versions SET text = unpack_text(text_z);
        ALTER TABLE versions DROP COLUMN text_z;
        CREATE VIRTUAL TABLE versions_fts USING fts5(title, text, content=versions, tokenize='porter');
        INSERT INTO versions_fts(versions_fts) VALUES ('rebuild');
        UPDATE meta SET value = '1' WHERE key = 'schema_version';
    """)
    conn.close()


def test_schema_1_archive_is_migrated(tmp_path):
    path = str(tmp_path / "old.db")
    archive = Archive(path)
    site = add_site(archive, "a", "http://a.test")
    ids = [record(archive, site, f"http://a.test/{i}", templated_page(i)).version_id for i in range(3)]
    for vid, text in zip(ids, ["autologous stem cells for knees", "exosome infusions", None]):
        archive.conn.execute("UPDATE versions SET title = 't', text_z = pack_text(?) WHERE id = ?", (text, vid))
    archive.close()
    downgrade_to_schema_1(path)

    archive = Archive(path)
    conn = archive.conn
    columns = {c[1] for c in conn.execute("PRAGMA table_info(versions)")}
    assert "text" not in columns and "text_z" in columns
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "2"
    assert query.version_text(conn, ids[0]) == "autologous stem cells for knees"
    assert query.version_text(conn, ids[2]) is None
    assert [r["version_id"] for r in query.search(conn, "exosome")] == [ids[1]]
    assert [c for c in check_archive(archive) if c.problems] == []
    # New writes keep the index in step after the migration.
    conn.execute("UPDATE versions SET text_z = pack_text('wharton jelly') WHERE id = ?", (ids[2],))
    assert [r["version_id"] for r in query.search(conn, "wharton")] == [ids[2]]
    assert query.search(conn, "exosome") != [] and [c for c in check_archive(archive) if c.problems] == []
