"""Stored text and bodies: zstd against per-site trained dictionaries, old zlib still readable, byte-exact
reads, repacking when a site's dictionaries are trained, and the schema 1 migration."""

from __future__ import annotations

import random
import re
import sqlite3
import string
import zlib

import pytest

from storage import codec, query
from storage.analysis import analyse_new_version
from storage.archive import SCHEMA_VERSION, TRAIN_SAMPLES, Archive, Capture, digest_of
from storage.check import check_archive
from tests.conftest import add_site

HTML = {"content-type": "text/html; charset=utf-8"}


def words(rng: random.Random, n: int) -> str:
    return " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 9))) for _ in range(n))


# A CMS-like site's template: menus and a footer every page repeats, which no page repeats within itself.
_rng = random.Random("template")
MENU = "".join(f'<li class="menu-item menu-item-{k}"><a href="/{words(_rng, 2).replace(" ", "-")}/">'
               f"{words(_rng, 3)}</a></li>" for k in range(80))
FOOTER = "".join(f"<p>{words(_rng, 25)}</p>" for _ in range(8))


def templated_page(i: int) -> bytes:
    """A page of the site: its template around a little page-specific text, `marker{i}x` in it."""
    rng = random.Random(i)
    paras = "".join(f"<p>{words(rng, rng.randint(20, 60))}.</p>" for _ in range(rng.randint(4, 12)))
    return (f"<!DOCTYPE html><html><head><title>Page {i}</title></head><body><header><nav><ul>{MENU}</ul></nav>"
            f"</header><main><p>marker{i}x stem cells</p>{paras}</main><footer>{FOOTER}</footer></body></html>"
            ).encode()


def page_text(body: bytes) -> str:
    """Roughly what extraction keeps of a page: its words without the markup."""
    return " ".join(re.sub(r"<[^>]+>", " ", body.decode()).split())


def store_text(db, version_id: int, cap: Capture) -> None:
    """As the extraction hook stores a page's text (storage.analysis): packed without a dictionary."""
    if cap.is_html:
        db.conn.execute("UPDATE versions SET title = 't', text_z = ? WHERE id = ?",
                        (codec.pack_text(page_text(cap.body)), version_id))


def record(archive: Archive, site: dict, url: str, body: bytes, headers: dict = HTML):
    crawl = archive.start_crawl(site)
    out = archive.record_capture(crawl, site["id"], Capture(url=url, status=200, headers=headers, body=body))
    archive.finish_crawl(crawl, "finished")
    return out


def record_many(archive: Archive, crawl: int, site: dict, bodies: list[bytes]) -> list[int]:
    """Record pages in one running crawl (no crawl end in between): their version ids."""
    base = f"http://{site['name']}.test/"
    return [archive.record_capture(crawl, site["id"], Capture(url=f"{base}{i}", status=200, headers=HTML,
                                                              body=body)).version_id
            for i, body in enumerate(bodies)]


def dicts_of(archive: Archive, site: dict) -> dict[str, int]:
    return dict(archive.conn.execute("SELECT kind, id FROM dictionaries WHERE site_id = ?", (site["id"],)))


def frames(archive: Archive, version_ids: list[int]) -> tuple[list[int], list[int]]:
    """The dictionary id each version's body and text frame names (0: none)."""
    rows = archive.conn.execute(
        f"SELECT bodies.data, versions.text_z FROM versions JOIN bodies ON bodies.digest = versions.digest "
        f"WHERE versions.id IN ({','.join('?' * len(version_ids))}) ORDER BY versions.id", version_ids).fetchall()
    return [codec.frame_dict_id(b) for b, _ in rows], [codec.frame_dict_id(t) for _, t in rows]


def fts_sound(archive: Archive) -> None:
    """The full-text index matches the stored text, and `stemwatch check` finds nothing (a crawl may be running)."""
    archive.conn.execute("INSERT INTO versions_fts(versions_fts, rank) VALUES('integrity-check', 1)")
    assert [c.name for c in check_archive(archive) if c.problems and c.name != "crawls"] == []


