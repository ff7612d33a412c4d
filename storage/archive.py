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
SCHEMA_VERSION = 2


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
-- Per-site compression dictionaries for bodies (storage.codec).
CREATE TABLE IF NOT EXISTS body_dicts (
    id INTEGER PRIMARY KEY, site_id INTEGER REFERENCES sites(id), created_at TEXT NOT NULL, data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS body_dicts_site ON body_dicts(site_id);
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
CREATE TABLE IF NOT EXISTS claims (
    id INTEGER PRIMARY KEY, version_id INTEGER NOT NULL REFERENCES versions(id),
    kind TEXT NOT NULL, term TEXT NOT NULL, role TEXT NOT NULL, evidence TEXT NOT NULL,
    section TEXT, zone TEXT, start INTEGER, "end" INTEGER, detail TEXT
);
CREATE INDEX IF NOT EXISTS claims_version ON claims(version_id);
-- No index on claims by term: every query by term goes through site_claims, one row per site and claim.
DROP INDEX IF EXISTS claims_term;
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
# fires only when title or text change: an unchanged capture bumps last_seen and must not re-index the page.
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
CREATE TRIGGER IF NOT EXISTS versions_fts_au AFTER UPDATE OF title, text_z ON versions BEGIN
    INSERT INTO versions_fts(versions_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, unpack_text(old.text_z));
    INSERT INTO versions_fts(rowid, title, text) VALUES (new.id, new.title, unpack_text(new.text_z));
END;
"""

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


def connect(path: str) -> sqlite_utils.Database:
    """Open the archive in WAL mode so readers (search, the web UI) never block the crawl writer."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
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

    def _site_dict(self, site_id: int, cap: Capture) -> tuple[int, bytes] | None:
        """The site's body dictionary, made from its first HTML page big enough to carry a template.
        Read each time, never cached: a rolled-back transaction must not leave a dictionary in use."""
        if not cap.is_html:
            return None
        row = self.conn.execute("SELECT id, data FROM body_dicts WHERE site_id = ? ORDER BY id LIMIT 1",
                                (site_id,)).fetchone()
        if row:
            return row[0], row[1]
        template = codec.template_of(cap.body) if cap.status == 200 else None
        if template is None:
            return None
        cur = self.conn.execute("INSERT INTO body_dicts(site_id, created_at, data) VALUES (?, ?, ?)",
                                (site_id, utcnow(), template))
        return int(cur.lastrowid), template

    def _new_version(self, site_id: int, page_id: int, crawl_id: int, digest: str, cap: Capture) -> int:
        if not self.conn.execute("SELECT 1 FROM bodies WHERE digest = ?", (digest,)).fetchone():
            zdict = self._site_dict(site_id, cap)
            name, data = (f"{codec.DICT_CODEC}{zdict[0]}", codec.pack_body(cap.body, zdict[1])) if zdict \
                else ("zlib", codec.pack_body(cap.body))
            self.conn.execute("INSERT INTO bodies(digest, codec, size, data) VALUES (?, ?, ?, ?)",
                              (digest, name, len(cap.body), data))
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

    # ---- reading -----------------------------------------------------------------------------

    def body(self, digest: str) -> bytes:
        try:
            return codec.read_body(self.conn, digest)
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

