"""A version's claims packed in one blob: exact round trips, readers, and the schema 2 migration."""

from __future__ import annotations

import json
import sqlite3

import pytest

from crawler.crawls import run_crawl
from storage import codec, query
from storage.archive import SCHEMA_VERSION, Archive, ArchiveError
from storage.changes import claims_of
from storage.check import check_archive
from tests.conftest import add_site, stemwatch

TEXT = "Home. We treat autism with cord blood stem cells. FDA registered lab. Call us."


def test_round_trip_keeps_every_field_and_stores_evidence_as_offsets():
    claims = [
        ("condition", "autism_spectrum_disorder", "offered", "We treat autism with cord blood stem cells.",
         "Therapies", "main", 15, 21, {"products": ["cord_blood"]}),
        ("red_flag", "regulatory_legitimacy", "offered", "FDA registered lab.", None, "footer", 60, 74, None),
        # Not in the text (a hand-made claim): kept as it is.
        ("cell_type", "exosomes", "mentioned", "Exosomes elsewhere.", "", None, None, None, None),
    ]
    stored = codec.unpack_claims(codec.pack_claims(claims, TEXT))
    assert codec.parse_claims(stored, TEXT) == claims
    rows = json.loads(stored)
    assert rows[0][3] == [TEXT.index("We treat"), len(claims[0][3])] and rows[2][3] == "Exosomes elsewhere."
    # Without the text, claims still read (kind, term, role), evidence kept as offsets reads empty.
    assert [c[:3] for c in codec.parse_claims(stored)] == [c[:3] for c in claims]
    assert [c[3] for c in codec.parse_claims(stored)] == ["", "", "Exosomes elsewhere."]


def test_damaged_claims_raise_codec_error():
    with pytest.raises(codec.CodecError, match="claims do not unpack"):
        codec.unpack_claims(b"\x00garbage")
    with pytest.raises(codec.CodecError, match="claims do not unpack"):
        codec.parse_claims("[not json")


@pytest.fixture
def crawled(tmp_path, demo_site) -> Archive:
    archive = Archive(str(tmp_path / "c.db"))
    add_site(archive, "demo", demo_site.url)
    run_crawl(archive.path, "demo")
    yield archive
    archive.close()


def test_crawled_claims_point_into_their_version_text(crawled: Archive):
    conn = crawled.conn
    rows = conn.execute("SELECT version_id, count FROM version_claims").fetchall()
    assert len(rows) >= 3
    for vid, count in rows:
        claims = claims_of(conn, vid)
        text = query.version_text(conn, vid)
        assert len(claims) == count > 0
        assert all(c.evidence and c.evidence in text for c in claims)
        assert all(c.phrase == text[c.start:c.end] for c in claims if c.start is not None)
    url = conn.execute("SELECT url FROM pages JOIN versions ON versions.page_id = pages.id "
                       "WHERE versions.id = ?", (rows[0][0],)).fetchone()[0]
    assert [v["claims"] for v in query.history(conn, url)] == [rows[0][1]]
    # Shown in reading order.
    assert [c["start"] for c in query.version_claims(conn, rows[0][0])] == sorted(
        c.start for c in claims_of(conn, rows[0][0]))


def test_claims_share_the_site_dictionary_and_check_names_a_missing_one(crawled: Archive):
    conn = crawled.conn
    (claims_dict,) = conn.execute("SELECT id FROM dictionaries WHERE kind = 'claims'").fetchone()
    frames = conn.execute("SELECT version_id, data FROM version_claims").fetchall()
    assert {codec.frame_dict_id(blob) for _, blob in frames} == {claims_dict}  # trained at crawl end
    assert [c for c in check_archive(crawled) if c.problems] == []
    conn.execute("DELETE FROM dictionaries WHERE id = ?", (claims_dict,))
    texts = next(c for c in check_archive(crawled) if c.name == "texts")
    assert {f"claims of version {vid}: claims do not unpack (dictionary {claims_dict} is missing)"
            for vid, _ in frames} <= set(texts.problems)


def downgrade_to_schema_2(path: str) -> dict[int, list]:
    """Write the archive's claims back as schema 2 kept them, one row per claim; returns them by version."""
    archive = Archive(path)
    before = {vid: claims_of(archive.conn, vid) for (vid,) in
              archive.conn.execute("SELECT version_id FROM version_claims").fetchall()}
    archive.close()
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE claims (id INTEGER PRIMARY KEY, version_id INTEGER NOT NULL REFERENCES versions(id),
            kind TEXT NOT NULL, term TEXT NOT NULL, role TEXT NOT NULL, evidence TEXT NOT NULL,
            section TEXT, zone TEXT, start INTEGER, "end" INTEGER, detail TEXT);
        CREATE INDEX claims_version ON claims(version_id);
        DROP TABLE version_claims;
        UPDATE meta SET value = '2' WHERE key = 'schema_version';
        -- Schema 2 could leave a site claim's evidence to its first version's claim rows.
        UPDATE site_claims SET evidence = NULL;
    """)
    for vid, claims in before.items():
        conn.executemany('INSERT INTO claims(version_id, kind, term, role, evidence, section, zone, start, "end", '
                         "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         [(vid, c.kind, c.term, c.role, c.evidence, c.section, c.zone, c.start, c.end,
                           json.dumps(c.detail) if c.detail else None) for c in claims])
    conn.commit()
    conn.close()
    return before


def test_schema_2_claims_are_migrated(crawled: Archive):
    path = crawled.path
    crawled.close()
    before = downgrade_to_schema_2(path)

    archive = Archive(path)
    conn = archive.conn
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'claims'").fetchone()
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    assert {vid: claims_of(conn, vid) for vid in before} == before
    evidence = conn.execute("SELECT evidence FROM site_claims").fetchall()
    assert evidence and all(e for (e,) in evidence)  # filled from the claim rows before they went
    assert [c for c in check_archive(archive) if c.problems] == []
    archive.close()


def test_failed_migration_changes_nothing(crawled: Archive):
    path = crawled.path
    crawled.close()
    downgrade_to_schema_2(path)
    conn = sqlite3.connect(path)
    last = conn.execute("SELECT max(id) FROM claims").fetchone()[0]
    conn.execute("UPDATE claims SET detail = '{not json' WHERE id = ?", (last,))
    conn.commit()
    rows = conn.execute("SELECT count(*) FROM claims").fetchone()[0]
    conn.close()

    with pytest.raises(ArchiveError, match="cannot convert the claims to schema 3 .*the archive is unchanged"):
        Archive(path)
    failed = stemwatch("search", "stem", db=path, check=False)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert "cannot convert the claims" in failed.stderr + failed.stdout
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM claims").fetchone()[0] == rows
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'version_claims' "
                            "AND EXISTS (SELECT 1 FROM version_claims)").fetchone()
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "2"
    conn.close()


def test_reextract_packs_against_the_site_dictionaries(crawled: Archive):
    from storage.analysis import reextract_all

    conn = crawled.conn
    dicts = dict(conn.execute("SELECT kind, id FROM dictionaries").fetchall())
    before = {vid: claims_of(conn, vid) for (vid,) in conn.execute("SELECT version_id FROM version_claims")}
    assert reextract_all(crawled) >= len(before)
    assert {codec.frame_dict_id(b) for (b,) in conn.execute(
        "SELECT text_z FROM versions WHERE text_z IS NOT NULL")} == {dicts["text"]}
    assert {codec.frame_dict_id(b) for (b,) in conn.execute("SELECT data FROM version_claims")} == {dicts["claims"]}
    assert {vid: claims_of(conn, vid) for vid in before} == before
