"""The schedule loop: crawl each site when it is due, a few at a time, until told to stop.

The `schedule` package ticks the due check; crawls themselves run in subprocesses
(crawler.crawls), so one failing crawl never takes the loop down.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

import schedule

from crawler.crawls import run_crawl
from crawler.watchlist import parse_every
from storage.archive import Archive
from storage.locks import SiteLock


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def due_sites(archive: Archive, now: datetime | None = None) -> list[dict]:
    """Active sites never crawled, or whose last crawl started at least `every` ago."""
    now = now or datetime.now(UTC)
    last = dict(archive.conn.execute("SELECT site_id, max(started_at) FROM crawls GROUP BY site_id"))
    due = []
    for site in archive.sites(active_only=True):
        started = last.get(site["id"])
        if started is None or (now - _parse_time(started)).total_seconds() >= parse_every(site["every"]):
            due.append(site)
    return due


class Scheduler:
    def __init__(self, db: str, parallel: int = 2, tick: float = 30.0,
                 log: Callable[[str], None] = print):
        self.db = db
        self.parallel = max(1, parallel)
        self.tick = tick
        self.log = log
        self.pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="crawl")
        self.running: dict[str, Future] = {}
        self.stopping = threading.Event()

    def dispatch(self) -> None:
        """Start due crawls while there is room; a site with a crawl running (here or in another
        process holding its lock) waits for the next tick."""
        self.running = {n: f for n, f in self.running.items() if not f.done()}
        archive = Archive(self.db)
        try:
            for site in due_sites(archive):
                if self.stopping.is_set() or len(self.running) >= self.parallel:
                    break
                if site["name"] in self.running or SiteLock(archive.path, site["id"]).is_held():
                    continue
                self.log(f"starting crawl of {site['name']}")
                self.running[site["name"]] = self.pool.submit(self._crawl, site["name"])
        finally:
            archive.close()

    def _crawl(self, name: str) -> dict:
        summary = run_crawl(self.db, name)
        self.log(f"{name}: {summary.get('status')} ({summary.get('pages', 0)} pages, "
                 f"{summary.get('new_versions', 0)} new versions)"
                 + (f" - {summary['error']}" if summary.get("error") else ""))
        return summary

    def run(self, once: bool = False) -> None:
        if once:
            self.dispatch()
            self.pool.shutdown(wait=True)
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())
        jobs = schedule.Scheduler()
        jobs.every(max(1, round(self.tick))).seconds.do(self.dispatch)
        self.dispatch()
        while not self.stopping.is_set():
            jobs.run_pending()
            self.stopping.wait(min(1.0, self.tick))
        self.log("stopping: waiting for running crawls to finish")
        self.pool.shutdown(wait=True)

    def stop(self) -> None:
        self.stopping.set()
