"""The crawl benchmark: stemwatch against a bare Scrapy spider on a generated clinic site.

    .venv/bin/python bench/run.py [--pages 5000] [--changed 0.05] [--concurrency 16] [--skip-archive-bench]

One run: generate a site (bench/sitegen.py) in a temp dir, serve it with a private nginx on
127.0.0.1 (bench/nginx.py, installed with apt-get when missing and we are root), crawl it with the
bare spider (bench/bare_spider.py), then with stemwatch three times (first crawl, unchanged
recrawl, recrawl after changing a fraction of the pages), print a table and a pass/miss summary
against the targets of the "Speed and scale" issue, then run bench/bench_queries.py if present.

Every crawl runs in its own subprocess under a small wrapper whose RUSAGE_CHILDREN gives the
crawl's peak RSS and CPU time exactly (ru_maxrss of the waited-for descendants, in KiB on Linux).
pages/s is pages over Scrapy's own elapsed_time_seconds (engine start to spider closed), so the
~0.6 s of interpreter and Scrapy start-up is left out of both sides; wall time is shown too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

from nginx import Nginx, ensure_nginx  # noqa: E402
from sitegen import PROFILES, generate, modify, text_share  # noqa: E402

from crawler.watchlist import normalise_site  # noqa: E402
from storage.archive import Archive  # noqa: E402
from storage.query import ensure_indexes  # noqa: E402

SITE = "bench-clinic"

# Runs argv[2:] and writes its descendants' peak RSS and CPU time to argv[1] as JSON.
MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.call(sys.argv[2:])
u = resource.getrusage(resource.RUSAGE_CHILDREN)
json.dump({"rc": rc, "wall": time.perf_counter() - t, "maxrss_kb": u.ru_maxrss,
           "cpu": u.ru_utime + u.ru_stime}, open(sys.argv[1], "w"))
"""

# A child that crawls through the project's own entry point and prints the crawl summary.
STEMWATCH_CRAWL = """
import json, sys
from crawler.crawls import run_crawl
print(json.dumps(run_crawl(sys.argv[1], sys.argv[2])), flush=True)
"""


@dataclass
class Run:
    name: str
    pages: int
    elapsed: float  # Scrapy's elapsed_time_seconds
    wall: float  # the whole subprocess, start-up included
    cpu: float  # user + system seconds of the crawl's processes
    maxrss_mb: float
    detail: str = ""

    @property
    def rate(self) -> float:
        return self.pages / self.elapsed if self.elapsed else 0.0


def measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[str, dict]:
    """Run cmd under the MEASURE wrapper; return its stdout and the measurement."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        proc = subprocess.run([sys.executable, "-c", MEASURE, out.name, *cmd], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[1:3]} failed:\n{proc.stderr[-3000:]}")
        return proc.stdout, json.loads(Path(out.name).read_text())


def last_json(stdout: str) -> dict:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON result in output: {stdout[-500:]!r}")


def bare_crawl(url: str, concurrency: int) -> Run:
    stdout, m = measured([sys.executable, str(BENCH / "bare_spider.py"), url + "/",
                          "--concurrency", str(concurrency)])
    if m["rc"] != 0:
        raise RuntimeError(f"bare spider exited with {m['rc']}")
    res = last_json(stdout)
    if not res["pages"] or not res["elapsed"]:
        raise RuntimeError(f"the bare spider fetched nothing: {res}")
    return Run("bare Scrapy", res["pages"], res["elapsed"], m["wall"], m["cpu"], m["maxrss_kb"] / 1024)


def stemwatch_crawl(name: str, db: str) -> tuple[Run, dict]:
    env = {**os.environ, "STEMWATCH_ALLOW_PRIVATE": "1"}
    stdout, m = measured([sys.executable, "-c", STEMWATCH_CRAWL, db, SITE], env=env)
    summary = last_json(stdout)
    stats = json.loads(summary.get("stats") or "{}")
    if summary.get("status") != "finished":
        print(f"  ! {name}: crawl status {summary.get('status')}: {summary.get('error', '')[:300]}")
    errors = stats.get("log_count/ERROR", 0)
    detail = (f"new {summary.get('new_versions', 0)}, unchanged {summary.get('unchanged', 0)}, "
              f"304 {summary.get('not_modified', 0)}, errors {summary.get('errors', 0)}"
              + (f", logged errors {errors}" if errors else ""))
    run = Run(name, summary.get("pages", 0), float(stats.get("elapsed_time_seconds", 0)), m["wall"],
              m["cpu"], m["maxrss_kb"] / 1024, detail)
    return run, summary


def db_bytes(db: str) -> int:
    """Database size with the WAL folded into the main file."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(db)


