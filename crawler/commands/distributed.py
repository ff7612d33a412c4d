"""`stemwatch dcrawl / worker / ingest`: one crawl fetched by many machines through Redis.

See docs/distributed.md. The Redis URL comes from --redis, else $STEMWATCH_REDIS.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click
import redis

from crawler.clikit import allow_private_option, db_option, open_archive

redis_option = click.option("--redis", "redis_url", envvar="STEMWATCH_REDIS", required=True, metavar="URL",
                            help="Shared Redis, e.g. redis://queue.lan:6379/0 (also $STEMWATCH_REDIS).")


def one_line_errors(f: Callable[..., Any]) -> Callable[..., Any]:
    """Redis trouble a user can cause (bad URL, server down, lost mid-run) ends in one clear line."""

    @wraps(f)
    def run(*args: Any, **kwargs: Any) -> Any:
        from crawler.distributed import DistributedError

        try:
            return f(*args, **kwargs)
        except DistributedError as exc:
            raise click.ClickException(str(exc)) from exc
        except redis.RedisError as exc:
            raise click.ClickException(f"Redis error: {exc}") from exc

    return run


@click.command("dcrawl")
@click.argument("names", nargs=-1, required=True)
@redis_option
@click.option("--json", "as_json", is_flag=True)
@db_option
@one_line_errors
def dcrawl(names: tuple[str, ...], redis_url: str, as_json: bool, db: str | None) -> None:
    """Enqueue a distributed crawl of sites: open each crawl row, seed the shared queue.

    Run it where the archive is; `stemwatch worker` processes fetch, `stemwatch ingest` stores.

    \b
    Example:
        stemwatch dcrawl --redis redis://queue.lan:6379/0 acme-clinic other-clinic
    """
    from crawler.distributed import Shared, enqueue

    shared = Shared(redis_url)
    archive = open_archive(db)
    for name in names:
        archive.site(name)  # every name is checked before any crawl is opened
    rows = [enqueue(shared, archive, name) for name in names]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            click.echo(f"{row['site']}: crawl {row['crawl_id']} enqueued, {row['seeded']} request(s) seeded")


@click.command("worker")
@redis_option
@click.option("--max-idle", type=float, default=None, metavar="S",
              help="Exit after S seconds with no crawl to work on (default: run until stopped).")
@allow_private_option
@one_line_errors
def worker(redis_url: str, max_idle: float | None) -> None:
    """Fetch pages of distributed crawls from the shared Redis queue (run any number, anywhere).

    Each worker takes requests of every enqueued crawl, fetches them with the site's scope and
    politeness (shared across workers), and pushes the captures to Redis for `stemwatch ingest`.
    A worker killed mid-crawl loses nothing: its in-flight requests go back to the queue once its
    heartbeat expires ($STEMWATCH_HEARTBEAT_TTL seconds, default 30).

    \b
    Example:
        stemwatch worker --redis redis://queue.lan:6379/0
        stemwatch worker --redis redis://127.0.0.1:6379/0 --max-idle 60
    """
    from crawler.distributed import Worker

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    Worker(redis_url, max_idle=max_idle, echo=lambda m: click.echo(m, err=True)).run()


@click.command("ingest")
@redis_option
@click.option("--until-idle", is_flag=True, help="Exit once no distributed crawl is left (else run until stopped).")
@click.option("--json", "as_json", is_flag=True, help="Progress and summaries as JSON lines on stdout.")
@db_option
@one_line_errors
def ingest(redis_url: str, until_idle: bool, as_json: bool, db: str | None) -> None:
    """Store the captures of distributed crawls in the archive (run exactly one per archive).

    Same path as a local crawl (claims, changes, flags); when a crawl's queue is drained and no
    worker holds a request of it, the crawl is finished and its crawl-end processing runs.

    \b
    Example:
        stemwatch ingest --redis redis://queue.lan:6379/0 --db archive.db
        stemwatch ingest --redis redis://127.0.0.1:6379/0 --until-idle --json
    """
    from crawler.distributed import Ingester

    def show(event: dict) -> None:
        if as_json:
            click.echo(json.dumps(event, default=str))
        elif event.get("event") == "done":
            click.echo(f"{event['site']}: crawl {event['id']} {event['status']}, {event['pages']} pages, "
                       f"{event['new_versions']} new, {event['errors']} errors")

    Ingester(redis_url, open_archive(db).path, echo=show).run(until_idle=until_idle)


COMMANDS = [dcrawl, worker, ingest]
