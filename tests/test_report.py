"""Reports over a fixture archive built by real crawls of three invented clinic sites.

The sites live in tests/fixtures/report_sites/ (v1, and v2 where a site changes). They are crawled five
times, a fortnight apart in simulated time. A crawl can only happen "now", so after each round every
timestamp the round wrote (any value later than the round's real start) is rewritten to the simulated
date: the archive then reads as if the crawls had run on those days, and each round's rows keep their order.

    round  date        northstar (MX)          pacific (US)             andes (CO)
    1      2026-01-12  v1 (baseline)           v1 (baseline)            v1 (baseline)
    2      2026-01-26  v1                      v1                       v1
    3      2026-02-09  v2: autism, cure claim  v1                       v1
    4      2026-02-23  v2                      v2: back pain removed    v1
    5      2026-03-09  v2                      v2                       server down (failing)
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.crawls import run_crawls
from crawler.localsite import LocalSite
from storage import report as numbers
from storage.archive import Archive
from storage.changes import claims_of
from storage.review import review
from tests.conftest import add_site
from tests.test_notify import Recorder

SITES = Path(__file__).parent / "fixtures" / "report_sites"
ROUNDS = ["2026-01-12", "2026-01-26", "2026-02-09", "2026-02-23", "2026-03-09"]
PLAN = {  # site -> (country, version served in each round; None = server down)
    "northstar": ("MX", ["v1", "v1", "v2", "v2", "v2"]),
    "pacific": ("US", ["v1", "v1", "v1", "v2", "v2"]),
    "andes": ("CO", ["v1", "v1", "v1", "v1", None]),
}
TIME_COLUMNS = {"started_at", "finished_at", "first_seen", "last_seen", "gone_since", "at", "detected_at",
                "removed_at", "retracted_at", "queued_at", "created_at", "sent_at", "added_at"}


def backdate(conn: sqlite3.Connection, real_start: str, simulated: str) -> None:
    """Every timestamp written since `real_start` becomes `simulated` (the round's date, 10:00 UTC)."""
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                         "AND name NOT LIKE '%fts%' AND name != 'meta'")]
    conn.execute("BEGIN IMMEDIATE")
    for table in tables:
        for col in [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]:
            if col in TIME_COLUMNS:
                conn.execute(f'UPDATE {table} SET "{col}" = ? WHERE "{col}" >= ?', (simulated, real_start))
    conn.execute("COMMIT")


def build_archive(path: str) -> None:
    archive = Archive(path)
    servers = {name: LocalSite(SITES / name / "v1").start() for name in PLAN}
    try:
        for name, (country, _) in PLAN.items():
            add_site(archive, name, servers[name].url, country=country)
        backdate(archive.conn, "2026-06-01", "2026-01-05T09:00:00.000Z")
        for i, day in enumerate(ROUNDS):
            real_start = archive.conn.execute("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')").fetchone()[0]
            for name, (_, plan) in PLAN.items():
                if plan[i] is None:
                    servers[name].stop()
                else:
                    servers[name].set_root(SITES / name / plan[i])
            run_crawls(path, list(PLAN), parallel=3)
            backdate(archive.conn, real_start, f"{day}T10:00:00.000Z")
    finally:
        for server in servers.values():
            server.stop()
    # An analyst confirmed the autism flag; reviews are append-only, so the review keeps its real time.
    autism = archive.conn.execute("SELECT id FROM flags WHERE term = 'autism_spectrum_disorder'").fetchone()[0]
    review(archive, autism, "confirm", "ana", "checked the treatments page")
    archive.close()


_BUILT: list[str] = []  # one crawled archive per test session, shared with test_report_browser.py


@pytest.fixture(scope="module")
def report_db(tmp_path_factory) -> str:
    if not _BUILT:
        path = str(tmp_path_factory.mktemp("report") / "report.db")
        build_archive(path)
        _BUILT.append(path)
    return _BUILT[0]


def run(*args: str, db: str):
    result = CliRunner().invoke(cli, ["report", *args, "--db", db])
    return result


def numbers_for(db: str, since: str = "2026-01-01", until: str = "2026-03-31", sites: tuple = ()) -> dict:
    from crawler.report import categories

    archive = Archive(db)
    scope = numbers.resolve_scope(archive.conn, since + "T00:00:00.000Z", until + "T23:59:59.999Z", sites)
    data = numbers.build_report(archive.conn, scope, labels=categories.labels(),
                                category_of=categories.category_of(), groups=categories.groups(), top=15)
    archive.close()
    return data


