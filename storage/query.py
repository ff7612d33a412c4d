"""What journalists ask of the archive: search, a page's history, a page as of a date, claim timelines.

Every function takes a plain sqlite3 connection and returns plain dicts, so the CLI, the web UI and
the benchmark (bench/bench_queries.py) all run exactly the same SQL. Nothing here writes except
`ensure_indexes`, which only adds indexes.

Dates: "2026-03-03", any ISO timestamp ("2026-03-03T14:00", "2026-03-03T14:00:00+01:00"), or an
age before now ("24h", "7d", "2w").
Archive timestamps are UTC text ("2026-03-03T14:00:00.000Z") and sort as text, so a date given by
a user is turned into that form. A bare date means the whole day: as an upper bound (--until, --at,
--active-on) it is the end of that day, as a lower bound (--since) its start.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, time, timedelta
from typing import Any

from storage import codec
from storage.archive import ArchiveError
from storage.changes import claims_of

SEARCH_LIMIT = 50
SEARCH_POOL = 2000  # how many of the newest matching versions are ranked (see search)
_MAX_ROWID = 2**63 - 1
SEEK_RATIO = 20  # site search seeks runs of rowids when matches outnumber runs this many times
MARK = ("**", "**")  # how a search snippet marks the matching words (the web UI turns them into <mark>)

# Indexes the journalist queries need beyond the core schema (storage/archive.py).
INDEXES = {
    # "clinics offering X, since when": one term's site claims in first-seen order, no sort, and every
    # column the answer shows, so thousands of rows come from one index range instead of one table seek
    # each (1M-version bench: 26 -> 17 ms). Also lists the distinct terms by seeking (see matching_terms).
    "site_claims_term_cover":
        "CREATE INDEX IF NOT EXISTS site_claims_term_cover ON site_claims(term, role, first_seen, id, site_id, "
        "kind, last_seen, status, removed_at, first_version_id, url, evidence)",
    # "new therapies this week", "clinics offering X since when": site claims by first appearance.
    "site_claims_first_seen": "CREATE INDEX IF NOT EXISTS site_claims_first_seen ON site_claims(first_seen)",
    # "claims removed": only removed rows carry removed_at, so a partial index stays small.
    "site_claims_removed":
        "CREATE INDEX IF NOT EXISTS site_claims_removed ON site_claims(removed_at) WHERE removed_at IS NOT NULL",
}


class QueryError(ArchiveError):
    """A question the archive cannot answer as asked (unknown page, bad date, bad search syntax)."""


def ensure_indexes(conn: sqlite3.Connection) -> None:
    """Add missing indexes; when all exist this only reads, so it never waits for a crawl's lock."""
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    for name, sql in INDEXES.items():
        if name not in present:
            conn.execute(sql)
    if "site_claims_term_first" in present:  # the narrower index the covering one replaced
        conn.execute("DROP INDEX site_claims_term_first")


# ---- dates --------------------------------------------------------------------------------------

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_AGO = re.compile(r"^(\d+)([hdw])$")  # 24h, 7d, 2w: that long before now
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_when(text: str, end_of_day: bool = False) -> str:
    """A user's date, timestamp or age (7d) as archive text (UTC, milliseconds, 'Z')."""
    value = text.strip()
    try:
        if ago := _AGO.match(value):
            moment = datetime.now(UTC) - int(ago[1]) * _UNITS[ago[2]]
        elif _DATE_ONLY.match(value):
            day = datetime.fromisoformat(value).date()
            moment = datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(value.replace("z", "Z"))
            # A timestamp without an offset is taken as UTC, like everything in the archive.
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except ValueError:
        raise QueryError(f"not a date: {text!r} (use YYYY-MM-DD, an ISO timestamp such as "
                         f"2026-03-03T14:00:00Z, or an age such as 7d or 24h)") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# ---- helpers ------------------------------------------------------------------------------------

