"""The schedule loop: due sites only, a few at a time, a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.conftest import ROOT, add_site, stemwatch
from tests.test_crash import slow_site, wait_for


def test_schedule_once_crawls_due_sites_only(archive, tmp_path):
    with slow_site(tmp_path) as site:
        add_site(archive, "due-now", site.url, delay=0, concurrency=4, every="1d")
        add_site(archive, "fresh", site.url + "/p1.html", delay=0, every="1d")
        fresh = archive.site("fresh")
        crawl_id = archive.start_crawl(fresh)
        archive.finish_crawl(crawl_id, "finished")
        stemwatch("schedule", "--once", db=archive.path)
        statuses = archive.conn.execute(
            "SELECT sites.name, count(*) FROM crawls JOIN sites ON sites.id = site_id GROUP BY sites.name")
        assert dict(statuses.fetchall()) == {"due-now": 1, "fresh": 1}
        stemwatch("schedule", "--once", db=archive.path)  # nothing due any more
        assert archive.conn.execute("SELECT count(*) FROM crawls").fetchone()[0] == 2


def test_sigterm_lets_running_crawl_finish(archive, tmp_path):
    with slow_site(tmp_path) as site:
        add_site(archive, "slow", site.url, delay=0.02, concurrency=1)
        proc = subprocess.Popen([sys.executable, "-m", "crawler.cli", "schedule", "--tick", "1",
                                 "--db", archive.path], cwd=ROOT, env={**os.environ},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: archive.conn.execute(
                "SELECT count(*) FROM versions").fetchone()[0] >= 3)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
        assert proc.returncode == 0, err
        assert "waiting for running crawls" in err
        status, pages = archive.conn.execute("SELECT status, pages FROM crawls").fetchone()
        assert status == "finished" and pages == 61
