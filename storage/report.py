"""The numbers behind `stemwatch report`: pure queries over the archive, returning plain data.

Definitions (docs/reports.md says the same for readers):

* sites in scope: the sites named with --site, else every site on the watchlist added by the end of the
  period, and every site crawled during the period (removed from the watchlist since, or imported late);
* a site *offers* X in the period when its site_claims row (kind, X, role 'offered') was active at some
  moment of the period: first seen before the period ended, and still active or removed after it began;
* shares are of the sites in scope; every count carries the site claims behind it (site, first and last
  version id, page), so every number can be traced to stored versions.

Nothing here renders or writes: crawler/report/ turns these structures into HTML, Markdown and JSON.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from storage.archive import ArchiveError, utcnow

SURVEY_KINDS = ("condition", "cell_type", "route", "red_flag", "disclaimer")
FLAG_KINDS_NEW = ("new_therapy", "new_red_flag")
# Kinds whose disappearance counts as "a claim removed" in the trend: what a clinic offers or asserts.
REMOVABLE_KINDS = ("condition", "cell_type", "route", "red_flag")
EPOCH = "0000-01-01T00:00:00.000Z"


@dataclass(frozen=True)
class Scope:
    since: str  # inclusive timestamps, as stored (ISO-8601 UTC, sortable as text)
    until: str
    site_ids: tuple[int, ...]
    names: dict[int, str]
    countries: dict[int, str]

    def __contains__(self, site_id: object) -> bool:
        return site_id in self.names


def _rows(cur: sqlite3.Cursor) -> list[dict]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur]


def resolve_scope(conn: sqlite3.Connection, since: str | None, until: str | None,
                  sites: Iterable[str] = ()) -> Scope:
    """The period and the sites. No `since`: from the first crawl; no `until`: now."""
    until = until or utcnow()
    if since is None:
        first = conn.execute("SELECT min(started_at) FROM crawls").fetchone()[0]
        since = first or until
    if since > until:
        raise ArchiveError(f"--since ({since[:10]}) is after --until ({until[:10]})")
    names = list(sites)
    if names:
        marks = ",".join("?" * len(names))
        rows = conn.execute(f"SELECT id, name, country FROM sites WHERE name IN ({marks})", names).fetchall()
        missing = sorted(set(names) - {r[1] for r in rows})
        if missing:
            raise ArchiveError(f"unknown site: {', '.join(missing)}")
    else:
        rows = conn.execute(
            "SELECT id, name, country FROM sites s WHERE (s.active AND s.added_at <= ?) OR EXISTS ("
            "SELECT 1 FROM crawls c WHERE c.site_id = s.id AND c.started_at BETWEEN ? AND ?)",
            (until, since, until)).fetchall()
    rows.sort(key=lambda r: r[1])
    return Scope(since, until, tuple(r[0] for r in rows), {r[0]: r[1] for r in rows},
                 {r[0]: r[2] or "" for r in rows})


# ---- watchlist and crawl health ----------------------------------------------------------------------------

def crawl_health(crawl: dict | None) -> str:
    """ok / blocked / failing / running / never, from a site's last crawl."""
    if crawl is None:
        return "never"
    if crawl["status"] == "running":
        return "running"
    pages, blocked = crawl["pages"], crawl["blocked"]
    if blocked and 2 * blocked >= pages:
        return "blocked"
    return "ok" if _good(crawl) else "failing"


def _good(crawl: dict) -> bool:
    # A good crawl read the site: it finished and most of its fetches were real pages.
    return (crawl["status"] == "finished" and crawl["pages"] > 0
            and 2 * (crawl["errors"] + crawl["blocked"]) < crawl["pages"])