def body_bytes(db: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT coalesce(sum(length(data)), 0) FROM bodies").fetchone()[0]


def claims_ready() -> bool:
    """Until the claims extractor lands, every new HTML version fails in the extraction hook."""
    return (ROOT / "crawler" / "claims" / "__init__.py").exists()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--changed", type=float, default=0.05, help="fraction of pages changed before the last recrawl")
    parser.add_argument("--concurrency", type=int, default=16, help="CONCURRENT_REQUESTS_PER_DOMAIN for both crawlers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", choices=PROFILES, default="cms",
                        help="page markup: cms (page-builder markup, realistic) or dense (almost all text)")
    parser.add_argument("--skip-archive-bench", action="store_true", help="do not run bench/bench_queries.py")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (site and database)")
    args = parser.parse_args()

    ensure_nginx()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (other work skews pages/s)")
    if not claims_ready():
        print("! crawler/claims is not there yet: new HTML versions will fail in the extraction hook")
    tmp = Path(tempfile.mkdtemp(prefix="stemwatch-bench-"))
    os.chmod(tmp, 0o755)
    try:
        bench(args, tmp)
    finally:  # a failed crawl must not leave hundreds of MB of site and database behind
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def bench(args: argparse.Namespace, tmp: Path) -> None:
    root, db = tmp / "site", str(tmp / "bench.db")
    server = Nginx(root)  # the port is chosen first: sitemap.xml and robots.txt hold absolute URLs
    t = time.perf_counter()
    files = generate(root, args.pages, server.url, args.seed, profile=args.profile)
    raw = sum(f.stat().st_size for f in files)
    print(f"site: {len(files)} pages, {raw / 1e6:.1f} MB, generated in {time.perf_counter() - t:.1f} s, at {root}")
    print(f"site profile: {args.profile}, visible text {text_share(files):.1%} of HTML bytes "
          f"(average of {min(len(files), 200)} pages)")

    runs: list[Run] = []
    with server:
        print(f"nginx: {server.url} (access log {server.access_log})")
        print("crawling: bare Scrapy ...", flush=True)
        runs.append(bare := bare_crawl(server.url, args.concurrency))

        archive = Archive(db)
        archive.add_site(normalise_site({"name": SITE, "start_urls": [server.url + "/"], "delay": 0,
                                         "concurrency": args.concurrency, "max_pages": args.pages + 100}))
        # An archive in use has the journalist queries' indexes (the first query adds them); the crawl
        # keeps them up to date, so that cost is measured too.
        ensure_indexes(archive.conn)
        archive.close()
        size0 = db_bytes(db)
        print("crawling: stemwatch first crawl ...", flush=True)
        first, _ = stemwatch_crawl("stemwatch first crawl", db)
        runs.append(first)
        size1 = db_bytes(db)
        print("crawling: stemwatch unchanged recrawl ...", flush=True)
        same, _ = stemwatch_crawl("stemwatch unchanged", db)
        runs.append(same)
        size2 = db_bytes(db)
        changed = modify(files, args.changed, args.seed)
        print(f"crawling: stemwatch after changing {len(changed)} pages ...", flush=True)
        after, _ = stemwatch_crawl(f"stemwatch {args.changed:.0%} changed", db)
        runs.append(after)
        size3 = db_bytes(db)
        bodies = body_bytes(db)

    per_page_same = (size2 - size1) / same.pages if same.pages else float("nan")
    ratio_archive = (size1 - size0) / raw
    print()
    # CPU ms/page (start-up included) is steadier than pages/s when other work shares the cores.
    print(f"{'crawl':<28}{'pages':>7}{'s':>8}{'pages/s':>9}{'× bare':>8}{'wall s':>8}{'cpu s':>7}"
          f"{'cpu ms/p':>9}{'RSS MB':>8}  detail")
    for r in runs:
        print(f"{r.name:<28}{r.pages:>7}{r.elapsed:>8.1f}{r.rate:>9.1f}{r.rate / bare.rate:>8.2f}"
              f"{r.wall:>8.1f}{r.cpu:>7.1f}{1000 * r.cpu / max(r.pages, 1):>9.1f}{r.maxrss_mb:>8.0f}  {r.detail}")
    print()
    print(f"database: {size0 / 1e6:.2f} MB empty -> {size1 / 1e6:.1f} MB after first crawl -> "
          f"{size2 / 1e6:.1f} MB unchanged recrawl -> {size3 / 1e6:.1f} MB after changes")
    print(f"unchanged recrawl added {size2 - size1} bytes = {per_page_same:.1f} bytes/page")
    print(f"{args.changed:.0%} changed recrawl added {(size3 - size2) / 1e6:.2f} MB for {len(changed)} changed pages")
    print(f"raw HTML fetched {raw / 1e6:.1f} MB; first crawl grew the database by {(size1 - size0) / 1e6:.1f} MB "
          f"= {ratio_archive:.2f} x raw (bodies alone {bodies / raw:.2f} x)")
    print("peak memory: max RSS of each crawl's processes (getrusage RUSAGE_CHILDREN of a wrapper)")

    if not args.skip_archive_bench and (BENCH / "bench_queries.py").exists():
        print("\nrunning bench/bench_queries.py ...", flush=True)
        subprocess.run([sys.executable, str(BENCH / "bench_queries.py")], cwd=ROOT)

    peak = max(r.maxrss_mb for r in runs[1:])
    targets = [
        ("first crawl >= 0.6 x bare pages/s", first.rate / bare.rate, 0.6, True),
        ("unchanged recrawl >= 0.95 x bare pages/s", same.rate / bare.rate, 0.95, True),
        ("unchanged recrawl <= 100 bytes DB/page", per_page_same, 100, False),
        ("archive <= 0.3 x raw bytes", ratio_archive, 0.3, False),
        (f"peak memory <= 400 MB ({args.pages} pages; target is at 20,000)", peak, 400, False),
    ]
    print("\nsummary")
    for label, value, limit, at_least in targets:
        ok = value >= limit if at_least else value <= limit
        print(f"  {'PASS' if ok else 'MISS'}  {label}: {value:.2f}")
    if not claims_ready():
        print("  (crawler/claims was missing: first-crawl numbers do not include extraction)")


if __name__ == "__main__":
    sys.exit(main())