def _rows(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _one(cur: sqlite3.Cursor) -> dict[str, Any] | None:
    rows = _rows(cur)
    return rows[0] if rows else None


def site_id(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT id FROM sites WHERE name = ?", (name,)).fetchone()
    if not row:
        raise QueryError(f"unknown site: {name}")
    return int(row[0])


# ---- full-text search ---------------------------------------------------------------------------

def literal_query(text: str) -> str:
    """Every word as a quoted FTS5 string: search for the words themselves, no operators.
    Control characters are dropped: FTS5 cannot take a NUL inside a string."""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


def check_fts_query(query: str) -> None:
    """Parse the query against an empty FTS5 table shaped like versions_fts: any error is the query's."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE probe USING fts5(title, text, tokenize='porter')")
        probe.execute("SELECT * FROM probe WHERE probe MATCH ?", (query,)).fetchall()
    except sqlite3.OperationalError as exc:
        msg = str(exc).removeprefix("fts5: ")
        if msg.startswith("no such column"):
            msg = "a word followed by ':' is read as a column name (only title: and text: exist)"
        raise QueryError(f"cannot read search query {query!r}: {msg}. Quote phrases (\"stem cell\"), write "
                         f"AND/OR/NOT in capitals between words, or use --literal") from None
    finally:
        probe.close()


def search(conn: sqlite3.Connection, query: str, site: str | None = None, since: str | None = None,
           until: str | None = None, limit: int = SEARCH_LIMIT, mark: tuple[str, str] = MARK,
           literal: bool = False, rank_all: bool = False) -> list[dict[str, Any]]:
    """Versions whose title or text match an FTS5 query, best first (bm25, the title weighs 5x).

    since/until keep versions that were online during that window (seen on or after `since`,
    first seen on or before `until`). Ranking costs microseconds per matching version, so without
    a site only the newest SEARCH_POOL matches are ranked (versions are stored in the order they
    are first seen); rank_all ranks every match, which is slower for common words.
    """
    fts_query = literal_query(query) if literal else query.strip()
    if not fts_query:
        raise QueryError("empty search query")
    check_fts_query(fts_query)
    window = {"since": parse_when(since) if since else None,
              "until": parse_when(until, end_of_day=True) if until else None}
    if site:
        ranked = _ranked_in_site(conn, fts_query, site_id(conn, site), window, limit)
    else:
        ranked = _ranked(conn, fts_query, window, limit, rank_all)
    if not ranked:
        return []
    ids = [r[0] for r in ranked]
    marks = ",".join("?" * len(ids))
    # Snippets for the kept rows only. A range scan is cheaper than one FTS5 seek per row, which is
    # slow for phrases; "+ 0" keeps SQLite from turning the IN list into those seeks.
    snippets = dict(conn.execute(
        f"SELECT rowid, snippet(versions_fts, -1, ?, ?, '…', 20) FROM versions_fts "
        f"WHERE versions_fts MATCH ? AND rowid BETWEEN ? AND ? AND rowid + 0 IN ({marks})",
        (mark[0], mark[1], fts_query, min(ids), max(ids), *ids)).fetchall())
    meta = {r["version_id"]: r for r in _rows(conn.execute(
        f"""SELECT versions.id AS version_id, sites.name AS site, pages.url, versions.title,
                   versions.first_seen, versions.last_seen, versions.status
            FROM versions JOIN pages ON pages.id = versions.page_id JOIN sites ON sites.id = pages.site_id
            WHERE versions.id IN ({marks})""", ids))}
    return [{**meta[vid], "snippet": " ".join((snippets.get(vid) or "").split()), "rank": round(score, 3)}
            for vid, score in ranked]


_WINDOW_SQL = {"since": "versions.last_seen >= :since", "until": "versions.first_seen <= :until"}
_RANK = "bm25(versions_fts, 5.0, 1.0)"


def _ranked(conn: sqlite3.Connection, fts_query: str, window: dict[str, str | None], limit: int,
            rank_all: bool) -> list[tuple[int, float]]:
    where = ["versions_fts MATCH :q"] + [sql for key, sql in _WINDOW_SQL.items() if window[key]]
    args: dict[str, Any] = {"q": fts_query, "limit": limit, **window}
    joins = "JOIN versions ON versions.id = versions_fts.rowid" if len(where) > 1 else ""
    matches = f"FROM versions_fts {joins} WHERE {' AND '.join(where)}"
    if not rank_all:
        # FTS5 walks a term's versions in rowid order for free, so the pool is a rowid range.
        cutoff = conn.execute(f"SELECT versions_fts.rowid {matches} ORDER BY versions_fts.rowid DESC "
                              f"LIMIT 1 OFFSET :skip", {**args, "skip": max(SEARCH_POOL, limit) - 1}).fetchone()
        if cutoff:
            matches += " AND versions_fts.rowid BETWEEN :low AND :high"
            args.update(low=cutoff[0], high=_MAX_ROWID)
    return conn.execute(f"SELECT versions_fts.rowid, {_RANK} AS score {matches} ORDER BY score LIMIT :limit",
                        args).fetchall()


def _ranked_in_site(conn: sqlite3.Connection, fts_query: str, site: int, window: dict[str, str | None],
                    limit: int) -> list[tuple[int, float]]:
    """Rank one site's matches. A crawl stores a site's new versions one after another, so they
    form runs of nearby rowids: FTS5 seeks each run directly instead of walking every match in the
    archive and looking up its site. bm25 is then computed in one statement, because each statement
    pays once for the query's document frequencies (a full pass over a phrase's matches)."""
    ids = [r[0] for r in conn.execute("SELECT versions.id FROM versions JOIN pages ON pages.id = versions.page_id "
                                      "WHERE pages.site_id = ? ORDER BY versions.id", (site,))]
    runs: list[list[int]] = []
    for vid in ids:
        if runs and vid - runs[-1][1] <= 64:
            runs[-1][1] = vid
        else:
            runs.append([vid, vid])
    total = conn.execute("SELECT count(*) FROM versions_fts WHERE versions_fts MATCH ?", (fts_query,)).fetchone()[0]
    if total < SEEK_RATIO * len(runs):  # few matches overall: walking them all beats many seeks
        runs = [[0, _MAX_ROWID]]
    own = set(ids)
    hits: list[int] = []
    for low, high in runs:
        hits += [vid for (vid,) in conn.execute(
            "SELECT rowid FROM versions_fts WHERE versions_fts MATCH ? AND rowid BETWEEN ? AND ?",
            (fts_query, low, high)) if vid in own]
    if hits and (window["since"] or window["until"]):
        hits = [vid for (vid,) in conn.execute(
            "SELECT id FROM versions WHERE id IN (SELECT value FROM json_each(?)) AND last_seen >= ? "
            "AND first_seen <= ?", (json.dumps(hits), window["since"] or "", window["until"] or "~"))]
    if not hits:
        return []
    return conn.execute(
        f"SELECT rowid, {_RANK} AS score FROM versions_fts WHERE versions_fts MATCH ? AND rowid BETWEEN ? AND ? "
        f"AND rowid + 0 IN (SELECT value FROM json_each(?)) ORDER BY score LIMIT ?",
        (fts_query, min(hits), max(hits), json.dumps(hits), limit)).fetchall()


# ---- pages: history and as-of -------------------------------------------------------------------

def find_page(conn: sqlite3.Connection, url: str) -> dict[str, Any]:
    """The page row for a URL; tolerant of a missing or extra trailing slash."""
    candidates = [url, url.rstrip("/")] + ([url + "/"] if not url.endswith("/") else [])
    for candidate in candidates:
        page = _one(conn.execute(
            "SELECT pages.*, sites.name AS site FROM pages JOIN sites ON sites.id = pages.site_id "
            "WHERE pages.url = ?", (candidate,)))
        if page:
            return page
    raise QueryError(f"unknown page: {url}" + _did_you_mean(conn, url))


def _did_you_mean(conn: sqlite3.Connection, url: str) -> str:
    """Suggest archived URLs sharing the last path segment (the error path only, so a scan is fine)."""
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    if not tail or "://" in url and tail == url.split("://", 1)[1].strip("/"):
        return ""
    found = [r[0] for r in conn.execute(
        "SELECT url FROM pages WHERE instr(url, ?) ORDER BY length(url) LIMIT 3", (tail,))]
    return f" (did you mean: {', '.join(found)})" if found else ""


VERSION_COLUMNS = """versions.id AS version_id, sites.name AS site, pages.url, versions.first_seen,
    versions.last_seen, versions.captures, versions.status, versions.quality, versions.digest,
    bodies.size, versions.content_type, versions.title"""
VERSION_FROM = """versions JOIN pages ON pages.id = versions.page_id JOIN sites ON sites.id = pages.site_id
    LEFT JOIN bodies ON bodies.digest = versions.digest"""


def history(conn: sqlite3.Connection, url: str) -> list[dict[str, Any]]:
    """Every version of a page, oldest first."""
    page = find_page(conn, url)
    return _rows(conn.execute(
        f"SELECT {VERSION_COLUMNS}, coalesce((SELECT count FROM version_claims WHERE version_id = versions.id), 0) "
        f"AS claims FROM {VERSION_FROM} WHERE versions.page_id = ? ORDER BY versions.first_seen, versions.id",
        (page["id"],)))


def as_of(conn: sqlite3.Connection, url: str, at: str | None = None, readable: bool = False) -> dict[str, Any]:
    """The version of a page live at a moment: the latest first seen on or before it (default: now).

    That may be a bad fetch (an error, a block page): it is what the server answered. readable=True
    skips those and gives the latest version whose quality is ok."""
    page = find_page(conn, url)
    args: list[Any] = [page["id"]]
    cond = " AND versions.quality = 'ok'" if readable else ""
    if at:
        cond += " AND versions.first_seen <= ?"
        args.append(parse_when(at, end_of_day=True))
    row = _one(conn.execute(
        f"SELECT {VERSION_COLUMNS} FROM {VERSION_FROM} WHERE versions.page_id = ?{cond} "
        f"ORDER BY versions.first_seen DESC, versions.id DESC LIMIT 1", args))
    if row is None:
        first = conn.execute("SELECT min(first_seen) FROM versions WHERE page_id = ?" + (
            " AND quality = 'ok'" if readable else ""), (page["id"],)).fetchone()[0]
        kind = "readable version" if readable else "version"
        if first is None:
            raise QueryError(f"no {kind} of {page['url']} was archived (only failed fetches)")
        raise QueryError(f"no {kind} of {page['url']} on or before {at}; first seen {first}")
    return row


def version(conn: sqlite3.Connection, version_id: int) -> dict[str, Any]:
    row = _one(conn.execute(f"SELECT {VERSION_COLUMNS}, versions.headers, unpack_text(versions.text_z) AS text, "
                            f"versions.extractor FROM {VERSION_FROM} WHERE versions.id = ?", (version_id,)))
    if row is None:
        raise QueryError(f"unknown version: {version_id}")
    return row


def read_body(conn: sqlite3.Connection, digest: str) -> bytes:
    """The exact archived bytes (as storage.archive.Archive.body, for any plain connection)."""
    try:
        return codec.read_body(conn, digest)
    except codec.CodecError as exc:
        raise QueryError(str(exc)) from exc


def version_text(conn: sqlite3.Connection, version_id: int) -> str | None:
    row = conn.execute("SELECT unpack_text(text_z) FROM versions WHERE id = ?", (version_id,)).fetchone()
    return row[0] if row else None


def version_claims(conn: sqlite3.Connection, version_id: int) -> list[dict[str, Any]]:
    rows = [{"kind": c.kind, "term": c.term, "role": c.role, "section": c.section, "evidence": c.evidence,
             "start": c.start, "end": c.end} for c in claims_of(conn, version_id)]
    return sorted(rows, key=lambda r: -1 if r["start"] is None else r["start"])


def neighbours(conn: sqlite3.Connection, version_id: int) -> dict[str, int | None]:
    """The previous and next versions of the same page, for paging through a history."""
    page_id, first_seen = conn.execute(
        "SELECT page_id, first_seen FROM versions WHERE id = ?", (version_id,)).fetchone()
    before = conn.execute(
        "SELECT id FROM versions WHERE page_id = ? AND (first_seen, id) < (?, ?) "
        "ORDER BY first_seen DESC, id DESC LIMIT 1", (page_id, first_seen, version_id)).fetchone()
    after = conn.execute(
        "SELECT id FROM versions WHERE page_id = ? AND (first_seen, id) > (?, ?) "
        "ORDER BY first_seen, id LIMIT 1", (page_id, first_seen, version_id)).fetchone()
    return {"previous": before[0] if before else None, "next": after[0] if after else None}


# ---- claims across the archive ------------------------------------------------------------------

# The URL comes from the site claim, else from the version where the claim first appeared.
SITE_CLAIM_COLUMNS = """sites.name AS site, site_claims.kind, site_claims.term, site_claims.role,
    site_claims.first_seen, site_claims.last_seen, site_claims.status, site_claims.removed_at, site_claims.evidence,
    COALESCE(site_claims.url, (SELECT p.url FROM versions v JOIN pages p ON p.id = v.page_id
        WHERE v.id = site_claims.first_version_id)) AS url,
    site_claims.first_version_id AS version_id"""


def timeline(conn: sqlite3.Connection, site: str, status: str | None = None) -> list[dict[str, Any]]:
    """A site's claims over time, in the order they first appeared."""
    args: list[Any] = [site_id(conn, site)]
    cond = ""
    if status:
        cond = " AND site_claims.status = ?"
        args.append(status)
    return _rows(conn.execute(
        f"SELECT {SITE_CLAIM_COLUMNS} FROM site_claims JOIN sites ON sites.id = site_claims.site_id "
        f"WHERE site_claims.site_id = ?{cond} "
        f"ORDER BY site_claims.first_seen, site_claims.kind, site_claims.term, site_claims.role", args))


def normalise_term(term: str) -> str:
    """'Long COVID' and 'long-covid' both mean the vocabulary key long_covid."""
    return re.sub(r"[\s\-]+", "_", term.strip().lower())


def claims(conn: sqlite3.Connection, kind: str | None = None, term: str | None = None,
           role: str | None = None, site: str | None = None, status: str | None = None,
           active_on: str | None = None, added_since: str | None = None, removed_since: str | None = None,
           after_baseline: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
    """Site claims matching the filters: one row per site and claim, with since-when and evidence.

    A term is a vocabulary key (autism_spectrum_disorder); when no claim has exactly that key,
    keys containing it match instead, so `autism` finds autism_spectrum_disorder.
    after_baseline keeps the claims that appeared after a site's first good crawl: news, not the
    site's starting point.
    """
    where: list[str] = []
    args: list[Any] = []
    if kind:
        where.append("site_claims.kind = ?")
        args.append(kind)
    if role:
        where.append("site_claims.role = ?")
        args.append(role)
    if site:
        where.append("site_claims.site_id = ?")
        args.append(site_id(conn, site))
    if status:
        where.append("site_claims.status = ?")
        args.append(status)
    if active_on:
        day = parse_when(active_on, end_of_day=True)
        where.append("site_claims.first_seen <= ? AND (site_claims.removed_at IS NULL OR site_claims.removed_at > ?)")
        args += [day, day]
    if added_since:
        where.append("site_claims.first_seen >= ?")
        args.append(parse_when(added_since))
    if removed_since:
        where.append("site_claims.removed_at >= ?")
        args.append(parse_when(removed_since))
    if after_baseline:
        where.append("site_claims.first_crawl_id > sites.baseline_crawl_id")

    def run(term_cond: str, term_args: list[Any]) -> list[dict[str, Any]]:
        conds = ([term_cond] if term_cond else []) + where  # in the order of term_args + args
        sql = (f"SELECT {SITE_CLAIM_COLUMNS} FROM site_claims JOIN sites ON sites.id = site_claims.site_id"
               + (" WHERE " + " AND ".join(conds) if conds else "")
               # Claims first seen together come from one version of one site, stored in (kind, term) order:
               # the id breaks the tie, and for one term the index already holds this order (no sort).
               + " ORDER BY site_claims.first_seen, site_claims.id"
               + (f" LIMIT {int(limit)}" if limit else ""))
        return _rows(conn.execute(sql, term_args + args))

    if not term:
        return run("", [])
    key = normalise_term(term)
    terms = [t for t in matching_terms(conn) if t == key] or [t for t in matching_terms(conn) if key in t]
    if not terms:
        return []
    return run(f"site_claims.term IN ({','.join('?' * len(terms))})", terms)


def matching_terms(conn: sqlite3.Connection) -> list[str]:
    """Every distinct term in site_claims: one index seek per term, not a scan of every claim."""
    return [r[0] for r in conn.execute(
        "WITH RECURSIVE t(term) AS (SELECT min(term) FROM site_claims UNION ALL "
        "SELECT (SELECT min(term) FROM site_claims WHERE term > t.term) FROM t WHERE t.term IS NOT NULL) "
        "SELECT term FROM t WHERE term IS NOT NULL")]
