"""A crawl killed at any moment leaves a consistent archive, and the next one carries on."""

from __future__ import annotations

import os
import signal
import threading
import time

from crawler.crawls import run_crawl
from crawler.localsite import LocalSite
from storage.locks import SiteLock
from tests.conftest import add_site, stemwatch, write_site

N_PAGES = 60


def slow_site(tmp_path) -> LocalSite:
    pages = {"index.html": "".join(f'<a href="/p{i}.html">page {i}</a> ' for i in range(N_PAGES))}
    pages |= {f"p{i}.html": f"<html><body><h1>Page {i}</h1><p>Stem cell treatment {i}</p></body></html>"
              for i in range(N_PAGES)}
    return LocalSite(write_site(tmp_path / "site", pages))


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def consistent(archive) -> None:
    conn = archive.conn
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    orphans = conn.execute("SELECT count(*) FROM versions WHERE digest NOT IN (SELECT digest FROM bodies)")
    assert orphans.fetchone()[0] == 0
    for digest, size in conn.execute("SELECT digest, size FROM bodies").fetchall():
        assert len(archive.body(digest)) == size  # no half-written body


def test_sigkill_mid_crawl_then_next_crawl_completes(archive, tmp_path):
    with slow_site(tmp_path) as site:
        add_site(archive, "slow", site.url, delay=0.03, concurrency=1)
        result: dict = {}
        thread = threading.Thread(target=lambda: result.update(run_crawl(archive.path, "slow")))
        thread.start()
        wait_for(lambda: archive.conn.execute("SELECT count(*) FROM versions").fetchone()[0] >= 5)
        pid = archive.conn.execute("SELECT pid FROM crawls WHERE status = 'running'").fetchone()[0]
        os.kill(pid, signal.SIGKILL)
        thread.join(30)
        assert result["status"] == "interrupted"
        consistent(archive)
        killed = archive.crawl(result["id"])
        assert killed["status"] == "interrupted" and killed["pages"] < N_PAGES + 1
        archived_before = archive.conn.execute("SELECT count(*) FROM pages").fetchone()[0]
        again = run_crawl(archive.path, "slow")
        assert again["status"] == "finished"
        consistent(archive)
        assert archive.conn.execute("SELECT count(*) FROM pages").fetchone()[0] == N_PAGES + 1 > archived_before


def test_stale_running_row_is_marked_interrupted_by_next_crawl(archive, tmp_path):
    with slow_site(tmp_path) as site:
        site_row = add_site(archive, "slow", site.url, delay=0, concurrency=4)
        ghost = archive.start_crawl(site_row, pid=999999)  # a crawl whose process vanished
        summary = run_crawl(archive.path, "slow")
        assert summary["status"] == "finished"
        assert archive.crawl(ghost)["status"] == "interrupted"


def test_two_crawls_of_one_site_refused(archive, tmp_path):
    with slow_site(tmp_path) as site:
        site_row = add_site(archive, "slow", site.url)
        with SiteLock(archive.path, site_row["id"]):  # as if another crawl were running
            summary = run_crawl(archive.path, "slow")
            assert summary["exit_code"] == 3
            assert "already running" in summary["error"]
            proc = stemwatch("crawl", "slow", db=archive.path, check=False)
            assert proc.returncode != 0 and "already running" in proc.stderr
        assert site.paths() == []
