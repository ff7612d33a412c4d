"""Page changes, the site claims timeline and flags.

Two entry points run during a crawl, and one replays them:

* ``on_new_version`` (inside the new version's transaction): compare the new ok version with the page's
  previous ok version (a `changes` row unless only noise moved), bring the site's claims up to date, and
  flag a site claim seen for the first time after the site's baseline;
* ``on_crawl_end`` (after the crawl): a page gone (404/410) on two crawls is removed; a site claim no
  longer carried by any live page is removed (a notable one raises a low-priority flag); the first good
  crawl becomes the baseline;
* ``rebuild_site`` replays both over the archive in crawl order after re-extraction, matching flags and
  changes by their natural keys, so the same data gives the same rows and no flag is ever lost.

Only ok captures take part (DESIGN invariant 3): a blocked, failed or empty fetch leaves the page's last ok
version standing, so it can neither change nor remove anything.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from storage.archive import utcnow
from storage.codec import CodecError, parse_claims, read_body
from storage.normalise import PageText, TextDiff, clean_url, diff_blocks
from storage.quality import OK

ClaimKey = tuple[str, str, str]  # (kind, term, role)

NEW_THERAPY, NEW_RED_FLAG, CLAIM_REMOVED = "new_therapy", "new_red_flag", "claim_removed"
FLAG_KINDS = (NEW_THERAPY, NEW_RED_FLAG, CLAIM_REMOVED)
HIGH, NORMAL, LOW = "high", "normal", "low"
THERAPY_KINDS = ("condition", "cell_type", "route")
# Red-flag types an analyst must see first: cures, regulatory legitimacy, success rates, absolute safety.
URGENT_RED_FLAGS = ("cure", "regulatory", "success_rate", "safety_absolute", "fda")
# Disappearing claims worth a (low-priority) look: regulatory language and success rates, offered conditions.
NOTABLE_REMOVED_RED_FLAGS = ("regulatory", "fda", "success_rate")
GONE_STATUSES = (404, 410)
SENTENCE_CHARS = 40  # evidence shorter than this is a label ("Autism" in a menu), not a sentence
# Some red-flag types are told apart by what they invoke: "FDA registered" is news on a site that already
# said "cGMP laboratory", though both are regulatory-legitimacy claims. The first phrase of each family
# seen after the baseline is flagged; the site claim itself stays one row (kind, term, role).
VARIANTS: dict[tuple[str, str], tuple[tuple[str, re.Pattern[str]], ...]] = {
    ("red_flag", "regulatory_legitimacy"): (
        ("fda", re.compile(r"\bfda\b|food and drug", re.I)),
        ("cofepris", re.compile(r"cofepris", re.I)),
        ("government", re.compile(r"government|ministry|health authorit", re.I)),
        ("gmp", re.compile(r"\bc?gmp\b|good manufacturing", re.I)),
        ("accreditation", re.compile(r"accredit|certif|\biso\b|aatb|joint commission", re.I)),
    ),
}


# ---- reading the archive ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Version:
    id: int
    page_id: int
    site_id: int
    url: str
    crawl_id: int | None
    first_seen: str
    last_seen: str
    digest: str
    text: str | None
    quality: str
    extractor: str | None

    @property
    def analysed(self) -> bool:
        return self.quality == OK and self.extractor is not None


@dataclass(frozen=True)
class ClaimRow:
    kind: str
    term: str
    role: str
    evidence: str
    section: str | None
    zone: str | None
    start: int | None
    end: int | None
    detail: dict | None
    phrase: str = ""  # the words matched, read from the version text

    @property
    def key(self) -> ClaimKey:
        return (self.kind, self.term, self.role)

    @property
    def variant(self) -> str:
        families = VARIANTS.get((self.kind, self.term))
        if not families:
            return ""
        said = self.phrase or self.evidence
        return next((name for name, rx in families if rx.search(said)), "other")

    @property
    def in_body(self) -> bool:
        return self.zone in (None, "main")

    @property
    def rank(self) -> tuple:
        """Lower is better evidence: the page body over menus and footers, a sentence over a label, then
        earlier on the page."""
        return (not self.in_body, len(self.evidence) < SENTENCE_CHARS, self.start or 0)


_VERSION_SQL = ("SELECT v.id, v.page_id, p.site_id, p.url, v.crawl_id, v.first_seen, v.last_seen, v.digest, "
                "unpack_text(v.text_z), v.quality, v.extractor FROM versions v JOIN pages p ON p.id = v.page_id")
# A version takes part when it is ok and was read by the extractor (HTML); a PDF is ok but has no text.
_ANALYSED = "v.quality = 'ok' AND v.extractor IS NOT NULL"


def load_version(conn: sqlite3.Connection, version_id: int) -> Version:
    return Version(*conn.execute(_VERSION_SQL + " WHERE v.id = ?", (version_id,)).fetchone())


def previous_ok(conn: sqlite3.Connection, version: Version) -> Version | None:
    """The page's last ok version before this one; for a page new to the archive, the last ok version of
    the same page under another URL that differs only by cache-busting or session parameters."""
    row = conn.execute(_VERSION_SQL + f" WHERE v.page_id = ? AND v.id < ? AND {_ANALYSED} ORDER BY v.id DESC "
                       "LIMIT 1", (version.page_id, version.id)).fetchone()
    if row:
        return Version(*row)
    if conn.execute("SELECT EXISTS(SELECT 1 FROM versions WHERE page_id = ? AND id < ?)",
                    (version.page_id, version.id)).fetchone()[0]:
        return None  # not new: seen before, just never readable
    base = version.url.split("?", 1)[0]
    twins = [pid for pid, url in conn.execute(
        "SELECT id, url FROM pages WHERE site_id = ? AND id != ? AND substr(url, 1, ?) = ?",
        (version.site_id, version.page_id, len(base), base)) if clean_url(url) == clean_url(version.url)]
    if not twins:
        return None
    row = conn.execute(_VERSION_SQL + f" WHERE v.page_id IN ({','.join('?' * len(twins))}) AND v.id < ? "
                       f"AND {_ANALYSED} ORDER BY v.id DESC LIMIT 1", (*twins, version.id)).fetchone()
    return Version(*row) if row else None


def claims_of(conn: sqlite3.Connection, version_id: int) -> list[ClaimRow]:
    """A version's claims in reading order, each with the phrase it matched cut from the version's text."""
    row = conn.execute("SELECT unpack_claims(vc.data), unpack_text(v.text_z) FROM version_claims vc "
                       "JOIN versions v ON v.id = vc.version_id WHERE vc.version_id = ?", (version_id,)).fetchone()
    if row is None:
        return []
    text = row[1] or ""
    return [ClaimRow(*c, phrase=text[c[6]:c[7]] if c[6] is not None and c[7] is not None else "")
            for c in parse_claims(row[0], text)]


def best_claims(claims: list[ClaimRow], by_variant: bool = False) -> dict:
    """One claim per (kind, term, role), or per ((kind, term, role), variant): the best evidence."""
    best: dict = {}
    for claim in claims:
        k = (claim.key, claim.variant) if by_variant else claim.key
        if k not in best or claim.rank < best[k].rank:
            best[k] = claim
    return best


def body_of(conn: sqlite3.Connection, digest: str) -> bytes:
    try:
        return read_body(conn, digest)
    except CodecError:
        return b""  # missing or damaged: `stemwatch check` reports it; a diff goes on without the links


def site_of(conn: sqlite3.Connection, site_id: int) -> dict:
    cur = conn.execute("SELECT id, name, start_urls, baseline_crawl_id FROM sites WHERE id = ?", (site_id,))
    return dict(zip([d[0] for d in cur.description], cur.fetchone()))


# ---- one page: what changed ------------------------------------------------------------------------------

@dataclass
class PageChange:
    kind: str  # 'new_page' | 'edit' | 'removed'
    text: TextDiff
    added: list[ClaimKey]
    removed: list[ClaimKey]
    score: float
    detail: dict


def compare(conn: sqlite3.Connection, old: Version | None, new: Version, home: bool,
            after: str | None = None) -> PageChange | None:
    """The change from `old` (the previous ok version, None for a new page) to `new`; None if only noise."""
    new_page = PageText.of(new.text, body_of(conn, new.digest), new.url)
    old_page = PageText.of(old.text, body_of(conn, old.digest), old.url) if old else PageText([], [])
    new_claims = claims_of(conn, new.id)
    old_claims = claims_of(conn, old.id) if old else []
    text = diff_blocks(old_page, new_page)
    before, now = {c.key for c in old_claims}, {c.key for c in new_claims}
    added, removed = sorted(now - before), sorted(before - now)
    if old is not None and not text and not added and not removed:
        return None
    terms = _terms_in(new_claims, new_page, text.added_at) | _terms_in(old_claims, old_page, text.removed_at)
    links_added = sorted(new_page.links - old_page.links) if old else []
    links_removed = sorted(old_page.links - new_page.links) if old else []
    parts = score_parts(added + removed, len(terms), len(links_added) + len(links_removed), text.longest)
    detail = {"blocks_added": text.added, "blocks_removed": text.removed, "terms": sorted(terms),
              "links_added": links_added, "links_removed": links_removed, "home": home, "parts": parts}
    if after and after != OK:
        detail["after"] = after  # an error→ok flip: compared with the last ok version, not the bad capture
    return PageChange("edit" if old else "new_page", text, added, removed,
                      combine(parts, home, bool(added or removed)), detail)


def _terms_in(claims: list[ClaimRow], page: PageText, blocks: list[int]) -> set[str]:
    """Vocabulary terms (any role) that sit inside the changed blocks."""
    spans = [page.span(i) for i in blocks]
    return {f"{c.kind}:{c.term}" for c in claims if c.start is not None and any(a <= c.start < b for a, b in spans)}


def score_parts(claims: list[ClaimKey], terms: int, links: int, longest: int) -> dict[str, float]:
    """In the spirit of EDGI's web-monitoring task sheets: claims weigh most, then key terms of the
    vocabulary, then links, then the size of the longest change."""
    notable = any(k in THERAPY_KINDS and r == "offered" or k == "red_flag" and r != "excluded"
                  for k, _, r in claims)
    return {
        "claims": 0.0 if not claims else min(1.0, (0.8 if notable else 0.5) + 0.05 * (len(claims) - 1)),
        "terms": min(0.4, 0.1 * terms),
        "links": min(0.2, 0.04 * links),
        "size": min(0.25, longest / 2000),
    }


def combine(parts: dict[str, float], home: bool, claims_changed: bool) -> float:
    rest = 1.0
    for value in parts.values():
        rest *= 1 - value
    score = 1 - rest
    if home:
        # A home page churns with news and promotions; what it claims, though, every visitor reads.
        score = min(1.0, score * 1.2) if claims_changed else score * 0.5
    return round(score, 3)


# ---- flags and the site claims timeline ------------------------------------------------------------------

@dataclass
class Replay:
    """Rows a rebuild reproduced; the others are retracted (flags) or dropped (changes)."""

    flags: set[int] = field(default_factory=set)
    changes: set[int] = field(default_factory=set)


def flaggable(key: ClaimKey) -> tuple[str, str] | None:
    """(flag kind, priority) for a site claim seen for the first time after the baseline, or None."""
    kind, term, role = key
    if kind in THERAPY_KINDS and role == "offered":
        return NEW_THERAPY, HIGH if kind == "condition" else NORMAL
    if kind == "red_flag" and role == "offered":
        return NEW_RED_FLAG, HIGH if any(w in term for w in URGENT_RED_FLAGS) else NORMAL
    return None


def notable_removal(key: ClaimKey) -> bool:
    kind, term, role = key
    if role != "offered":
        return False
    if kind == "condition":
        return True
    # Statistics are left out: a success-rate sentence also carries the red flag, one flag is enough.
    return kind == "red_flag" and any(w in term for w in NOTABLE_REMOVED_RED_FLAGS)


def after_baseline(site: dict, crawl_id: int | None) -> bool:
    return site["baseline_crawl_id"] is not None and crawl_id is not None and crawl_id > site["baseline_crawl_id"]


def _known_at_baseline(conn: sqlite3.Connection, page_id: int, baseline: int) -> bool:
    """Was the page already fetched (even blocked or failing) by the baseline crawl? Its first readable
    version then shows what the page said all along, not something new."""
    return bool(conn.execute(
        "SELECT EXISTS(SELECT 1 FROM versions WHERE page_id = ? AND crawl_id <= ?) "
        "OR EXISTS(SELECT 1 FROM captures WHERE page_id = ? AND crawl_id <= ?)",
        (page_id, baseline, page_id, baseline)).fetchone()[0])


@dataclass
class PageOffer:
    """The products and routes a page offers in its body: the context of each new condition on it."""

    cell_types: list[str]
    routes: list[str]

    @classmethod
    def of(cls, page_claims: list[ClaimRow]) -> PageOffer:
        offered = [c for c in page_claims if c.role == "offered" and c.in_body]
        return cls(sorted({c.term for c in offered if c.kind == "cell_type"}),
                   sorted({c.term for c in offered if c.kind == "route"}))


def therapy_detail(claim: ClaimRow, offer: PageOffer) -> dict:
    """What else the same page offers with a new condition (its products and routes, where it says), and
    how good the evidence is: a sentence in the page body on a page that offers a product or route beats
    a menu label seen on another page first."""
    therapy_page = bool(offer.cell_types or offer.routes)
    quality = 4 * claim.in_body + 2 * (len(claim.evidence) >= SENTENCE_CHARS) + therapy_page
    detail: dict = {"zone": claim.zone, "section": claim.section, "quality": quality}
    if claim.detail:
        detail["claim"] = claim.detail
    if claim.kind == "condition" and claim.in_body:
        detail["cell_types"] = list(offer.cell_types)
        detail["routes"] = list(offer.routes)
    return detail


def raise_flag(conn: sqlite3.Connection, *, site_id: int, kind: str, claim: ClaimKey, evidence: str | None,
               url: str | None, version_id: int | None, change_id: int | None, crawl_id: int | None,
               detected_at: str, priority: str, detail: dict, replay: Replay | None, variant: str = "") -> int:
    """Insert a flag, or (in a rebuild) refresh the one with the same natural key: the first appearance of a
    site claim (or of a variant of it), or a removal in one crawl. Reviews stay attached to the flag id."""
    sql = ("SELECT id FROM flags WHERE site_id = ? AND kind = ? AND claim_kind = ? AND term = ? AND role = ? "
           "AND variant = ?")
    args: list = [site_id, kind, *claim, variant]
    if kind == CLAIM_REMOVED:
        sql += " AND crawl_id IS ?"
        args.append(crawl_id)
    row = conn.execute(sql + " ORDER BY id LIMIT 1", args).fetchone()
    values = (evidence, url, version_id, change_id, crawl_id, detected_at, priority,
              json.dumps(detail, sort_keys=True))
    if row:
        conn.execute("UPDATE flags SET evidence = ?, url = ?, version_id = ?, change_id = ?, crawl_id = ?, "
                     "detected_at = ?, priority = ?, detail = ?, retracted_at = NULL WHERE id = ?",
                     (*values, row[0]))
        flag_id = int(row[0])
    else:
        cur = conn.execute(
            "INSERT INTO flags(evidence, url, version_id, change_id, crawl_id, detected_at, priority, detail, "
            "site_id, kind, claim_kind, term, role, variant, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')", (*values, *args[:6]))
        flag_id = int(cur.lastrowid)
    if replay is not None:
        replay.flags.add(flag_id)
    return flag_id


def _store_change(conn: sqlite3.Connection, page_id: int, from_id: int | None, to_id: int, crawl_id: int | None,
                  detected_at: str, change: PageChange, replay: Replay | None) -> int:
    """Upsert by (page, from, to, kind), so a rebuild keeps the ids flags point at."""
    values = (crawl_id, detected_at, len(change.text.added), len(change.text.removed),
              json.dumps([list(k) for k in change.added]), json.dumps([list(k) for k in change.removed]),
              change.score, summarise(change), json.dumps(change.detail, sort_keys=True, ensure_ascii=False))
    row = conn.execute("SELECT id FROM changes WHERE page_id = ? AND from_version_id IS ? AND to_version_id = ? "
                       "AND kind = ?", (page_id, from_id, to_id, change.kind)).fetchone()
    if row:
        conn.execute("UPDATE changes SET crawl_id = ?, detected_at = ?, text_added = ?, text_removed = ?, "
                     "claims_added = ?, claims_removed = ?, score = ?, summary = ?, detail = ? WHERE id = ?",
                     (*values, row[0]))
        change_id = int(row[0])
    else:
        cur = conn.execute(
            "INSERT INTO changes(crawl_id, detected_at, text_added, text_removed, claims_added, claims_removed, "
            "score, summary, detail, page_id, from_version_id, to_version_id, kind) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (*values, page_id, from_id, to_id, change.kind))
        change_id = int(cur.lastrowid)
    if replay is not None:
        replay.changes.add(change_id)
    return change_id


def summarise(change: PageChange, most: int = 6) -> str:
    parts = []
    if change.kind != "edit":
        parts.append(change.kind.replace("_", " "))
    claims = [f"+{' '.join(k)}" for k in change.added] + [f"-{' '.join(k)}" for k in change.removed]
    parts += claims[:most] + ([f"... {len(claims) - most} more claim(s)"] if len(claims) > most else [])
    if change.text:
        parts.append(f"{len(change.text.added)} block(s) added, {len(change.text.removed)} removed")
    return "; ".join(parts)


def on_new_version(conn: sqlite3.Connection, version_id: int, replay: Replay | None = None) -> int | None:
    """After a new version's claims are stored: record its change, update the timeline, raise flags.
    Returns the change id, if the version changed anything."""
    new = load_version(conn, version_id)
    if not new.analysed:
        return None  # not ok, or not HTML: nothing was read from it
    site = site_of(conn, new.site_id)
    old = previous_ok(conn, new)
    just_before = conn.execute("SELECT quality FROM versions WHERE page_id = ? AND id < ? ORDER BY id DESC LIMIT 1",
                               (new.page_id, new.id)).fetchone()
    flagging = after_baseline(site, new.crawl_id)
    if flagging and old is None and _known_at_baseline(conn, new.page_id, site["baseline_crawl_id"]):
        flagging = False  # readable at last, not new: the baseline could not read it
    change_id = None
    # Before the baseline every page is "new": their first versions make no change rows.
    if old is not None or flagging:
        change = compare(conn, old, new, is_home(new.url, site), just_before[0] if just_before else None)
        if change is not None:
            change_id = _store_change(conn, new.page_id, old.id if old else None, new.id, new.crawl_id,
                                      new.first_seen, change, replay)
    page_claims = claims_of(conn, new.id)
    offer = PageOffer.of(page_claims)
    # Only a crawl after the baseline raises flags, so only then can one of this crawl's flags need better
    # evidence; the baseline crawl skips that lookup for every claim of every page.
    upgrades = after_baseline(site, new.crawl_id)
    variants_of: dict[ClaimKey, dict[str, ClaimRow]] = {}
    for (key, variant), claim in best_claims(page_claims, by_variant=True).items():
        if variant:
            variants_of.setdefault(key, {})[variant] = claim
    for key, claim in sorted(best_claims(page_claims).items()):
        is_new = _observe(conn, site, new, claim)
        variants = variants_of.get(key)
        if variants:
            first = _first_time_variants(conn, site["id"], key, set(variants))
            for variant, vclaim in sorted(variants.items()):
                _flag_or_upgrade(conn, site, new, vclaim, offer, change_id,
                                 flagging and variant in first, upgrades, replay, variant)
        else:
            _flag_or_upgrade(conn, site, new, claim, offer, change_id, flagging and is_new, upgrades, replay)
    return change_id


def _observe(conn: sqlite3.Connection, site: dict, version: Version, claim: ClaimRow) -> bool:
    """One claim of a new ok version on the site's timeline; True when the site never said it before.
    Evidence from the page body replaces a menu item seen earlier in the same crawl."""
    # One statement a claim (this runs for every claim of every new version). The SET expressions read the
    # row as it was: body evidence found in the crawl that first saw the claim replaces a menu item's.
    (first_version,) = conn.execute(
        "INSERT INTO site_claims(site_id, kind, term, role, first_seen, last_seen, first_version_id, "
        "last_version_id, status, evidence, url, zone, first_crawl_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?) "
        "ON CONFLICT(site_id, kind, term, role) DO UPDATE SET status = 'active', removed_at = NULL, "
        "removed_crawl_id = NULL, last_version_id = excluded.last_version_id, "
        "last_seen = max(last_seen, excluded.last_seen), "
        f"evidence = CASE WHEN {_BETTER} THEN excluded.evidence ELSE evidence END, "
        f"url = CASE WHEN {_BETTER} THEN excluded.url ELSE url END, "
        f"zone = CASE WHEN {_BETTER} THEN excluded.zone ELSE zone END "
        "RETURNING first_version_id",
        (site["id"], *claim.key, version.first_seen, version.last_seen, version.id, version.id,
         claim.evidence, version.url, claim.zone, version.crawl_id)).fetchone()
    return first_version == version.id


# The stored evidence came from a menu, footer or sidebar, the new one from the page body, in the same crawl.
_BETTER = ("(first_crawl_id IS excluded.first_crawl_id AND zone IS NOT NULL AND zone != 'main' "
           "AND coalesce(excluded.zone, 'main') = 'main')")


def _first_time_variants(conn: sqlite3.Connection, site_id: int, key: ClaimKey, variants: set[str]) -> set[str]:
    """Which of these phrase families the site says for the first time. One index probe per variant:
    scanning the site's earlier claims instead grows with the archive (measured: 3 s a call at 1,100
    versions)."""
    first = set()
    for variant in sorted(variants):
        cur = conn.execute("INSERT OR IGNORE INTO site_claim_variants(site_id, kind, term, role, variant) "
                           "VALUES (?, ?, ?, ?, ?)", (site_id, *key, variant))
        if cur.rowcount:
            first.add(variant)
    return first


def _flag_or_upgrade(conn: sqlite3.Connection, site: dict, version: Version, claim: ClaimRow,
                     offer: PageOffer, change_id: int | None, new: bool, upgrades: bool, replay: Replay | None,
                     variant: str = "") -> None:
    """Raise the flag for a claim new to the site; or, for one first flagged earlier in this same crawl
    from a menu or footer, point the flag at this better evidence (the page that says it)."""
    how = flaggable(claim.key)
    if not how or not (new or upgrades):
        return
    detail = therapy_detail(claim, offer)
    if variant:
        detail |= {"variant": variant, "phrase": claim.phrase}
    if new:
        raise_flag(conn, site_id=site["id"], kind=how[0], claim=claim.key, evidence=claim.evidence,
                   url=version.url, version_id=version.id, change_id=change_id, crawl_id=version.crawl_id,
                   detected_at=version.first_seen, priority=how[1], detail=detail, replay=replay, variant=variant)
        return
    row = conn.execute(
        "SELECT id, detail FROM flags WHERE site_id = ? AND kind = ? AND claim_kind = ? AND term = ? AND role = ? "
        "AND variant = ? AND crawl_id = ?", (site["id"], how[0], *claim.key, variant, version.crawl_id)).fetchone()
    if row and json.loads(row[1] or "{}").get("quality", 0) < detail["quality"]:
        conn.execute("UPDATE flags SET evidence = ?, url = ?, version_id = ?, change_id = ?, detail = ? WHERE id = ?",
                     (claim.evidence, version.url, version.id, change_id, json.dumps(detail, sort_keys=True),
                      row[0]))


def is_home(url: str, site: dict) -> bool:
    starts = json.loads(site["start_urls"]) if isinstance(site["start_urls"], str) else site["start_urls"]
    path = urlsplit(url).path.rstrip("/")
    return path in ("", "/index.html", "/index.php") or any(url.rstrip("/") == s.rstrip("/") for s in starts)


# ---- crawl end -------------------------------------------------------------------------------------------

@dataclass
class CrawlEnd:
    """What crawl-end processing did, for the crawl summary and the notification digest."""

    removed_pages: list[str] = field(default_factory=list)
    removed_claims: list[ClaimKey] = field(default_factory=list)
    baseline: bool = False
    flags: list[int] = field(default_factory=list)


def on_crawl_end(conn: sqlite3.Connection, crawl_id: int, live: bool = True,
                 replay: Replay | None = None) -> CrawlEnd:
    """Run in one transaction after a crawl (or, with live=False, when a rebuild replays it)."""
    crawl = conn.execute("SELECT site_id, started_at, finished_at, status FROM crawls WHERE id = ?",
                         (crawl_id,)).fetchone()
    site_id, started_at, finished_at, status = crawl
    site = site_of(conn, site_id)
    out = CrawlEnd()
    if live:
        out.removed_pages = _detect_removed_pages(conn, site, crawl_id, started_at)
        _count_blocked(conn, crawl_id, started_at)
    out.removed_claims = _retire_site_claims(conn, site, crawl_id, finished_at or started_at, replay)
    if site["baseline_crawl_id"] is None and _good_crawl(conn, crawl_id, status, started_at):
        conn.execute("UPDATE sites SET baseline_crawl_id = ? WHERE id = ?", (crawl_id, site_id))
        out.baseline = True
    out.flags = [r[0] for r in conn.execute("SELECT id FROM flags WHERE crawl_id = ? ORDER BY id", (crawl_id,))]
    return out


def _detect_removed_pages(conn: sqlite3.Connection, site: dict, crawl_id: int, started_at: str) -> list[str]:
    """A page answering 404/410 in this crawl and already in an earlier one (no other answer between:
    the archive clears gone_since on any other status) is removed. Recorded as a 'removed' change, the
    observation a rebuild reads back."""
    rows = conn.execute(
        "SELECT id, url, current_version_id, last_seen FROM pages WHERE site_id = ? AND last_crawl_id = ? "
        f"AND last_status IN ({','.join('?' * len(GONE_STATUSES))}) AND gone_since < ? ORDER BY id",
        (site["id"], crawl_id, *GONE_STATUSES, started_at)).fetchall()
    removed = []
    for page_id, url, current_id, last_seen in rows:
        last_ok = conn.execute(f"SELECT v.id FROM versions v WHERE v.page_id = ? AND {_ANALYSED} "
                               "ORDER BY v.id DESC LIMIT 1", (page_id,)).fetchone()
        if not last_ok or _removed(conn, page_id, last_ok[0], crawl_id):
            continue
        old = load_version(conn, last_ok[0])
        claims = sorted({c.key for c in claims_of(conn, old.id)})
        page = PageText.of(old.text)
        text = TextDiff([], page.blocks, [], list(range(len(page.blocks))))
        parts = score_parts(claims, len(claims), 0, text.longest)
        change = PageChange("removed", text, [], claims, max(0.5, combine(parts, is_home(url, site), True)),
                            {"blocks_removed": page.blocks, "parts": parts})
        _store_change(conn, page_id, old.id, current_id, crawl_id, last_seen, change, None)
        removed.append(url)
    return removed


def _removed(conn: sqlite3.Connection, page_id: int, last_ok_id: int, upto_crawl: int) -> bool:
    return bool(conn.execute(
        "SELECT EXISTS(SELECT 1 FROM changes WHERE page_id = ? AND kind = 'removed' AND from_version_id = ? "
        "AND crawl_id <= ?)", (page_id, last_ok_id, upto_crawl)).fetchone()[0])


def current_claims(conn: sqlite3.Connection, site_id: int, upto_crawl: int) -> dict[ClaimKey, str]:
    """(kind, term, role) -> latest sighting, over the last ok version of every live page as of a crawl."""
    rows = conn.execute(
        f"""WITH last_ok AS (
              SELECT v.page_id, max(v.id) AS vid FROM versions v JOIN pages p ON p.id = v.page_id
              WHERE p.site_id = ? AND {_ANALYSED} AND v.crawl_id <= ? GROUP BY v.page_id),
            live AS (
              SELECT vid FROM last_ok WHERE NOT EXISTS (
                SELECT 1 FROM changes c WHERE c.page_id = last_ok.page_id AND c.kind = 'removed'
                AND c.from_version_id = last_ok.vid AND c.crawl_id <= ?))
            SELECT v.last_seen, unpack_claims(vc.data) FROM live JOIN versions v ON v.id = live.vid
            JOIN version_claims vc ON vc.version_id = live.vid""",
        (site_id, upto_crawl, upto_crawl))
    latest: dict[ClaimKey, str] = {}
    for seen, stored in rows:
        for kind, term, role, *_ in parse_claims(stored):
            key = (kind, term, role)
            if seen > latest.get(key, ""):
                latest[key] = seen
    return latest


def _retire_site_claims(conn: sqlite3.Connection, site: dict, crawl_id: int, at: str,
                        replay: Replay | None) -> list[ClaimKey]:
    current = current_claims(conn, site["id"], crawl_id)
    removed = []
    rows = conn.execute("SELECT id, kind, term, role, status FROM site_claims WHERE site_id = ? "
                        "ORDER BY kind, term, role", (site["id"],)).fetchall()
    for sc_id, kind, term, role, status in rows:
        key = (kind, term, role)
        if key in current:
            conn.execute("UPDATE site_claims SET last_seen = max(last_seen, ?) WHERE id = ?", (current[key], sc_id))
            continue
        if status != "active":
            continue
        conn.execute("UPDATE site_claims SET status = 'removed', removed_at = ?, removed_crawl_id = ? WHERE id = ?",
                     (at, crawl_id, sc_id))
        removed.append(key)
        if after_baseline(site, crawl_id) and notable_removal(key):
            _flag_removal(conn, site, key, crawl_id, at, replay)
    return removed


def _flag_removal(conn: sqlite3.Connection, site: dict, key: ClaimKey, crawl_id: int, at: str,
                  replay: Replay | None) -> None:
    """The change of this crawl that dropped the claim carries the evidence: the sentence that was there."""
    rows = conn.execute(
        "SELECT c.id, c.from_version_id, c.to_version_id, c.detected_at, p.url FROM changes c "
        "JOIN pages p ON p.id = c.page_id WHERE p.site_id = ? AND c.crawl_id = ? AND c.from_version_id IS NOT NULL "
        "ORDER BY c.id", (site["id"], crawl_id)).fetchall()
    evidence, url, version_id, change_id, detected_at = None, None, None, None, at
    detail: dict = {}
    for cid, from_id, to_id, when, page_url in rows:
        # Read the claims again rather than the change row's list: a rebuild may have new claims.
        old = best_claims(claims_of(conn, from_id)).get(key)
        if old and key not in {c.key for c in claims_of(conn, to_id)}:
            change_id, version_id, detected_at, url, evidence = cid, to_id, when, page_url, old.evidence
            detail = {"zone": old.zone, "section": old.section, "was_in_version": from_id}
            break
    raise_flag(conn, site_id=site["id"], kind=CLAIM_REMOVED, claim=key, evidence=evidence, url=url,
               version_id=version_id, change_id=change_id, crawl_id=crawl_id, detected_at=detected_at,
               priority=LOW, detail=detail, replay=replay)


def _good_crawl(conn: sqlite3.Connection, crawl_id: int, status: str, started_at: str) -> bool:
    """A baseline must have read the site: finished, some ok page, and fewer bad fetches than good ones."""
    if status != "finished":
        return False
    rows = conn.execute(
        "SELECT p.last_status, v.quality, v.status FROM pages p LEFT JOIN versions v ON v.id = p.current_version_id "
        "WHERE p.last_crawl_id = ?", (crawl_id,)).fetchall()
    ok = sum(1 for st, q, _ in rows if st and q == OK)
    bad = sum(1 for st, q, vst in rows if not st or (q in ("blocked", "error") and st == vst
                                                       and st not in GONE_STATUSES))
    return ok > 0 and bad < ok


def _count_blocked(conn: sqlite3.Connection, crawl_id: int, started_at: str) -> None:
    # last_status = v.status: a 304 bumps whatever version is current, which may be an old challenge page.
    conn.execute(
        "UPDATE crawls SET blocked = (SELECT count(*) FROM pages p JOIN versions v ON v.id = p.current_version_id "
        "WHERE p.last_crawl_id = ? AND v.quality = 'blocked' AND v.last_seen >= ? AND p.last_status = v.status) "
        "WHERE id = ?", (crawl_id, started_at, crawl_id))


# ---- rebuild ---------------------------------------------------------------------------------------------

def rebuild_site(conn: sqlite3.Connection, site_id: int) -> Replay:
    """Replay every crawl of a site over its stored versions and claims (after re-extraction).

    Site claims are rebuilt from nothing; changes and flags are matched by natural key and refreshed, so
    ids and reviews survive. A flag the data no longer raises is kept and marked retracted (never
    deleted); a change no longer found is dropped unless a flag points at it. Page removals are
    observations of the crawl that saw them, kept as they are.
    """
    replay = Replay()
    conn.execute("DELETE FROM site_claims WHERE site_id = ?", (site_id,))
    conn.execute("DELETE FROM site_claim_variants WHERE site_id = ?", (site_id,))
    _refresh_removals(conn, site_id)
    crawls = [r[0] for r in conn.execute("SELECT id FROM crawls WHERE site_id = ? ORDER BY id", (site_id,))]
    for crawl_id in crawls:
        versions = conn.execute(
            "SELECT v.id FROM versions v JOIN pages p ON p.id = v.page_id WHERE p.site_id = ? AND v.crawl_id = ? "
            "ORDER BY v.id", (site_id, crawl_id)).fetchall()
        for (version_id,) in versions:
            on_new_version(conn, version_id, replay)
        on_crawl_end(conn, crawl_id, live=False, replay=replay)
    _keep(conn, "keep_changes", replay.changes)
    conn.execute(
        "DELETE FROM changes WHERE kind != 'removed' AND id NOT IN (SELECT id FROM temp.keep_changes) AND page_id IN "
        "(SELECT id FROM pages WHERE site_id = ?) AND id NOT IN (SELECT change_id FROM flags "
        "WHERE change_id IS NOT NULL)", (site_id,))
    _keep(conn, "keep_flags", replay.flags)
    conn.execute("UPDATE flags SET retracted_at = COALESCE(retracted_at, ?) WHERE site_id = ? "
                 "AND id NOT IN (SELECT id FROM temp.keep_flags)", (utcnow(), site_id))
    return replay


def _refresh_removals(conn: sqlite3.Connection, site_id: int) -> None:
    """A removal row lists the claims the page had; after re-extraction that list is read again."""
    rows = conn.execute("SELECT c.id, c.from_version_id FROM changes c JOIN pages p ON p.id = c.page_id "
                        "WHERE p.site_id = ? AND c.kind = 'removed'", (site_id,)).fetchall()
    for change_id, from_id in rows:
        claims = sorted({c.key for c in claims_of(conn, from_id)})
        conn.execute("UPDATE changes SET claims_removed = ? WHERE id = ?",
                     (json.dumps([list(k) for k in claims]), change_id))


def _keep(conn: sqlite3.Connection, table: str, ids: set[int]) -> None:
    """A temporary id list: a rebuild may keep more ids than SQLite takes as parameters."""
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY)")
    conn.execute(f"DELETE FROM temp.{table}")
    conn.executemany(f"INSERT INTO temp.{table}(id) VALUES (?)", [(i,) for i in sorted(ids)])


def crawl_end(archive, crawl_id: int) -> dict:
    """Crawl-end processing in one transaction (called by the crawl runner once the crawl is closed)."""
    with archive.transaction() as conn:
        end = on_crawl_end(conn, crawl_id)
    return {"flags": len(end.flags), "removed_pages": end.removed_pages,
            "removed_claims": [" ".join(k) for k in end.removed_claims], "baseline": end.baseline}