def test_text_round_trip_with_and_without_dictionary():
    zdict = codec.train([page_text(templated_page(i)).encode() for i in range(12)], 32 * 1024)
    assert zdict is not None
    for text in (None, "", "Stem cells für Knie — 膝の幹細胞", "x" * 100_000, page_text(templated_page(99))):
        assert codec.unpack_text(codec.pack_text(text)) == text
        packed = codec.pack_text(text, zdict)
        if text is not None:
            assert codec.frame_dict_id(packed) == zdict.id
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE dictionaries (id INTEGER PRIMARY KEY, data BLOB)")
        conn.execute("INSERT INTO dictionaries VALUES (?, ?)", (zdict.id, zdict.data))
        assert codec.unpack_text(packed, codec.Dictionaries(conn)) == text
    assert len(codec.pack_text("stem cell " * 1000)) < 200
    big = page_text(templated_page(99))
    assert len(codec.pack_text(big, zdict)) < 0.8 * len(codec.pack_text(big))  # its menu and footer
    with pytest.raises(codec.CodecError, match=f"dictionary {zdict.id}"):
        codec.unpack_text(codec.pack_text(big, zdict))  # no archive to read the dictionary from
    with pytest.raises(codec.CodecError, match="neither"):
        codec.unpack_text(b"plain")


def test_old_zlib_text_and_bodies_still_read(archive: Archive):
    """Archives written before zstd: zlib text, bodies with codec 'zlib' and 'zlib+dict:N'."""
    site = add_site(archive, "a", "http://a.test")
    old = templated_page(1)
    ids = [record(archive, site, f"http://a.test/{i}", templated_page(i)).version_id for i in range(3)]
    conn = archive.conn
    conn.execute("UPDATE versions SET text_z = ? WHERE id = ?", (zlib.compress(b"exosome infusions"), ids[0]))
    assert query.version_text(conn, ids[0]) == "exosome infusions"
    assert [r["version_id"] for r in query.search(conn, "exosome")] == [ids[0]]  # the trigger read it
    conn.execute("INSERT INTO versions_fts(versions_fts) VALUES ('rebuild')")  # and so does a rebuild
    assert [r["version_id"] for r in query.search(conn, "exosome")] == [ids[0]]

    template = old[-16384:] + old[:16384]
    dict_id = conn.execute("INSERT INTO body_dicts(site_id, created_at, data) VALUES (?, 'x', ?)",
                           (site["id"], template)).lastrowid
    packer = zlib.compressobj(6, zdict=template)
    conn.execute("UPDATE bodies SET codec = ?, data = ? WHERE digest = ?",
                 (f"zlib+dict:{dict_id}", packer.compress(old) + packer.flush(), digest_of(old)))
    plain = templated_page(2)
    conn.execute("UPDATE bodies SET codec = 'zlib', data = ? WHERE digest = ?",
                 (zlib.compress(plain), digest_of(plain)))
    assert archive.body(digest_of(old)) == old and archive.body(digest_of(plain)) == plain
    fts_sound(archive)
    conn.execute("UPDATE bodies SET codec = 'brotli' WHERE digest = ?", (digest_of(plain),))
    with pytest.raises(codec.CodecError, match="unknown codec 'brotli'"):
        codec.read_body(conn, digest_of(plain))