def watchlist(conn: sqlite3.Connection, scope: Scope) -> list[dict]:
    """One row per site in scope: country, last crawl and last good crawl (up to the period's end), health."""
    last: dict[int, dict] = {}
    last_good: dict[int, dict] = {}
    cur = conn.execute("SELECT id, site_id, started_at, status, pages, new_versions, errors, blocked FROM crawls "
                       "WHERE started_at <= ? ORDER BY id", (scope.until,))
    for crawl in _rows(cur):
        if crawl["site_id"] in scope:
            last[crawl["site_id"]] = crawl
            if _good(crawl):
                last_good[crawl["site_id"]] = crawl
    counts = {r[0]: r[1:] for r in conn.execute(
        "SELECT p.site_id, count(DISTINCT p.id), count(v.id) FROM pages p LEFT JOIN versions v ON v.page_id = p.id "
        "AND v.first_seen <= ? GROUP BY p.site_id", (scope.until,))}
    out = []
    for site_id in scope.site_ids:
        crawl, good = last.get(site_id), last_good.get(site_id)
        pages, versions = counts.get(site_id, (0, 0))
        out.append({
            "site": scope.names[site_id], "site_id": site_id, "country": scope.countries[site_id],
            "health": crawl_health(crawl), "pages": pages, "versions": versions,
            "last_crawl": _crawl_brief(crawl), "last_good_crawl": _crawl_brief(good),
        })
    return out


def _crawl_brief(crawl: dict | None) -> dict | None:
    if crawl is None:
        return None
    return {k: crawl[k] for k in ("id", "started_at", "status", "pages", "errors", "blocked")}


def countries(rows: list[dict]) -> list[dict]:
    by: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by[row["country"] or "?"].append(row["site"])
    ordered = sorted(by.items(), key=lambda i: (-len(i[1]), i[0]))  # most sites first
    return [{"country": c, "sites": len(s), "names": s} for c, s in ordered]


# ---- survey tables -----------------------------------------------------------------------------------------

def offered_claims(conn: sqlite3.Connection, scope: Scope, kind: str) -> list[dict]:
    """Site claims of one kind, role offered, active at some moment of the period, for sites in scope."""
    cur = conn.execute(
        "SELECT site_id, term, first_seen, last_seen, first_version_id, last_version_id, status, removed_at, url, "
        "evidence FROM site_claims WHERE kind = ? AND role = 'offered' AND first_seen <= ? "
        "AND (status = 'active' OR removed_at >= ?) ORDER BY site_id, term", (kind, scope.until, scope.since))
    return [r for r in _rows(cur) if r["site_id"] in scope]


def _evidence(claim: dict, scope: Scope) -> dict:
    return {"site": scope.names[claim["site_id"]], "site_id": claim["site_id"],
            "first_version_id": claim["first_version_id"], "last_version_id": claim["last_version_id"],
            "first_seen": claim["first_seen"], "status": claim["status"], "removed_at": claim["removed_at"],
            "url": claim["url"]}


def survey(claims: list[dict], scope: Scope, labels: Mapping[str, str] | None = None,
           top: int | None = None) -> list[dict]:
    """Sites offering each term, most sites first (ties by term); `top` keeps the first N rows."""
    by_term: dict[str, list[dict]] = defaultdict(list)
    for claim in claims:
        by_term[claim["term"]].append(_evidence(claim, scope))
    total = len(scope.site_ids)
    rows = [{"term": term, "label": (labels or {}).get(term, term.replace("_", " ")), "sites": len(ev),
             "share": len(ev) / total if total else 0.0, "evidence": sorted(ev, key=lambda e: e["site"])}
            for term, ev in by_term.items()]
    rows.sort(key=lambda r: (-r["sites"], r["term"]))
    return rows[:top] if top else rows


