"""How fast the journalist queries are on a big archive.

    python bench/bench_queries.py                                   # 100,000 versions, 1,000 sites
    python bench/bench_queries.py --versions 1000000 --sites 10000 --db /tmp/big.db   # keep it, reuse it

Generates a synthetic archive straight into SQLite with the project's schema (storage.archive.connect,
FTS triggers included): sites, pages, versions with realistic text sizes (median ≈2 KB, a long tail to
≈10 KB), compressed HTML bodies, claims per version and site claims; consecutive versions of a page
differ by a sentence or two, as real edits do. Then it times the functions the CLI calls
(storage.query) and prints the median and 95th percentile latency of each.

With --db, an archive generated earlier with the same --versions/--sites/--seed is reused.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import query  # noqa: E402
from storage.archive import connect, digest_of  # noqa: E402
from storage.codec import pack_claims, pack_text  # noqa: E402

CONDITIONS = [
    "spinal_cord_injury", "traumatic_brain_injury", "stroke", "multiple_sclerosis", "parkinsons_disease",
    "alzheimers_disease", "als", "cerebral_palsy", "autism_spectrum_disorder", "muscular_dystrophy",
    "osteoarthritis", "knee_pain", "back_pain", "rotator_cuff_tear", "rheumatoid_arthritis", "lupus",
    "copd", "pulmonary_fibrosis", "long_covid", "heart_failure", "diabetes_unspecified", "kidney_disease",
    "liver_cirrhosis", "macular_degeneration", "erectile_dysfunction", "aging_longevity", "hair_loss",
    "lyme_disease", "fibromyalgia", "chronic_fatigue", "crohns_disease", "psoriasis", "hearing_loss",
]
LABELS = {"autism_spectrum_disorder": "autism", "parkinsons_disease": "Parkinson's disease",
          "alzheimers_disease": "Alzheimer's disease", "als": "ALS", "copd": "COPD",
          "diabetes_unspecified": "diabetes", "long_covid": "long COVID", "crohns_disease": "Crohn's disease"}
CELLS = {"msc": "mesenchymal stem cells", "adipose_derived": "adipose-derived stem cells", "svf": "SVF",
         "bone_marrow": "bone marrow stem cells", "umbilical_cord": "umbilical cord stem cells",
         "cord_blood": "cord blood cells", "exosomes": "exosomes", "prp": "platelet-rich plasma"}
ROUTES = {"intravenous": "intravenous infusion", "intrathecal": "intrathecal injection",
          "intra_articular": "intra-articular injection", "intranasal": "intranasal spray"}
RED_FLAGS = {"cure_reverse_claim": "can reverse the disease",
             "regulatory_legitimacy": "our laboratory is FDA registered",
             "success_rate_statistic": "has a 90% success rate", "safety_absolute": "has no side effects",
             "permanent_lasting": "the results are permanent"}
PAGE_NAMES = ["", "about.html", "treatments/", "prices.html", "faq.html", "testimonials.html", "contact.html",
              "news/", "team.html", "science.html"]
START = datetime(2024, 1, 1, tzinfo=UTC)
Sentence = tuple[str, list]  # (text, claims in it)
SPAN_DAYS = 730


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Writer:
    """Synthetic text: filler words drawn Zipf-like from a made-up vocabulary, plus clinic sentences."""

    def __init__(self, rng: random.Random, vocabulary: int = 20_000):
        syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vi", "so", "pe", "da", "gu", "ri", "mo", "len", "tor",
                     "cel", "gen", "pha", "ther", "stem", "reg", "pro", "vas", "neu", "car", "dia"]
        words: set[str] = set()
        while len(words) < vocabulary:
            words.add("".join(rng.choices(syllables, k=rng.randint(2, 4))))
        common = ["the", "and", "of", "to", "our", "patients", "treatment", "stem", "cell", "therapy", "with",
                  "for", "is", "in", "a", "we", "clinic", "your", "care", "results"]
        self.words = common + sorted(words)
        total = 0.0
        self.cum: list[float] = []
        for rank in range(1, len(self.words) + 1):
            total += 1 / rank  # Zipf: a few words everywhere, most words rare
            self.cum.append(total)

    def filler(self, rng: random.Random) -> Sentence:
        words = rng.choices(self.words, cum_weights=self.cum, k=rng.randint(8, 22))
        return " ".join(words).capitalize() + ".", []

    @staticmethod
    def claim_sentence(rng: random.Random, profile: dict) -> Sentence:
        condition = rng.choice(profile["conditions"])
        cell = rng.choice(profile["cells"])
        route = rng.choice(profile["routes"])
        text = (f"We treat {LABELS.get(condition, condition.replace('_', ' '))} with {CELLS[cell]} "
                f"given by {ROUTES[route]}.")
        claims = [("condition", condition, "offered"), ("cell_type", cell, "offered"), ("route", route, "offered")]
        if profile["red_flags"] and rng.random() < 0.3:
            flag = rng.choice(profile["red_flags"])
            text += f" Our programme {RED_FLAGS[flag]}."
            claims.append(("red_flag", flag, "offered"))
        return text, claims

    def sentence(self, rng: random.Random, profile: dict) -> Sentence:
        return self.claim_sentence(rng, profile) if rng.random() < 0.15 else self.filler(rng)

    def first_version(self, rng: random.Random, profile: dict) -> list[Sentence]:
        """A page's first text: median ≈2 KB, a long tail to ≈10 KB."""
        size = min(10_000, max(300, int(rng.lognormvariate(7.6, 0.6))))
        sentences: list[Sentence] = []
        length = 0
        while length < size:
            sentences.append(self.sentence(rng, profile))
            length += len(sentences[-1][0]) + 1
        return sentences

    def edit(self, rng: random.Random, profile: dict, sentences: list[Sentence]) -> list[Sentence]:
        """The next version: a sentence or two replaced, as real edits do."""
        out = list(sentences)
        for _ in range(rng.randint(1, 2)):
            out[rng.randrange(len(out))] = self.sentence(rng, profile)
        return out