def test_site_reaching_32_versions_gets_dictionaries_and_its_versions_are_repacked(archive: Archive):
    site = add_site(archive, "a", "http://a.test")
    archive.version_hooks.append(store_text)
    crawl = archive.start_crawl(site)
    pages = [templated_page(i) for i in range(TRAIN_SAMPLES + 1)]
    pdf = b"%PDF-1.4 " + bytes(range(256)) * 30
    pdf_out = archive.record_capture(crawl, site["id"], Capture(url="http://a.test/doc.pdf", status=200,
                                                                headers={"content-type": "application/pdf"}, body=pdf))
    ids = record_many(archive, crawl, site, pages[:TRAIN_SAMPLES - 1])
    assert dicts_of(archive, site) == {}
    assert frames(archive, ids) == ([0] * len(ids), [0] * len(ids))
    dictless = sum(len(b) for (b,) in archive.conn.execute("SELECT data FROM bodies WHERE codec = 'zstd'"))

    ids += record_many(archive, crawl, site, pages[TRAIN_SAMPLES - 1:TRAIN_SAMPLES])  # the 32nd
    got = dicts_of(archive, site)
    assert set(got) == {"body", "text"}
    assert frames(archive, ids) == ([got["body"]] * len(ids), [got["text"]] * len(ids))
    for body in pages[:TRAIN_SAMPLES]:
        assert archive.body(digest_of(body)) == body
        assert codec.read_body(sqlite3.connect(archive.path), digest_of(body)) == body  # a plain connection
    assert query.version_text(archive.conn, ids[3]) == page_text(pages[3])
    # A PDF is no HTML page: not packed against the site's template.
    assert codec.frame_dict_id(archive.conn.execute("SELECT data FROM bodies WHERE digest = ?",
                                                    (digest_of(pdf),)).fetchone()[0]) == 0
    assert archive.body(digest_of(pdf)) == pdf and pdf_out.kind == "new"
    repacked = sum(len(b) for (b,) in archive.conn.execute("SELECT data FROM bodies WHERE codec = 'zstd'"))
    assert repacked < 0.5 * dictless, (repacked, dictless)
    # Search still finds what the repacked versions say, and the index agrees with the stored text.
    assert [r["version_id"] for r in query.search(archive.conn, "marker3x")] == [ids[3]]
    fts_sound(archive)

    # Later versions are packed against the dictionaries straight away; the real extraction hook packs text
    # without one, and the writer repacks it.
    archive.version_hooks[:] = [analyse_new_version]
    [last] = archive.record_capture(crawl, site["id"], Capture(url="http://a.test/last", status=200, headers=HTML,
                                                               body=pages[-1])).version_id,
    assert frames(archive, [last]) == ([got["body"]], [got["text"]])
    assert "marker32x" in query.version_text(archive.conn, last)
    assert [r["version_id"] for r in query.search(archive.conn, "marker32x")] == [last]
    archive.finish_crawl(crawl, "finished")
    assert dicts_of(archive, site) == got  # trained once
    fts_sound(archive)


def test_small_site_trained_at_crawl_end(archive: Archive):
    site = add_site(archive, "small", "http://small.test")
    archive.version_hooks.append(store_text)
    pages = [templated_page(i) for i in range(10)]
    crawl = archive.start_crawl(site)
    ids = record_many(archive, crawl, site, pages)
    assert dicts_of(archive, site) == {}
    archive.finish_crawl(crawl, "finished")
    got = dicts_of(archive, site)
    assert set(got) == {"body", "text"}
    assert frames(archive, ids) == ([got["body"]] * 10, [got["text"]] * 10)
    for body, vid in zip(pages, ids):
        assert archive.body(digest_of(body)) == body
        assert query.version_text(archive.conn, vid) == page_text(body)
    assert [r["version_id"] for r in query.search(archive.conn, "marker7x")] == [ids[7]]
    fts_sound(archive)


def test_too_small_a_site_gets_no_dictionary(archive: Archive):
    site = add_site(archive, "tiny", "http://tiny.test")
    crawl = archive.start_crawl(site)
    record_many(archive, crawl, site, [templated_page(i) for i in range(7)])
    archive.finish_crawl(crawl, "finished")
    assert dicts_of(archive, site) == {}


def test_training_failure_falls_back_silently(archive: Archive):
    """Pages too small to learn from (and empty texts, which can crash zstd's trainer): no dictionary, no error."""
    site = add_site(archive, "stub", "http://stub.test")
    archive.version_hooks.append(lambda db, vid, cap: db.conn.execute(
        "UPDATE versions SET text_z = ? WHERE id = ?", (codec.pack_text("" if vid % 2 else "x"), vid)))
    crawl = archive.start_crawl(site)
    pages = [f"<p>{i}</p>".encode() for i in range(TRAIN_SAMPLES + 8)]
    ids = record_many(archive, crawl, site, pages)
    archive.finish_crawl(crawl, "finished")
    assert dicts_of(archive, site) == {}
    assert frames(archive, ids) == ([0] * len(ids), [0] * len(ids))
    assert all(archive.body(digest_of(body)) == body for body in pages)
    assert codec.train([b""] * 7 + [b"x" * 5000], 32 * 1024) is None


