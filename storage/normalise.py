"""Normalise before comparing (DESIGN invariant 4): what is left differs only where the page really changed.

Comparison works on the extractor's text blocks (one per line of a version's stored text), each reduced to a
*key*: dates, times, counters, session/CSRF tokens and cache-busting parameters become placeholders, case and
spacing are folded. A page's blocks are compared as a multiset, so a carousel shown in another order or a
paragraph moved elsewhere is not a change; blocks inside rotating widgets (carousels, sliders, tickers) are left
out altogether; a paragraph split in two by a markup edit is recognised because its sentences are unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import lxml.html

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
          r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?"
# Order matters: whole date-times first, then dates, then times; each leaves a placeholder word.
_NOISE_SOURCES: list[tuple[str, str]] = [
    (r"\b\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})?\b", "‹date›"),
    (rf"\b(?:{_DAY}\s*)?\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}\b", "‹date›"),
    (rf"\b(?:{_DAY}\s*)?{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b", "‹date›"),
    (rf"\b{_MONTH}\s+\d{{4}}\b", "‹date›"),
    (r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b", "‹date›"),
    (r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\b\.?)?(?:\s*(?:utc|gmt)\b)?", "‹time›"),
    (r"\b(?:\d+|an?|one)\s+(?:second|minute|hour|day|week|month|year)s?\s+ago\b|\b(?:today|yesterday)\b",
     "‹date›"),
    (r"(?:©|\(c\)|copyright)\s*(?:\d{4}\s*[-–]\s*)?\d{4}", "© ‹year›"),
    # Counters: a number next to a word that counts viewers or reactions (not "2 visits" of a treatment).
    (r"\b\d[\d,.]*\s*(?:views?|visitors?|hits|likes?|followers?|comments?"
     r"|people (?:are )?(?:viewing|online|watching|looking)|(?:users? )?online now)\b", "‹n› ‹counter›"),
    (r"\b(?:views?|visitors?|hits|page views|online now)\s*:?\s*\d[\d,.]*", "‹counter› ‹n›"),
    # Session, CSRF and nonce tokens: UUIDs, and runs of 10+ letters and digits with 3+ digits in them.
    (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "‹token›"),
    (r"(?<![\w-])(?:[a-z]+[-_])?(?=(?:[a-z]*\d){3})(?=[a-z0-9]*[a-z])[a-z0-9]{10,}(?![\w-])", "‹token›"),
    (r"(?<![\w/+=-])(?=(?:[\w/+=-]*?\d){3})[\w/+=-]{32,}", "‹token›"),
]
_NOISE = [(re.compile(rx, re.I), f" {repl} ") for rx, repl in _NOISE_SOURCES]
_URL = re.compile(r"https?://[^\s\"'<>]+")
# Query parameters that only bust caches or carry sessions and tracking.
NOISE_PARAMS = re.compile(
    r"^(?:v|ver|version|_|t|ts|cb|cache|cachebust(?:er)?|nocache|rand|random|r|rev|build|hash|utm_\w+|fbclid"
    r"|gclid|mc_eid|_ga|sid|sessionid|session_id|phpsessid|jsessionid|token|csrf\w*|nonce)$",
    re.I,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# Class or id names of widgets that show rotating content: their text is not compared.
ROTATING = re.compile(r"carousel|slider|swiper|slick|owl-|glide|splide|flickity|rotat|ticker|marquee", re.I)


def clean_url(url: str) -> str:
    """A URL without fragment and without cache-busting, session and tracking parameters."""
    parts = urlsplit(url)
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not NOISE_PARAMS.match(k))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), ""))


def key(text: str, fold: bool = True) -> str:
    """The comparison key of one block of text; `fold=False` keeps the case, for showing it."""
    text = unicodedata.normalize("NFKC", text)
    if fold:
        text = text.casefold()
    text = _URL.sub(lambda m: clean_url(m.group(0)), text)
    for rx, repl in _NOISE:
        text = rx.sub(repl, text)
    return " ".join(text.split())


def block_texts(version_text: str | None) -> list[str]:
    """The blocks of a version, in page order (the extractor joins them with newlines)."""
    return [text for text, _ in block_spans(version_text)]


def block_spans(version_text: str | None) -> list[tuple[str, int]]:
    """(block text, offset of the block in the version text): claims point into the same text."""
    out, pos = [], 0
    for line in (version_text or "").split("\n"):
        if line.strip():
            out.append((line, pos))
        pos += len(line) + 1
    return out


@dataclass
class PageText:
    """What of one version takes part in a comparison: block texts in page order, their keys, links."""

    blocks: list[str]
    keys: list[str]
    starts: list[int] = field(default_factory=list)  # offset of each block in the version text
    links: set[str] = field(default_factory=set)
    rotating: set[str] = field(default_factory=set)  # keys of blocks inside rotating widgets

    @classmethod
    def of(cls, text: str | None, html: bytes | None = None, base_url: str = "") -> PageText:
        spans = block_spans(text)
        links, rotating = html_noise(html, base_url) if html else (set(), [])
        keys = [key(b) for b, _ in spans]
        return cls([b for b, _ in spans], keys, [p for _, p in spans], links,
                   {k for k in keys if k and any(k in r for r in rotating)})

    def span(self, index: int) -> tuple[int, int]:
        return self.starts[index], self.starts[index] + len(self.blocks[index])

    def compared(self) -> Counter[str]:
        return Counter(k for k in self.keys if k and k not in self.rotating)


def html_noise(html: bytes, base_url: str) -> tuple[set[str], list[str]]:
    """(links, keyed texts of rotating widgets) of an HTML page; lxml alone, cheap next to extraction."""
    try:
        root = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return set(), []
    links = set()
    for el in root.iter("a"):
        href = (el.get("href") or "").strip()
        if href and not href.startswith(("#", "javascript:", "mailto:", "tel:")):
            links.add(clean_url(urljoin(base_url, href)))
    rotating = []
    for el in root.xpath("//*[@class or @id]"):
        if ROTATING.search(f"{el.get('class', '')} {el.get('id', '')}"):
            rotating.append(key(el.text_content()))
    return links, rotating


@dataclass
class TextDiff:
    """Blocks added and removed between two versions: texts as shown and block indices, in page order."""

    added: list[str]
    removed: list[str]
    added_at: list[int] = field(default_factory=list)
    removed_at: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)

    @property
    def longest(self) -> int:
        return max((len(b) for b in self.added + self.removed), default=0)


def diff_blocks(old: PageText, new: PageText) -> TextDiff:
    """Multiset difference of block keys; moves, reorderings, noise and re-split paragraphs drop out."""
    before, after = old.compared(), new.compared()
    gone, came = before - after, after - before
    if not gone and not came:
        return TextDiff([], [])
    added, removed = _pick(new, came), _pick(old, gone)
    if _same_words([k for _, _, k in removed], [k for _, _, k in added]):
        return TextDiff([], [])
    return TextDiff([t for _, t, _ in added], [t for _, t, _ in removed],
                    [i for i, _, _ in added], [i for i, _, _ in removed])


def _same_words(gone: list[str], came: list[str]) -> bool:
    """A markup edit that splits or merges paragraphs changes blocks, not sentences nor the run of words."""
    def sentences(keys: list[str]) -> Counter[str]:
        return Counter(s for k in keys for s in _SENTENCE.split(k))

    return sentences(gone) == sentences(came) or " ".join(gone).split() == " ".join(came).split()


def _pick(page: PageText, wanted: Counter[str]) -> list[tuple[int, str, str]]:
    """(index, text, key) of the wanted blocks, in page order."""
    left = Counter(wanted)
    out = []
    for i, (text, k) in enumerate(zip(page.blocks, page.keys)):
        if left[k] > 0 and k not in page.rotating:
            left[k] -= 1
            out.append((i, text, k))
    return out


def normalised_lines(text: str | None) -> list[str]:
    """The page as the diff command shows it: one block a line, noise replaced by placeholders."""
    return [k for k in (key(b, fold=False) for b in block_texts(text)) if k]