def profile_for(rng: random.Random) -> dict:
    return {"conditions": rng.sample(CONDITIONS, rng.randint(3, 12)),
            "cells": rng.sample(list(CELLS), rng.randint(1, 3)),
            "routes": rng.sample(list(ROUTES), rng.randint(1, 2)),
            "red_flags": rng.sample(list(RED_FLAGS), rng.randint(0, 3))}


def generate(path: str, n_versions: int, n_sites: int, seed: int) -> None:
    """Versions are inserted in the order they are first seen, as crawls insert them: each site is
    crawled at its own hour, so one site's new versions sit together, as after a real crawl."""
    rng = random.Random(seed)
    db = connect(path)
    conn = db.conn
    # Synthetic data: a crash means generating again, so skip fsyncs; a big page cache keeps the
    # random-key inserts (digests, page ids, FTS segments) from rereading the disk.
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1048576")
    query.ensure_indexes(conn)
    writer = Writer(rng)
    n_pages = max(n_sites, n_versions // 4)  # about four versions per page
    per_page = [1] * n_pages
    for page in rng.choices(range(n_pages), k=n_versions - n_pages):
        per_page[page] += 1
    profiles = [profile_for(rng) for _ in range(n_sites)]
    crawl_hour = [rng.uniform(0, 23) for _ in range(n_sites)]
    now = ts(datetime.now(UTC))
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO sites(id, name, start_urls, max_pages, every, delay, concurrency, added_at) "
        "VALUES (?, ?, ?, 500, '1d', 1, 2, ?)",
        [(s + 1, f"clinic-{s:05d}", json.dumps([f"https://clinic-{s:05d}.example/"]), now) for s in range(n_sites)])
    events: list[tuple[datetime, int, int]] = []  # (first seen, page, version number)
    pages = []
    for page_id in range(1, n_pages + 1):
        site = (page_id - 1) % n_sites
        slot = (page_id - 1) // n_sites
        name = PAGE_NAMES[slot] if slot < len(PAGE_NAMES) else f"treatments/page-{slot}.html"
        k = per_page[page_id - 1]
        days = sorted(rng.sample(range(SPAN_DAYS), min(k, SPAN_DAYS)))
        times = [START + timedelta(days=d, hours=crawl_hour[site], seconds=slot * 0.5) for d in days]
        events += [(t, page_id, j) for j, t in enumerate(times)]
        pages.append((page_id, site + 1, f"https://clinic-{site:05d}.example/{name}", ts(times[0]), ts(times[-1]),
                      200))
        per_page[page_id - 1] = len(times)
    conn.executemany("INSERT INTO pages(id, site_id, url, first_seen, last_seen, last_status) "
                     "VALUES (?, ?, ?, ?, ?, ?)", pages)
    events.sort()
    next_seen: dict[tuple[int, int], datetime] = {(p, j): t for t, p, j in events}
    first_versions: dict[int, list[tuple[int, str, str]]] = {}  # site -> (version, first_seen, url)
    batch: dict[str, list] = {"bodies": [], "versions": [], "claims": []}
    current: dict[int, list[Sentence]] = {}  # page -> its latest text
    started = time.monotonic()
    for version_id, (first, page_id, j) in enumerate(events, 1):
        _, site_id, url, *_ = pages[page_id - 1]
        site = site_id - 1
        if j == 0:
            sentences = writer.first_version(rng, profiles[site])
        else:
            sentences = writer.edit(rng, profiles[site], current.pop(page_id))
        if j + 1 < per_page[page_id - 1]:
            current[page_id] = sentences  # kept only while the page has versions to come
        title = f"clinic {site} {url.split('/', 3)[3] or 'home'}"
        text = "\n".join(s for s, _ in sentences)
        html = ("<!DOCTYPE html><html><head><title>" + title + "</title></head><body><main>"
                + "".join(f"<p>{s}</p>" for s, _ in sentences) + "</main></body></html>").encode()
        digest = digest_of(html)
        following = next_seen.get((page_id, j + 1))
        last = following - timedelta(days=1) if following else START + timedelta(days=SPAN_DAYS)
        last = max(first, last)
        batch["bodies"].append((digest, len(html), zlib.compress(html, 6)))
        batch["versions"].append((version_id, page_id, digest, ts(first), ts(last), max(1, (last - first).days),
                                  "text/html; charset=utf-8", title, pack_text(text)))
        seen: dict[tuple, tuple] = {}
        for sentence, claims in sentences:
            for claim in claims:
                if claim not in seen:
                    at = text.find(sentence)
                    seen[claim] = (*claim, sentence, None, "main", at, at + len(sentence), None)
        if seen:
            batch["claims"].append((version_id, len(seen), pack_claims(list(seen.values()), text)))
        if j == 0:
            first_versions.setdefault(site, []).append((version_id, ts(first), url))
        if len(batch["versions"]) >= 5000:
            flush(conn, batch)
            print(f"\r  generated {version_id:,} versions ({version_id / len(events):.0%}, "
                  f"{time.monotonic() - started:.0f} s)", end="", file=sys.stderr, flush=True)
    flush(conn, batch)
    conn.execute("UPDATE pages SET current_version_id = (SELECT max(id) FROM versions WHERE page_id = pages.id)")
    site_claims = []
    for site in range(n_sites):
        for kind, terms in (("condition", profiles[site]["conditions"]), ("cell_type", profiles[site]["cells"]),
                            ("route", profiles[site]["routes"]), ("red_flag", profiles[site]["red_flags"])):
            for term in terms:
                vid, first, url = rng.choice(first_versions[site])
                removed = rng.random() < 0.2
                last = ts(datetime.fromisoformat(first) + timedelta(days=rng.uniform(0, 300)))
                site_claims.append((site + 1, kind, term, "offered", first, last, vid, vid,
                                    "removed" if removed else "active", last if removed else None,
                                    f"We treat {term.replace('_', ' ')}.", url))
    conn.executemany(
        "INSERT INTO site_claims(site_id, kind, term, role, first_seen, last_seen, first_version_id, "
        "last_version_id, status, removed_at, evidence, url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        site_claims)
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('bench', ?)",
                 (json.dumps([n_versions, n_sites, seed]),))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"\r  generated {len(events):,} versions on {n_pages:,} pages of {n_sites:,} sites in "
          f"{time.monotonic() - started:.0f} s", file=sys.stderr)
    conn.close()


