"""One pass of the vocabulary regex over a page's text → hits (where a term sits, which block holds it).

Roles are decided afterwards (context.py); this module only finds terms, checks abbreviations for their
exact case and, when ambiguous, for a stem-cell/treatment context, and reads prices and statistics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Block
from .vocab import CONTEXT_WINDOW, NUMERIC_GROUPS, Term, Vocabulary, ci_key, cs_key


@dataclass(slots=True)
class Hit:
    start: int
    end: int
    kind: str  # claim kind, or 'context' (stem-cell wording: not reported, used for roles)
    term: str
    block: int  # index into blocks
    detail: dict | None = None


def lower_same_length(text: str) -> str:
    """text.lower(), keeping every offset: a few characters ('İ') lower-case to two."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def scan(text: str, blocks: list[Block], vocab: Vocabulary, low: str | None = None) -> list[Hit]:
    """All vocabulary hits in document order (the one regex pass). `low`: lower_same_length(text), if at hand."""
    hits: list[Hit] = []
    if not blocks:
        return hits
    keys, tails = vocab.keys, vocab.tails
    padded = "\n" + (low if low is not None else lower_same_length(text))  # a match starts on the character before
    bi, block, nb = 0, blocks[0], len(blocks)
    for m in vocab.regex.finditer(padded):
        s, e = m.start(), m.end() - 1  # offsets in text (padded has one leading character)
        while s >= block.end and bi + 1 < nb:  # matches come in order: walk the blocks along
            bi += 1
            block = blocks[bi]
        if block.zone == "cookie":
            continue
        group = m.lastgroup
        if group is None:
            key = padded[s + 1:e + 1]
            if " " in key or "-" in key or "'" in key:
                key = ci_key(key)
            terms = keys.get(key, ())
        elif group in NUMERIC_GROUPS:
            hits.extend(_numeric(group, text, s, e, block, bi))
            continue
        else:
            terms = tails.get(group, ())
        for t in terms:
            if t.exact is None and t.context is None and t.veto is None or _accept(t, text, s, e, block):
                if t.exact is None and t.kind in _COORDINATED and text[max(0, s - 5):s].endswith(_CONJ_ENDS):
                    hits.extend(_coordinated(text, s, e, block, bi, t.kind, keys))
                hits.append(Hit(s, e, t.kind, t.term, bi))
    if any(a.start > b.start for a, b in zip(hits, hits[1:])):
        hits.sort(key=lambda h: h.start)  # stable: a price's currency sign can start before its number
    return hits


# "knee, hip or shoulder arthritis", "type 1 and type 2 diabetes", "back and neck pain": the phrase found
# ("shoulder arthritis") lends its last word to the words listed before it ("knee arthritis", "hip arthritis").
_COORDINATED = frozenset(("condition", "cell_type"))
_CONJ_ENDS = (" and ", " or ", ", ", " & ", "/or ")
_CONJ = re.compile(r"(?:,|\s(?:and|or|&|and/or))\s+$")
_LAST_MODIFIER = re.compile(r"([\w'-]+(?: \d)?)\s*$")


def _coordinated(text: str, s: int, e: int, block: Block, bi: int, kind: str,
                 keys: dict[str, tuple[Term, ...]]) -> list[Hit]:
    if " " not in text[s:e]:
        return []
    head = text[s:e].rsplit(" ", 1)[1]
    out: list[Hit] = []
    pos = s
    for _ in range(4):  # up to four listed words: "knee, hip, ankle or shoulder"
        m = _CONJ.search(text, max(block.start, pos - 12), pos)
        if not m:
            break
        mod = _LAST_MODIFIER.search(text, max(block.start, m.start() - 20), m.start())
        if not mod:
            break
        found = [t for t in keys.get(ci_key(f"{mod.group(1)} {head}"), ())
                 if t.kind == kind and t.exact is None and t.context is None]
        if not found:
            break
        out[:0] = [Hit(mod.start(1), mod.end(1), t.kind, t.term, bi) for t in found]
        pos = mod.start(1)
    return out


def _accept(t: Term, text: str, s: int, e: int, block: Block) -> bool:
    if t.exact is not None and cs_key(text[s:e]) != t.exact:
        return False
    if t.context is None and t.veto is None:
        return True
    lo, hi = max(block.start, s - CONTEXT_WINDOW), min(block.end, e + CONTEXT_WINDOW)
    if t.veto is not None and t.veto.search(text, max(block.start, s - 25), min(block.end, e + 25)):
        return False
    if t.context is not None:
        around = text[lo:s] + " " + text[e:hi]  # the term itself does not count as its own context
        return t.context.search(around) is not None
    return True


