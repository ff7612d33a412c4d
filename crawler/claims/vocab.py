"""Load the vocabulary (vocab.yaml beside this file) and compile it into ONE regular expression.

Every phrase and abbreviation of every kind goes into one character trie, written out as a regex (common
prefixes shared, longer continuations tried first so the longest phrase wins); a few number shapes (prices,
percentages, counts) sit beside it. A page is matched in a single `finditer` pass over its lower-cased text;
which term a match means is a dictionary look-up on its normalised text (or, for anchored phrases with a
regex tail and for numbers, the name of the group that matched). Abbreviations are matched through the
same trie and then checked against the original text for their exact case.

Why lower-cased text and a leading non-word character: CPython's regex engine skips quickly only over
characters that cannot start a match, and compares literal characters much faster than character classes.
Anchoring every match on the non-word character before it (a space, a bracket, a newline…) and matching
lower-case literals makes the single pass several times faster than `\\b(?i:...)`.

Phrase variants generated here, so the data file can stay short:
- case: phrases match in any case; abbreviations only in the case written;
- spaces and hyphens are interchangeable and may be missing ("umbilical-cord", "stemcells");
- apostrophes are optional ("Parkinson's", "Parkinsons");
- a plural of the last word ("injury" → "injuries", "tear" → "tears"; abbreviations get a trailing "s").
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

VOCAB_PATH = Path(__file__).with_name("vocab.yaml")

# Sections of vocab.yaml and the claim kind their entries produce. 'context' entries are matched but not
# reported: they tell whether a page talks about stem cells at all.
SECTIONS = {
    "conditions": "condition",
    "cell_types": "cell_type",
    "routes": "route",
    "red_flags": "red_flag",
    "disclaimers": "disclaimer",
    "context": "context",
}

# Near an ambiguous abbreviation ("MS", "PD", "IV") or a weak phrase ("infusion") one of these words must
# appear for the match to count, unless the entry names its own context words.
DEFAULT_CONTEXT = (
    "stem", "cell", "cells", "therapy", "therapies", "treat", "treats", "treated", "treating", "treatment",
    "treatments", "patient", "patients", "disease", "disorder", "clinic", "symptom", "symptoms", "diagnosed",
    "diagnosis", "regenerative", "injection", "injections", "infusion", "infusions", "transplant",
    "transplantation", "condition", "conditions", "MSC", "MSCs", "exosomes", "stem-cell",
)
CONTEXT_WINDOW = 60  # characters either side, within the block

_SEP, _APOS = "\x00", "\x01"  # trie tokens: a space-or-hyphen (optional), an apostrophe (optional)


def ci_key(text: str) -> str:
    """Look-up key of a match: lower case, without spaces, hyphens or apostrophes."""
    return text.replace(" ", "").replace("-", "").replace("'", "").lower()  # faster than str.translate


def cs_key(text: str) -> str:
    """Exact-case key of an abbreviation."""
    return text.replace(" ", "").replace("-", "").replace("'", "")


@dataclass(frozen=True)
class Term:
    """What a match means."""

    kind: str
    term: str
    exact: str | None = None  # abbreviations: the matched text must have exactly this case (cs_key)
    context: re.Pattern | None = None  # one of these words must be near (ambiguous abbreviations)
    veto: re.Pattern | None = None  # …and this must not match near it


@dataclass
class Vocabulary:
    regex: re.Pattern  # run over "\n" + text.lower(); see module docstring
    keys: dict[str, tuple[Term, ...]]  # ci_key of a phrase or abbreviation → terms
    tails: dict[str, tuple[Term, ...]]  # regex group name → terms (anchored phrases)
    labels: dict[tuple[str, str], str]
    categories: dict[str, str]  # condition → category
    parents: dict[str, str]  # cell type → parent cell type
    suppresses: dict[str, frozenset[str]]  # disclaimer → red flags it cancels in the same sentence
    digest: str  # of the data file: changes when the vocabulary does
    terms: dict[str, list[str]] = field(default_factory=dict)  # kind → canonical keys


# ---------------------------------------------------------------------------------------------------------
# Variants and the trie


def _plural(word: str) -> str | None:
    if len(word) < 3 or not word[-1].isalpha():
        return None
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def _variants(phrase: str) -> list[str]:
    out = [phrase]
    head, _, last = phrase.rpartition(" ")
    plural = _plural(last)
    if plural:
        out.append(f"{head} {plural}" if head else plural)
    return out


def _tokens(phrase: str) -> list[str]:
    toks: list[str] = []
    for ch in phrase.lower():
        if ch in " -":
            if toks and toks[-1] != _SEP:
                toks.append(_SEP)
        elif ch == "'":
            toks.append(_APOS)
        else:
            toks.append(ch)
    while toks and toks[-1] == _SEP:
        toks.pop()
    return toks


class _Node:
    __slots__ = ("children", "terminal", "tails")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.terminal = False
        self.tails: list[tuple[str, str]] = []  # (group name, tail regex)


def _insert(root: _Node, toks: list[str]) -> _Node:
    node = root
    for tok in toks:
        node = node.children.setdefault(tok, _Node())
    return node


def _tok_re(tok: str) -> str:
    if tok == _SEP:
        return "[ -]?"
    if tok == _APOS:
        return "'?"
    return re.escape(tok)


def _boundary(tok: str) -> str:
    return r"\b" if (tok.isalnum() or tok == "_") else ""


def _emit(node: _Node, prev: str, prefix: bool = False) -> str:
    alts: list[str] = []
    # Anchored tails first: "patients report improvement" is an efficacy claim before it is a testimonial.
    for group, tail in node.tails:
        alts.append(f"{_boundary(prev)}(?P<{group}>(?i:{tail}))")
    for tok in sorted(node.children):
        alts.append(_tok_re(tok) + _emit(node.children[tok], tok, prefix))
    if node.terminal:
        alts.append("" if prefix else _boundary(prev))  # last: a longer phrase through this node wins
    if len(alts) == 1:
        return alts[0]
    return "(?:" + "|".join(alts) + ")"


def _emit_root(root: _Node, prefix: bool = False) -> str:
    return "|".join(_tok_re(t) + _emit(root.children[t], t, prefix) for t in sorted(root.children))


def word_prefix_regex(words: list[str]) -> re.Pattern:
    """A regex finding, in "\\n" + lower-cased text, words that start with any of `words` (a trie, as for
    the vocabulary; the match includes the non-word character before the word)."""
    root = _Node()
    for w in words:
        _insert(root, _tokens(w)).terminal = True
    return re.compile(rf"\W(?:{_emit_root(root, prefix=True)})")


# Numbers, on lower-cased text: prices with a currency before or after, percentages, counts of patients or
# procedures, counts of conditions ("over 70 conditions"). Only tried where a digit follows the separator.
_AMOUNT = r"(?:\d{1,3}(?:[,. ]\d{3})+(?:[.,]\d{1,2})?(?!\d)|\d+(?:[.,]\d{1,2})?(?!\d))"
_CODES = ("usd", "eur", "gbp", "chf", "cad", "aud", "mxn", "us$")
NUMERIC = (
    r"(?=\d)(?:"
    rf"(?:(?<=[$€£¥])|(?<=[$€£¥] )|{'|'.join(f'(?<={re.escape(c)} )|(?<={re.escape(c)})' for c in _CODES)})"
    rf"(?P<n_price_pre>{_AMOUNT}(?:\s?k\b)?)"
    rf"|(?P<n_price_post>{_AMOUNT}(?:\s?k\b)?)(?=\s?(?:€|£|\$|(?:usd|eur|euros?|dollars|gbp|pounds|chf|mxn|pesos)\b))"
    rf"|(?P<n_percent>{_AMOUNT}\s?(?:%|percent\b|per\s+cent\b))"
    rf"|(?P<n_count>{_AMOUNT}\+?)(?=\s+(?:[\w-]+\s+){{0,2}}?(?:patients|people|procedures|treatments|"
    r"injections|clients|cases|individuals|families)\b)"
    r"|(?P<n_broad>\d{2,3}\+?)(?=\s+(?:(?:known|human|different|medical|chronic|serious)\s+){0,2}"
    r"(?:conditions|diseases|disorders|illnesses|indications|ailments)\b))"
)
NUMERIC_GROUPS = frozenset(("n_price_pre", "n_price_post", "n_percent", "n_count", "n_broad"))


# ---------------------------------------------------------------------------------------------------------
# Loading


@functools.cache
def _context_re(words: tuple[str, ...]) -> re.Pattern:
    alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"\b(?:{alts})\b", re.I)


def compile_vocabulary(data: dict, digest: str = "") -> Vocabulary:
    root = _Node()
    keys: dict[str, list[Term]] = {}
    tails: dict[str, list[Term]] = {}
    labels: dict[tuple[str, str], str] = {}
    categories: dict[str, str] = {}
    parents: dict[str, str] = {}
    suppresses: dict[str, frozenset[str]] = {}
    terms: dict[str, list[str]] = {}
    default_ctx = _context_re(DEFAULT_CONTEXT)
    tail_ids: dict[tuple[int, str], str] = {}

    def add(variants: list[str], t: Term) -> None:
        for v in variants:
            toks = _tokens(v)
            if not toks:
                continue
            _insert(root, toks).terminal = True
            bucket = keys.setdefault(ci_key(v), [])
            if t not in bucket:
                bucket.append(t)

    for section, kind in SECTIONS.items():
        for key, entry in (data.get(section) or {}).items():
            if kind == "context":  # a plain list of phrases
                for phrase in entry:
                    add(_variants(" ".join(phrase.split())), Term("context", key))
                continue
            terms.setdefault(kind, []).append(key)
            labels[(kind, key)] = entry.get("label") or key.replace("_", " ")
            if "category" in entry:
                categories[key] = entry["category"]
            if "parent" in entry:
                parents[key] = entry["parent"]
            if kind == "disclaimer":
                suppresses[key] = frozenset(entry.get("suppresses") or ())
            plain = Term(kind, key)
            for phrase in (entry.get("synonyms") or []) + (entry.get("phrases") or []):
                add(_variants(" ".join(phrase.split())), plain)
            weak = Term(kind, key, context=default_ctx)
            for phrase in entry.get("contextual") or []:
                add(_variants(" ".join(phrase.split())), weak)
            for ab in entry.get("abbreviations") or []:
                text = ab["text"]
                if ab.get("case_sensitive") is False:
                    add(_variants(text), plain)
                    continue
                ctx = None
                if ab.get("ambiguous") or ab.get("context"):
                    ctx = _context_re(tuple(ab["context"])) if ab.get("context") else default_ctx
                veto = re.compile(ab["veto"]) if ab.get("veto") else None
                for v in (text,) if text.endswith(("s", "S")) else (text, text + "s"):
                    add([v], Term(kind, key, cs_key(v), ctx, veto))
            for anchored in entry.get("anchored") or []:
                tail = anchored.get("tail", "")
                if re.compile(tail).groups:  # also fails loudly on a bad pattern in the data file
                    raise ValueError(f"{section}.{key}: a tail may use (?:...) groups only: {tail}")
                for anchor in anchored["anchors"]:
                    node = _insert(root, _tokens(anchor))
                    # One group per (anchor node, tail): terms sharing both share the group.
                    group = tail_ids.get((id(node), tail))
                    if group is None:
                        group = tail_ids[(id(node), tail)] = f"t{len(tail_ids)}"
                        node.tails.append((group, tail))
                        tails[group] = []
                    if plain not in tails[group]:
                        tails[group].append(plain)

    # Phrases first: "100% safe" is a phrase before it is a percentage.
    pattern = rf"\W(?:{_emit_root(root)}|{NUMERIC})"
    return Vocabulary(
        regex=re.compile(pattern),
        keys={k: tuple(v) for k, v in keys.items()},
        tails={k: tuple(v) for k, v in tails.items()},
        labels=labels,
        categories=categories,
        parents=parents,
        suppresses=suppresses,
        digest=digest,
        terms=terms,
    )


def load_vocabulary(path: str | Path | None = None) -> Vocabulary:
    """Load and compile a vocabulary file (default: the packaged one, compiled once per process)."""
    if path is None or Path(path) == VOCAB_PATH:
        return _default()
    raw = Path(path).read_bytes()
    return compile_vocabulary(yaml.safe_load(raw), hashlib.sha256(raw).hexdigest()[:12])


@functools.lru_cache(maxsize=1)
def _default() -> Vocabulary:
    raw = VOCAB_PATH.read_bytes()
    return compile_vocabulary(yaml.safe_load(raw), hashlib.sha256(raw).hexdigest()[:12])
