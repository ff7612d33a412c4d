"""Distributed crawl throughput: 1, 2 and 4 workers (plus one ingester) against a local crawl.

    .venv/bin/python bench/bench_distributed.py [--pages 1000] [--workers 1 2 4]

Generates a clinic site with bench/sitegen.py, serves it with crawler.localsite.LocalSite on
127.0.0.1, starts a private redis-server (tests/redisserver.py), then for each worker count crawls it
twice into a fresh archive (first crawl: every page new and extracted; recrawl: every page a 304):
`stemwatch dcrawl`, N `stemwatch worker` processes and one `stemwatch ingest --until-idle`.
pages/s = pages / wall seconds from dcrawl to the ingester's exit (crawl end processing included,
process start-up included). The local row is `stemwatch crawl` (crawler.crawls.run_crawl) wall time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

from sitegen import generate  # noqa: E402

from crawler.crawls import run_crawl  # noqa: E402
from crawler.localsite import LocalSite  # noqa: E402
from crawler.watchlist import normalise_site  # noqa: E402
from storage.archive import Archive  # noqa: E402
from tests.redisserver import RedisServer  # noqa: E402

CLI = [sys.executable, "-m", "crawler.cli"]


def new_archive(db: str, url: str) -> None:
    archive = Archive(db)
    archive.add_site(normalise_site({"name": "bench", "start_urls": [url + "/"], "delay": 0, "concurrency": 16,
                                     "max_pages": 100000}))
    archive.close()


def distributed(db: str, redis_url: str, workers: int) -> tuple[float, dict]:
    env = {**os.environ, "STEMWATCH_ALLOW_PRIVATE": "1"}
    start = time.monotonic()
    subprocess.run([*CLI, "dcrawl", "--redis", redis_url, "bench", "--db", db], check=True, env=env, cwd=ROOT,
                   capture_output=True)
    procs = [subprocess.Popen([*CLI, "worker", "--redis", redis_url, "--max-idle", "2"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    subprocess.run([*CLI, "ingest", "--redis", redis_url, "--until-idle", "--db", db], check=True, env=env,
                   cwd=ROOT, capture_output=True)
    elapsed = time.monotonic() - start
    for proc in procs:
        proc.wait(timeout=120)
    archive = Archive(db)
    row = archive.conn.execute("SELECT * FROM crawls ORDER BY id DESC LIMIT 1").fetchone()
    cols = [d[0] for d in archive.conn.execute("SELECT * FROM crawls LIMIT 0").description]
    archive.close()
    return elapsed, dict(zip(cols, row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    os.environ["STEMWATCH_ALLOW_PRIVATE"] = "1"
    with tempfile.TemporaryDirectory() as tmp, LocalSite(Path(tmp)) as site, RedisServer() as server:
        generate(Path(tmp) / "site", args.pages, site.url)
        site.set_root(Path(tmp) / "site")
        rows = []
        db = f"{tmp}/local.db"
        new_archive(db, site.url)
        for label in ("first", "recrawl"):
            start = time.monotonic()
            summary = run_crawl(db, "bench")
            rows.append(("local", label, summary["pages"], time.monotonic() - start))
        for n in args.workers:
            db = f"{tmp}/dist{n}.db"
            new_archive(db, site.url)
            for label in ("first", "recrawl"):
                elapsed, crawl = distributed(db, server.url, n)
                assert crawl["status"] == "finished", crawl
                rows.append((f"{n} worker(s)", label, crawl["pages"], elapsed))
        print("| crawl | kind | pages | wall s | pages/s |")
        print("| --- | --- | ---: | ---: | ---: |")
        for who, label, pages, secs in rows:
            print(f"| {who} | {label} | {pages} | {secs:.1f} | {pages / secs:.1f} |", flush=True)


if __name__ == "__main__":
    main()
