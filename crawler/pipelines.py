"""Hands each capture to the archive, off the reactor thread.

SQLite writes and claim extraction run in one worker thread: the reactor keeps downloading
while the archive writes, and one writer thread means one SQLite connection in use at a time.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from storage.analysis import analyse_new_version
from storage.archive import Archive, Capture

PROGRESS_EVERY = 0.5  # seconds between progress lines


class ArchivePipeline:
    def __init__(self, db: str, crawl_id: int, site_id: int, progress: bool):
        self.archive = Archive(db)
        self.archive.version_hooks.append(analyse_new_version)
        self.crawl_id = crawl_id
        self.site_id = site_id
        self.progress = progress
        self.counts = {"pages": 0, "new": 0, "unchanged": 0, "not_modified": 0, "error": 0}
        self.last_report = 0.0
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive")

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchivePipeline:
        s = crawler.settings
        return cls(s["STEMWATCH_DB"], s.getint("STEMWATCH_CRAWL_ID"), s.getint("STEMWATCH_SITE_ID"),
                   s.getbool("STEMWATCH_PROGRESS"))

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, Capture):
            await asyncio.get_running_loop().run_in_executor(self.writer, self.store, item)
        return None  # captures are stored here; nothing downstream needs them

    def store(self, cap: Capture) -> None:
        outcome = self.archive.record_capture(self.crawl_id, self.site_id, cap)
        self.counts["pages"] += 1
        self.counts[outcome.kind] += 1
        if self.progress and time.monotonic() - self.last_report >= PROGRESS_EVERY:
            self.last_report = time.monotonic()
            emit({"event": "progress", "crawl_id": self.crawl_id, **self.counts})

    def close_spider(self) -> None:
        self.writer.shutdown(wait=True)
        self.archive.close()


def emit(event: dict) -> None:
    """Progress travels to the parent process as JSON lines on stdout."""
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()