# ---------------------------------------------------------------------------------------------------------
# Numbers

_CURRENCY_WORDS = {
    "$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD",
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP",
    "¥": "JPY", "chf": "CHF", "cad": "CAD", "aud": "AUD", "mxn": "MXN", "peso": "MXN", "pesos": "MXN",
}
_CUR_BEFORE = re.compile(r"(us\$|[$€£¥]|usd|eur|gbp|chf|cad|aud|mxn)\s?$", re.I)
_CUR_AFTER = re.compile(r"\s?(€|£|\$|(?:usd|eur|euros?|dollars|gbp|pounds|chf|mxn|pesos)\b)", re.I)
_BIG_MONEY = re.compile(r"\s?(?:k\b)?\s*(?:million|billion|mln|bn|m)\b", re.I)
_RATE_BEFORE = re.compile(
    r"\b(?:success|effective(?:ness)?|improvement|response|satisfaction|efficacy|recovery|cure)\s+rates?\b"
    r"[^.;]{0,30}$", re.I)
_RATE_AFTER = re.compile(
    r"\s+(?:(?:of|for)\s+)?(?:(?:all|our|treated|the|these|those|study|trial|participating)\s+){0,2}"
    r"(?:patients|cases|people|subjects|clients|participants|children|recipients|users|athletes|women|men)\b"
    r"|\s+(?:success|improvement|response|satisfaction|efficacy|recovery)(?:\s+rate)?\b"
    r"|\s+(?:of\s+them|of\s+those\s+treated)\b", re.I)
_COUNT_NOUN = re.compile(r"\+?\s+(?:[\w-]+\s+){0,2}?(patients|people|procedures|treatments|injections|clients|"
                         r"cases|individuals|families)\b", re.I)


_DECIMALS = re.compile(r"[.,](\d{1,2})$")
_NOT_DIGIT = re.compile(r"\D")
_DIGITS = re.compile(r"[\d.,]+")


def parse_amount(s: str) -> float:
    """'15,000' → 15000; '8.000' → 8000; '12 000' → 12000; '1,500.50' → 1500.5; '8.000,50' → 8000.5."""
    s = s.replace(" ", "")
    frac = ""
    m = _DECIMALS.search(s)
    if m:
        s, frac = s[:m.start()], m.group(1)
    value = float(_NOT_DIGIT.sub("", s) or 0)
    if frac:
        value += int(frac) / 10 ** len(frac)
    return value


def _number(value: float) -> int | float:
    return int(value) if value == int(value) else value


def _numeric(group: str, text: str, s: int, e: int, block: Block, bi: int) -> list[Hit]:
    raw = text[s:e]
    after = text[e:min(block.end, e + 80)]
    if group in ("n_price_pre", "n_price_post"):
        amount_text = raw.rstrip("kK ").strip()
        value = parse_amount(amount_text) * (1000 if raw.rstrip().lower().endswith("k") else 1)
        if _BIG_MONEY.match(after) or value <= 0:
            return []  # "$2 million grant": money, not a treatment price
        if group == "n_price_pre":
            m = _CUR_BEFORE.search(text, max(block.start, s - 4), s)
            cur = m.group(1) if m else "$"
            start = m.start() if m else s
        else:
            m = _CUR_AFTER.match(after)
            cur = m.group(1) if m else "$"
            start = s
            e = e + (m.end() if m else 0)
        currency = _CURRENCY_WORDS.get(cur.lower(), cur.upper())
        return [Hit(start, e, "price", "price", bi, {"amount": _number(value), "currency": currency})]
    if group == "n_percent":
        digits = _DIGITS.match(raw)
        value = parse_amount(digits.group()) if digits else 0.0
        before = text[max(block.start, s - 60):s]
        if value > 100 or not (_RATE_AFTER.match(after) or ("rate" in before.lower() and _RATE_BEFORE.search(before))):
            return []
        detail = {"value": _number(value), "unit": "%"}
        return [Hit(s, e, "statistic", "success_rate", bi, detail),
                Hit(s, e, "red_flag", "success_rate_statistic", bi)]
    if group == "n_count":
        value = parse_amount(raw.rstrip("+"))
        m = _COUNT_NOUN.match(after)
        if value < 50 or not m:
            return []
        detail = {"value": _number(value), "unit": m.group(1).lower()}
        return [Hit(s, e, "statistic", "patient_count", bi, detail),
                Hit(s, e, "red_flag", "success_rate_statistic", bi)]
    # n_broad: "over 70 conditions"
    value = parse_amount(raw.rstrip("+"))
    if value < 10:
        return []
    return [Hit(s, e, "red_flag", "broad_indication_panacea", bi, {"value": _number(value)})]
