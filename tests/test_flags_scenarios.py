"""Scenarios, end to end: real crawls of a generated clinic site that changes one thing at a time.

One archive and one site are shared by the whole module (each crawl is a subprocess, ~1 s): the crawls
run once, in order, and each test reads what its step did. The targets: every added therapy or red flag
is flagged (recall 1.0); noise, blocked and failing captures raise nothing (precision 1.0).
Run with `pytest -s tests/test_flags_scenarios.py` to see the flags each scenario raised.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from crawler.crawls import run_crawl
from crawler.localsite import LocalSite
from storage.archive import Archive
from tests.conftest import add_site, write_site
from tests.fixtures.scenarios import clinic

FlagKey = tuple[str, str, str]  # (flag kind, claim kind, term)

# (scenario, site state, fault served instead of every page)
STEPS = [
    ("baseline", clinic.BASE, None),
    ("noise only", clinic.NOISE, None),
    ("condition added to the menu only", clinic.MENU_ONLY, None),
    ("new treatment page", clinic.NEW_PAGE, None),
    ("red-flag sentence added", clinic.RED_FLAG, None),
    ("blocked crawl (challenge pages)", clinic.RED_FLAG, "blocked"),
    ("recovery after the block", clinic.RED_FLAG, None),
    ("5xx burst (+ soft 404, empty 200)", clinic.RED_FLAG, "errors"),
    ("recovery after the errors", clinic.RECOVERED, None),
    ("page gone, first crawl", clinic.PAGE_GONE_1, None),
    ("page gone, second crawl", clinic.PAGE_GONE_2, None),
    ("claim removed from a page", clinic.CLAIM_REMOVED, None),
]
EXPECTED: dict[str, set[FlagKey]] = {
    "condition added to the menu only": {("new_therapy", "condition", "stroke")},
    "new treatment page": {("new_therapy", "condition", "autism_spectrum_disorder"),
                           ("new_therapy", "cell_type", "cord_blood")},
    "red-flag sentence added": {("new_red_flag", "red_flag", "cure_reverse_claim")},
    "page gone, second crawl": {("claim_removed", "red_flag", "success_rate_statistic")},
    "claim removed from a page": {("claim_removed", "red_flag", "regulatory_legitimacy")},
}
MS_PAGE = "/treatments/ms.html"


@dataclass
class Step:
    crawl: dict
    flags: list[dict]
    changes: list[dict]
    active: set[tuple[str, str, str]]
    removed: set[tuple[str, str, str]]

    @property
    def flag_keys(self) -> set[FlagKey]:
        return {(f["kind"], f["claim_kind"], f["term"]) for f in self.flags}


def challenge(handler):
    return 403, {"Content-Type": "text/html", "Server": "cloudflare", "cf-mitigated": "challenge"}, (
        b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
        b"<h1>Verify you are human</h1><p>Checking your browser before accessing the site.</p></body></html>")


def failing(status: int):
    return lambda handler: (status, {"Content-Type": "text/html"}, f"<h1>Error {status}</h1>".encode())


def install_fault(site: LocalSite, archive: Archive, state: clinic.State, fault: str) -> None:
    """Serve the fault for every page the site has or had, robots.txt included."""
    paths = {urlsplit(u).path for (u,) in archive.conn.execute("SELECT url FROM pages")}
    paths |= {"/" + p.removesuffix("index.html") for p in clinic.pages(state)} | {"/robots.txt"}
    for i, path in enumerate(sorted(paths)):
        if fault == "blocked":
            site.routes[path] = challenge
        elif path == "/faq.html":  # a 200 that says "not found"
            site.routes[path] = lambda h: (200, {"Content-Type": "text/html"},
                                           b"<html><title>Page not found</title><h1>Page not found</h1></html>")
        elif path == "/prices.html":  # an empty 200
            site.routes[path] = lambda h: (200, {"Content-Type": "text/html"}, b"<html><body></body></html>")
        else:
            site.routes[path] = failing((500, 502, 503, 504)[i % 4])


def read_step(archive: Archive, summary: dict) -> Step:
    conn = archive.conn
    crawl_id = summary["id"]
    cur = conn.execute("SELECT * FROM flags WHERE crawl_id = ? ORDER BY id", (crawl_id,))
    flags = [dict(zip([d[0] for d in cur.description], r)) for r in cur]
    cur = conn.execute("SELECT c.*, p.url FROM changes c JOIN pages p ON p.id = c.page_id WHERE c.crawl_id = ?",
                       (crawl_id,))
    changes = [dict(zip([d[0] for d in cur.description], r)) for r in cur]
    claims = conn.execute("SELECT kind, term, role, status FROM site_claims").fetchall()
    return Step(summary, flags, changes, {c[:3] for c in claims if c[3] == "active"},
                {c[:3] for c in claims if c[3] == "removed"})


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    root = tmp_path_factory.mktemp("harbor")
    archive = Archive(str(root / "scenario.db"))
    steps: dict[str, Step] = {}
    with LocalSite(write_site(root / "step-0", clinic.pages(clinic.BASE))) as site:
        add_site(archive, "harbor", site.url)
        for i, (name, state, fault) in enumerate(STEPS):
            site.set_root(write_site(root / f"step-{i}", clinic.pages(state)))
            site.routes.clear()
            if fault:
                install_fault(site, archive, state, fault)
            summary = run_crawl(archive.path, "harbor")
            assert summary["status"] == "finished", summary
            assert "crawl_end_error" not in summary, summary
            steps[name] = read_step(archive, summary)
        yield archive, steps, site.url
    archive.close()


def test_flags_per_scenario_precision_and_recall(scenario):
    _, steps, _ = scenario
    print("\nflags raised per scenario (expected):")
    raised = expected = hits = 0
    for name, _, _ in STEPS:
        got, want = steps[name].flag_keys, EXPECTED.get(name, set())
        print(f"  {name:<38} {len(steps[name].flags)} ({len(want)})  " + ", ".join(sorted(" ".join(k) for k in got)))
        raised += len(steps[name].flags)
        expected += len(want)
        hits += len(got & want)
    print(f"  recall {hits}/{expected}, precision {hits}/{raised}")
    assert {n: steps[n].flag_keys for n, _, _ in STEPS} == {n: EXPECTED.get(n, set()) for n, _, _ in STEPS}
    assert hits == expected == raised


def test_baseline_records_claims_and_raises_nothing(scenario):
    archive, steps, _ = scenario
    first = steps["baseline"]
    assert archive.site("harbor")["baseline_crawl_id"] == first.crawl["id"]
    assert first.flags == [] and first.changes == []
    assert ("condition", "multiple_sclerosis", "offered") in first.active
    assert ("red_flag", "regulatory_legitimacy", "offered") in first.active


def test_noise_only_makes_no_change(scenario):
    _, steps, _ = scenario
    noise = steps["noise only"]
    assert noise.crawl["new_versions"] >= 6  # every page's bytes changed...
    assert noise.changes == [] and noise.flags == []  # ...and nothing did


def test_menu_only_condition_and_new_page(scenario):
    _, steps, url = scenario
    [stroke] = steps["condition added to the menu only"].flags
    assert stroke["priority"] == "high" and stroke["evidence"] == "Stroke"
    new_page = steps["new treatment page"]
    autism = next(f for f in new_page.flags if f["claim_kind"] == "condition")
    # The menu item on the home page came first; the flag points at the page that offers the therapy.
    assert autism["url"] == url + "/treatments/autism.html"
    assert "We treat autism" in autism["evidence"]
    assert json.loads(autism["detail"])["cell_types"] == ["cord_blood"]
    assert json.loads(autism["detail"])["routes"] == ["intravenous"]
    change = next(c for c in new_page.changes if c["id"] == autism["change_id"])
    assert change["kind"] == "new_page" and change["from_version_id"] is None


def test_red_flag_sentence(scenario):
    _, steps, url = scenario
    [flag] = steps["red-flag sentence added"].flags
    assert flag["url"] == url + "/about.html" and "cure" in flag["evidence"]
    [change] = [c for c in steps["red-flag sentence added"].changes if c["id"] == flag["change_id"]]
    assert ["red_flag", "cure_reverse_claim", "offered"] in json.loads(change["claims_added"])
    assert change["score"] >= 0.8


@pytest.mark.parametrize("fault, after", [("blocked crawl (challenge pages)", "recovery after the block"),
                                          ("5xx burst (+ soft 404, empty 200)", "recovery after the errors")])
def test_bad_crawls_change_and_remove_nothing(scenario, fault, after):
    archive, steps, _ = scenario
    before = steps["red-flag sentence added"].active
    for name in (fault, after):
        assert steps[name].flags == [] and steps[name].changes == [], name
        assert steps[name].active == before and steps[name].removed == set(), name
    qualities = {q for (q,) in archive.conn.execute("SELECT quality FROM versions WHERE crawl_id = ?",
                                                    (steps[fault].crawl["id"],))}
    if fault.startswith("blocked"):
        assert qualities == {"blocked"}
        assert archive.crawl(steps[fault].crawl["id"])["blocked"] >= 7
    else:
        assert qualities == {"error", "soft_404", "empty"}


def test_page_removed_only_after_two_crawls(scenario):
    archive, steps, url = scenario
    once, twice = steps["page gone, first crawl"], steps["page gone, second crawl"]
    assert once.flags == [] and not [c for c in once.changes if c["kind"] == "removed"]
    assert ("cell_type", "umbilical_cord", "offered") in once.active  # still carried by the gone page
    [removal] = [c for c in twice.changes if c["kind"] == "removed"]
    assert removal["url"] == url + MS_PAGE
    assert ("cell_type", "umbilical_cord", "offered") in twice.removed
    assert ("condition", "multiple_sclerosis", "offered") in twice.active  # still said on other pages
    [flag] = twice.flags
    assert flag["priority"] == "low" and flag["change_id"] == removal["id"]
    assert "80% success rate" in flag["evidence"]


def test_claim_removed(scenario):
    _, steps, url = scenario
    [flag] = steps["claim removed from a page"].flags
    assert flag["kind"] == "claim_removed" and flag["url"] == url + "/about.html"
    assert "good manufacturing practice" in flag["evidence"]
    assert ("red_flag", "regulatory_legitimacy", "offered") in steps["claim removed from a page"].removed


# ---- re-extraction ----------------------------------------------------------------------------------------

def snapshot(archive: Archive) -> dict:
    conn = archive.conn
    return {
        "flags": conn.execute("SELECT id, site_id, kind, claim_kind, term, role, variant, evidence, url, version_id, "
                              "change_id, crawl_id, detected_at, priority, status, detail, retracted_at FROM flags "
                              "ORDER BY id").fetchall(),
        "changes": conn.execute("SELECT * FROM changes ORDER BY id").fetchall(),
        "site_claims": conn.execute("SELECT site_id, kind, term, role, first_seen, last_seen, first_version_id, "
                                    "last_version_id, status, removed_at, evidence, url FROM site_claims "
                                    "ORDER BY kind, term, role").fetchall(),
    }


@pytest.fixture
def copy_of(scenario, tmp_path):
    archive = scenario[0]
    archive.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(archive.path, tmp_path / "copy.db")
    copy = Archive(str(tmp_path / "copy.db"))
    yield copy
    copy.close()


def test_reextract_reproduces_flags_changes_and_timeline(copy_of):
    from storage.analysis import reextract_all

    before = snapshot(copy_of)
    assert reextract_all(copy_of) > 0
    assert snapshot(copy_of) == before


def test_vocabulary_change_retracts_but_keeps_flags(copy_of, monkeypatch):
    import yaml

    import crawler.claims
    from crawler.claims.vocab import VOCAB_PATH, compile_vocabulary
    from storage.analysis import reextract_all

    before = snapshot(copy_of)
    data = yaml.safe_load(Path(VOCAB_PATH).read_text())
    del data["conditions"]["stroke"]
    smaller = compile_vocabulary(data, "no-stroke")
    monkeypatch.setattr(crawler.claims, "load_vocabulary", lambda *a: smaller)
    reextract_all(copy_of)
    flags = {f[0]: f for f in snapshot(copy_of)["flags"]}
    assert len(flags) == len(before["flags"])  # never lost
    stroke = [f for f in flags.values() if f[4] == "stroke"]
    assert len(stroke) == 1 and stroke[0][-1] is not None  # retracted, kept
    assert all(f[-1] is None for f in flags.values() if f[4] != "stroke")
    assert not copy_of.conn.execute("SELECT 1 FROM site_claims WHERE term = 'stroke'").fetchone()
    monkeypatch.undo()
    reextract_all(copy_of)  # the original vocabulary again: exactly the original rows
    assert snapshot(copy_of) == before


# ---- the review commands on the scenario's archive ----------------------------------------------------------

def cli(*args: str, db: str) -> tuple[int, str]:
    from crawler.cli import cli as group

    result = CliRunner().invoke(group, [*args, "--db", db])
    return result.exit_code, result.output


def test_review_commands(copy_of):
    db = copy_of.path
    code, out = cli("flags", "--json", db=db)
    assert code == 0
    queue = json.loads(out)
    assert len(queue) == sum(len(v) for v in EXPECTED.values())
    assert [f["priority"] for f in queue] == sorted((f["priority"] for f in queue),
                                                    key=["high", "normal", "low"].index)
    autism = next(f for f in queue if f["term"] == "autism_spectrum_disorder")
    code, out = cli("flags", "show", str(autism["id"]), db=db)
    assert code == 0 and "We treat autism" in out and "products  cord_blood" in out and "+++" in out
    code, out = cli("flags", "confirm", str(autism["id"]), "--note", "checked", "--reviewer", "ana", db=db)
    assert code == 0 and "open -> confirmed" in out
    code, out = cli("flags", "dismiss", str(autism["id"]), "--reviewer", "ben", db=db)
    assert code == 0 and "confirmed -> dismissed" in out
    code, out = cli("flags", "list", "--status", "dismissed", "--format", "csv", db=db)
    assert code == 0 and out.splitlines()[0].startswith("id,priority,status") and len(out.splitlines()) == 2
    code, out = cli("flags", "reopen", str(autism["id"]), db=db)
    assert code == 0 and "dismissed -> open" in out
    reviews = copy_of.conn.execute("SELECT reviewer, action, note FROM reviews ORDER BY id").fetchall()
    assert reviews[:2] == [("ana", "confirm", "checked"), ("ben", "dismiss", None)] and len(reviews) == 3
    shown = json.loads(cli("flags", "show", str(autism["id"]), "--json", db=db)[1])
    assert shown["status"] == "open" and [r["action"] for r in shown["reviews"]] == ["confirm", "dismiss", "reopen"]
    import sqlite3

    with pytest.raises(sqlite3.IntegrityError):  # append-only, enforced by the schema
        copy_of.conn.execute("UPDATE reviews SET note = 'edited'")
    with pytest.raises(sqlite3.IntegrityError):
        copy_of.conn.execute("DELETE FROM flags")
    for args in (["flags", "show", "999"], ["flags", "reopen", str(autism["id"])], ["flags", "--since", "yesterday"],
                 ["flags", "--site", "nobody"], ["diff", "http://nowhere.example/"]):
        code, out = cli(*args, db=db)
        assert code != 0 and "Error:" in out and "Traceback" not in out, (args, out)


def test_changes_and_diff_commands(copy_of, scenario):
    db, url = copy_of.path, scenario[2]
    code, out = cli("changes", "--site", "harbor", "--json", db=db)
    rows = json.loads(out)
    assert code == 0 and {r["kind"] for r in rows} == {"new_page", "edit", "removed"}
    code, out = cli("diff", url + "/about.html", db=db)
    assert code == 0 and "-Our stem cell laboratory follows good manufacturing practice (GMP)." in out
    assert "- red_flag regulatory_legitimacy offered" in out
    first = copy_of.conn.execute("SELECT min(v.id) FROM versions v JOIN pages p ON p.id = v.page_id "
                                 "WHERE p.url = ?", (url + "/about.html",)).fetchone()[0]
    code, out = cli("diff", url + "/about.html", "--from", str(first), "--json", db=db)
    result = json.loads(out)
    assert "red_flag cure_reverse_claim offered" in result["claims_added"]
    assert not any("‹date›" in line and line[0] in "+-" for line in result["text"][2:])  # dates are noise
    code, out = cli("diff", url + "/about.html", "--from", "2020-01-01", db=db)
    assert code != 0 and "no readable version" in out
