"""`stemwatch demo`: the built-in clinic site, crawled before and after it changes.

The site (crawler/demo/site/v1 and v2) is fictional and written for the project; it is also the
fixture of the end-to-end tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from crawler.crawls import run_crawl
from crawler.localsite import LocalSite
from crawler.watchlist import normalise_site
from storage.archive import Archive

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
        first = crawl_and_report(archive, echo, "First crawl (v1)")
        site.set_root(SITE_ROOT / "v2")
        echo("\nThe site changes (v2): a new treatment page, a changed claim, noise elsewhere.\n")
        second = crawl_and_report(archive, echo, "Second crawl (v2)")
        report_changes(archive, first, second, echo)
        report_flags(archive, second, db, echo)
    echo(f"""
Explore further:
  stemwatch sites list --db {db}
  stemwatch crawls --db {db}
  sqlite3 {db} 'SELECT url, last_status FROM pages'
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
        for kind, term, role in archive.conn.execute(
                "SELECT DISTINCT kind, term, role FROM claims WHERE version_id = ? "
                "ORDER BY kind, term, role", (version_id,)):
            echo(f"        {kind:<10} {term:<28} {role}")
    return summary


def report_changes(archive: Archive, first: dict, second: dict, echo: Callable[[str], None]) -> None:
    """Which pages got a new version in the second crawl, and which claims came and went."""
    echo("\n== What changed between the crawls")
    rows = archive.conn.execute(
        "SELECT pages.url, versions.id, (SELECT max(v.id) FROM versions v WHERE v.page_id = pages.id "
        "AND v.id < versions.id) FROM versions JOIN pages ON pages.id = versions.page_id "
        "WHERE versions.crawl_id = ? ORDER BY pages.url", (second.get("id"),)).fetchall()
    for url, new_id, old_id in rows:
        if old_id is None:
            echo(f"   new page   {url}")
            continue
        before, after = claim_set(archive, old_id), claim_set(archive, new_id)
        echo(f"   changed    {url}")
        for claim in sorted(after - before):
            echo(f"        + {' '.join(claim)}")
        for claim in sorted(before - after):
            echo(f"        - {' '.join(claim)}")


def claim_set(archive: Archive, version_id: int) -> set[tuple[str, str, str]]:
    return set(archive.conn.execute(
        "SELECT kind, term, role FROM claims WHERE version_id = ?", (version_id,)).fetchall())


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