def counts(rows: list[dict]) -> dict[str, int]:
    return {r["term"]: r["sites"] for r in rows if r["sites"]}


def test_every_vocabulary_category_has_a_report_group():
    from crawler.report.categories import unmapped_categories

    assert unmapped_categories() == set()


def test_tables_have_the_known_counts(report_db):
    r = numbers_for(report_db)
    assert r["sites_in_scope"] == 3
    assert [(c["country"], c["sites"]) for c in r["countries"]] == [("CO", 1), ("MX", 1), ("US", 1)]
    t = r["tables"]
    assert counts(t["categories"]) == {"neurological": 1, "orthopaedic_pain": 2, "neurodevelopmental": 1,
                                       "pulmonary": 1, "cosmetic_antiageing": 1}
    assert counts(t["conditions"]) == {"knee_pain": 2, "aging_longevity": 1, "autism_spectrum_disorder": 1,
                                       "back_pain": 1, "copd": 1, "long_covid": 1, "multiple_sclerosis": 1,
                                       "parkinsons_disease": 1, "rotator_cuff_tear": 1}
    assert t["conditions"][0]["term"] == "knee_pain" and t["conditions"][0]["share"] == pytest.approx(2 / 3)
    assert counts(t["cell_types"]) == {"adipose_derived": 1, "exosomes": 1, "umbilical_cord": 1}
    assert counts(t["routes"]) == {"intra_articular": 2, "intravenous": 2, "intradiscal": 1, "intrathecal": 1,
                                   "nebulized_inhaled": 1}
    assert counts(t["red_flags"]) == {"cure_reverse_claim": 1, "safety_absolute": 1, "success_rate_statistic": 1}
    assert counts(t["disclaimers"]) == {"not_fda_approved": 2, "investigational": 1}
    # Traceable: each cell names its sites and the stored versions behind them.
    knee = t["conditions"][0]["evidence"]
    assert [e["site"] for e in knee] == ["northstar", "pacific"]
    archive = Archive(report_db)
    for e in knee:
        carried = [c for c in claims_of(archive.conn, e["last_version_id"]) if c.term == "knee_pain"]
        assert carried, e
    archive.close()
    back = next(r for r in t["conditions"] if r["term"] == "back_pain")["evidence"][0]
    assert back["status"] == "removed" and back["removed_at"].startswith("2026-02-23")


def test_trends_new_flags_removed_and_health(report_db):
    r = numbers_for(report_db)
    tr = r["trends"]
    assert tr["months"] == ["2026-01", "2026-02", "2026-03"]
    assert tr["offering"]["knee_pain"] == [2, 2, 2]
    assert tr["offering"]["autism_spectrum_disorder"] == [0, 1, 1]
    assert tr["offering"]["back_pain"] == [1, 1, 0]
    assert tr["new_therapy"] == [0, 2, 0]  # autism, and the intrathecal route that came with it
    assert tr["new_red_flag"] == [0, 1, 0]
    assert tr["claims_removed"] == [0, 2, 0]  # back pain and its intradiscal route
    flags = [(f["site"], f["kind"], f["term"], f["status"]) for f in r["new_flags"]]
    assert flags == [("northstar", "new_therapy", "autism_spectrum_disorder", "confirmed"),
                     ("northstar", "new_red_flag", "cure_reverse_claim", "open"),
                     ("northstar", "new_therapy", "intrathecal", "open")]
    assert r["new_flags"][0]["reviewer"] == "ana" and "autism" in r["new_flags"][0]["evidence"]
    removed = [(c["site"], c["term"]) for c in r["removed_claims"]]
    assert removed == [("pacific", "back_pain"), ("pacific", "intradiscal")]
    health = {s["site"]: s for s in r["watchlist"]}
    assert r["health"]["failing"] == ["andes"] and r["health"]["ok"] == ["northstar", "pacific"]
    assert health["andes"]["last_crawl"]["started_at"].startswith("2026-03-09")
    assert health["andes"]["last_good_crawl"]["started_at"].startswith("2026-02-23")
    assert [(c["site"], c["started_at"][:10]) for c in r["crawl_problems"]] == [("andes", "2026-03-09")]