def by_category(claims: list[dict], scope: Scope, category_of: Mapping[str, str],
                groups: list[dict]) -> list[dict]:
    """Sites offering any condition of each group; each site's evidence lists the conditions behind it.
    `groups`: [{key, label}] in report order; a term without a group counts under 'other'."""
    per: dict[str, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for claim in claims:
        per[category_of.get(claim["term"], "other")][claim["site_id"]].append(claim)
    total = len(scope.site_ids)
    out = []
    for group in groups:
        sites = per.get(group["key"], {})
        evidence = [{"site": scope.names[sid], "site_id": sid, "terms": sorted({c["term"] for c in cs}),
                     "version_ids": sorted({c["first_version_id"] for c in cs} | {c["last_version_id"] for c in cs}
                                           - {None})}
                    for sid, cs in sites.items()]
        out.append({"term": group["key"], "label": group["label"], "sites": len(sites),
                    "share": len(sites) / total if total else 0.0,
                    "evidence": sorted(evidence, key=lambda e: e["site"])})
    return out


# ---- trends ------------------------------------------------------------------------------------------------

def months(since: str, until: str) -> list[str]:
    """'YYYY-MM' for every month the period touches."""
    year, month = int(since[:4]), int(since[5:7])
    end = (int(until[:4]), int(until[5:7]))
    out = []
    while (year, month) <= end:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _month_bounds(month: str) -> tuple[str, str]:
    year, mon = int(month[:4]), int(month[5:7])
    nxt = f"{year + 1:04d}-01" if mon == 12 else f"{year:04d}-{mon + 1:02d}"
    return f"{month}-01T00:00:00.000Z", f"{nxt}-01T00:00:00.000Z"


def offering_per_month(claims: list[dict], terms: list[str], month_list: list[str]) -> dict[str, list[int]]:
    """For each term, how many sites offered it at some moment of each month."""
    out = {t: [0] * len(month_list) for t in terms}
    wanted = set(terms)
    bounds = [_month_bounds(m) for m in month_list]
    for claim in claims:
        if claim["term"] not in wanted:
            continue
        for i, (start, end) in enumerate(bounds):
            if claim["first_seen"] < end and (claim["status"] == "active" or (claim["removed_at"] or EPOCH) >= start):
                out[claim["term"]][i] += 1
    return out


def events_per_month(conn: sqlite3.Connection, scope: Scope, month_list: list[str]) -> dict[str, list[int]]:
    """New-therapy flags, new-red-flag flags and removed site claims, counted by month."""
    index = {m: i for i, m in enumerate(month_list)}
    out = {"new_therapy": [0] * len(month_list), "new_red_flag": [0] * len(month_list),
           "claims_removed": [0] * len(month_list)}
    for site_id, kind, at in conn.execute(
            "SELECT site_id, kind, detected_at FROM flags WHERE kind IN (?, ?) AND retracted_at IS NULL "
            "AND detected_at BETWEEN ? AND ?", (*FLAG_KINDS_NEW, scope.since, scope.until)):
        if site_id in scope and at[:7] in index:
            out[kind][index[at[:7]]] += 1
    marks = ",".join("?" * len(REMOVABLE_KINDS))
    for site_id, at in conn.execute(
            f"SELECT site_id, removed_at FROM site_claims WHERE status = 'removed' AND role = 'offered' "
            f"AND kind IN ({marks}) AND removed_at BETWEEN ? AND ?", (*REMOVABLE_KINDS, scope.since, scope.until)):
        if site_id in scope and at[:7] in index:
            out["claims_removed"][index[at[:7]]] += 1
    return out


# ---- what is new -------------------------------------------------------------------------------------------

def new_flags(conn: sqlite3.Connection, scope: Scope, kinds: tuple[str, ...] = FLAG_KINDS_NEW) -> list[dict]:
    """Flags raised in the period (retracted ones left out), with their review status and last review."""
    marks = ",".join("?" * len(kinds))
    cur = conn.execute(
        f"SELECT f.id, f.site_id, f.kind, f.claim_kind, f.term, f.role, f.priority, f.status, f.evidence, f.url, "
        f"f.version_id, f.detected_at, r.reviewer, r.action AS last_action, r.note AS last_note, r.at AS reviewed_at "
        f"FROM flags f LEFT JOIN reviews r ON r.id = (SELECT max(id) FROM reviews WHERE flag_id = f.id) "
        f"WHERE f.kind IN ({marks}) AND f.retracted_at IS NULL AND f.detected_at BETWEEN ? AND ? "
        f"ORDER BY f.detected_at, f.id", (*kinds, scope.since, scope.until))
    return [{**r, "site": scope.names[r["site_id"]]} for r in _rows(cur) if r["site_id"] in scope]


def removed_claims(conn: sqlite3.Connection, scope: Scope) -> list[dict]:
    """Offered site claims removed during the period: the last version that carried each, and its page."""
    marks = ",".join("?" * len(REMOVABLE_KINDS))
    cur = conn.execute(
        f"SELECT site_id, kind, term, first_seen, removed_at, last_version_id, url, evidence FROM site_claims "
        f"WHERE status = 'removed' AND role = 'offered' AND kind IN ({marks}) AND removed_at BETWEEN ? AND ? "
        f"ORDER BY removed_at, site_id, kind, term", (*REMOVABLE_KINDS, scope.since, scope.until))
    return [{**r, "site": scope.names[r["site_id"]]} for r in _rows(cur) if r["site_id"] in scope]


def crawl_problems(conn: sqlite3.Connection, scope: Scope) -> list[dict]:
    """Crawls in the period that did not read their site: failed, interrupted, mostly errors or blocked."""
    cur = conn.execute("SELECT id, site_id, started_at, status, pages, new_versions, errors, blocked FROM crawls "
                       "WHERE started_at BETWEEN ? AND ? ORDER BY started_at, id", (scope.since, scope.until))
    out = []
    for crawl in _rows(cur):
        health = crawl_health(crawl)
        if crawl["site_id"] in scope and health in ("blocked", "failing"):
            out.append({**crawl, "site": scope.names[crawl["site_id"]], "health": health})
    return out


# ---- the whole report --------------------------------------------------------------------------------------

def build_report(conn: sqlite3.Connection, scope: Scope, *, labels: Mapping[str, Mapping[str, str]],
                 category_of: Mapping[str, str], groups: list[dict], top: int = 15) -> dict:
    """Everything the report shows, as plain data (the JSON output is exactly this)."""
    sites = watchlist(conn, scope)
    claims = {kind: offered_claims(conn, scope, kind) for kind in SURVEY_KINDS}
    month_list = months(scope.since, scope.until)
    conditions = survey(claims["condition"], scope, labels.get("condition"), top)
    return {
        "period": {"since": scope.since, "until": scope.until, "generated_at": utcnow()},
        "sites_in_scope": len(scope.site_ids),
        "countries": countries(sites),
        "watchlist": sites,
        "health": {h: [s["site"] for s in sites if s["health"] == h]
                   for h in ("ok", "blocked", "failing", "running", "never")},
        "tables": {
            "categories": by_category(claims["condition"], scope, category_of, groups),
            "conditions": conditions,
            "cell_types": survey(claims["cell_type"], scope, labels.get("cell_type")),
            "routes": survey(claims["route"], scope, labels.get("route")),
            "red_flags": survey(claims["red_flag"], scope, labels.get("red_flag")),
            "disclaimers": survey(claims["disclaimer"], scope, labels.get("disclaimer")),
        },
        "trends": {
            "months": month_list,
            "offering": offering_per_month(claims["condition"], [r["term"] for r in conditions], month_list),
            **events_per_month(conn, scope, month_list),
        },
        "new_flags": new_flags(conn, scope),
        "removed_claims": removed_claims(conn, scope),
        "crawl_problems": crawl_problems(conn, scope),
    }


def build_digest(conn: sqlite3.Connection, scope: Scope) -> dict:
    """The short version: new flags, removed claims, crawl problems, and sites whose last crawl is bad."""
    sites = watchlist(conn, scope)
    return {
        "period": {"since": scope.since, "until": scope.until, "generated_at": utcnow()},
        "sites_in_scope": len(scope.site_ids),
        "new_flags": new_flags(conn, scope),
        "removed_claims": removed_claims(conn, scope),
        "crawl_problems": crawl_problems(conn, scope),
        "unhealthy_sites": [s for s in sites if s["health"] in ("blocked", "failing")],
    }


def days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
