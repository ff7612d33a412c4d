"""`stemwatch flags`, `changes`, `diff` and `notify`: the morning review queue and its alerts."""

from __future__ import annotations

import getpass
import json
from typing import Any

import click

from crawler.clikit import Group, db_option, open_archive
from crawler.output import chosen, format_option, print_rows
from storage import notify as notifications
from storage import review as rv

FLAG_COLUMNS = ["id", "priority", "status", "site", "kind", "claim", "detected_at", "url", "evidence"]
CHANGE_COLUMNS = ["id", "site", "url", "kind", "detected_at", "score", "claims_added", "claims_removed", "summary"]


def default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment (a bare container)
        return "unknown"


def reviewer_option(f: Any) -> Any:
    return click.option("--reviewer", default=None, metavar="NAME",
                        help="Who reviews (default: your login name).")(f)


def flag_list_options(f: Any) -> Any:
    f = click.option("--status", type=click.Choice(["open", "confirmed", "dismissed", "all"]), default="open",
                     show_default=True, help="Which flags.")(f)
    f = click.option("--site", default=None, metavar="NAME", help="Only this site's flags.")(f)
    f = click.option("--since", default=None, metavar="DATE", help="Detected on or after: 2026-04-01, 7d, 24h.")(f)
    return db_option(format_option(f))


def show_flags(db: str | None, status: str, site: str | None, since: str | None, fmt: str | None,
               as_json: bool) -> None:
    archive = open_archive(db)
    site_id = archive.site(site)["id"] if site else None
    rows = rv.list_flags(archive.conn, status, site_id, rv.parse_when(since) if since else None)
    for row in rows:
        row["claim"] = f"{row['claim_kind']} {row['term']} ({row['role']})"
        if row["retracted_at"]:
            row["status"] += " (retracted)"
    print_rows(rows, chosen(fmt, as_json), FLAG_COLUMNS)


@click.group("flags", cls=Group, invoke_without_command=True)
@flag_list_options
@click.pass_context
def flags(ctx: click.Context, **opts: Any) -> None:
    """Flags to review: new therapies, new red-flag claims, notable claims removed.

    Without a subcommand, lists the open flags (same options as `flags list`).

    \b
    Example:
        stemwatch flags
        stemwatch flags show 12
        stemwatch flags confirm 12 --note "autism page, checked the archived copy"
    """
    if ctx.invoked_subcommand is None:
        show_flags(**opts)


@flags.command("list")
@flag_list_options
def flags_list(**opts: Any) -> None:
    """List flags, most urgent first.

    \b
    Example:
        stemwatch flags list --status all --site acme-clinic --since 7d
        stemwatch flags list --format csv > flags.csv
    """
    show_flags(**opts)


@flags.command("show")
@click.argument("flag_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@db_option
def flags_show(flag_id: int, as_json: bool, db: str | None) -> None:
    """Show one flag: its evidence, the page diff around it, the versions compared and its reviews.

    \b
    Example:
        stemwatch flags show 12
    """
    info = rv.flag_detail(open_archive(db).conn, flag_id)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str, ensure_ascii=False))
        return
    head = (f"flag {info['id']}  [{info['priority']}] {info['kind']}: "
            f"{info['claim_kind']} {info['term']} ({info['role']})")
    click.echo(head + f"  - {info['status']}" + (" (retracted by a re-extraction)" if info["retracted_at"] else ""))
    click.echo(f"site      {info['site']}")
    click.echo(f"page      {info['url'] or '-'}")
    click.echo(f"detected  {info['detected_at']} (crawl {info['crawl_id']})")
    if info["evidence"]:
        click.echo(f'evidence  "{info["evidence"]}"')
    detail = info["detail"]
    for key, label in (("cell_types", "products"), ("routes", "routes"), ("phrase", "phrase")):
        if detail.get(key):
            value = detail[key]
            click.echo(f"{label:<9} {', '.join(value) if isinstance(value, list) else value}")
    for version in info["versions"]:
        click.echo(f"version   {version['id']}: first seen {version['first_seen']}, last seen {version['last_seen']}, "
                   f"{version['captures']} capture(s), HTTP {version['status']}")
    if info["change"]:
        change = info["change"]
        click.echo(f"change    {change['id']} ({change['kind']}, score {change['score']}): {change['summary']}")
    if info.get("diff"):
        click.echo("")
        print_diff(info["diff"])
    click.echo("")
    if not info["reviews"]:
        click.echo(f"no reviews yet: stemwatch flags confirm {flag_id} --note TEXT  (or dismiss)")
    for r in info["reviews"]:
        click.echo(f"review    {r['at']}  {r['reviewer']}  {r['action']}" + (f": {r['note']}" if r["note"] else ""))


