"""What happens to a new version inside its transaction: read its claims (HTML, good captures only).

Unchanged captures never reach this module: no parse, no extraction (DESIGN data flow).
"""

from __future__ import annotations

import json

import sqlite_utils

from storage.archive import Capture


def analyse_new_version(db: sqlite_utils.Database, version_id: int, cap: Capture) -> None:
    if cap.status != 200 or not cap.is_html:
        return
    from crawler.claims import EXTRACTOR_VERSION, extract  # heavy import, needed only for new versions

    result = extract(cap.body, content_type=cap.content_type, url=cap.url)
    store_extraction(db, version_id, result, EXTRACTOR_VERSION)


def store_extraction(db: sqlite_utils.Database, version_id: int, result, extractor: str) -> None:
    """Replace a version's derived data (title, text, claims); its body is never touched."""
    conn = db.conn
    conn.execute("UPDATE versions SET title = ?, text = ?, extractor = ? WHERE id = ?",
                 (result.title, result.text, extractor, version_id))
    conn.execute("DELETE FROM claims WHERE version_id = ?", (version_id,))
    conn.executemany(
        'INSERT INTO claims(version_id, kind, term, role, evidence, section, zone, start, "end", detail) '
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(version_id, c.kind, c.term, c.role, c.evidence, c.section, c.zone, c.start, c.end,
          json.dumps(c.detail, sort_keys=True) if c.detail else None) for c in result.claims],
    )


def reextract_all(archive, site_id: int | None = None) -> int:
    """Re-run extraction over stored bodies; deterministic, so the same data gives the same claims."""
    from crawler.claims import EXTRACTOR_VERSION, extract

    sql = ("SELECT versions.id, versions.digest, versions.content_type, pages.url FROM versions "
           "JOIN pages ON pages.id = versions.page_id WHERE versions.status = 200 "
           "AND versions.content_type LIKE '%html%'")
    args: tuple = ()
    if site_id is not None:
        sql += " AND pages.site_id = ?"
        args = (site_id,)
    rows = archive.conn.execute(sql + " ORDER BY versions.id", args).fetchall()
    for version_id, digest, content_type, url in rows:
        result = extract(archive.body(digest), content_type=content_type, url=url)
        with archive.transaction():
            store_extraction(archive.db, version_id, result, EXTRACTOR_VERSION)
    return len(rows)
