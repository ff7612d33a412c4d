"""Pieces every stemwatch command shares: error handling, --db, --allow-private."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import click

from crawler.watchlist import WatchlistError
from storage.archive import Archive, ArchiveError, db_path


class Group(click.Group):
    """Errors a user can cause end in one clear line and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ArchiveError, WatchlistError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
        except sqlite3.OperationalError as exc:
            raise click.ClickException(f"database error: {exc}") from exc


def db_option(f: Any) -> Any:
    return click.option("--db", "db", envvar="STEMWATCH_DB", default=None, metavar="PATH",
                        help="Archive database (default: $STEMWATCH_DB, else ./stemwatch.db).")(f)


def allow_private_option(f: Any) -> Any:
    """Crawl targets on private, loopback or link-local addresses are refused unless asked for."""

    def allow(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            os.environ["STEMWATCH_ALLOW_PRIVATE"] = "1"  # crawl subprocesses inherit it

    return click.option("--allow-private", is_flag=True, expose_value=False, callback=allow,
                        help="Allow private/loopback targets (also STEMWATCH_ALLOW_PRIVATE=1).")(f)


def open_archive(db: str | None) -> Archive:
    return Archive(db_path(db))
