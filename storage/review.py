"""The reviewer's side: the flag queue, append-only review events, and what a flag or change shows.

A flag's status is derived from its reviews (confirm, dismiss, reopen; a note changes nothing); the
`flags.status` column is a cache written in the same transaction as the review. Review rows are never
updated or deleted (DESIGN invariant 6; triggers in the schema refuse it).
"""

from __future__ import annotations

import difflib
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta

from storage.archive import Archive, ArchiveError, utcnow
from storage.changes import claims_of
from storage.normalise import normalised_lines

ACTIONS = {"confirm": "confirmed", "dismiss": "dismissed", "reopen": "open", "note": None}
STATUSES = ("open", "confirmed", "dismissed")
PRIORITY_ORDER = "CASE f.priority WHEN 'high' THEN 0 WHEN 'normal' THEN 1 ELSE 2 END"


# ---- dates -----------------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d+)\s*([hdw])$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?$")


def parse_when(text: str, end_of_day: bool = False) -> str:
    """A user's date as a timestamp that sorts against stored ones: 2026-04-14, 2026-04-14T09:30, or
    a relative 24h / 7d / 2w. With `end_of_day` a bare date means its last instant."""
    text = text.strip()
    if m := _RELATIVE.match(text):
        hours = int(m.group(1)) * {"h": 1, "d": 24, "w": 168}[m.group(2)]
        return (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if not _DATE.match(text):
        raise ArchiveError(f"not a date: {text!r} (use 2026-04-14, 2026-04-14T09:30 or 7d)")
    text = text.replace(" ", "T")
    if len(text) == 10:
        return text + ("T23:59:59.999Z" if end_of_day else "T00:00:00.000Z")
    return text


# ---- reviews ---------------------------------------------------------------------------------------------

def derive_status(conn: sqlite3.Connection, flag_id: int) -> str:
    status = "open"
    for (action,) in conn.execute("SELECT action FROM reviews WHERE flag_id = ? ORDER BY id", (flag_id,)):
        status = ACTIONS.get(action) or status
    return status


def review(archive: Archive, flag_id: int, action: str, reviewer: str, note: str | None = None) -> dict:
    """Append one review event and refresh the flag's cached status, in one transaction."""
    if action not in ACTIONS:
        raise ArchiveError(f"unknown review action: {action}")
    if not reviewer.strip():
        raise ArchiveError("a review needs a reviewer name (--reviewer)")
    with archive.transaction() as conn:
        row = conn.execute("SELECT status FROM flags WHERE id = ?", (flag_id,)).fetchone()
        if not row:
            raise ArchiveError(f"unknown flag: {flag_id}")
        before = derive_status(conn, flag_id)
        if action == "reopen" and before == "open":
            raise ArchiveError(f"flag {flag_id} is already open")
        conn.execute("INSERT INTO reviews(flag_id, at, reviewer, action, note) VALUES (?, ?, ?, ?, ?)",
                     (flag_id, utcnow(), reviewer.strip(), action, note))
        after = derive_status(conn, flag_id)
        conn.execute("UPDATE flags SET status = ? WHERE id = ?", (after, flag_id))
    return {"id": flag_id, "action": action, "before": before, "status": after, "reviewer": reviewer}


def reviews_of(conn: sqlite3.Connection, flag_id: int) -> list[dict]:
    cur = conn.execute("SELECT id, at, reviewer, action, note FROM reviews WHERE flag_id = ? ORDER BY id",
                       (flag_id,))
    return _dicts(cur)


# ---- the queue -------------------------------------------------------------------------------------------

FLAG_SQL = """SELECT f.id, s.name AS site, f.priority, f.status, f.kind, f.claim_kind, f.term, f.role,
    f.detected_at, f.url, f.evidence, f.detail, f.version_id, f.change_id, f.crawl_id, f.retracted_at,
    (SELECT r.reviewer || ' ' || r.action || ' ' || r.at FROM reviews r WHERE r.flag_id = f.id
     ORDER BY r.id DESC LIMIT 1) AS last_review
    FROM flags f JOIN sites s ON s.id = f.site_id"""


def list_flags(conn: sqlite3.Connection, status: str = "open", site_id: int | None = None,
               since: str | None = None) -> list[dict]:
    """The review queue: most urgent first, then newest."""
    where, args = [], []
    if status != "all":
        if status not in STATUSES:
            raise ArchiveError(f"unknown status: {status} (open, confirmed, dismissed or all)")
        where.append("f.status = ?")
        args.append(status)
    if site_id is not None:
        where.append("f.site_id = ?")
        args.append(site_id)
    if since:
        where.append("f.detected_at >= ?")
        args.append(since)
    sql = FLAG_SQL + (" WHERE " + " AND ".join(where) if where else "")
    rows = _dicts(conn.execute(sql + f" ORDER BY {PRIORITY_ORDER}, f.detected_at DESC, f.id DESC", args))
    for row in rows:
        row["detail"] = json.loads(row["detail"] or "{}")
    return rows


def flag(conn: sqlite3.Connection, flag_id: int) -> dict:
    rows = _dicts(conn.execute(FLAG_SQL + " WHERE f.id = ?", (flag_id,)))
    if not rows:
        raise ArchiveError(f"unknown flag: {flag_id}")
    row = rows[0]
    row["detail"] = json.loads(row["detail"] or "{}")
    return row


def flag_detail(conn: sqlite3.Connection, flag_id: int, context: int = 2) -> dict:
    """Everything a reviewer needs: the flag, its evidence, the versions compared (with their dates), the
    diff around the evidence, and the review history."""
    info = flag(conn, flag_id)
    change = None
    if info["change_id"]:
        change = _dicts(conn.execute("SELECT id, kind, from_version_id, to_version_id, score, summary, detected_at "
                                     "FROM changes WHERE id = ?", (info["change_id"],)))[0]
    old_id = change["from_version_id"] if change else None
    new_id = change["to_version_id"] if change else info["version_id"]
    info["versions"] = [version_info(conn, v) for v in (old_id, new_id) if v]
    info["change"] = change
    if new_id:
        info["diff"] = diff_versions(conn, old_id, new_id, context=context, around=info["evidence"])
    info["reviews"] = reviews_of(conn, flag_id)
    return info


# ---- changes and diffs -----------------------------------------------------------------------------------

def list_changes(conn: sqlite3.Connection, site_id: int | None = None, since: str | None = None,
                 min_score: float = 0.0, limit: int | None = None) -> list[dict]:
    where, args = ["c.score >= ?"], [min_score]
    if site_id is not None:
        where.append("p.site_id = ?")
        args.append(site_id)
    if since:
        where.append("c.detected_at >= ?")
        args.append(since)
    sql = ("SELECT c.id, s.name AS site, p.url, c.kind, c.detected_at, c.score, c.claims_added, c.claims_removed, "
           "c.text_added, c.text_removed, c.summary, c.from_version_id, c.to_version_id, c.crawl_id "
           "FROM changes c JOIN pages p ON p.id = c.page_id JOIN sites s ON s.id = p.site_id WHERE "
           + " AND ".join(where) + " ORDER BY c.detected_at DESC, c.id DESC")
    if limit:
        sql += " LIMIT ?"
        args.append(limit)
    rows = _dicts(conn.execute(sql, args))
    for row in rows:
        for key in ("claims_added", "claims_removed"):
            row[key] = [" ".join(k) for k in json.loads(row[key] or "[]")]
    return rows


def find_page(conn: sqlite3.Connection, url: str) -> tuple[int, str]:
    url = url.strip()
    for candidate in (url, url.rstrip("/"), url.rstrip("/") + "/"):
        row = conn.execute("SELECT id, url FROM pages WHERE url = ?", (candidate,)).fetchone()
        if row:
            return row
    raise ArchiveError(f"no archived page with URL {url}")


_READABLE = "SELECT id FROM versions WHERE page_id = ? AND quality = 'ok' AND extractor IS NOT NULL"


def previous_version(conn: sqlite3.Connection, page_id: int, before: int) -> int | None:
    """The readable version of a page before this one (None for the page's first)."""
    row = conn.execute(_READABLE + " AND id < ? ORDER BY id DESC LIMIT 1", (page_id, before)).fetchone()
    return row[0] if row else None


def resolve_version(conn: sqlite3.Connection, page_id: int, ref: str | None) -> int:
    """A version of a page by id, by date (the readable version current then), or by default the latest
    readable version."""
    base = _READABLE
    if ref is None:
        row = conn.execute(base + " ORDER BY id DESC LIMIT 1", (page_id,)).fetchone()
        if not row:
            raise ArchiveError("no readable version of this page")
        return row[0]
    if ref.strip().isdigit():
        row = conn.execute("SELECT id FROM versions WHERE page_id = ? AND id = ?", (page_id, int(ref))).fetchone()
        if not row:
            raise ArchiveError(f"version {ref} is not a version of this page")
        return row[0]
    row = conn.execute(base + " AND first_seen <= ? ORDER BY id DESC LIMIT 1",
                       (page_id, parse_when(ref, end_of_day=True))).fetchone()
    if not row:
        raise ArchiveError(f"no readable version of this page on or before {ref}")
    return row[0]


def version_info(conn: sqlite3.Connection, version_id: int) -> dict:
    return _dicts(conn.execute("SELECT id, first_seen, last_seen, captures, status, quality, digest "
                               "FROM versions WHERE id = ?", (version_id,)))[0]


def diff_versions(conn: sqlite3.Connection, old_id: int | None, new_id: int, context: int = 3,
                  around: str | None = None) -> dict:
    """A unified diff of the normalised text (noise shown as placeholders) and the claim diff.
    Without an old version (a new page) only the lines `around` the evidence are shown."""
    url, new_text, new_seen = conn.execute(
        "SELECT p.url, unpack_text(v.text_z), v.first_seen FROM versions v JOIN pages p ON p.id = v.page_id "
        "WHERE v.id = ?",
        (new_id,)).fetchone()
    new_lines = normalised_lines(new_text)
    new_claims = _claim_keys(conn, new_id)
    if old_id is None:
        lines = [f"+{line}" for line in _around(new_lines, around, context)]
        header = [f"--- (no earlier version of {url})", f"+++ {url} version {new_id} ({new_seen})"]
        return {"text": header + lines, "claims_added": sorted(new_claims), "claims_removed": []}
    old_text, old_seen = conn.execute("SELECT unpack_text(text_z), first_seen FROM versions WHERE id = ?",
                                      (old_id,)).fetchone()
    old_claims = _claim_keys(conn, old_id)
    text = list(difflib.unified_diff(normalised_lines(old_text), new_lines, lineterm="", n=context,
                                     fromfile=f"{url} version {old_id} ({old_seen})",
                                     tofile=f"{url} version {new_id} ({new_seen})"))
    return {"text": text, "claims_added": sorted(new_claims - old_claims),
            "claims_removed": sorted(old_claims - new_claims)}


def _around(lines: list[str], evidence: str | None, context: int) -> list[str]:
    if not evidence:
        return lines
    needle = " ".join(evidence.split())[:60].casefold()
    hits = [i for i, line in enumerate(lines) if needle and needle in line.casefold()]
    if not hits:
        return lines
    return lines[max(0, hits[0] - context): hits[0] + context + 1]


def _claim_keys(conn: sqlite3.Connection, version_id: int) -> set[str]:
    return {" ".join(c.key) for c in claims_of(conn, version_id)}


def _dicts(cur: sqlite3.Cursor) -> list[dict]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]
