"""The values the claims extractor hands out: blocks of text, claims found in them, one extraction per page."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

BLOCK_KINDS = ("title", "heading", "p", "li", "td", "text")
ZONES = ("main", "nav", "header", "footer", "aside", "cookie")
CLAIM_KINDS = ("condition", "cell_type", "route", "red_flag", "price", "statistic", "disclaimer")
ROLES = ("offered", "excluded", "mentioned")


@dataclass(frozen=True)
class Block:
    """One run of text as a reader sees it: a title, a heading, a paragraph, a list item or a table cell."""

    text: str
    kind: str  # 'title' | 'heading' | 'p' | 'li' | 'td' | 'text'
    level: int  # heading level 1-6, 0 otherwise
    section: str  # text of the nearest heading above (for a menu item: its menu group), '' if none
    zone: str  # 'main' | 'nav' | 'header' | 'footer' | 'aside' | 'cookie'
    start: int  # offsets into Extraction.text
    end: int


@dataclass(frozen=True)
class Claim:
    """One thing a page says, with the sentence that says it.

    role: for conditions, cell types and routes 'offered' means the page offers it, 'excluded' that it rules
    it out, 'mentioned' that it only names it (background, symptoms, research). For red flags, prices,
    statistics and disclaimers 'offered' means the page asserts it in its own voice and 'mentioned' that it
    reports someone else saying it (news, research, warnings).
    """

    kind: str
    term: str
    role: str
    evidence: str
    section: str
    zone: str
    start: int
    end: int
    detail: dict | None = field(default=None, compare=False, hash=False)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Extraction:
    title: str
    text: str
    blocks: list[Block]
    claims: list[Claim]
