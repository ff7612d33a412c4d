"""Page → text blocks: title, headings (with their hierarchy), paragraphs, list items, table cells.

Each block knows its zone (main content vs navigation, header, footer, sidebar, cookie banner) and the heading
it sits under. Text is normalised here once (NFKC, straight quotes, plain hyphens, collapsed spaces), so that
every later offset points into the same string: Extraction.text == "\\n".join(block.text).
"""

from __future__ import annotations

import re
import unicodedata

from bs4 import BeautifulSoup, NavigableString, Tag

from .model import Block

# ---------------------------------------------------------------------------------------------------------
# Text normalisation

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
        "\u2212": "-",
        # invisible characters that split words for a matcher but not for a reader
        "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None,
    }
)


_SPECIAL = re.compile("[" + "".join(chr(c) for c in _TRANSLATE) + "]")  # the characters _TRANSLATE maps


def normalize(text: str) -> str:
    """NFKC + straight quotes + plain hyphens; keeps line structure (no newline is added or removed)."""
    if text.isascii():
        return text
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    if _SPECIAL.search(text):  # str.translate would walk every character; most pages need a few replaces
        for ch in set(_SPECIAL.findall(text)):
            text = text.replace(ch, _TRANSLATE[ord(ch)] or "")
    return text


# Scraped text glues words where markup separated them ("stem cellsEmbryonic"); split a run of three
# lower-case letters from a following capitalised word. "iPSC", "McDonald", "LinkedIn" stay whole.
_GLUED = re.compile(r"([a-z]{3})(?=[A-Z][a-z]{2})")


def unglue(text: str) -> str:
    return _GLUED.sub(r"\1 ", text)


# Raw blocks, before normalisation: (text, kind, level, zone, label) tuples; label is the menu group of
# an item of a nested menu list.


def _block(text: str, kind: str, level: int, section: str, zone: str, start: int, end: int) -> Block:
    """Block(...) without the frozen dataclass __init__ (seven object.__setattr__ calls): the same object,
    built from one dict; a large page has thousands of blocks."""
    b = object.__new__(Block)
    object.__setattr__(b, "__dict__", {"text": text, "kind": kind, "level": level, "section": section,
                                       "zone": zone, "start": start, "end": end})
    return b


def _finish(raws: list[tuple]) -> list[Block]:
    """Normalise the raw texts in one go, drop empty ones, then assign sections and offsets."""
    # One join, one split on whitespace, one join (fast C loops instead of one per block): whitespace runs,
    # newlines included, become single spaces; "\x00" marks where blocks meet (HTML parsers drop NULs).
    joined = " ".join("\x00".join(r[0] for r in raws).split())
    joined = normalize(joined.replace(" \x00", "\x00").replace("\x00 ", "\x00"))
    texts = joined.split("\x00")
    if len(texts) != len(raws):  # a stray NUL in the page: fall back to block-by-block
        texts = [" ".join(normalize(" ".join(r[0].replace("\x00", " ").split())).split()) for r in raws]
    blocks: list[Block] = []
    stacks: dict[str, list[tuple[int, str]]] = {}  # per zone: the open headings, outermost first
    pos = 0
    for (_, kind, level, zone, label), text in zip(raws, texts):
        if not text:
            continue
        if " " in text[:1] + text[-1:] or "  " in text:
            text = " ".join(text.split())  # NFKC made new spaces ("\u2003" → " ")
        stack = stacks.get(zone)
        if stack is None:
            stack = stacks[zone] = []
        if kind == "heading" or (
            # In menus and footers a short loose label ("Conditions") heads the links below it.
            zone in ("nav", "footer", "aside") and kind == "text" and text.count(" ") < 5
        ):
            lvl = level if kind == "heading" else 7
            while stack and stack[-1][0] >= lvl:
                stack.pop()
            section = stack[-1][1] if stack else ""
            stack.append((lvl, text))
        elif kind == "title":
            section = ""
        else:
            section = label or (stack[-1][1] if stack else "")
        blocks.append(_block(text, kind, level, section, zone, pos, pos + len(text)))
        pos += len(text) + 1
    return blocks


# ---------------------------------------------------------------------------------------------------------
# HTML

_DROP = frozenset(
    "script style noscript template head svg math iframe object embed canvas select datalist audio video"
    " map area input textarea".split()
)
_BLOCK_KIND = {
    "p": "p", "li": "li", "dt": "li", "dd": "p", "td": "td", "th": "td",
    "h1": "heading", "h2": "heading", "h3": "heading", "h4": "heading", "h5": "heading", "h6": "heading",
    "caption": "p", "figcaption": "p", "blockquote": "p", "pre": "p", "address": "p", "summary": "p",
    "legend": "p",
}
# Elements that end a run of text but take the kind of the block around them.
_CONTAINERS = frozenset(
    "html body div section article main header footer nav aside ul ol dl menu table thead tbody tfoot tr"
    " form fieldset details figure hgroup center hr noframes dialog".split()
)
_LISTS = frozenset(("ul", "ol", "menu", "dl"))
_ROLE_ZONE = {"navigation": "nav", "menubar": "nav", "banner": "header", "contentinfo": "footer",
              "complementary": "aside"}
