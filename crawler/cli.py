"""The `stemwatch` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from crawler import __version__, commands
from crawler.clikit import Group, allow_private_option, db_option, open_archive
from crawler.output import chosen, format_option, print_object, print_rows
from crawler.watchlist import dump_watchlist, load_watchlist, normalise_site
from storage.archive import ArchiveError


@click.group(cls=Group)
@click.version_option(__version__, prog_name="stemwatch")
def cli() -> None:
    """stemwatch: watch stem-cell clinic websites, keep every version, read their claims.

    \b
    Example:
        stemwatch demo
        stemwatch sites add acme https://clinic.example/ --every 1d
        stemwatch crawl acme
    """


# ---- sites ----------------------------------------------------------------------------------

SITE_COLUMNS = ["name", "start_urls", "every", "max_pages", "delay", "concurrency", "obey_robots",
                "country", "active"]


@cli.group(cls=Group)
def sites() -> None:
    """The watchlist: the clinic websites stemwatch crawls."""


@sites.command("add")
@click.argument("name")
@click.argument("urls", nargs=-1, required=True)
@click.option("--allow", multiple=True, metavar="REGEX", help="Only crawl URLs matching (repeatable).")
@click.option("--deny", multiple=True, metavar="REGEX", help="Never crawl URLs matching (repeatable).")
@click.option("--max-pages", type=int, default=None, help="Most pages per crawl (default 500).")
@click.option("--every", default=None, help="How often to crawl: 6h, 1d, 7d... (default 1d).")
@click.option("--delay", type=float, default=None, help="Seconds between requests to the host (default 1).")
@click.option("--concurrency", type=int, default=None, help="Requests at once per host (default 2).")
@click.option("--ignore-robots", is_flag=True, help="Do not obey robots.txt (recorded on the site and its crawls).")
@click.option("--country", default=None, help="ISO country code, e.g. US.")
@click.option("--notes", default=None)
@db_option
def sites_add(name: str, urls: tuple[str, ...], db: str | None, ignore_robots: bool, **opts: Any) -> None:
    """Add a site to the watchlist.

    \b
    Example:
        stemwatch sites add acme-clinic https://acme.example/ --every 1d --country MX \\
            --deny '/blog/' --max-pages 300
    """
    raw = {"name": name, "start_urls": list(urls), **{k: v for k, v in opts.items() if v not in (None, ())}}
    for key in ("allow", "deny"):
        if key in raw:
            raw[key] = list(raw[key])
    if ignore_robots:
        raw["obey_robots"] = False
    site = normalise_site(raw)
    archive = open_archive(db)
    old = archive.find_site(name)
    if old and not old["active"]:
        raise ArchiveError(f"site {name} was removed earlier and its archive is kept; "
                           f"use `stemwatch sites restore {name}` or another name")
    archive.add_site(site)
    click.echo(f"added {name}: {' '.join(site['start_urls'])} every {site['every']}")


@sites.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include removed sites.")
@format_option
@db_option
def sites_list(db: str | None, show_all: bool, fmt: str | None, as_json: bool) -> None:
    """List the watchlist.

    \b
    Example:
        stemwatch sites list --json
    """
    rows = open_archive(db).sites(active_only=not show_all)
    print_rows(rows, chosen(fmt, as_json), SITE_COLUMNS)


@sites.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@db_option
def sites_show(name: str, db: str | None, as_json: bool) -> None:
    """Show one site, with its archive counts and last crawls.

    \b
    Example:
        stemwatch sites show acme-clinic
    """
    archive = open_archive(db)
    site = archive.site(name)
    info = {**site, **archive.site_summary(site["id"])}
    info["last_crawls"] = [
        dict(zip(("id", "started_at", "status", "pages", "new_versions"), r))
        for r in archive.conn.execute(
            "SELECT id, started_at, status, pages, new_versions FROM crawls WHERE site_id = ? "
            "ORDER BY id DESC LIMIT 5", (site["id"],))
    ]
    print_object(info, as_json)


@sites.command("remove")
@click.argument("name")
@db_option
def sites_remove(name: str, db: str | None) -> None:
    """Stop crawling a site. Its archive is kept: evidence is never deleted.

    \b
    Example:
        stemwatch sites remove acme-clinic
    """
    open_archive(db).remove_site(name)
    click.echo(f"removed {name} from the watchlist (its archive is kept)")


@sites.command("restore")
@click.argument("name")
@db_option
def sites_restore(name: str, db: str | None) -> None:
    """Put a removed site back on the watchlist.

    \b
    Example:
        stemwatch sites restore acme-clinic
    """
    archive = open_archive(db)
    site = archive.site(name)
    archive.conn.execute("UPDATE sites SET active = 1 WHERE id = ?", (site["id"],))
    click.echo(f"restored {name}")


@sites.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
def sites_import(file: str, db: str | None) -> None:
    """Import a watchlist file (YAML or CSV). Nothing is imported if any row is bad.

    \b
    Example:
        stemwatch sites import watchlist.yaml
    """
    if not Path(file).exists():
        raise click.ClickException(f"no such file: {file}")
    rows = load_watchlist(file)
    archive = open_archive(db)
    archive.add_sites(rows)
    click.echo(f"imported {len(rows)} site(s) from {file}")


@sites.command("export")
@click.option("--format", "fmt", type=click.Choice(["yaml", "csv"]), default="yaml")
@click.option("--all", "show_all", is_flag=True, help="Include removed sites.")
@db_option
def sites_export(fmt: str, show_all: bool, db: str | None) -> None:
    """Print the watchlist as YAML or CSV (reads back with `sites import`).

    \b
    Example:
        stemwatch sites export --format csv > watchlist.csv
    """
    rows = open_archive(db).sites(active_only=not show_all)
    keep = ("name", "start_urls", "allow", "deny", "max_pages", "every", "delay", "concurrency",
            "obey_robots", "country", "notes", "active")
    click.echo(dump_watchlist([{k: r[k] for k in keep} for r in rows], fmt), nl=False)


# ---- crawling -------------------------------------------------------------------------------

SUMMARY_COLUMNS = ["site", "crawl_id", "status", "pages", "new_versions", "unchanged", "not_modified",
                   "errors"]


def progress_printer(as_json: bool):
    def show(event: dict) -> None:
        if as_json:
            return
        kind = event.get("event")
        if kind == "started":
            click.echo(f"{event['site']}: crawl {event['crawl_id']} started", err=True)
        elif kind == "progress":
            click.echo(f"{event['site']}: {event['pages']} pages, {event['new']} new, "
                       f"{event['unchanged'] + event['not_modified']} unchanged, {event['error']} errors",
                       err=True)
    return show


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_sites", is_flag=True, help="Crawl every active site.")
@click.option("--due", is_flag=True, help="Crawl the sites whose schedule says they are due.")
@click.option("--parallel", type=int, default=1, show_default=True, help="Crawls at once.")
@click.option("--json", "as_json", is_flag=True)
@allow_private_option
@db_option
def crawl(names: tuple[str, ...], all_sites: bool, due: bool, parallel: int, as_json: bool,
          db: str | None) -> None:
    """Crawl sites now, each in its own process, and print a summary.

    \b
    Example:
        stemwatch crawl acme-clinic
        stemwatch crawl --all --parallel 4 --json
    """
    from crawler.crawls import run_crawls
    from crawler.schedule import due_sites

    archive = open_archive(db)
    if sum(map(bool, (names, all_sites, due))) != 1:
        raise click.UsageError("give site names, or --all, or --due")
    if all_sites:
        names = tuple(s["name"] for s in archive.sites(active_only=True))
    elif due:
        names = tuple(s["name"] for s in due_sites(archive))
    else:
        for name in names:
            archive.site(name)
    summaries = run_crawls(archive.path, list(names), parallel, progress_printer(as_json))
    rows = [{**s, "crawl_id": s.get("crawl_id") or s.get("id")} for s in summaries]
    if as_json:
        click.echo(json.dumps(rows if len(rows) != 1 else rows[0], indent=2, default=str))
    else:
        print_rows(rows, "table", SUMMARY_COLUMNS)
        for row in rows:
            if row.get("error"):
                click.echo(f"{row['site']}: {row['error']}", err=True)
    if any(r.get("status") != "finished" for r in rows):
        sys.exit(1)


@cli.command("crawls")
@click.option("--site", default=None)
@click.option("--limit", type=int, default=20, show_default=True)
@format_option
@db_option
def crawls_list(site: str | None, limit: int, fmt: str | None, as_json: bool, db: str | None) -> None:
    """List recent crawls with their counts and status.

    \b
    Example:
        stemwatch crawls --site acme-clinic --json
    """
    archive = open_archive(db)
    sql = ("SELECT crawls.id, sites.name AS site, started_at, finished_at, status, pages, new_versions, "
           "unchanged, not_modified, errors FROM crawls JOIN sites ON sites.id = crawls.site_id")
    args: list = []
    if site:
        sql += " WHERE crawls.site_id = ?"
        args.append(archive.site(site)["id"])
    cur = archive.conn.execute(sql + " ORDER BY crawls.id DESC LIMIT ?", (*args, limit))
    rows = [dict(zip([d[0] for d in cur.description], r)) for r in cur]
    print_rows(rows, chosen(fmt, as_json))


@cli.command("schedule")
@click.option("--once", is_flag=True, help="Run what is due now, then exit (for cron or systemd timers).")
@click.option("--parallel", type=int, default=2, show_default=True, help="Most crawls at once.")
@click.option("--tick", type=float, default=30.0, show_default=True, help="Seconds between due checks.")
@allow_private_option
@db_option
def schedule_cmd(once: bool, parallel: int, tick: float, db: str | None) -> None:
    """Crawl each site when it is due by its `every`; runs until SIGTERM or Ctrl-C.

    On SIGTERM/SIGINT it starts no new crawl and exits after the running ones finish.

    \b
    Example:
        stemwatch schedule --parallel 4
        stemwatch schedule --once      # from cron
    """
    from crawler.schedule import Scheduler

    archive = open_archive(db)
    Scheduler(archive.path, parallel=parallel, tick=tick, log=lambda m: click.echo(m, err=True)).run(once=once)


# ---- claims ---------------------------------------------------------------------------------

CLAIM_COLUMNS = ["kind", "term", "role", "section", "evidence"]


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@format_option
def extract(files: tuple[str, ...], fmt: str | None, as_json: bool) -> None:
    """Print the claims in HTML or text files, without a database.

    Plain text: blank lines separate paragraphs; lines starting with a bullet are list items.

    \b
    Example:
        stemwatch extract page.html --json
    """
    from crawler.claims import extract_file

    rows = []
    for file in files:
        result = extract_file(file)
        rows += [{"file": file, **c.as_dict()} for c in result.claims]
    print_rows(rows, chosen(fmt, as_json), (["file"] if len(files) > 1 else []) + CLAIM_COLUMNS)


@cli.command()
@click.option("--site", default=None, help="Only this site's versions.")
@db_option
def reextract(site: str | None, db: str | None) -> None:
    """Read every archived HTML version again with the current vocabulary (no refetch).

    \b
    Example:
        stemwatch reextract --site acme-clinic
    """
    from storage.analysis import reextract_all

    archive = open_archive(db)
    site_id = archive.site(site)["id"] if site else None
    n = reextract_all(archive, site_id)
    click.echo(f"re-extracted {n} version(s)")


# ---- demo -----------------------------------------------------------------------------------

@cli.command()
@click.option("--db", default="demo.db", show_default=True, help="Where the demo archive goes (replaced).")
def demo(db: str) -> None:
    """Serve the built-in demo clinic site on 127.0.0.1, crawl v1, switch to v2, crawl again.

    \b
    Example:
        stemwatch demo && stemwatch sites list --db demo.db
    """
    from crawler.demo import run_demo

    run_demo(db, echo=click.echo)


for command in commands.load():
    cli.add_command(command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
