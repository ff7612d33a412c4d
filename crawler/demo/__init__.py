"""`stemwatch demo`: the built-in clinic site, crawled before and after it changes.

The site (crawler/demo/site/v1 and v2) is fictional and written for the project; it is also the
fixture of the end-to-end tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from crawler.crawls import run_crawl
from crawler.localsite import LocalSite
from crawler.watchlist import normalise_site
from storage.archive import Archive
from storage.changes import claims_of

SITE_ROOT = Path(__file__).parent / "site"
DEMO_SITE = "meridian-demo"


def demo_site_row(url: str) -> dict:
    # No delay on our own loopback server; a real site keeps the polite defaults.
    return normalise_site({"name": DEMO_SITE, "start_urls": [url + "/"], "delay": 0, "concurrency": 4,
                           "every": "1d", "country": "XX", "notes": "built-in demo site (fictional)"})


def remove_db(db: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(db + suffix).unlink(missing_ok=True)


def run_demo(db: str, echo: Callable[[str], None] = print) -> None:
    remove_db(db)
    os.environ["STEMWATCH_ALLOW_PRIVATE"] = "1"  # the demo site lives on 127.0.0.1
    with LocalSite(SITE_ROOT / "v1") as site:
        archive = Archive(db)
        archive.add_site(demo_site_row(site.url))
        echo(f"Demo clinic site (v1) served at {site.url}; archive: {db}\n")
        crawl_and_report(archive, echo, "First crawl (v1): the baseline")
        site.set_root(SITE_ROOT / "v2")
        echo("\nThe site changes (v2): a new treatment page, a changed claim, noise elsewhere.\n")
        second = crawl_and_report(archive, echo, "Second crawl (v2)")
        report_changes(archive, second, echo)
        report_flags(archive, second, db, echo)
    echo(f"""
Explore further:
  stemwatch sites list --db {db}
  stemwatch crawls --db {db}
  stemwatch search "autism" --db {db}
  stemwatch timeline {DEMO_SITE} --db {db}
  stemwatch history URL --db {db}
  stemwatch serve --db {db}          # the web UI on http://127.0.0.1:8001
  stemwatch report --out report --db {db}
""")


def crawl_and_report(archive: Archive, echo: Callable[[str], None], heading: str) -> dict:
    summary = run_crawl(archive.path, DEMO_SITE)
    echo(f"== {heading}: {summary.get('status')} - {summary.get('pages')} pages, "
         f"{summary.get('new_versions')} new versions, {summary.get('unchanged')} unchanged, "
         f"{summary.get('not_modified')} not modified (304), {summary.get('errors')} errors")
    if summary.get("error"):
        echo("   error: " + summary["error"])
    rows = archive.conn.execute(
        "SELECT pages.url, versions.status, versions.digest, versions.content_type, versions.id "
        "FROM versions JOIN pages ON pages.id = versions.page_id WHERE versions.crawl_id = ? "
        "ORDER BY pages.url", (summary.get("id"),)).fetchall()
    for url, status, digest, ctype, version_id in rows:
        echo(f"   {status} {url}  {digest[:17]}…  {ctype.split(';')[0]}")
        for line in claim_lines(archive, version_id):
            echo("        " + line)
    return summary


def claim_lines(archive: Archive, version_id: int) -> list[str]:
    """A version's claims, one line per role and kind: "offered   condition: autism, knee_pain"."""
    grouped: dict[tuple[str, str], list[str]] = {}
    keys = {c.key for c in claims_of(archive.conn, version_id)}
    for kind, term, role in sorted(sorted(keys), key=lambda k: k[2], reverse=True):
        grouped.setdefault((role, kind), []).append(term)
    return [f"{role:<9} {kind + ':':<11} {', '.join(terms)}" for (role, kind), terms in grouped.items()]


def report_changes(archive: Archive, second: dict, echo: Callable[[str], None]) -> None:
    """The change records of the second crawl: noise-only edits (dates, tokens, carousel order) make none."""
    echo("\n== What changed between the crawls (noise-only edits record no change)")
    rows = archive.conn.execute(
        "SELECT pages.url, changes.kind, changes.score, changes.claims_added, changes.claims_removed "
        "FROM changes JOIN pages ON pages.id = changes.page_id WHERE changes.crawl_id = ? ORDER BY pages.url",
        (second.get("id"),)).fetchall()
    for url, kind, score, added, removed in rows:
        echo(f"   {kind:<9} score {score:.2f}  {url}")
        for sign, claims in (("+", added), ("-", removed)):
            for claim in json.loads(claims or "[]"):
                echo(f"        {sign} {' '.join(claim)}")
    quiet = archive.conn.execute(
        "SELECT pages.url FROM versions JOIN pages ON pages.id = versions.page_id WHERE versions.crawl_id = ? "
        "AND NOT EXISTS (SELECT 1 FROM changes WHERE changes.to_version_id = versions.id) ORDER BY pages.url",
        (second.get("id"),)).fetchall()
    for (url,) in quiet:
        echo(f"   noise     new version, no change  {url}")


def report_flags(archive: Archive, second: dict, db: str, echo: Callable[[str], None]) -> None:
    """The flags the v1 -> v2 crawl raised (v1 is the baseline: recorded, not flagged), and how to review them."""
    rows = archive.conn.execute(
        "SELECT id, priority, kind, claim_kind, term, url, evidence, change_id FROM flags WHERE crawl_id = ? "
        "ORDER BY CASE priority WHEN 'high' THEN 0 WHEN 'normal' THEN 1 ELSE 2 END, id", (second.get("id"),)).fetchall()
    echo(f"\n== Flags raised by the second crawl: {len(rows)} (the first crawl is the baseline, never flagged)")
    for flag_id, priority, kind, claim_kind, term, url, evidence, _ in rows:
        echo(f"   #{flag_id} [{priority}] {kind}: {claim_kind} {term}  {url}")
        echo(f'        "{" ".join((evidence or "").split())[:110]}"')
    # The diff worth showing is of an edited page (a new page's diff is the whole page).
    edited = [r[5] for r in rows if archive.conn.execute(
        "SELECT from_version_id FROM changes WHERE id = ?", (r[7],)).fetchone() not in (None, (None,))]
    page = (edited or [r[5] for r in rows] or [""])[0]
    echo(f"""
Review them:
  stemwatch flags --db {db}
  stemwatch flags show {rows[0][0] if rows else 1} --db {db}
  stemwatch flags confirm {rows[0][0] if rows else 1} --note "checked the archived page" --db {db}
  stemwatch changes --db {db}
  stemwatch diff {page or "URL"} --db {db}""")
