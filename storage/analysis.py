"""What happens to a new version inside its transaction: read its claims (HTML, good captures only), then
record what changed, bring the site's claims timeline up to date and raise flags (storage.changes).

Unchanged captures never reach this module: no parse, no extraction (DESIGN data flow).
"""

from __future__ import annotations

import sqlite_utils

from storage.archive import Capture
from storage.codec import pack_claims, pack_text
from storage.quality import OK


def analyse_new_version(db: sqlite_utils.Database, version_id: int, cap: Capture) -> None:
    if not cap.is_html:
        return
    quality = db.conn.execute("SELECT quality FROM versions WHERE id = ?", (version_id,)).fetchone()[0]
    if quality != OK:
        return  # a blocked, failed, empty or soft-404 capture says nothing about the clinic (invariant 3)
    from crawler.claims import EXTRACTOR_VERSION, extract  # heavy import, needed only for new versions
    from storage.changes import on_new_version

    # The pipeline usually extracted already, in a worker process; anything else extracts here.
    result = cap.extraction or extract(cap.body, content_type=cap.content_type, url=cap.url)
    store_extraction(db, version_id, result, EXTRACTOR_VERSION)
    on_new_version(db.conn, version_id)


def store_extraction(db: sqlite_utils.Database, version_id: int, result, extractor: str) -> None:
    """Replace a version's derived data (title, text, claims); its body is never touched."""
    conn = db.conn
    conn.execute("UPDATE versions SET title = ?, text_z = ?, extractor = ? WHERE id = ?",
                 (result.title, pack_text(result.text), extractor, version_id))
    if not result.claims:
        conn.execute("DELETE FROM version_claims WHERE version_id = ?", (version_id,))
        return
    claims = [(c.kind, c.term, c.role, c.evidence, c.section, c.zone, c.start, c.end, c.detail or None)
              for c in result.claims]
    conn.execute("INSERT OR REPLACE INTO version_claims(version_id, count, data) VALUES (?, ?, ?)",
                 (version_id, len(claims), pack_claims(claims, result.text)))


def reextract_all(archive, site_id: int | None = None) -> int:
    """Re-run extraction over stored bodies, then replay each site's changes, timeline and flags.

    Extraction is deterministic, so the same data gives the same claims, and the replay the same flags;
    a flag the new claims no longer raise is kept, marked retracted (DESIGN invariants 5 and 6).
    """
    from crawler.claims import EXTRACTOR_VERSION, extract
    from storage.changes import rebuild_site

    sql = ("SELECT versions.id, versions.digest, versions.content_type, pages.url, pages.site_id FROM versions "
           "JOIN pages ON pages.id = versions.page_id WHERE versions.quality = ? "
           "AND versions.content_type LIKE '%html%'")
    args: tuple = (OK,)
    if site_id is not None:
        sql += " AND pages.site_id = ?"
        args += (site_id,)
    rows = archive.conn.execute(sql + " ORDER BY versions.id", args).fetchall()
    for version_id, digest, content_type, url, page_site in rows:
        result = extract(archive.body(digest), content_type=content_type, url=url)
        with archive.transaction():
            store_extraction(archive.db, version_id, result, EXTRACTOR_VERSION)
            archive.use_dictionaries(page_site, version_id)  # text and claims against the site's dictionaries
    sites = [site_id] if site_id is not None else [
        r[0] for r in archive.conn.execute("SELECT id FROM sites ORDER BY id")]
    for sid in sites:
        with archive.transaction():
            rebuild_site(archive.conn, sid)
    return len(rows)
