"""Hands each capture to the archive, keeping the reactor thread free to download.

Two kinds of work leave the reactor: SQLite writes go to one writer thread (one connection, one
writer), and claim extraction of new HTML versions goes to worker processes, because parsing is
CPU-bound Python and the GIL would otherwise keep the crawl on one core.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from storage.analysis import analyse_new_version
from storage.archive import Archive, Capture
from storage.quality import OK, classify

PROGRESS_EVERY = 0.5  # seconds between progress lines


def extract_capture(body: bytes, content_type: str, url: str) -> Any:
    """Runs in a worker process."""
    from crawler.claims import extract

    return extract(body, content_type=content_type, url=url)


class CaptureStore:
    """The one path a capture takes into the archive, for a local crawl and a distributed ingester alike.

    Not thread-safe: call it from one thread (it owns one SQLite connection).
    """

    def __init__(self, db: str, crawl_id: int, site_id: int):
        self.archive = Archive(db)
        self.archive.version_hooks.append(analyse_new_version)
        self.crawl_id = crawl_id
        self.site_id = site_id
        self.counts = {"pages": 0, "new": 0, "unchanged": 0, "not_modified": 0, "error": 0}

    def worth_extracting(self, cap: Capture) -> bool:
        """Only a good HTML capture with a digest the page has not got now is parsed."""
        if cap.error or cap.status != 200 or not cap.is_html:
            return False
        cap.quality = classify(cap)
        return cap.quality == OK and self.archive.is_new_content(cap)

    def store(self, cap: Capture) -> str:
        outcome = self.archive.record_capture(self.crawl_id, self.site_id, cap)
        self.counts["pages"] += 1
        self.counts[outcome.kind] += 1
        return outcome.kind

    def close(self) -> None:
        self.archive.close()


def extractor_pool(workers: int = 0) -> ProcessPoolExecutor:
    # forkserver: a fork of a process running Twisted threads is not safe.
    return ProcessPoolExecutor(max_workers=workers or max(1, (os.cpu_count() or 2) - 1),
                               mp_context=multiprocessing.get_context("forkserver"))


class ArchivePipeline:
    def __init__(self, db: str, crawl_id: int, site_id: int, progress: bool, workers: int):
        self.captures = CaptureStore(db, crawl_id, site_id)
        self.progress = progress
        self.last_report = 0.0
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive")
        self.extractors = extractor_pool(workers)
        # Workers import the extractor and compile the vocabulary (~1 s) while robots.txt and the
        # first pages download, not when the first page is waiting.
        self.extractors.submit(extract_capture, b"<p>warm-up</p>", "text/html", "")

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchivePipeline:
        s = crawler.settings
        return cls(s["STEMWATCH_DB"], s.getint("STEMWATCH_CRAWL_ID"), s.getint("STEMWATCH_SITE_ID"),
                   s.getbool("STEMWATCH_PROGRESS"), s.getint("STEMWATCH_EXTRACT_WORKERS"))

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Capture):
            return item
        loop = asyncio.get_running_loop()
        if await loop.run_in_executor(self.writer, self.captures.worth_extracting, item):
            item.extraction = await loop.run_in_executor(
                self.extractors, extract_capture, item.body, item.content_type, item.url)
        await loop.run_in_executor(self.writer, self.store, item)
        return None  # stored; nothing downstream needs it

    def store(self, cap: Capture) -> None:
        self.captures.store(cap)
        if self.progress and time.monotonic() - self.last_report >= PROGRESS_EVERY:
            self.last_report = time.monotonic()
            emit({"event": "progress", "crawl_id": self.captures.crawl_id, **self.captures.counts})

    def close_spider(self) -> None:
        self.writer.shutdown(wait=True)
        self.extractors.shutdown(wait=True)
        self.captures.close()


def emit(event: dict) -> None:
    """Progress travels to the parent process as JSON lines on stdout."""
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()
