"""Start crawls as subprocesses and follow them: one subprocess per crawl, several at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from storage.archive import Archive

EventHandler = Callable[[dict], None]


def run_crawl(db: str, name: str, on_event: EventHandler | None = None) -> dict:
    """Crawl one site in a child process; return its summary (a crawls row, plus `site`).

    The child reports JSON lines; if it dies without a summary (killed, crashed), its crawl row
    is marked interrupted here so the archive never shows a crawl running that is not.
    """
    cmd = [sys.executable, "-m", "crawler.runner", "--db", db, "--site", name]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            start_new_session=True)  # Ctrl-C on the parent must not cut crawls short
    errors: deque[str] = deque(maxlen=20)
    drain = threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    drain.start()
    summary: dict | None = None
    crawl_id = None
    for line in proc.stdout:  # type: ignore[union-attr]
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a stray print from a library is not a progress event
        crawl_id = event.get("crawl_id", crawl_id)
        if event.get("event") in ("done", "error"):
            summary = event
        if on_event:
            on_event({"site": name, **event})
    rc = proc.wait()
    drain.join(timeout=5)
    if summary is None:
        summary = {"event": "error", "site": name, "crawl_id": crawl_id, "status": "interrupted",
                   "error": f"crawl process ended with code {rc}: " + "".join(errors).strip()[-300:]}
        if crawl_id:
            archive = Archive(db)
            archive.mark_interrupted(crawl_id)
            summary = {**archive.crawl(crawl_id), **summary}
            archive.close()
    summary.setdefault("site", name)
    summary["exit_code"] = rc
    return summary


def run_crawls(db: str, names: list[str], parallel: int = 1,
               on_event: EventHandler | None = None) -> list[dict]:
    """Crawl several sites, at most `parallel` at a time; one failure does not stop the others."""
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(lambda n: run_crawl(db, n, on_event), names))