def test_period_and_site_filters(report_db):
    march = numbers_for(report_db, since="2026-03-01")
    assert "back_pain" not in counts(march["tables"]["conditions"])  # removed before the period began
    assert march["new_flags"] == [] and march["removed_claims"] == []
    january = numbers_for(report_db, until="2026-01-31")
    assert "autism_spectrum_disorder" not in counts(january["tables"]["conditions"])
    assert january["health"]["ok"] == ["andes", "northstar", "pacific"]  # andes failed only in March
    pacific = numbers_for(report_db, sites=("pacific",))
    assert pacific["sites_in_scope"] == 1
    assert counts(pacific["tables"]["conditions"]) == {"back_pain": 1, "knee_pain": 1, "rotator_cuff_tear": 1}
    assert pacific["tables"]["conditions"][0]["share"] == 1.0


def test_json_and_markdown_outputs(report_db, tmp_path):
    result = run("--format", "json", "--since", "2026-01-01", "--until", "2026-03-31", db=report_db)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = numbers_for(report_db)
    for key in ("tables", "trends", "new_flags", "removed_claims", "watchlist", "sites_in_scope"):
        assert data[key] == json.loads(json.dumps(expected[key])), key
    result = run("--format", "md", "--since", "2026-01-01", "--until", "2026-03-31", "--top", "3",
                 "--out", str(tmp_path), db=report_db)
    assert result.exit_code == 0, result.output
    md = (tmp_path / "report-2026-01-01_2026-03-31.md").read_text()
    assert "| Knee pain / knee conditions | 2 | 66.7% | northstar (v" in md
    assert "## Conditions (top 3)" in md
    conditions = md.split("## Conditions (top 3)")[1].split("##")[0]
    assert conditions.count("\n| ") == 2 + 3  # header, rule, three rows
    assert "| new therapies | 0 | 2 | 0 |" in md
    assert "| andes | CO | failing |" in md


def test_html_is_self_contained(report_db, tmp_path):
    result = run("--since", "2026-01-01", "--until", "2026-03-31", "--out", str(tmp_path), db=report_db)
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report-2026-01-01_2026-03-31.html").read_text()
    archive = Archive(report_db)
    archived = {u for (u,) in archive.conn.execute("SELECT url FROM pages")}
    archive.close()
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    assert not re.search(r"""\bsrc\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", page, re.I)
    for tag, url in re.findall(r"<(\w+)[^>]*?\s(?:xlink:)?href=\"((?:https?:)?//[^\"]*)\"", page):
        assert tag == "a" and url in archived, (tag, url)  # only plain links to archived pages
    assert page.count("<svg") == 2
    assert page.count("<details>") >= 20
    assert 'id="site-1"' in page and "confirmed" in page


def test_digest_text_html_and_send(report_db, tmp_path):
    result = run("--digest", "--since", "2026-02-01", "--until", "2026-03-31", "--out", str(tmp_path), db=report_db)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("stemwatch weekly: 3 new flags, 2 removed, 1 site(s) with crawl problems")
    assert "NEW FLAGS (3)" in result.output and "andes: failing" in result.output
    mail = (tmp_path / "digest-2026-03-31.html").read_text()
    assert "<script" not in mail and "<style" not in mail and "<link" not in mail
    assert "Autism spectrum disorder" in mail and 'style="' in mail
    # No target: one clear line, non-zero exit.
    result = run("--digest", "--send", db=report_db)
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1].startswith("Error: no notification")
    recorder = Recorder()
    try:
        from storage import notify

        archive = Archive(report_db)
        notify.add_target(archive, f"json://127.0.0.1:{recorder.port}/hook")
        archive.close()
        result = run("--digest", "--send", "--since", "2026-02-01", "--until", "2026-03-31", db=report_db)
        assert result.exit_code == 0, result.output
        assert len(recorder.bodies) == 1
        assert recorder.bodies[0]["title"].startswith("stemwatch weekly: 3 new flags")
        assert "REMOVED CLAIMS (2)" in recorder.bodies[0]["message"]
    finally:
        recorder.close()


@pytest.mark.parametrize("args, message", [
    (["--site", "nope"], "Error: unknown site: nope"),
    (["--since", "yesterday"], "Error: not a date: 'yesterday'"),
    (["--since", "2026-03-01", "--until", "2026-02-01"], "Error: --since (2026-03-01) is after --until"),
    (["--send"], "Error: --send goes with --digest"),
])
def test_user_errors_are_one_line(report_db, args, message):
    result = run(*args, db=report_db)
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1].startswith(message), result.output


def test_missing_database_is_one_line(tmp_path):
    result = run(db=str(tmp_path / "none.db"))
    assert result.exit_code == 1 and "no archive at" in result.output


def test_help_has_an_example():
    result = CliRunner().invoke(cli, ["report", "--help"])
    assert "Example:" in result.output and "--digest" in result.output