def _review_command(action: str, help_text: str, note_required: bool = False) -> click.Command:
    @click.argument("flag_id", type=int)
    @click.option("--note", default=None, required=note_required, help="Why (kept with the review).")
    @reviewer_option
    @db_option
    def command(flag_id: int, note: str | None, reviewer: str | None, db: str | None) -> None:
        result = rv.review(open_archive(db), flag_id, action, reviewer or default_reviewer(), note)
        click.echo(f"flag {flag_id}: {result['before']} -> {result['status']} ({action} by {result['reviewer']})")

    command.__doc__ = help_text
    return flags.command(action)(command)


_review_command("confirm", """Confirm a flag: the claim is real and worth reporting.

    \b
    Example:
        stemwatch flags confirm 12 --note "new autism page, archived copy checked"
    """)
_review_command("dismiss", """Dismiss a flag: not a real new claim (a menu label, a news quote...).

    \b
    Example:
        stemwatch flags dismiss 13 --note "quotes an FDA warning, not a claim"
    """)
_review_command("reopen", """Reopen a confirmed or dismissed flag.

    \b
    Example:
        stemwatch flags reopen 13 --note "clinic changed the page again"
    """)
_review_command("note", """Add a note to a flag without changing its status.

    \b
    Example:
        stemwatch flags note 12 --note "asked the regulator"
    """, note_required=True)


# ---- changes and diffs -----------------------------------------------------------------------------------

@click.command("changes")
@click.option("--site", default=None, metavar="NAME", help="Only this site's pages.")
@click.option("--since", default=None, metavar="DATE", help="Detected on or after: 2026-04-01, 7d, 24h.")
@click.option("--min-score", type=float, default=0.0, show_default=True, help="Hide changes scored lower.")
@click.option("--limit", type=int, default=None, help="Most changes to list.")
@format_option
@db_option
def changes(site: str | None, since: str | None, min_score: float, limit: int | None, fmt: str | None,
            as_json: bool, db: str | None) -> None:
    """List page changes (noise-only edits make none), newest first, with their score.

    \b
    Example:
        stemwatch changes --site acme-clinic --since 2026-04-01
        stemwatch changes --min-score 0.5 --json
    """
    archive = open_archive(db)
    site_id = archive.site(site)["id"] if site else None
    rows = rv.list_changes(archive.conn, site_id, rv.parse_when(since) if since else None, min_score, limit)
    print_rows(rows, chosen(fmt, as_json), CHANGE_COLUMNS)


@click.command("diff")
@click.argument("url")
@click.option("--from", "from_ref", default=None, metavar="VERSION_ID|DATE",
              help="Older version (default: the readable version before --to).")
@click.option("--to", "to_ref", default=None, metavar="VERSION_ID|DATE",
              help="Newer version (default: the latest readable version).")
