"""The archive: one SQLite file holding sites, crawls, pages, versions and their bodies.

A *version* is one distinct content of a page, found by digest; identical consecutive captures
collapse into it (first seen, last seen, number of captures). Bodies are compressed and
content-addressed, so the exact bytes of every version can be read back. Each capture is one
transaction: a crawl killed at any instant leaves a consistent archive (DESIGN invariant 2).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from storage import codec
from storage.quality import classify

DEFAULT_DB = "stemwatch.db"
SCHEMA_VERSION = 3
PAGE_SIZE = 16384


class ArchiveError(Exception):
    """An error a user can cause (unknown site, duplicate name, locked database...)."""


def utcnow() -> str:
    """Timestamps are ISO-8601 UTC with milliseconds, so they sort as text."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def digest_of(data: bytes) -> str:
    """SHA-1 in base32, the form WARC and CDX files use."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def db_path(path: str | None) -> str:
    return path or os.environ.get("STEMWATCH_DB") or DEFAULT_DB


@dataclass
class Capture:
    """One fetch of one URL, as the spider saw it. `error` is set when no response arrived."""

    url: str
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    fetched_at: str = field(default_factory=utcnow)
    error: str = ""
    # Filled by the pipeline when it already knows them, so the writer does not redo the work.
    quality: str = ""
    extraction: Any = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def is_html(self) -> bool:
        ctype = self.content_type.lower()
        if ctype:
            return "html" in ctype
        return self.body[:512].lstrip().lower().startswith((b"<!doctype html", b"<html"))


@dataclass
class Outcome:
    """What recording a capture did: `new` version, `unchanged`, `not_modified` (304) or `error`."""

    kind: str
    page_id: int
    version_id: int | None = None


# Called for a new version inside its transaction: (db, version_id, capture) -> None.
VersionHook = Callable[[sqlite_utils.Database, int, Capture], None]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS sites (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, start_urls TEXT NOT NULL,
    allow TEXT NOT NULL DEFAULT '[]', deny TEXT NOT NULL DEFAULT '[]', max_pages INTEGER NOT NULL,
    every TEXT NOT NULL, delay REAL NOT NULL, concurrency INTEGER NOT NULL,
    obey_robots INTEGER NOT NULL DEFAULT 1, country TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '', active INTEGER NOT NULL DEFAULT 1, added_at TEXT NOT NULL,
    baseline_crawl_id INTEGER
);
CREATE TABLE IF NOT EXISTS crawls (
    id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES sites(id),
    started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL, pid INTEGER,
    obey_robots INTEGER NOT NULL DEFAULT 1,
    pages INTEGER NOT NULL DEFAULT 0, new_versions INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0, not_modified INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0, blocked INTEGER NOT NULL DEFAULT 0, stats TEXT
);
CREATE INDEX IF NOT EXISTS crawls_site ON crawls(site_id, started_at);
CREATE TABLE IF NOT EXISTS pages (
    id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES sites(id), url TEXT NOT NULL UNIQUE,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, last_status INTEGER, etag TEXT,
    last_modified TEXT, current_version_id INTEGER, gone_since TEXT, last_crawl_id INTEGER
);
CREATE INDEX IF NOT EXISTS pages_site ON pages(site_id);
CREATE TABLE IF NOT EXISTS bodies (
    digest TEXT PRIMARY KEY, codec TEXT NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL
);
-- zlib dictionaries of bodies stored before zstd (codec 'zlib+dict:N'): kept so those bodies stay readable.
CREATE TABLE IF NOT EXISTS body_dicts (
    id INTEGER PRIMARY KEY, site_id INTEGER REFERENCES sites(id), created_at TEXT NOT NULL, data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS body_dicts_site ON body_dicts(site_id);
-- Per-site zstd dictionaries, kind 'body', 'text' or 'claims' (storage.codec). The id is zstd's dictionary id, which
-- every frame packed against the dictionary names.
CREATE TABLE IF NOT EXISTS dictionaries (
    id INTEGER PRIMARY KEY, site_id INTEGER REFERENCES sites(id), kind TEXT NOT NULL, created_at TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS dictionaries_site ON dictionaries(site_id, kind);
CREATE TABLE IF NOT EXISTS versions (
    id INTEGER PRIMARY KEY, page_id INTEGER NOT NULL REFERENCES pages(id),
    digest TEXT NOT NULL REFERENCES bodies(digest), crawl_id INTEGER REFERENCES crawls(id),
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, captures INTEGER NOT NULL DEFAULT 1,
    status INTEGER NOT NULL, content_type TEXT, headers TEXT, quality TEXT NOT NULL,
    title TEXT, text_z BLOB, extractor TEXT
);
CREATE INDEX IF NOT EXISTS versions_page ON versions(page_id, first_seen);
CREATE INDEX IF NOT EXISTS versions_digest ON versions(digest);
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY, page_id INTEGER NOT NULL REFERENCES pages(id),
    crawl_id INTEGER REFERENCES crawls(id), at TEXT NOT NULL, status INTEGER NOT NULL, error TEXT
);
CREATE INDEX IF NOT EXISTS captures_page ON captures(page_id, at);
-- The claims read from a version, packed in one blob (storage.codec.pack_claims); `count` of them.
-- Queries by term go through site_claims, one row per site and claim.
CREATE TABLE IF NOT EXISTS version_claims (
    version_id INTEGER PRIMARY KEY REFERENCES versions(id), count INTEGER NOT NULL, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY, page_id INTEGER NOT NULL REFERENCES pages(id),
    from_version_id INTEGER REFERENCES versions(id), to_version_id INTEGER NOT NULL REFERENCES versions(id),
    crawl_id INTEGER REFERENCES crawls(id), detected_at TEXT NOT NULL,
    text_added INTEGER NOT NULL DEFAULT 0, text_removed INTEGER NOT NULL DEFAULT 0,
    claims_added TEXT, claims_removed TEXT, score REAL NOT NULL DEFAULT 0, summary TEXT,
    kind TEXT NOT NULL DEFAULT 'edit', detail TEXT
);
CREATE INDEX IF NOT EXISTS changes_page ON changes(page_id, detected_at);
CREATE INDEX IF NOT EXISTS changes_time ON changes(detected_at);
CREATE INDEX IF NOT EXISTS changes_crawl ON changes(crawl_id);
CREATE TABLE IF NOT EXISTS site_claims (
    id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES sites(id),
    kind TEXT NOT NULL, term TEXT NOT NULL, role TEXT NOT NULL,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
    first_version_id INTEGER REFERENCES versions(id), last_version_id INTEGER REFERENCES versions(id),
    status TEXT NOT NULL DEFAULT 'active', removed_at TEXT, evidence TEXT, url TEXT,
    zone TEXT, first_crawl_id INTEGER, removed_crawl_id INTEGER,
    UNIQUE(site_id, kind, term, role)
);
CREATE INDEX IF NOT EXISTS site_claims_term ON site_claims(kind, term, role, status);
-- Phrase families of a site claim already seen ("FDA registered" vs "cGMP"): flags go to the first of each.
CREATE TABLE IF NOT EXISTS site_claim_variants (
    site_id INTEGER NOT NULL REFERENCES sites(id), kind TEXT NOT NULL, term TEXT NOT NULL, role TEXT NOT NULL,
    variant TEXT NOT NULL, PRIMARY KEY (site_id, kind, term, role, variant)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS flags (
    id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES sites(id),
    kind TEXT NOT NULL, claim_kind TEXT NOT NULL, term TEXT NOT NULL, role TEXT NOT NULL,
    evidence TEXT, url TEXT, version_id INTEGER REFERENCES versions(id),
    change_id INTEGER REFERENCES changes(id), crawl_id INTEGER REFERENCES crawls(id),
    detected_at TEXT NOT NULL, priority TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open', detail TEXT,
    retracted_at TEXT, queued_at TEXT, variant TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS flags_site ON flags(site_id, detected_at);
CREATE INDEX IF NOT EXISTS flags_status ON flags(status, detected_at);
CREATE INDEX IF NOT EXISTS flags_claim ON flags(site_id, claim_kind, term, role);
CREATE INDEX IF NOT EXISTS flags_queue ON flags(queued_at);
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY, flag_id INTEGER NOT NULL REFERENCES flags(id), at TEXT NOT NULL,
    reviewer TEXT NOT NULL, action TEXT NOT NULL, note TEXT
);
CREATE INDEX IF NOT EXISTS reviews_flag ON reviews(flag_id, at);
-- Invariant 6: a raised flag is never lost, and reviews are appended, never edited.
CREATE TRIGGER IF NOT EXISTS reviews_no_update BEFORE UPDATE ON reviews
BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;
CREATE TRIGGER IF NOT EXISTS reviews_no_delete BEFORE DELETE ON reviews
BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;
CREATE TRIGGER IF NOT EXISTS flags_no_delete BEFORE DELETE ON flags
BEGIN SELECT RAISE(ABORT, 'flags are never deleted'); END;
CREATE TABLE IF NOT EXISTS notify_targets (
    id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, added_at TEXT NOT NULL, removed_at TEXT
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY, crawl_id INTEGER REFERENCES crawls(id), target_id INTEGER REFERENCES notify_targets(id),
    created_at TEXT NOT NULL, title TEXT, body TEXT, sent_at TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, lease_until TEXT
);
CREATE INDEX IF NOT EXISTS notifications_pending ON notifications(sent_at);
"""

