"""Start crawls as subprocesses and follow them: one subprocess per crawl, several at once."""

from __future__ import annotations

import json
import os
import signal
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
    events: list[dict] = []

    def read_events() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a stray print from a library is not a progress event
            events.append(event)
            if on_event:
                on_event({"site": name, **event})

    readers = [threading.Thread(target=read_events, daemon=True),
               threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)]  # type: ignore[arg-type]
    for reader in readers:
        reader.start()
    rc = proc.wait()
    try:
        # The crawl's process group may outlive it (extraction workers of a killed crawl): end it.
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for reader in readers:
        reader.join(timeout=5)
    crawl_id = next((e["crawl_id"] for e in events if e.get("crawl_id")), None)
    summary = next((e for e in reversed(events) if e.get("event") in ("done", "error")), None)
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
