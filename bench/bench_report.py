"""How long `stemwatch report` takes on a big archive, and how big the report is.

    python bench/bench_report.py                          # 1,000 sites, 100,000 versions (target: < 30 s)
    python bench/bench_report.py --db /tmp/rep.db         # keep the archive and reuse it next time

The archive comes from bench/bench_queries.py's generator (sites, pages, versions, claims, site claims,
straight into SQLite). The generator makes no crawls or flags, so this adds them: one crawl per site per
week over its two years (a few failing or blocked), and a flag for every site claim first seen after the
site's first month, some of them reviewed. Then it times the HTML, Markdown and JSON reports over the
whole period, and the digest of its last fortnight (the last weekly crawl falls a few days before its end).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_queries import SPAN_DAYS, START, generate, ts  # noqa: E402
from crawler.report import categories, digest_text, render_html, render_json, render_markdown  # noqa: E402
from storage import report as numbers  # noqa: E402
from storage.archive import connect  # noqa: E402


def add_crawls_and_flags(path: str, seed: int) -> None:
    rng = random.Random(seed)
    conn = connect(path).conn
    sites = [r[0] for r in conn.execute("SELECT id FROM sites")]
    crawls = []
    for site in sites:
        bad = rng.random() < 0.05  # a few sites fail or get blocked towards the end
        for week in range(SPAN_DAYS // 7):
            at = START + timedelta(days=7 * week, hours=rng.uniform(0, 23))
            late = bad and week > SPAN_DAYS // 7 - 4
            errors, blocked = (10, 0) if late and site % 2 else ((0, 8) if late else (0, 0))
            crawls.append((site, ts(at), ts(at + timedelta(minutes=5)), "finished", 10, errors, blocked))
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO crawls(site_id, started_at, finished_at, status, pages, errors, blocked) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", crawls)
    baseline = ts(START + timedelta(days=30))
    rows = conn.execute("SELECT site_id, kind, term, role, evidence, url, first_version_id, first_seen "
                        "FROM site_claims WHERE first_seen > ?", (baseline,)).fetchall()
    conn.executemany(
        "INSERT INTO flags(site_id, kind, claim_kind, term, role, evidence, url, version_id, detected_at, priority, "
        "status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'normal', ?)",
        [(s, "new_red_flag" if k == "red_flag" else "new_therapy", k, t, r, e, u, v, f,
          rng.choice(["open", "open", "confirmed", "dismissed"])) for s, k, t, r, e, u, v, f in rows])
    conn.execute("COMMIT")
    conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", default=None, help="Keep the archive here (reused if it exists).")
    args = parser.parse_args(argv)
    path = args.db or str(Path(tempfile.mkdtemp()) / "bench-report.db")
    if not Path(path).exists():
        started = time.monotonic()
        generate(path, args.versions, args.sites, args.seed)
        add_crawls_and_flags(path, args.seed)
        print(f"archive built in {time.monotonic() - started:.0f} s: {path}")
    conn = connect(path).conn
    print(f"{conn.execute('SELECT count(*) FROM sites').fetchone()[0]:,} sites, "
          f"{conn.execute('SELECT count(*) FROM versions').fetchone()[0]:,} versions, "
          f"{conn.execute('SELECT count(*) FROM site_claims').fetchone()[0]:,} site claims, "
          f"{conn.execute('SELECT count(*) FROM flags').fetchone()[0]:,} flags")
    until = ts(START + timedelta(days=SPAN_DAYS))
    results = {}
    for fmt, render in (("html", lambda d: render_html(d, 15)), ("md", lambda d: render_markdown(d, 15)),
                        ("json", render_json)):
        started = time.monotonic()
        scope = numbers.resolve_scope(conn, None, until)
        data = numbers.build_report(conn, scope, labels=categories.labels(), category_of=categories.category_of(),
                                    groups=categories.groups(), top=15)
        queried = time.monotonic() - started
        text = render(data)
        total = time.monotonic() - started
        results[fmt] = {"seconds": round(total, 2), "queries_seconds": round(queried, 2), "bytes": len(text.encode())}
        print(f"report {fmt:4}: {total:6.2f} s (queries {queried:.2f} s), {len(text.encode()) / 1e6:.2f} MB")
    started = time.monotonic()
    scope = numbers.resolve_scope(conn, ts(START + timedelta(days=SPAN_DAYS - 14)), until)
    text = digest_text(numbers.build_digest(conn, scope))
    print(f"digest     : {time.monotonic() - started:6.2f} s, {len(text.encode()) / 1e3:.1f} KB")
    print(json.dumps(results))
    print("target < 30 s:", "met" if max(r["seconds"] for r in results.values()) < 30 else "MISSED")


if __name__ == "__main__":
    main()
