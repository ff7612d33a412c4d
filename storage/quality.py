"""Capture quality: is this fetch a real reading of the page, or a bad fetch? (DESIGN invariant 3)

Every new version is classified once, when it is stored:

* ``ok``       a real page: the only kind that feeds claims, changes and flags;
* ``error``    4xx/5xx, or no response at all (timeouts and refused connections are error captures);
* ``blocked``  a WAF, CAPTCHA or bot challenge answered instead of the page;
* ``empty``    a 200 with (almost) nothing in it;
* ``soft_404`` a 200 that says "page not found", or a redirect that landed on the home page.

Only the first 64 KB of a body are read: challenge and not-found pages are small and say so early.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # storage.archive imports this module
    from storage.archive import Capture

OK, ERROR, BLOCKED, EMPTY, SOFT_404 = "ok", "error", "blocked", "empty", "soft_404"
QUALITIES = (OK, ERROR, BLOCKED, EMPTY, SOFT_404)

SNIFF_BYTES = 65536
MIN_TEXT_CHARS = 20  # visible characters below which a 200 page says nothing
SOFT_404_MAX_TEXT = 2000  # a real page may *mention* "not found"; an error page is short

# Statuses a WAF or rate limiter answers with; 5xx/403 need a sign in headers or text to count as blocked.
BLOCK_STATUSES = {403, 429, 503, 520, 521, 522, 523, 524, 525, 526}
BLOCK_HEADERS = {
    "cf-mitigated": re.compile(r"challenge", re.I),
    "server": re.compile(r"cloudflare|ddos-guard|sucuri|incapsula|akamaighost|imperva", re.I),
    "x-sucuri-block": re.compile(r"."),
    "x-datadome": re.compile(r"."),
    "x-amzn-waf-action": re.compile(r"captcha|challenge|block", re.I),
}
# Phrases that only challenge/denial pages use; matched on lower-cased visible text and title.
BLOCK_TEXT = re.compile(
    r"attention required|verify (?:that )?you are (?:a )?human|are you a robot|captcha|just a moment\.\.\."
    r"|checking your browser|enable javascript and cookies to continue|ddos protection by"
    r"|access denied|request unsuccessful\. incapsula|you have been blocked|cf-chl-|challenge-platform"
    r"|please complete the security check|unusual traffic from your (?:computer )?network",
    re.I,
)
NOT_FOUND_TEXT = re.compile(
    r"\b(?:404|page not found|not found|page (?:you requested |you are looking for )?(?:does not|doesn't|"
    r"could not|cannot|can't|no longer) (?:exist|be found)|no longer available|page is missing)\b",
    re.I,
)
TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.I | re.S)
HEADING = re.compile(rb"<h1[^>]*>(.*?)</h1", re.I | re.S)
# Text of an HTML page without scripts, styles and tags: cheap, and enough to judge quality.
DROP = re.compile(rb"<(script|style|noscript|template)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
TAG = re.compile(rb"<[^>]+>")


def classify(cap: Capture, requested_url: str | None = None, home_urls: tuple[str, ...] = ()) -> str:
    """The quality of one capture. `requested_url` and `home_urls` let a redirect to the home page
    count as a soft 404 (the spider records a redirect under its final URL)."""
    if cap.error or cap.status == 0:
        return ERROR
    sniff = cap.body[:SNIFF_BYTES]
    text = visible_text(sniff) if cap.is_html or not cap.content_type else ""
    if _blocked(cap, sniff, text):
        return BLOCKED
    if cap.status >= 400 or 300 <= cap.status < 400:
        return ERROR
    if cap.status == 204 or not cap.body.strip():
        return EMPTY
    if not cap.is_html:
        return OK  # a PDF or image: stored and kept, its bytes are its content
    if requested_url and _redirected_home(requested_url, cap.url, home_urls):
        return SOFT_404
    if len(text) < MIN_TEXT_CHARS:
        return EMPTY
    if _says_not_found(sniff, text):
        return SOFT_404
    return OK


def visible_text(html: bytes) -> str:
    raw = TAG.sub(b" ", DROP.sub(b" ", html))
    return " ".join(raw.decode("utf-8", "replace").split())


def _blocked(cap: Capture, sniff: bytes, text: str) -> bool:
    headers = {k.lower(): v for k, v in cap.headers.items()}
    if BLOCK_HEADERS["cf-mitigated"].search(headers.get("cf-mitigated", "")):
        return True  # Cloudflare says so outright, whatever the status
    signs_in_headers = any(rx.search(headers.get(name, "")) for name, rx in BLOCK_HEADERS.items())

    def signs_in_text() -> bool:
        # Challenge markers often sit in scripts and attributes, so the raw head of the body counts too.
        return bool(text) and bool(BLOCK_TEXT.search(text[:5000]) or BLOCK_TEXT.search(
            sniff[:20000].decode("utf-8", "replace")))

    if cap.status == 429:
        return True  # rate limited: never a reading of the page
    if cap.status in BLOCK_STATUSES:
        return signs_in_headers or signs_in_text()
    # A 200 challenge page: short, and it says what it is (a long page is never searched: most pages are).
    return cap.status == 200 and len(text) < SOFT_404_MAX_TEXT and signs_in_text()


def _says_not_found(sniff: bytes, text: str) -> bool:
    if len(text) > SOFT_404_MAX_TEXT:
        return False
    heads = [m.group(1) for rx in (TITLE, HEADING) for m in [rx.search(sniff)] if m]
    return any(NOT_FOUND_TEXT.search(visible_text(h)) for h in heads)


def _redirected_home(requested: str, final: str, home_urls: tuple[str, ...]) -> bool:
    req, fin = urlsplit(requested), urlsplit(final)
    if (req.netloc, req.path.rstrip("/"), req.query) == (fin.netloc, fin.path.rstrip("/"), fin.query):
        return False
    homes = {urlsplit(h).path.rstrip("/") for h in home_urls} | {""}
    return req.path.rstrip("/") not in homes and fin.path.rstrip("/") in homes