# Full-text search over every version. The text is stored compressed, so the index reads it through a
# view (external content: snippets and rebuilds work) and is kept in step by triggers. The update trigger
# fires only when title or text change: an unchanged capture bumps last_seen and must not re-index the page,
# nor must text repacked against a dictionary (same text, new bytes; re-indexing it doubled a page's cost).
FTS_UPDATE = """
CREATE TRIGGER IF NOT EXISTS versions_fts_au AFTER UPDATE OF title, text_z ON versions
WHEN old.title IS NOT new.title OR unpack_text(old.text_z) IS NOT unpack_text(new.text_z) BEGIN
    INSERT INTO versions_fts(versions_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, unpack_text(old.text_z));
    INSERT INTO versions_fts(rowid, title, text) VALUES (new.id, new.title, unpack_text(new.text_z));
END;
"""
FTS = """
CREATE VIEW IF NOT EXISTS versions_text AS SELECT id, title, unpack_text(text_z) AS text FROM versions;
CREATE VIRTUAL TABLE IF NOT EXISTS versions_fts USING fts5(
    title, text, content='versions_text', content_rowid='id', tokenize='porter'
);
CREATE TRIGGER IF NOT EXISTS versions_fts_ai AFTER INSERT ON versions BEGIN
    INSERT INTO versions_fts(rowid, title, text) VALUES (new.id, new.title, unpack_text(new.text_z));
END;
CREATE TRIGGER IF NOT EXISTS versions_fts_ad AFTER DELETE ON versions BEGIN
    INSERT INTO versions_fts(versions_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, unpack_text(old.text_z));
END;
""" + FTS_UPDATE