def flush(conn, batch: dict[str, list]) -> None:
    conn.executemany("INSERT OR IGNORE INTO bodies(digest, codec, size, data) VALUES (?, 'zlib', ?, ?)",
                     batch["bodies"])
    conn.executemany("INSERT INTO versions(id, page_id, digest, first_seen, last_seen, captures, status, "
                     "content_type, quality, title, text_z) VALUES (?, ?, ?, ?, ?, ?, 200, ?, 'ok', ?, ?)",
                     batch["versions"])
    conn.executemany("INSERT INTO version_claims(version_id, count, data) VALUES (?, ?, ?)", batch["claims"])
    conn.execute("COMMIT")
    conn.execute("BEGIN")
    for rows in batch.values():
        rows.clear()


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def report(name: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(0.95 * len(samples)))]
    print(f"{name:<34} {len(samples):>5} {statistics.median(samples):>10.2f} {p95:>10.2f}")


def bench(path: str, n_sites: int, runs: int, seed: int) -> None:
    rng = random.Random(seed + 1)
    conn = connect(path).conn
    query.ensure_indexes(conn)
    urls = [r[0] for r in conn.execute("SELECT url FROM pages WHERE id % 97 = 0 LIMIT 2000")]
    sites = [f"clinic-{rng.randrange(n_sites):05d}" for _ in range(runs)]
    specific = ["exosome", '"long covid"', "autism", "parkinson*", '"FDA registered"', "cure AND autism",
                '"cord blood" NOT autism', "fibromyalgia OR lupus"]
    print(f"{'query':<34} {'runs':>5} {'median ms':>10} {'p95 ms':>10}")

    def cycle(items: list) -> Callable[[], object]:
        it = itertools.cycle(items)
        return lambda: next(it)

    def as_of(url: str, day: str) -> object:
        try:
            return query.as_of(conn, url, day)
        except query.QueryError:
            return None  # the page was not archived yet on that day: an answer too

    q = cycle(specific)
    report("search (specific terms)", timed(lambda: query.search(conn, q()), runs))
    s = cycle(sites)
    report("search (specific, one site)", timed(lambda: query.search(conn, "autism OR exosome", site=s()), runs))
    report("search (very common: stem cell)", timed(lambda: query.search(conn, '"stem cell"'), max(5, runs // 10)))
    u = cycle(urls)
    report("history", timed(lambda: query.history(conn, u()), runs))
    report("as-of", timed(lambda: as_of(u(), f"2025-{rng.randint(1, 12):02d}-15"), runs))
    s = cycle(sites)
    report("timeline", timed(lambda: query.timeline(conn, s()), runs))
    c = cycle(CONDITIONS)
    report("claims by condition", timed(lambda: query.claims(conn, term=c(), role="offered"), runs))
    report("claims by condition, active on", timed(
        lambda: query.claims(conn, term=c(), role="offered", active_on="2025-06-01"), runs))
    conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=200, help="Timed calls per query (default 200).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", default=None, help="Keep the archive here and reuse it on the next run.")
    args = parser.parse_args(argv)
    if args.versions < args.sites:
        parser.error("--versions must be at least --sites")
    tmp = None
    path = args.db
    if path is None:
        tmp = tempfile.TemporaryDirectory(prefix="stemwatch-bench-")
        path = os.path.join(tmp.name, "bench.db")
    params = [args.versions, args.sites, args.seed]
    if Path(path).exists():
        row = connect(path).conn.execute("SELECT value FROM meta WHERE key = 'bench'").fetchone()
        if not row or json.loads(row[0]) != params:
            parser.error(f"{path} exists and is not a benchmark archive of these parameters; remove it first")
        print(f"reusing {path}", file=sys.stderr)
    else:
        generate(path, args.versions, args.sites, args.seed)
    size = os.path.getsize(path) / 2**20
    print(f"archive: {args.versions:,} versions, {args.sites:,} sites, {size:,.0f} MiB ({path})")
    bench(path, args.sites, args.runs, args.seed)
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