def test_interrupted_training_leaves_no_dictionary(archive: Archive):
    """Training and repacking are one transaction with the capture that triggers them: a failure while
    repacking the text (the last step) leaves neither dictionary and every frame as it was."""
    site = add_site(archive, "a", "http://a.test")
    archive.version_hooks.append(store_text)
    pages = [templated_page(i) for i in range(TRAIN_SAMPLES)]
    crawl = archive.start_crawl(site)
    record_many(archive, crawl, site, pages[:-1])
    # Text is stored once (from NULL) by the hook; only a repack rewrites it.
    archive.conn.execute("CREATE TEMP TRIGGER die BEFORE UPDATE OF text_z ON versions WHEN old.text_z IS NOT NULL "
                         "BEGIN SELECT RAISE(ABORT, 'killed while repacking'); END")
    with pytest.raises(sqlite3.DatabaseError, match="killed while repacking"):
        record_many(archive, crawl, site, pages)  # the 32nd version trains both dictionaries
    assert dicts_of(archive, site) == {}
    assert all(codec.frame_dict_id(b) == 0 for (b,) in archive.conn.execute("SELECT data FROM bodies"))
    assert archive.conn.execute("SELECT count(*) FROM versions").fetchone()[0] == TRAIN_SAMPLES - 1
    fts_sound(archive)
    with pytest.raises(sqlite3.DatabaseError, match="killed while repacking"):
        archive.finish_crawl(crawl, "finished")  # crawl end: the same
    assert dicts_of(archive, site) == {} and archive.crawl(crawl)["status"] == "finished"

    archive.conn.execute("DROP TRIGGER die")
    record_many(archive, crawl, site, pages)
    assert set(dicts_of(archive, site)) == {"body", "text"}
    assert all(archive.body(digest_of(body)) == body for body in pages)
    fts_sound(archive)


def test_mirror_sites_get_a_dictionary_each(archive: Archive):
    """Two sites with the same pages train the same dictionary; each still gets its own, under its own id."""
    archive.version_hooks.append(store_text)
    pages = [templated_page(i) for i in range(10)]
    sites = [add_site(archive, name, f"http://{name}.test") for name in ("a", "b")]
    ids = {}
    for site in sites:
        crawl = archive.start_crawl(site)
        ids[site["name"]] = record_many(archive, crawl, site, pages)
        archive.finish_crawl(crawl, "finished")
    a, b = (dicts_of(archive, site) for site in sites)
    assert set(a) == set(b) == {"body", "text"} and not set(a.values()) & set(b.values())
    assert frames(archive, ids["b"])[1] == [b["text"]] * 10
    assert all(query.version_text(archive.conn, vid) == page_text(body) for vid, body in zip(ids["b"], pages))
    fts_sound(archive)


