"""Verify an archive: is every stored byte still what was fetched, and does every row hang together?

Read-only. Each check returns the problems it found, each naming the row it is about, so an
analyst can say exactly what is wrong ("body sha1:ABC… decompresses to a different digest").
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field

from storage.archive import Archive, digest_of
from storage.codec import CodecError, Dictionaries, parse_claims, unpack_body, unpack_claims, unpack_text
from storage.locks import SiteLock

MAX_LISTED = 50  # problems listed per check; the count says how many there are in all


@dataclass
class CheckResult:
    name: str
    about: str
    problems: list[str] = field(default_factory=list)
    count: int = 0  # problems found, even past MAX_LISTED

    @property
    def ok(self) -> bool:
        return self.count == 0

    def add(self, problem: str) -> None:
        self.count += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(problem)


# (what is orphaned, SQL listing the ids of orphans). Only tables that exist are checked:
# other modules add tables as they land.
ORPHANS: list[tuple[str, str, str]] = [
    ("crawls", "crawl {} has no site", "SELECT id FROM crawls WHERE site_id NOT IN (SELECT id FROM sites)"),
    ("pages", "page {} has no site", "SELECT id FROM pages WHERE site_id NOT IN (SELECT id FROM sites)"),
    ("versions", "version {} has no page", "SELECT id FROM versions WHERE page_id NOT IN (SELECT id FROM pages)"),
    ("versions", "version {} has no body", "SELECT id FROM versions WHERE digest NOT IN (SELECT digest FROM bodies)"),
    ("captures", "capture {} has no page", "SELECT id FROM captures WHERE page_id NOT IN (SELECT id FROM pages)"),
    ("version_claims", "claims of version {} have no version",
     "SELECT version_id FROM version_claims WHERE version_id NOT IN (SELECT id FROM versions)"),
    ("changes", "change {} points at a missing version",
     "SELECT id FROM changes WHERE to_version_id NOT IN (SELECT id FROM versions) OR "
     "(from_version_id IS NOT NULL AND from_version_id NOT IN (SELECT id FROM versions))"),
    ("site_claims", "site claim {} has no site",
     "SELECT id FROM site_claims WHERE site_id NOT IN (SELECT id FROM sites)"),
    ("flags", "flag {} has no site", "SELECT id FROM flags WHERE site_id NOT IN (SELECT id FROM sites)"),
    ("reviews", "review {} has no flag", "SELECT id FROM reviews WHERE flag_id NOT IN (SELECT id FROM flags)"),
    ("pages", "page {} has a current version that is not one of its own",
     "SELECT pages.id FROM pages LEFT JOIN versions ON versions.id = pages.current_version_id "
     "WHERE pages.current_version_id IS NOT NULL AND (versions.id IS NULL OR versions.page_id != pages.id)"),
]


def check_integrity(conn: sqlite3.Connection) -> CheckResult:
    result = CheckResult("integrity", "SQLite PRAGMA integrity_check and foreign_key_check")
    for (line,) in conn.execute("PRAGMA integrity_check"):
        if line != "ok":
            result.add(line)
    for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check"):
        result.add(f"{table} row {rowid} refers to a missing {parent} row")
    return result


def check_bodies(conn: sqlite3.Connection) -> CheckResult:
    """Re-hash every body: it must decompress, to its recorded size, with its recorded digest."""
    result = CheckResult("bodies", "every body decompresses to its recorded size and digest")
    dicts = Dictionaries(conn)  # a fresh cache: every dictionary is read from the archive
    # One row at a time: an archive's bodies need not fit in memory together.
    for digest, codec, size, data in conn.execute("SELECT digest, codec, size, data FROM bodies"):
        try:
            raw = unpack_body(conn, codec, data, dicts)
        except CodecError as exc:
            result.add(f"body {digest}: {exc}")
            continue
        wrong = []  # one line per damaged body, saying everything wrong with it
        if len(raw) != size:
            wrong.append(f"{len(raw)} bytes, recorded size {size}")
        if (actual := digest_of(raw)) != digest:
            wrong.append(f"content hashes to {actual}")
        if wrong:
            result.add(f"body {digest}: " + "; ".join(wrong))
    return result


def check_texts(conn: sqlite3.Connection) -> CheckResult:
    result = CheckResult("texts", "every version's text and claims decompress, their dictionaries present")
    dicts = Dictionaries(conn)
    for version_id, blob in conn.execute("SELECT id, text_z FROM versions WHERE text_z IS NOT NULL"):
        try:
            unpack_text(blob, dicts)
        except CodecError as exc:
            result.add(f"text of version {version_id}: {exc}")
    for version_id, blob in conn.execute("SELECT version_id, data FROM version_claims"):
        try:
            parse_claims(unpack_claims(blob, dicts))
        except CodecError as exc:
            result.add(f"claims of version {version_id}: {exc}")
    return result


def check_orphans(conn: sqlite3.Connection) -> CheckResult:
    result = CheckResult("orphans", "every row's parent exists (versions, claims, captures, pages...)")
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, message, sql in ORPHANS:
        if table in tables:
            for (row_id,) in conn.execute(sql):
                result.add(message.format(row_id))
    return result


def check_fts(conn: sqlite3.Connection) -> CheckResult:
    result = CheckResult("fulltext", "the full-text index holds every version and matches it")
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "versions_fts" not in tables:
        result.add("versions_fts is missing: full-text search cannot work")
        return result
    # versions_fts reads rows from versions (external content); the docsize shadow table holds
    # one row per document actually indexed.
    versions = conn.execute("SELECT count(*) FROM versions").fetchone()[0]
    indexed = conn.execute("SELECT count(*) FROM versions_fts_docsize").fetchone()[0]
    if versions != indexed:
        result.add(f"versions_fts indexes {indexed} versions, the archive has {versions}")
    try:
        # rank 1: also compare the index with the versions table, not only its own structure.
        conn.execute("INSERT INTO versions_fts(versions_fts, rank) VALUES('integrity-check', 1)")
    except sqlite3.DatabaseError as exc:
        result.add(f"versions_fts integrity-check failed: {exc}")
    return result


def check_crawls(archive: Archive) -> CheckResult:
    """A crawl still 'running' while nobody holds its site's lock died without closing its row."""
    result = CheckResult("crawls", "no crawl is left 'running' without a live crawl process")
    rows = archive.conn.execute(
        "SELECT crawls.id, crawls.site_id, sites.name, crawls.started_at FROM crawls "
        "LEFT JOIN sites ON sites.id = crawls.site_id WHERE crawls.status = 'running' ORDER BY crawls.id")
    for crawl_id, site_id, name, started in rows.fetchall():
        if not SiteLock(archive.path, site_id).is_held():
            result.add(f"crawl {crawl_id} of {name or site_id} (started {started}) is marked running "
                       "but no crawl holds the site's lock (the next crawl marks it interrupted)")
    return result


def check_archive(archive: Archive) -> list[CheckResult]:
    conn = archive.conn
    return [check_integrity(conn), check_bodies(conn), check_texts(conn), check_orphans(conn), check_fts(conn),
            check_crawls(archive)]


def as_json(results: list[CheckResult]) -> dict:
    return {"ok": all(r.ok for r in results),
            "checks": [{**asdict(r), "ok": r.ok} for r in results]}
