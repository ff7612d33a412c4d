"""Commands for reading the archive: search, history, show, timeline, claims, export, serve.

They only read (the one write is adding missing query indexes, see storage.query.ensure_indexes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from crawler.clikit import Group, db_option
from crawler.output import chosen, format_option, print_object, print_rows
from storage import query
from storage.archive import Archive, db_path

SEARCH_COLUMNS = ["site", "url", "first_seen", "last_seen", "status", "version_id", "rank", "snippet"]
HISTORY_COLUMNS = ["version_id", "first_seen", "last_seen", "captures", "status", "quality", "digest", "size",
                   "claims", "title"]
CLAIM_COLUMNS = ["kind", "term", "role", "section", "evidence"]
TIMELINE_COLUMNS = ["first_seen", "last_seen", "status", "removed_at", "kind", "term", "role", "evidence"]
SITE_CLAIM_COLUMNS = ["site", "kind", "term", "role", "first_seen", "last_seen", "status", "removed_at",
                      "evidence", "url"]


def open_existing(db: str | None) -> Archive:
    """Reading a database that does not exist is a typo, not a reason to create an empty one."""
    path = db_path(db)
    if path != ":memory:" and not Path(path).exists():
        raise click.ClickException(f"no archive at {path} (give --db or set STEMWATCH_DB)")
    archive = Archive(path)
    query.ensure_indexes(archive.conn)
    return archive


# ---- search -------------------------------------------------------------------------------------

@click.command()
@click.argument("text")
@click.option("--site", default=None, help="Only this site's pages.")
@click.option("--since", default=None, metavar="DATE", help="Only versions online on or after DATE.")
@click.option("--until", default=None, metavar="DATE", help="Only versions first seen on or before DATE.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=query.SEARCH_LIMIT, show_default=True)
@click.option("--literal", is_flag=True, help="Search the words as typed: no AND/OR/NOT, quotes or prefix*.")
@click.option("--rank-all", is_flag=True,
              help=f"Rank every match, not only the newest {query.SEARCH_POOL:,} (slower for common words).")
@format_option
@db_option
def search(text: str, site: str | None, since: str | None, until: str | None, limit: int, literal: bool,
           rank_all: bool, fmt: str | None, as_json: bool, db: str | None) -> None:
    """Full-text search over every archived version of every page, best match first.

    TEXT uses SQLite FTS5 syntax: words (stemmed, so "treat" finds "treatment"), "quoted phrases",
    AND / OR / NOT in capitals, prefix*, NEAR(a b, 5). Matching words are marked **like this**.
    Without --site, the newest matching versions are the ones ranked (see --rank-all).

    \b
    Example:
        stemwatch search exosome
        stemwatch search '"long covid" NOT vaccine' --site acme-clinic --since 2026-01-01
        stemwatch search 'FDA approved' --format csv > fda.csv
    """
    archive = open_existing(db)
    rows = query.search(archive.conn, text, site=site, since=since, until=until, limit=limit, literal=literal,
                        rank_all=rank_all)
    out = chosen(fmt, as_json)
    if out != "table":
        print_rows(rows, out, SEARCH_COLUMNS)
        return
    if not rows:
        click.echo("(no match)")
    for n, row in enumerate(rows, 1):
        click.echo(f"{n}. {row['site']}  {row['url']}")
        click.echo(f"   version {row['version_id']}, status {row['status']}, seen {row['first_seen']} .. "
                   f"{row['last_seen']}")
        click.echo(f"   {row['snippet']}\n")


# ---- a page across time -------------------------------------------------------------------------

@click.command()
@click.argument("url")
@format_option
@db_option
def history(url: str, fmt: str | None, as_json: bool, db: str | None) -> None:
    """Every archived version of a page: first and last seen, captures, status, digest, quality.

    \b
    Example:
        stemwatch history https://acme.example/treatments/
        stemwatch history https://acme.example/treatments/ --format csv
    """
    archive = open_existing(db)
    print_rows(query.history(archive.conn, url), chosen(fmt, as_json), HISTORY_COLUMNS)


@click.command()
@click.argument("url", required=False)
@click.option("--at", "at", default=None, metavar="DATE",
              help="The version live then: the latest first seen on or before DATE (default: the latest).")
@click.option("--readable", is_flag=True, help="Skip bad fetches (errors, block pages): the latest readable version.")
@click.option("--version", "version_id", type=int, default=None, help="A version by its id instead of URL/--at.")
@click.option("--text", "what", flag_value="text", help="Print the text read from the page.")
@click.option("--raw", "what", flag_value="raw", help="Write the exact archived bytes to stdout.")
@click.option("--claims", "what", flag_value="claims", help="List the claims read from the page.")
@format_option
@db_option
def show(url: str | None, at: str | None, readable: bool, version_id: int | None, what: str | None,
         fmt: str | None, as_json: bool, db: str | None) -> None:
    """Show a page as it was on a date: its version, claims, text or exact bytes.

    Without --text/--raw/--claims: the version's record (dates, status, digest) and its claims.

    \b
    Example:
        stemwatch show https://acme.example/about.html --at 2026-03-03
        stemwatch show https://acme.example/about.html --at 2026-03-03T14:00Z --text --readable
        stemwatch show https://acme.example/about.html --raw > about-evidence.html
        stemwatch show --version 1234 --claims --format csv
    """
    if (url is None) == (version_id is None):
        raise click.UsageError("give a URL (with --at DATE if you like) or --version ID")
    if version_id is not None and at:
        raise click.UsageError("--at goes with a URL, not with --version")
    archive = open_existing(db)
    conn = archive.conn
    vid = version_id if version_id is not None else query.as_of(conn, url or "", at, readable)["version_id"]
    record = query.version(conn, vid)
    if record["quality"] != "ok" and url is not None:
        # What the server answered is the truth, but rarely what the reader wants: point at the page.
        try:
            good = query.as_of(conn, url, at, readable=True)
            click.echo(f"note: version {vid} is a bad fetch ({record['quality']}, status {record['status']}); "
                       f"the latest readable one is {good['version_id']}, first seen {good['first_seen']} "
                       f"(--readable)", err=True)
        except query.QueryError:
            click.echo(f"note: version {vid} is a bad fetch ({record['quality']}, status {record['status']}) "
                       f"and no readable version came before it", err=True)
    if what == "raw":
        out = click.get_binary_stream("stdout")
        out.write(archive.body(record["digest"]))
        out.flush()
        return
    if what == "text":
        text = record["text"]
        if text is None:
            raise click.ClickException(f"version {vid} has no text (status {record['status']}, "
                                       f"{record['content_type'] or 'no content type'}); try --raw")
        click.echo(text)
        return
    claims = query.version_claims(conn, vid)
    if what == "claims":
        print_rows(claims, chosen(fmt, as_json), CLAIM_COLUMNS)
        return
    if as_json or fmt == "json":
        record["headers"] = json.loads(record["headers"]) if record["headers"] else {}
        click.echo(json.dumps({**record, "claims": claims, **query.neighbours(conn, vid)}, indent=2,
                              ensure_ascii=False, default=str))
        return
    summary = {k: v for k, v in record.items() if k not in ("text", "headers")}
    summary.update(query.neighbours(conn, vid))
    print_object(summary, False)
    click.echo(f"\nclaims ({len(claims)}):")
    print_rows(claims, "table", CLAIM_COLUMNS)


# ---- claims -------------------------------------------------------------------------------------

@click.command()
@click.argument("site")
@click.option("--status", type=click.Choice(["active", "removed"]), default=None)
@format_option
@db_option
def timeline(site: str, status: str | None, fmt: str | None, as_json: bool, db: str | None) -> None:
    """A site's claims over time: when each first and last appeared, and whether it was removed.

    \b
    Example:
        stemwatch timeline acme-clinic
        stemwatch timeline acme-clinic --status removed --json
    """
    archive = open_existing(db)
    out = chosen(fmt, as_json)
    rows = query.timeline(archive.conn, site, status)
    print_rows(rows, out, TIMELINE_COLUMNS if out == "table" else ["site", *TIMELINE_COLUMNS, "url", "version_id"])


@click.command("claims")
@click.option("--kind", default=None, help="condition, cell_type, route, red_flag... (as the extractor names them)")
@click.option("--term", default=None,
              help="A vocabulary key (long_covid); 'autism' also finds autism_spectrum_disorder.")
@click.option("--role", type=click.Choice(["offered", "excluded", "mentioned"]), default=None)
@click.option("--site", default=None, help="Only this site.")
@click.option("--status", type=click.Choice(["active", "removed"]), default=None)
@click.option("--active-on", default=None, metavar="DATE", help="Only claims on the site on DATE.")
@click.option("--added-since", default=None, metavar="DATE", help="Only claims first seen on or after DATE.")
@click.option("--removed-since", default=None, metavar="DATE", help="Only claims removed on or after DATE.")
@click.option("--after-baseline", is_flag=True,
              help="Only claims that appeared after the site's first crawl (news, not its starting point).")
@format_option
@db_option
def claims_cmd(fmt: str | None, as_json: bool, db: str | None, **filters: Any) -> None:
    """Claims across all sites: who says what, since when, with the evidence sentence and page.

    One row per site and claim (kind, term, role), from the sites' claim timelines.

    \b
    Example:
        stemwatch claims --term autism --role offered          # which clinics offer it, since when
        stemwatch claims --term long_covid --active-on 2026-03-03 --format csv > long-covid.csv
        stemwatch claims --site acme-clinic --removed-since 2026-02-01
        stemwatch claims --kind condition --role offered --added-since 7d --after-baseline
    """
    archive = open_existing(db)
    print_rows(query.claims(archive.conn, **filters), chosen(fmt, as_json), SITE_CLAIM_COLUMNS)


# ---- exports and the web UI ---------------------------------------------------------------------

@click.group(cls=Group)
def export() -> None:
    """Export the archive (listings export with --format csv|json on each command)."""


@export.command("warc")
@click.argument("out", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--site", default=None, help="Only this site.")
@click.option("--since", default=None, metavar="DATE", help="Only versions first seen on or after DATE.")
@click.option("--url", default=None, help="Only this page (evidence for one page).")
@db_option
def export_warc(out: str, site: str | None, since: str | None, url: str | None, db: str | None) -> None:
    """Write archived versions as a WARC file (gzip when OUT ends in .gz; '-' for stdout).

    Each version: request, response (exact bytes, stored headers, WARC-Date = first seen) and a
    metadata record; bytes already in the file become revisit records.

    \b
    Example:
        stemwatch export warc acme.warc.gz --site acme-clinic --since 2026-01-01
        stemwatch export warc about.warc.gz --url https://acme.example/about.html
    """
    from storage.export import write_warc

    archive = open_existing(db)
    gzip = out.endswith(".gz")
    if out == "-":
        counts = write_warc(archive, click.get_binary_stream("stdout"), site, since, url, gzip=False)
    else:
        partial = Path(out + ".partial")  # a failed export never leaves a truncated file under OUT
        try:
            with partial.open("wb") as fh:
                counts = write_warc(archive, fh, site, since, url, gzip=gzip)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
    click.echo(f"wrote {counts['versions']} version(s): {counts['response']} responses, "
               f"{counts['revisit']} revisits -> {out}", err=True)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback shows the archive to your network.")
@click.option("--port", type=click.IntRange(1, 65535), default=8001, show_default=True)
@db_option
def serve(host: str, port: int, db: str | None) -> None:
    """Browse and query the archive in a web browser (Datasette, read-only).

    Stored queries answer the common questions (search, clinics offering X since when, new therapies
    this week, claims removed, a site's timeline, a page as of a date); /-/version/ID shows one
    archived version with its text and claims, its HTML in a sandbox that runs no script.

    \b
    Example:
        stemwatch serve --db archive.db --port 8001     # then open http://127.0.0.1:8001/
    """
    from crawler.web import serve as run_server

    archive = open_existing(db)  # also adds the indexes the stored queries use
    path = archive.path
    archive.close()
    run_server(path, host=host, port=port, echo=lambda m: click.echo(m, err=True))


COMMANDS: list[click.Command] = [search, history, show, timeline, claims_cmd, export, serve]