def test_missing_dictionary_is_reported(archive: Archive):
    site = add_site(archive, "a", "http://a.test")
    archive.version_hooks.append(store_text)
    crawl = archive.start_crawl(site)
    ids = record_many(archive, crawl, site, [templated_page(i) for i in range(10)])
    archive.finish_crawl(crawl, "finished")
    got = dicts_of(archive, site)
    conn = sqlite3.connect(archive.path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("DELETE FROM dictionaries")
    conn.close()
    found = {c.name: c for c in check_archive(archive) if c.problems}  # the writer's own connection
    assert set(found) == {"bodies", "texts"}
    assert found["bodies"].count == 10 and f"dictionary {got['body']} is missing" in found["bodies"].problems[0]
    assert found["texts"].count == 10 and found["texts"].problems[0] == \
        f"text of version {ids[0]}: dictionary {got['text']} is missing"
    digest = archive.conn.execute("SELECT digest FROM versions WHERE id = ?", (ids[0],)).fetchone()[0]
    with pytest.raises(query.QueryError, match=f"dictionary {got['body']} is missing"):
        query.read_body(sqlite3.connect(archive.path), digest)


def test_truncated_body_does_not_read_as_good(archive: Archive):
    site = add_site(archive, "a", "http://a.test")
    body = templated_page(0)
    record(archive, site, "http://a.test/0", body)
    archive.conn.execute("UPDATE bodies SET data = substr(data, 1, length(data) / 2)")
    digest = archive.conn.execute("SELECT digest FROM bodies").fetchone()[0]
    with pytest.raises(codec.CodecError, match="truncated|decompress"):
        codec.read_body(archive.conn, digest)
    archive.conn.execute("UPDATE bodies SET data = ? WHERE digest = ?", (codec.pack_body(body) + b"\x00", digest))
    with pytest.raises(codec.CodecError, match="decompress"):
        codec.read_body(archive.conn, digest)  # trailing bytes are damage too


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
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    assert query.version_text(conn, ids[0]) == "autologous stem cells for knees"
    assert query.version_text(conn, ids[2]) is None
    assert [r["version_id"] for r in query.search(conn, "exosome")] == [ids[1]]
    assert [c for c in check_archive(archive) if c.problems] == []
    # New writes keep the index in step after the migration.
    conn.execute("UPDATE versions SET text_z = pack_text('wharton jelly') WHERE id = ?", (ids[2],))
    assert [r["version_id"] for r in query.search(conn, "wharton")] == [ids[2]]
    assert query.search(conn, "exosome") != [] and [c for c in check_archive(archive) if c.problems] == []


def test_older_full_text_trigger_is_replaced(tmp_path):
    """Older archives re-indexed a version whose text was only repacked; their trigger is replaced on open,
    and the index still follows every real change of title or text."""
    path = str(tmp_path / "old.db")
    archive = Archive(path)
    site = add_site(archive, "a", "http://a.test")
    vid = record(archive, site, "http://a.test/0", templated_page(0)).version_id
    archive.conn.executescript("""
        DROP TRIGGER versions_fts_au;
        CREATE TRIGGER versions_fts_au AFTER UPDATE OF title, text_z ON versions BEGIN
            INSERT INTO versions_fts(versions_fts, rowid, title, text)
            VALUES ('delete', old.id, old.title, unpack_text(old.text_z));
            INSERT INTO versions_fts(rowid, title, text) VALUES (new.id, new.title, unpack_text(new.text_z));
        END;""")
    archive.close()
    archive = Archive(path)
    conn = archive.conn
    assert "WHEN" in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'versions_fts_au'").fetchone()[0]
    conn.execute("UPDATE versions SET title = 'Knee', text_z = pack_text('umbilical cord cells') WHERE id = ?", (vid,))
    conn.execute("UPDATE versions SET title = 'Spine' WHERE id = ?", (vid,))
    assert [r["version_id"] for r in query.search(conn, "umbilical")] == [vid]
    assert [r["version_id"] for r in query.search(conn, "spine")] == [vid] and query.search(conn, "knee") == []
    fts_sound(archive)
    archive.close()


def test_a_process_keeps_a_bounded_number_of_dictionaries(archive: Archive):
    """Each kept dictionary holds a compressor (~0.7 MB): many sites must not grow a process without bound."""
    dicts = codec.Dictionaries(archive.conn)
    site = add_site(archive, "a", "http://a.test")
    trained = codec.train([templated_page(k) for k in range(8)], 16 * 1024)
    for i in range(codec.Dictionaries.MAX_KEPT + 5):
        zdict = trained.renumbered(40_000 + i)
        archive.conn.execute("INSERT INTO dictionaries(id, site_id, kind, created_at, data) "
                             "VALUES (?, ?, 'body', 'now', ?)", (zdict.id, site["id"], zdict.data))
        assert dicts.get(zdict.id).id == zdict.id
    assert len(dicts.by_id) == codec.Dictionaries.MAX_KEPT
    assert 40_000 not in dicts.by_id and dicts.get(40_000).id == 40_000  # evicted, read again