_TAG_ZONE = {"nav": "nav", "header": "header", "footer": "footer", "aside": "aside"}
_HINTS = (
    ("cookie", re.compile(r"cookie|consent|gdpr|onetrust|cookiebot|cc-(?:window|banner)", re.I)),
    ("nav", re.compile(r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|menubar|breadcrumbs?|submenu|megamenu)"
                       r"(?:$|[\s_-])", re.I)),
    ("header", re.compile(r"(?:^|[\s_-])(?:header|masthead|topbar|top-bar)(?:$|[\s_-])", re.I)),
    ("footer", re.compile(r"(?:^|[\s_-])(?:footer|colophon|site-info)(?:$|[\s_-])", re.I)),
    ("aside", re.compile(r"(?:^|[\s_-])(?:sidebar|side-bar|widget-area|aside|related-posts)(?:$|[\s_-])",
                         re.I)),
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)

_BLOCK_EXIT, _INLINE_EXIT = 1, 2
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_NO_HINTS = frozenset(("a", "span", "li", "p", *_HEADINGS))

# The walk's context is a plain tuple (cheaper than an object on pages with thousands of elements):
# (kind, level, zone, label, in_content, li_mark)
#   kind/level: of the innermost block element; zone: main/nav/…; label: menu group of nested menu items;
#   in_content: inside <main>/<article> (a <header> there is the article's, not the site's);
#   li_mark: index of the first raw block of the enclosing <li>.
_ROOT_CTX = ("text", 0, "main", "", False, -1)


def _hidden(attrs: dict) -> bool:
    if "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return True
    style = attrs.get("style")
    return bool(style) and bool(_HIDDEN_STYLE.search(style))


def _zone_of(name: str, attrs: dict, zone: str, in_content: bool) -> str:
    if zone == "cookie":
        return "cookie"
    hints = ""
    if attrs:
        cls = attrs.get("class")
        hints = " ".join(cls) if isinstance(cls, list) else (cls or "")
        hints = f"{hints} {attrs.get('id') or ''}"
        if _HINTS[0][1].search(hints):
            return "cookie"
    if zone != "main":
        return zone
    tag_zone = _TAG_ZONE.get(name)
    if tag_zone and not (in_content and tag_zone in ("header", "footer")):
        return tag_zone
    role = attrs.get("role") if attrs else None
    if role in _ROLE_ZONE:
        return _ROLE_ZONE[role]
    if hints.strip() and name not in _NO_HINTS:
        for hint_zone, rx in _HINTS[1:]:
            if hint_zone in ("header", "footer") and in_content:
                continue
            if rx.search(hints):
                return hint_zone
    return "main"


def _walk(root: Tag) -> list[tuple]:
    """Depth-first over the soup, collecting raw blocks (text, kind, level, zone, label). Iterative, so that
    absurdly deep markup cannot exhaust the stack; everything hot is a local variable."""
    raws: list[tuple] = []
    buf: list[str] = []
    glue = False  # an inline element boundary was crossed since the last text

    def flush(ctx: tuple) -> None:
        text = "".join(buf)
        buf.clear()
        if not text.isspace():
            kind = ctx[0]
            raws.append((text, kind, ctx[1], ctx[2], ctx[3] if kind == "li" else ""))

    ctx = _ROOT_CTX
    stack: list[tuple] = [(iter(root.contents), ctx, _INLINE_EXIT)]
    while stack:
        it, ctx, how = stack[-1]
        child = next(it, None)
        if child is None:
            stack.pop()
            if how == _BLOCK_EXIT:
                if buf:
                    flush(ctx)
            else:
                glue = True
            continue
        if type(child) is NavigableString:
            # <a>Home</a><a>Treatments</a> reads as two words, not "HomeTreatments"
            if glue and buf and child and buf[-1][-1:].islower() and child[0].isupper():
                buf.append(" ")
            glue = False
            buf.append(child)
            continue
        if not isinstance(child, Tag):
            continue  # comments, doctype, CDATA, processing instructions
        name = child.name
        if name in _DROP:
            continue
        attrs = child.attrs
        if attrs and _hidden(attrs):
            continue
        if name == "br":
            if buf:
                flush(ctx)
            continue
        c_kind, c_level, c_zone, c_label, c_in_content, c_li_mark = ctx
        zone = c_zone if not attrs and name not in _TAG_ZONE else _zone_of(name, attrs, c_zone, c_in_content)
        kind = _BLOCK_KIND.get(name)
        if kind is None and name == "a" and zone != "main" and c_kind == "text":
            kind = "li"  # a bare link in a menu is a menu item
        contents = child.contents
        if kind is not None or name in _CONTAINERS or zone != c_zone:
            if buf:
                flush(ctx)
            label = c_label
            if name in _LISTS and 0 <= c_li_mark < len(raws) and raws[c_li_mark][1] == "li":
                label = raws[c_li_mark][0].strip()  # items of a nested menu belong to its parent item
            new = (
                kind or c_kind,
                int(name[1]) if kind == "heading" else (c_level if kind is None else 0),
                zone,
                label,
                c_in_content or name == "main" or name == "article" or (attrs and attrs.get("role") == "main"),
                len(raws) if name == "li" else c_li_mark,
            )
            stack.append((iter(contents), new, _BLOCK_EXIT))
        elif len(contents) == 1 and type(contents[0]) is NavigableString:
            text = contents[0]  # the common inline case, <a>text</a>, without a trip through the stack
            if buf and text and buf[-1][-1:].islower() and text[0].isupper():
                buf.append(" ")
            buf.append(text)
            glue = True
        else:
            glue = True
            stack.append((iter(contents), ctx, _INLINE_EXIT))
    if buf:
        flush(ctx)
    return raws


