"""`stemwatch report`: the survey report (HTML, Markdown, JSON) and the weekly digest."""

from __future__ import annotations

from pathlib import Path

import click

from crawler.clikit import db_option
from crawler.commands.journalist import open_existing
from storage import report as numbers
from storage.archive import ArchiveError
from storage.review import parse_when

EXTENSIONS = {"html": "html", "md": "md", "json": "json"}
DIGEST_DAYS = 7


@click.command("report")
@click.option("--since", default=None, metavar="DATE", help="Start of the period (default: first crawl; "
              "with --digest: 7 days ago). 2026-01-01, 2026-01-01T09:00 or 30d.")
@click.option("--until", default=None, metavar="DATE", help="End of the period, inclusive (default: now).")
@click.option("--site", "sites", multiple=True, metavar="NAME", help="Only these sites (repeatable).")
@click.option("--out", default=None, metavar="DIR", help="Write the report into DIR (created) instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["html", "md", "json"]), default="html", show_default=True)
@click.option("--top", type=click.IntRange(1, 200), default=15, show_default=True,
              help="Conditions in the conditions table and trend.")
@click.option("--digest", is_flag=True, help="The short weekly digest instead: new flags, removed claims, "
              "crawl problems (plain text; an email-ready HTML file with --out).")
@click.option("--send", is_flag=True, help="With --digest: send it to every notification target.")
@db_option
def report(since: str | None, until: str | None, sites: tuple[str, ...], out: str | None, fmt: str, top: int,
           digest: bool, send: bool, db: str | None) -> None:
    """Survey report of the watchlist over a period, every number traceable to archived versions.

    Sites offering each condition category, condition, cell type and route; red-flag and disclaimer
    types by share of sites; monthly trends (charts); the new flags, removed claims and crawl problems
    of the period; the watchlist's crawl health. See docs/reports.md for each table's definition.

    \b
    Example:
        stemwatch report --since 2026-01-01 --out reports/       # reports/report-2026-01-01_2026-03-31.html
        stemwatch report --format md --site acme-clinic --top 10 > acme.md
        stemwatch report --format json --since 90d | jq '.tables.conditions[0]'
        stemwatch report --digest --send                        # last 7 days, to the notify targets
        stemwatch report --digest --since 14d --out digests/     # + an email-ready HTML file
    """
    if send and not digest:
        raise click.UsageError("--send goes with --digest")
    archive = open_existing(db)
    try:
        start = parse_when(since) if since else (numbers.days_ago(DIGEST_DAYS) if digest else None)
        end = parse_when(until, end_of_day=True) if until else None
        scope = numbers.resolve_scope(archive.conn, start, end, sites)
        if digest:
            _digest(archive, scope, out, send)
            return
        from crawler.report import categories, render_html, render_json, render_markdown

        data = numbers.build_report(archive.conn, scope, labels=categories.labels(),
                                    category_of=categories.category_of(), groups=categories.groups(), top=top)
        text = {"html": lambda: render_html(data, top), "md": lambda: render_markdown(data, top),
                "json": lambda: render_json(data)}[fmt]()
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        archive.close()
    if out:
        path = _out_dir(out) / f"report-{scope.since[:10]}_{scope.until[:10]}.{EXTENSIONS[fmt]}"
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path} ({len(text.encode()):,} bytes)")
    else:
        click.echo(text, nl=False)


def _out_dir(out: str) -> Path:
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise click.ClickException(f"--out must be a folder, and {out} is a file")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _digest(archive, scope: numbers.Scope, out: str | None, send: bool) -> None:
    from crawler.report import digest_html, digest_text
    from crawler.report.render import digest_title
    from storage import notify

    data = numbers.build_digest(archive.conn, scope)
    title, body = digest_title(data), digest_text(data)
    click.echo(title)
    click.echo(body, nl=False)
    if out:
        path = _out_dir(out) / f"digest-{scope.until[:10]}.html"
        path.write_text(digest_html(data), encoding="utf-8")
        click.echo(f"wrote {path}")
    if send:
        targets = archive.conn.execute(
            "SELECT id, url FROM notify_targets WHERE removed_at IS NULL ORDER BY id").fetchall()
        if not targets:
            raise click.ClickException("no notification targets; add one with `stemwatch notify add URL`")
        failed = 0
        for target_id, url in targets:
            error = notify.send(url, title, body)  # the notification path's own sender (Apprise, masked errors)
            failed += error is not None
            click.echo(f"target {target_id} {notify.mask_url(url)}: {'sent' if error is None else error}")
        if failed:
            raise click.ClickException(f"{failed} of {len(targets)} notification target(s) failed")


COMMANDS = [report]