@click.option("--context", type=int, default=3, show_default=True, help="Unchanged lines around each change.")
@click.option("--json", "as_json", is_flag=True)
@db_option
def diff(url: str, from_ref: str | None, to_ref: str | None, context: int, as_json: bool, db: str | None) -> None:
    """Show what changed on a page: a unified diff of its normalised text, then its claims.

    Dates, tokens and counters show as placeholders (‹date›...), so only real edits remain.

    \b
    Example:
        stemwatch diff https://acme.example/treatments/ --from 2026-03-01 --to 2026-04-14
        stemwatch diff https://acme.example/about.html --from 41 --to 57
    """
    conn = open_archive(db).conn
    page_id, page_url = rv.find_page(conn, url)
    new_id = rv.resolve_version(conn, page_id, to_ref)
    old_id = rv.resolve_version(conn, page_id, from_ref) if from_ref else rv.previous_version(conn, page_id, new_id)
    result = rv.diff_versions(conn, old_id, new_id, context=context)  # no old version: the page is all new
    if as_json:
        click.echo(json.dumps({"url": page_url, "from": rv.version_info(conn, old_id) if old_id else None,
                               "to": rv.version_info(conn, new_id), **result}, indent=2, ensure_ascii=False))
        return
    print_diff(result)


def print_diff(result: dict) -> None:
    if not result["text"]:
        click.echo("(no text change)")
    for line in result["text"]:
        color = "green" if line.startswith("+") and not line.startswith("+++") else \
            "red" if line.startswith("-") and not line.startswith("---") else None
        click.secho(line, fg=color)
    if result["claims_added"] or result["claims_removed"]:
        click.echo("claims:")
    for claim in result["claims_added"]:
        click.secho(f"+ {claim}", fg="green")
    for claim in result["claims_removed"]:
        click.secho(f"- {claim}", fg="red")


# ---- notifications ---------------------------------------------------------------------------------------

@click.group("notify", cls=Group)
def notify() -> None:
    """Alerts: after a crawl that raised flags, one digest per target (any Apprise URL).

    \b
    Example:
        stemwatch notify add 'mailtos://user:app-password@example.com?to=desk@example.org'
        stemwatch notify test
    """


@notify.command("add")
@click.argument("url")
@db_option
def notify_add(url: str, db: str | None) -> None:
    """Add a notification target: any Apprise URL (email, Slack, Matrix, ntfy, a JSON webhook...).

    \b
    Example:
        stemwatch notify add 'json://alerts.example.org/stemwatch'
        stemwatch notify add 'slack://TokenA/TokenB/TokenC/#flags'
    """
    target = notifications.add_target(open_archive(db), url)
    click.echo(f"added notification target {target['id']}: {target['url']}")


@notify.command("list")
@format_option
@db_option
def notify_list(fmt: str | None, as_json: bool, db: str | None) -> None:
    """List notification targets (secrets masked) with their queue.

    \b
    Example:
        stemwatch notify list --json
    """
    rows = notifications.targets(open_archive(db))
    print_rows(rows, chosen(fmt, as_json), ["id", "url", "added_at", "pending", "sent", "last_error"])


@notify.command("remove")
@click.argument("target")
@db_option
def notify_remove(target: str, db: str | None) -> None:
    """Stop sending to a target, by id or URL.

    \b
    Example:
        stemwatch notify remove 2
    """
    removed = notifications.remove_target(open_archive(db), target)
    click.echo(f"removed notification target {removed['id']}: {removed['url']}")


@notify.command("test")
@click.argument("target", required=False)
@db_option
def notify_test(target: str | None, db: str | None) -> None:
    """Send a test message to every target (or one, by id or URL).

    \b
    Example:
        stemwatch notify test
        stemwatch notify test 2
    """
    results = notifications.send_test(open_archive(db), target)
    for sent in results:
        click.echo(f"{sent.target_id} {sent.url}: " + ("sent" if sent.ok else f"FAILED: {sent.error}"))
    if not all(s.ok for s in results):
        raise click.ClickException(f"{sum(not s.ok for s in results)} of {len(results)} target(s) failed")


COMMANDS = [flags, changes, diff, notify]
