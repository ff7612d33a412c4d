"""`stemwatch check`: verify the archive's bytes and rows."""

from __future__ import annotations

import json
from pathlib import Path

import click

from crawler.clikit import db_option, open_archive
from storage.archive import ArchiveError, db_path
from storage.check import as_json, check_archive


@click.command("check")
@click.option("--json", "as_json_out", is_flag=True, help="Print the report as JSON.")
@db_option
def check(db: str | None, as_json_out: bool) -> None:
    """Verify the archive; exit 1 and say exactly what is wrong if anything is.

    Checks SQLite's own integrity, re-hashes every stored body against its digest and size,
    looks for orphan rows (versions without page or body, claims without version...), checks
    the full-text index against the versions, and finds crawls left 'running' by a dead process.

    \b
    Example:
        stemwatch check
        stemwatch check --json --db archive.db
    """
    path = db_path(db)
    if not Path(path).is_file():
        raise ArchiveError(f"no archive at {path}")
    archive = open_archive(path)
    try:
        results = check_archive(archive)
    finally:
        archive.close()
    if as_json_out:
        click.echo(json.dumps(as_json(results), indent=2))
    else:
        for r in results:
            click.echo(f"{'ok' if r.ok else 'FAIL':4}  {r.name:10} {r.about}")
            for problem in r.problems:
                click.echo(f"      - {problem}")
            if r.count > len(r.problems):
                click.echo(f"      ... and {r.count - len(r.problems)} more")
    if not all(r.ok for r in results):
        raise SystemExit(1)


COMMANDS = [check]
