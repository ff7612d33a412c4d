"""The built-in demo clinic, v1 -> v2: exactly the expected flags, and no change row for noise-only pages."""

from __future__ import annotations

import json

from crawler.crawls import run_crawl
from crawler.demo import DEMO_SITE, demo_site_row
from tests.conftest import DEMO

EXPECTED = {
    # the new autism page: the condition, and its product new to the site (intravenous was offered already)
    ("new_therapy", "condition", "autism_spectrum_disorder", ""),
    ("new_therapy", "cell_type", "cord_blood", ""),
    # "FDA registered" on about.html: the site said only "cGMP" before
    ("new_red_flag", "red_flag", "regulatory_legitimacy", "fda"),
}


def test_demo_v1_to_v2_flags(archive, demo_site):
    archive.add_site(demo_site_row(demo_site.url))
    first = run_crawl(archive.path, DEMO_SITE)
    assert first["flags"] == 0 and first["baseline"] is True
    demo_site.set_root(DEMO / "v2")
    second = run_crawl(archive.path, DEMO_SITE)
    assert "crawl_end_error" not in second, second
    flags = archive.conn.execute("SELECT kind, claim_kind, term, variant, url, evidence, detail, priority, crawl_id "
                                 "FROM flags").fetchall()
    print(f"\ndemo v1 -> v2: {len(flags)} flag(s): " + ", ".join(f"{k} {t}" for k, _, t, *_ in flags))
    assert {f[:4] for f in flags} == EXPECTED
    assert {f[8] for f in flags} == {second["id"]} and second["flags"] == 3
    autism = next(f for f in flags if f[2] == "autism_spectrum_disorder")
    assert autism[4] == demo_site.url + "/treatments/autism.html" and autism[7] == "high"
    assert json.loads(autism[6])["cell_types"] == ["cord_blood"]
    assert json.loads(autism[6])["routes"] == ["intravenous"]
    fda = next(f for f in flags if f[0] == "new_red_flag")
    assert "FDA registered" in fda[5] and fda[4].endswith("/about.html")

    changed = {url.removeprefix(demo_site.url) for (url,) in archive.conn.execute(
        "SELECT p.url FROM changes c JOIN pages p ON p.id = c.page_id WHERE c.crawl_id = ?", (second["id"],))}
    assert "/news/open-day.html" not in changed  # dates and session tokens only
    assert {"/treatments/autism.html", "/about.html", "/treatments/multiple-sclerosis.html"} <= changed
    # The MS page's new success rate and permanence claims were said elsewhere on the site already.
    ms = archive.conn.execute("SELECT claims_added FROM changes c JOIN pages p ON p.id = c.page_id "
                              "WHERE p.url LIKE '%multiple-sclerosis%'").fetchone()[0]
    assert ["red_flag", "success_rate_statistic", "offered"] in json.loads(ms)
