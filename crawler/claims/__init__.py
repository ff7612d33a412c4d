"""Claims extractor: what a clinic page says it treats, with what, how, and with which red flags.

    from crawler.claims import extract
    ex = extract(body_bytes, content_type="text/html; charset=utf-8", url=url)
    for claim in ex.claims:
        print(claim.kind, claim.term, claim.role, claim.evidence)

Pipeline: bytes → str (decode.py) → text blocks with zones and sections (blocks.py) → one regex pass of the
vocabulary over the text (vocab.py, match.py) → a role for each match from its context (context.py).
Deterministic: the same input and vocabulary give the same claims, in document order.
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path

from .blocks import html_blocks, text_blocks
from .context import assign_roles
from .decode import decode
from .match import lower_same_length, scan
from .model import Block, Claim, Extraction
from .vocab import load_vocabulary

# Stamped on stored claims. Bump when vocab.yaml or any rule changes, so the archive knows which claims
# come from older rules and can rebuild them (no refetch needed: bodies are stored).
EXTRACTOR_VERSION = "claims-1"

__all__ = ["EXTRACTOR_VERSION", "Block", "Claim", "Extraction", "extract", "extract_file"]

_LOOKS_HTML = re.compile(rb"<(?:!doctype\s+html|html|head|body|title|meta|div|p|h[1-6]|ul|ol|li|table|script|"
                         rb"span|a|br|section|article|main|nav|header|footer|link|style)\b", re.I)
_ANY_TAG = re.compile(rb"<[a-zA-Z!/]")
_TEXT_TYPES = ("text/plain", "text/markdown", "text/csv")
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _is_html(head: bytes, content_type: str | None) -> bool:
    ct = (content_type or "").split(";")[0].strip().lower()
    if ct in _TEXT_TYPES:
        return False
    if ct in _HTML_TYPES:  # said to be HTML: believe it unless there is no markup at all
        return bool(_ANY_TAG.search(head[:4096]))
    return bool(_LOOKS_HTML.search(head[:4096]))


def extract(content: str | bytes, *, content_type: str | None = None, url: str = "") -> Extraction:
    """Blocks and claims of one page. HTML unless content_type says text/plain or the content does not
    look like HTML. Bytes are decoded (BOM, charset in content_type, <meta charset>, then UTF-8 or
    windows-1252); bad bytes become U+FFFD, never an exception. `url` is accepted for callers' logging and
    future per-site rules; it does not change the result today."""
    text = decode(content, content_type) if isinstance(content, bytes) else content
    html = _is_html(text[:4096].encode("utf-8", "replace"), content_type)  # decoded first: UTF-16 pages too
    title, blocks = html_blocks(text) if html else text_blocks(text)
    joined = "\n".join(b.text for b in blocks)
    vocab = load_vocabulary()
    low = lower_same_length(joined)
    claims = assign_roles(joined, blocks, scan(joined, blocks, vocab, low), vocab, low)
    return Extraction(title=title, text=joined, blocks=blocks, claims=claims)


def extract_file(path: str | PathLike[str]) -> Extraction:
    """A saved page: .html/.htm as HTML, anything else as plain text."""
    p = Path(path)
    data = p.read_bytes()
    content_type = "text/html" if p.suffix.lower() in (".html", ".htm") else "text/plain"
    return extract(data, content_type=content_type)