# Schema 1 kept versions.text uncompressed, indexed by an FTS table whose content was versions itself.
MIGRATE_TEXT = """
DROP TRIGGER IF EXISTS versions_fts_ai;
DROP TRIGGER IF EXISTS versions_fts_ad;
DROP TRIGGER IF EXISTS versions_fts_au;
DROP TABLE IF EXISTS versions_fts;
ALTER TABLE versions ADD COLUMN text_z BLOB;
UPDATE versions SET text_z = pack_text(text) WHERE text IS NOT NULL;
ALTER TABLE versions DROP COLUMN text;
"""


SITE_LIST_FIELDS = ("start_urls", "allow", "deny")
SITE_BOOL_FIELDS = ("obey_robots", "active")

# A site's zstd dictionaries are trained from its first 32 HTML versions; at crawl end a smaller site's from
# as few as 8 (most clinics have 10-100 pages). Measured on a CMS site's pages: bodies store at 0.073 x raw
# against 64 KB trained from 32 pages; from 8-16 pages 64 KB overfits and 32 KB does better (0.089 x).
TRAIN_SAMPLES = 32
SMALL_SITE_SAMPLES = 8
DICT_BYTES = {"body": 64 * 1024, "text": 32 * 1024, "claims": 32 * 1024}
SMALL_DICT_BYTES = 32 * 1024
# What a site's dictionaries are trained from, oldest first: HTML bodies, the text read from good captures,
# and the claims read from it (whose menus and footers every page repeats).
DICT_SAMPLES = {
    "body": "SELECT v.digest FROM versions v JOIN pages p ON p.id = v.page_id "
            "WHERE p.site_id = ? AND v.status = 200 AND v.content_type LIKE '%html%'",
    "text": "SELECT v.text_z FROM versions v JOIN pages p ON p.id = v.page_id "
            "WHERE p.site_id = ? AND v.text_z IS NOT NULL",
    "claims": "SELECT vc.data FROM version_claims vc JOIN versions v ON v.id = vc.version_id "
              "JOIN pages p ON p.id = v.page_id WHERE p.site_id = ?",
}
# Where the frames of one version are, for the kinds stored per version: (table, version id column, blob column).
PER_VERSION = {"text": ("versions", "id", "text_z"), "claims": ("version_claims", "version_id", "data")}