def html_blocks(html: str) -> tuple[str, list[Block]]:
    """Parse HTML with bs4 + lxml; return (title, blocks)."""
    soup = BeautifulSoup(html, "lxml")
    return soup_blocks(soup)


def soup_blocks(soup: BeautifulSoup) -> tuple[str, list[Block]]:
    title_tag = soup.title
    title = title_tag.get_text(" ") if title_tag is not None else ""
    raws = [(title, "title", 0, "main", "")] if title.strip() else []
    raws += _walk(soup.body or soup)
    blocks = _finish(raws)
    if blocks and blocks[0].kind == "title":
        title = blocks[0].text
    else:
        title = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), "")
    return title, blocks


# ---------------------------------------------------------------------------------------------------------
# Plain text

_BULLET = re.compile(r"^\s*(?:[■•●▪◦·*▸►‣○□◆➢✓✔]|-(?=\s)|–(?=\s))\s*")
_BREADCRUMB = re.compile(r"\S\s+(?:»|›|>)\s+\S")
_COOKIE_LINE = re.compile(r"\bcookies?\b.*\b(?:accept|consent|agree|privacy|settings)\b", re.I)


def _heading_like(line: str) -> bool:
    s = line.strip()
    if not s or len(s) > 100 or len(s.split()) > 14:
        return False
    if s.endswith(("...", "…")):
        return True
    return s[-1] not in ".!,;:"


def _paragraph(lines: list[str]) -> tuple:
    joined = " ".join(lines)
    return (joined, "p", 0, "cookie" if _COOKIE_LINE.search(joined) else "main", "")


def text_blocks(text: str) -> tuple[str, list[Block]]:
    """Plain text: blank lines separate paragraphs; bullet lines are list items; a short line without a
    final full stop standing alone is a heading (the first one, at the top, is the title)."""
    text = unglue(text.replace("\r\n", "\n").replace("\r", "\n"))
    groups: list[list[str]] = []
    cur: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            cur.append(line)
        elif cur:
            groups.append(cur)
            cur = []
    if cur:
        groups.append(cur)

    raws: list[tuple] = []
    for gi, group in enumerate(groups):
        if len(group) == 1 and not _BULLET.match(group[0]) and _heading_like(group[0]):
            line = group[0]
            if _BREADCRUMB.search(line):
                raws.append((line, "text", 0, "nav", ""))
            elif gi == 0:
                raws.append((line, "title", 0, "main", ""))
            else:
                raws.append((line, "heading", 2, "main", ""))
            continue
        para: list[str] = []
        for line in group:
            m = _BULLET.match(line)
            crumb = not m and _BREADCRUMB.search(line) and len(line) < 120 and not line.rstrip().endswith(".")
            if (m or crumb) and para:
                raws.append(_paragraph(para))
                para = []
            if m:
                raws.append((line[m.end():], "li", 0, "main", ""))
            elif crumb:
                raws.append((line, "text", 0, "nav", ""))
            else:
                para.append(line)
        if para:
            raws.append(_paragraph(para))
    blocks = _finish(raws)
    title = blocks[0].text if blocks and blocks[0].kind == "title" else ""
    return title, blocks