def connect(path: str) -> sqlite_utils.Database:
    """Open the archive in WAL mode so readers (search, the web UI) never block the crawl writer."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    # Only a new file takes it. A version's packed body or text is 1-4 KB: 4 KB pages hold one such row and
    # leave the rest unused (the archive measured ~10% smaller on 16 KB pages).
    conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode loses at most the last transactions on power loss, never consistency.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    codec.register(conn)
    db = sqlite_utils.Database(conn)
    conn.executescript(SCHEMA)
    conn.execute(
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
    )
    if "text" in {col[1] for col in conn.execute("PRAGMA table_info(versions)")}:
        migrate_text(conn)
    conn.executescript(FTS)
    update = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'versions_fts_au'").fetchone()
    if update and "WHEN" not in update[0]:  # an older archive's trigger re-indexed repacked text
        conn.executescript(f"BEGIN IMMEDIATE; DROP TRIGGER IF EXISTS versions_fts_au; {FTS_UPDATE} COMMIT;")
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'claims'").fetchone():
        migrate_claims(conn)
    return db


def migrate_text(conn: sqlite3.Connection) -> None:
    """Schema 1 to 2: compress every version's text and rebuild the full-text index over it, all or nothing."""
    script = (f"BEGIN IMMEDIATE; {MIGRATE_TEXT} {FTS} INSERT INTO versions_fts(versions_fts) VALUES ('rebuild'); "
              f"UPDATE meta SET value = '{SCHEMA_VERSION}' WHERE key = 'schema_version'; COMMIT;")
    try:
        conn.executescript(script)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def migrate_claims(conn: sqlite3.Connection) -> None:
    """Schema 2 to 3: pack each version's claim rows into one `version_claims` blob, all or nothing."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        vids = [r[0] for r in conn.execute("SELECT DISTINCT version_id FROM claims ORDER BY version_id")]
        for vid in vids:
            rows = conn.execute('SELECT kind, term, role, evidence, section, zone, start, "end", detail FROM claims '
                                "WHERE version_id = ? ORDER BY id", (vid,)).fetchall()
            text = conn.execute("SELECT unpack_text(text_z) FROM versions WHERE id = ?", (vid,)).fetchone()
            claims = [(*r[:8], json.loads(r[8]) if r[8] else None) for r in rows]
            conn.execute("INSERT OR REPLACE INTO version_claims(version_id, count, data) VALUES (?, ?, ?)",
                         (vid, len(claims), codec.pack_claims(claims, text[0] if text else None)))
        # Old site claims without their own evidence took it from these rows when queried.
        conn.execute("UPDATE site_claims SET evidence = (SELECT c.evidence FROM claims c WHERE "
                     "c.version_id = site_claims.first_version_id AND c.kind = site_claims.kind AND "
                     "c.term = site_claims.term AND c.role = site_claims.role ORDER BY c.id LIMIT 1) "
                     "WHERE evidence IS NULL")
        conn.execute("DROP TABLE claims")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        conn.execute("COMMIT")
    except (ValueError, sqlite3.DatabaseError) as exc:  # a damaged row: say so in one line, change nothing
        conn.execute("ROLLBACK")
        raise ArchiveError(f"cannot convert the claims to schema {SCHEMA_VERSION} ({exc}); the archive is "
                           "unchanged") from exc
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class Archive:
    """Everything that writes or reads the core tables. One instance per process."""

    def __init__(self, path: str | None = None):
        self.path = db_path(path)
        if self.path != ":memory:" and not Path(self.path).parent.exists():
            raise ArchiveError(f"database folder does not exist: {Path(self.path).parent}")
        try:
            self.db = connect(self.path)
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"cannot open database {self.path}: {exc}") from exc
        self.version_hooks: list[VersionHook] = []
        # Registered again to keep the connection's dictionaries: one cache for SQL's reads and our packing.
        self.dicts = codec.register(self.conn)
        # (site, kind) whose dictionary zstd could not train in this process: not retried for every page.
        self._untrainable: set[tuple[int, str]] = set()

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock up front, so a busy database waits instead of failing."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # ---- sites -------------------------------------------------------------------------------

    def add_site(self, site: dict) -> dict:
        """Insert one normalised site row (see crawler.watchlist.normalise_site)."""
        if self.find_site(site["name"]):
            raise ArchiveError(f"site already exists: {site['name']}")
        row = {k: v for k, v in site.items()}
        for key in SITE_LIST_FIELDS:
            row[key] = json.dumps(list(row.get(key, [])))
        row.setdefault("added_at", utcnow())
        self.db["sites"].insert(row)
        return self.site(site["name"])

    def add_sites(self, sites: list[dict]) -> None:
        """All or nothing: a watchlist import either lands whole or not at all."""
        clashes = [s["name"] for s in sites if self.find_site(s["name"])]
        if clashes:
            raise ArchiveError("sites already exist: " + ", ".join(clashes))
        with self.transaction():
            for site in sites:
                self.add_site(site)

    def find_site(self, name: str) -> dict | None:
        row = self.conn.execute("SELECT * FROM sites WHERE name = ?", (name,)).fetchone()
        return self._site_row(row) if row else None

    def site(self, name: str) -> dict:
        found = self.find_site(name)
        if not found:
            raise ArchiveError(f"unknown site: {name}")
        return found

    def sites(self, active_only: bool = False) -> list[dict]:
        sql = "SELECT * FROM sites" + (" WHERE active" if active_only else "") + " ORDER BY name"
        return [self._site_row(r) for r in self.conn.execute(sql).fetchall()]

    def remove_site(self, name: str) -> None:
        """Removing a site from the watchlist keeps its archive: evidence is never deleted."""
        site = self.site(name)
        self.conn.execute("UPDATE sites SET active = 0 WHERE id = ?", (site["id"],))

    def _site_row(self, row: tuple) -> dict:
        cols = [d[0] for d in self.conn.execute("SELECT * FROM sites LIMIT 0").description]
        site = dict(zip(cols, row))
        for key in SITE_LIST_FIELDS:
            site[key] = json.loads(site[key])
        for key in SITE_BOOL_FIELDS:
            site[key] = bool(site[key])
        return site

    # ---- crawls ------------------------------------------------------------------------------

    def start_crawl(self, site: dict, pid: int | None = None) -> int:
        """Open a crawl row. The caller holds the site's lock, so any crawl still marked running
        belongs to a process that died: it is marked interrupted here."""
        with self.transaction():
            self.conn.execute(
                "UPDATE crawls SET status = 'interrupted', finished_at = COALESCE(finished_at, ?) "
                "WHERE site_id = ? AND status = 'running'",
                (utcnow(), site["id"]),
            )
            cur = self.conn.execute(
                "INSERT INTO crawls(site_id, started_at, status, pid, obey_robots) "
                "VALUES (?, ?, 'running', ?, ?)",
                (site["id"], utcnow(), pid or os.getpid(), int(site.get("obey_robots", True))),
            )
        return int(cur.lastrowid)

    def last_crawl_status(self, site_id: int) -> str | None:
        row = self.conn.execute("SELECT status FROM crawls WHERE site_id = ? ORDER BY id DESC LIMIT 1",
                                (site_id,)).fetchone()
        return row[0] if row else None

    def finish_crawl(self, crawl_id: int, status: str, stats: dict | None = None) -> None:
        self.conn.execute(
            "UPDATE crawls SET status = ?, finished_at = ?, stats = ? WHERE id = ?",
            (status, utcnow(), json.dumps(stats or {}, sort_keys=True, default=str), crawl_id),
        )
        row = self.conn.execute("SELECT site_id FROM crawls WHERE id = ?", (crawl_id,)).fetchone()
        if row:
            self.train_dictionaries(row[0])

    def mark_interrupted(self, crawl_id: int) -> None:
        """Used by the parent when a crawl subprocess died without closing its row."""
        self.conn.execute(
            "UPDATE crawls SET status = 'interrupted', finished_at = ? WHERE id = ? AND status = 'running'",
            (utcnow(), crawl_id),
        )

    def crawl(self, crawl_id: int) -> dict:
        cur = self.conn.execute(
            "SELECT crawls.*, sites.name AS site FROM crawls JOIN sites ON sites.id = crawls.site_id "
            "WHERE crawls.id = ?",
            (crawl_id,),
        )
        row = cur.fetchone()
        if not row:
            raise ArchiveError(f"unknown crawl: {crawl_id}")
        return dict(zip([d[0] for d in cur.description], row))

    # ---- pages and captures ------------------------------------------------------------------

    def is_new_content(self, cap: Capture) -> bool:
        """Would this capture make a new version? (Only new versions are worth extracting.)"""
        row = self.conn.execute(
            "SELECT versions.digest, versions.status FROM pages JOIN versions "
            "ON versions.id = pages.current_version_id WHERE pages.url = ?", (cap.url,)).fetchone()
        return row is None or (row[0], row[1]) != (digest_of(cap.body), cap.status)

    def known_pages(self, site_id: int) -> dict[str, tuple[str | None, str | None]]:
        """url -> (etag, last_modified) for conditional requests. A gone page is revisited until it
        has been found gone twice (a `removed` change): one 404 may be a glitch."""
        rows = self.conn.execute(
            "SELECT url, etag, last_modified FROM pages WHERE site_id = ? AND (gone_since IS NULL OR "
            "NOT EXISTS (SELECT 1 FROM changes WHERE changes.page_id = pages.id AND changes.kind = 'removed'))",
            (site_id,),
        )
        return {url: (etag, lm) for url, etag, lm in rows}

    def record_capture(self, crawl_id: int, site_id: int, cap: Capture) -> Outcome:
        """Store one capture in one transaction and count it on the crawl."""
        with self.transaction():
            page_id, current = self._page(site_id, cap)
            if cap.error:
                self.conn.execute(
                    "INSERT INTO captures(page_id, crawl_id, at, status, error) VALUES (?, ?, ?, ?, ?)",
                    (page_id, crawl_id, cap.fetched_at, cap.status, cap.error[:500]),
                )
                outcome = Outcome("error", page_id)
            elif cap.status == 304 and current:
                self._bump(current[0], cap.fetched_at)
                outcome = Outcome("not_modified", page_id, current[0])
            else:
                digest = digest_of(cap.body)
                if current and current[1] == digest and current[2] == cap.status:
                    self._bump(current[0], cap.fetched_at)
                    outcome = Outcome("unchanged", page_id, current[0])
                else:
                    outcome = Outcome("new", page_id, self._new_version(site_id, page_id, crawl_id, digest, cap))
            self._touch_page(page_id, crawl_id, cap, outcome)
            column = {"new": "new_versions", "unchanged": "unchanged", "not_modified": "not_modified",
                      "error": "errors"}[outcome.kind]
            self.conn.execute(
                f"UPDATE crawls SET pages = pages + 1, {column} = {column} + 1 WHERE id = ?", (crawl_id,)
            )
        return outcome

    def _page(self, site_id: int, cap: Capture) -> tuple[int, tuple | None]:
        row = self.conn.execute(
            "SELECT pages.id, versions.id, versions.digest, versions.status FROM pages "
            "LEFT JOIN versions ON versions.id = pages.current_version_id WHERE pages.url = ?",
            (cap.url,),
        ).fetchone()
        if row:
            return row[0], (row[1], row[2], row[3]) if row[1] else None
        cur = self.conn.execute(
            "INSERT INTO pages(site_id, url, first_seen, last_seen) VALUES (?, ?, ?, ?)",
            (site_id, cap.url, cap.fetched_at, cap.fetched_at),
        )
        return int(cur.lastrowid), None

    def _bump(self, version_id: int, at: str) -> None:
        self.conn.execute(
            "UPDATE versions SET last_seen = ?, captures = captures + 1 WHERE id = ?", (at, version_id)
        )

    def _new_version(self, site_id: int, page_id: int, crawl_id: int, digest: str, cap: Capture) -> int:
        if not self.conn.execute("SELECT 1 FROM bodies WHERE digest = ?", (digest,)).fetchone():
            zdict = self._site_dict(site_id, "body") if cap.is_html else None
            self.conn.execute("INSERT INTO bodies(digest, codec, size, data) VALUES (?, 'zstd', ?, ?)",
                              (digest, len(cap.body), codec.pack_body(cap.body, zdict)))
        cur = self.conn.execute(
            "INSERT INTO versions(page_id, digest, crawl_id, first_seen, last_seen, captures, status, "
            "content_type, headers, quality) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
            (page_id, digest, crawl_id, cap.fetched_at, cap.fetched_at, cap.status, cap.content_type,
             json.dumps(cap.headers, sort_keys=True), cap.quality or classify(cap)),
        )
        version_id = int(cur.lastrowid)
        self.conn.execute("UPDATE pages SET current_version_id = ? WHERE id = ?", (version_id, page_id))
        for hook in self.version_hooks:
            hook(self.db, version_id, cap)
        if cap.is_html:
            self.use_dictionaries(site_id, version_id)
        return version_id

    def _touch_page(self, page_id: int, crawl_id: int, cap: Capture, outcome: Outcome) -> None:
        gone = cap.status in (404, 410)
        sets = ["last_seen = ?", "last_status = ?", "last_crawl_id = ?",
                "gone_since = CASE WHEN ? THEN COALESCE(gone_since, ?) ELSE NULL END"]
        args: list = [cap.fetched_at, cap.status, crawl_id, int(gone), cap.fetched_at]
        if outcome.kind == "new":
            # Validators of the stored version make the next crawl's requests conditional. A new
            # error or challenge version clears them: a 304 must never extend a bad capture.
            good = cap.status == 200
            sets += ["etag = ?", "last_modified = ?"]
            args += [cap.headers.get("etag") if good else None, cap.headers.get("last-modified") if good else None]
        self.conn.execute(f"UPDATE pages SET {', '.join(sets)} WHERE id = ?", (*args, page_id))

    # ---- dictionaries ------------------------------------------------------------------------

    def _site_dict(self, site_id: int, kind: str) -> codec.Dictionary | None:
        """The site's dictionary of a kind. Which one is read each time, never cached: a rolled-back transaction
        must not leave a dictionary in use. Its compressor is kept, by id (`self.dicts`)."""
        row = self.conn.execute("SELECT id FROM dictionaries WHERE site_id = ? AND kind = ? ORDER BY id LIMIT 1",
                                (site_id, kind)).fetchone()
        return self.dicts.get(row[0]) if row else None

    def use_dictionaries(self, site_id: int, version_id: int) -> None:
        """After a new HTML version: pack its text and claims against the site's dictionaries (the extraction
        hook packed them without), or train the site's dictionaries once it has TRAIN_SAMPLES versions."""
        for kind in DICT_SAMPLES:
            zdict = self._site_dict(site_id, kind)
            if zdict is None and (site_id, kind) not in self._untrainable:
                found = self.conn.execute(f"SELECT count(*) FROM ({DICT_SAMPLES[kind]} LIMIT ?)",
                                          (site_id, TRAIN_SAMPLES)).fetchone()[0]
                if found >= TRAIN_SAMPLES and self._train(site_id, kind, TRAIN_SAMPLES) is None:
                    self._untrainable.add((site_id, kind))
            elif zdict is not None and kind in PER_VERSION:
                table, key, column = PER_VERSION[kind]
                row = self.conn.execute(f"SELECT {column} FROM {table} WHERE {key} = ?", (version_id,)).fetchone()
                if row and row[0] is not None and row[0][:4] == codec.ZSTD_MAGIC:
                    self._repack(kind, version_id, row[0], zdict)

    def train_dictionaries(self, site_id: int, minimum: int = SMALL_SITE_SAMPLES) -> None:
        """Crawl end: a site still without dictionaries gets them if it has `minimum` versions to train from.
        One transaction: trained and repacked, or neither."""
        with self.transaction():
            for kind in DICT_SAMPLES:
                if self._site_dict(site_id, kind) is None:
                    self._train(site_id, kind, minimum)

    def _train(self, site_id: int, kind: str, minimum: int) -> codec.Dictionary | None:
        """Train the site's dictionary of a kind from its oldest versions (read back from the archive), then
        repack the site's frames that have no dictionary against it. None if too few samples or zstd fails."""
        samples = []
        for (value,) in self.conn.execute(DICT_SAMPLES[kind] + " ORDER BY v.id LIMIT ?",
                                          (site_id, TRAIN_SAMPLES)).fetchall():
            try:
                samples.append(codec.read_body(self.conn, value, self.dicts) if kind == "body"
                               else codec.unpack_text(value, self.dicts).encode("utf-8") if kind == "text"
                               else codec.unpack(value, self.dicts))
            except codec.CodecError:
                continue  # damaged: `stemwatch check` reports it; the other samples will do
        if len(samples) < minimum:
            return None
        zdict = codec.train(samples, DICT_BYTES[kind] if len(samples) >= TRAIN_SAMPLES else SMALL_DICT_BYTES)
        if zdict is None:
            return None
        while self.conn.execute("SELECT 1 FROM dictionaries WHERE id = ?", (zdict.id,)).fetchone():
            # Sites with identical first pages train identical dictionaries: each row needs its own id.
            zdict = zdict.renumbered(zdict.id + 1 if zdict.id + 1 < 2**31 else 32768)
        self.conn.execute("INSERT INTO dictionaries(id, site_id, kind, created_at, data) VALUES (?, ?, ?, ?, ?)",
                          (zdict.id, site_id, kind, utcnow(), zdict.data))
        self.dicts.keep(zdict)  # its compressor, once built, serves the site's next pages
        if kind == "body":
            rows = self.conn.execute(
                "SELECT DISTINCT b.digest, b.data FROM versions v JOIN pages p ON p.id = v.page_id "
                "JOIN bodies b ON b.digest = v.digest WHERE p.site_id = ? AND v.content_type LIKE '%html%' "
                "AND b.codec = 'zstd'", (site_id,)).fetchall()
            for digest, data in rows:
                self._repack_body(digest, data, zdict)
        else:
            table, key, column = PER_VERSION[kind]
            rows = self.conn.execute(
                f"SELECT t.{key}, t.{column} FROM {table} t JOIN versions v ON v.id = t.{key} "
                f"JOIN pages p ON p.id = v.page_id WHERE p.site_id = ? AND substr(t.{column}, 1, 4) = ?",
                (site_id, codec.ZSTD_MAGIC)).fetchall()
            for version_id, blob in rows:
                self._repack(kind, version_id, blob, zdict)
        return zdict

    def _repacked(self, blob: bytes, zdict: codec.Dictionary) -> bytes | None:
        """A frame packed without a dictionary, packed again against zdict if that reads back byte-exact;
        None for anything else, which keeps its frame."""
        try:
            if codec.frame_dict_id(blob):
                return None
            raw = codec.unpack(blob)
            packed = zdict.pack(raw)
            return packed if codec.unpack(packed, self.dicts) == raw else None
        except codec.CodecError:
            return None  # damaged: left as it is, for `stemwatch check` to report

    def _repack_body(self, digest: str, data: bytes, zdict: codec.Dictionary) -> None:
        if packed := self._repacked(data, zdict):
            self.conn.execute("UPDATE bodies SET data = ? WHERE digest = ?", (packed, digest))

    def _repack(self, kind: str, version_id: int, blob: bytes, zdict: codec.Dictionary) -> None:
        # Same text in new bytes: the full-text trigger leaves the index alone.
        if packed := self._repacked(blob, zdict):
            table, key, column = PER_VERSION[kind]
            self.conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (packed, version_id))

    # ---- reading -----------------------------------------------------------------------------

    def body(self, digest: str) -> bytes:
        try:
            return codec.read_body(self.conn, digest, self.dicts)  # an export reads many: keep the dictionaries
        except codec.CodecError as exc:
            raise ArchiveError(str(exc)) from exc

    def site_summary(self, site_id: int) -> dict:
        pages, versions = self.conn.execute(
            "SELECT (SELECT count(*) FROM pages WHERE site_id = ?), "
            "(SELECT count(*) FROM versions JOIN pages ON pages.id = versions.page_id WHERE site_id = ?)",
            (site_id, site_id),
        ).fetchone()
        return {"pages": pages, "versions": versions}

    def close(self) -> None:
        self.conn.close()

