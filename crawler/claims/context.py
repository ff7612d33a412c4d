"""Roles: does the page offer what it names, rule it out, or only mention it?

Context is read at four scales:
- the page: does it talk about stem cells at all (else no red flags, products or prices), and does it speak
  as a clinic ("we treat…", a treatments menu, sales wording) or report on others (news, research, advocacy);
- the block: a heading "Stem Cell Treatment for X", a card under "Conditions We Treat", a short list item in a
  treatments menu, a list introduced by "Symptoms include:" or "Benefits observed:";
- the sentence: "we treat…", stem-cell wording, research reporting, background ("symptoms include…",
  "conventional treatments…"), a question;
- the clause: exclusions ("we do not recommend this for X") and negations ("these are NOT embryonic cells")
  stop at "but", ";" and the like.
Disclaimers cancel the red flags they answer in the same sentence ("this is not a cure").

Every rule is a regular expression (a "cue") over lower-cased text. A cue runs at most once per sentence or
block, and only when one of its keywords occurs there (a substring test): most sentences contain none, and a
regex scan costs far more than a few `in` tests.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right

from .match import Hit, lower_same_length
from .model import Block, Claim
from .vocab import Vocabulary, ci_key, word_prefix_regex


class Cue:
    """A regex over lower-cased text behind a keyword pre-check: every match of the regex contains a word
    that starts with one of the keywords."""

    __slots__ = ("name", "keys", "rx")

    def __init__(self, name: str, keys: str, pattern: str) -> None:
        self.name = name
        self.keys = tuple(keys.split("|"))
        self.rx = re.compile(pattern, re.X)
        ALL_CUES.append(self)

    def search(self, low: str) -> bool:
        """On a short lower-case string (a heading, a list's lead-in)."""
        return any(k in low for k in self.keys) and self.rx.search(low) is not None


ALL_CUES: list[Cue] = []


# ---------------------------------------------------------------------------------------------------------
# Cues

# Ruling a condition out. Not "not treated": "if not treated, arthritis worsens" is background.
EXCLUDE = Cue("exclude",
              "not|don|doesn|didn|won|cannot|can't|ineligible|unsuitable|contra|exclu|never|unable|no longer",
              r"""\b(?:
    not\s+(?:be\s+)?(?:recommended|suitable|eligible|appropriate|indicated|accepted|a\s+(?:good\s+|suitable\s+)?
        candidate|candidates|offered|for\s+(?:patients|people|those|anyone|use\s+in))
  | ineligible | unsuitable | contra-?indicat\w* | exclusion\s+criteria | excluded | exclude[sd]?
  | (?:(?:do|does|did|will|can)\s*not|(?:don|doesn|didn|won|can)'t)\s+(?:currently\s+)?
        (?:treat|offer|accept|recommend|provide|take|see|work\s+with)
  | never\s+(?:treat|offer|accept|recommend)\w*
  | (?:unable|not\s+able)\s+to\s+(?:treat|accept|help)
  | no\s+longer\s+(?:treat|offer|accept)\w*
)\b""")

# Ruling a product out: "we do not use embryonic cells", "not derived from embryos".
PRODUCT_EXCLUDE = Cue("product_exclude", "no|don|doesn|never",
                      r"""\b(?:(?:do|does|did)\s+not|don't|doesn't|never|not|no)
    \s+(?:\w+\s+){0,2}?(?:use|used|using|contain|contains|involve|involves|offer|offers|provide|sell|derived?|
    come\s+from|harvest)\b""")

# A clinic speaking for itself about what it does.
FIRST_PERSON = Cue("first_person", "we|our|call|contact|book|schedule|request", r"""
    \b(?:we|our\s+(?:\w+\s+){0,2}?(?:clinic|center|centre|team|doctors?|physicians?|specialists?|staff|practice|
        providers?|hospital|institute|experts?|surgeons?|nurses?|facility|medical\s+director))
      \s+(?:\w+\s+){0,3}?(?:treat|treats|treated|treating|offer|offers|offered|offering|provide|provides|provided|
        providing|perform|performs|performed|use|uses|used|using|help|helps|helped|helping|speciali[sz]e|
        speciali[sz]es|speciali[sz]ed|administer|administers|deliver|delivers|see|sees|accept|accepts|work|works|
        focus|focuses|combine|combines|inject|injects|infuse|infuses|harvest|harvests|source|sources)\b
  | \bour\s+(?:[\w'-]+\s+){0,3}?(?:treatments?|therap(?:y|ies)|programs?|programmes?|protocols?|procedures?|
        injections?|infusions?|services?|patients|clinic|products?|cells|approach|method|technique|packages?)\b
  | \b(?:call|contact)\s+(?:us|now|today)\b
  | \b(?:book|schedule|request)\s+(?:a|an|your)\s+(?:free\s+)?(?:consultation|appointment|visit|evaluation|session)
""")

# Someone else's science, regulators, other clinics; and hopes for the future.
RESEARCH = Cue(
    "research",
    "research|scien|investigat|author|regulat|universit|journal|publish|stud|trial|paper|review|analys|meta|mice|"
    "rats|animal|lab|fda|warn|cautio|clinics|expert|one day|future|someday|eventually",
    r"""\b(?:
    researchers? | scientists? | investigators | authors | regulators? | universit(?:y|ies) | journal
  | published\s+in
  | (?:a|the|this|one|new|recent|small|large|pilot|published|landmark|randomi[sz]ed|controlled|\d{4})\s+
        (?:\w+\s+)?(?:study|trial|paper|review|analysis|meta-analysis)
  | stud(?:y|ies)\s+(?:found|show(?:ed|s)?|suggest\w*|report\w*|publish\w*|conducted|led|enrolled)
  | clinical\s+trials?\s+(?:are|is|have|has|found|show\w*|suggest\w*|enrolled)
  | in\s+(?:mice|rats|animals|the\s+lab(?:oratory)?|a\s+(?:small\s+|phase\s+\w+\s+)?(?:clinical\s+)?trial)
  | fda\s+(?:has\s+)?(?:warn|caution|advis)\w* | warn(?:s|ed|ing)?\b | cautio(?:n|ns|ned)\b
  | (?:some|many|other|unlicensed|unregulated|unproven|rogue|certain|these|such)\s+clinics
  | clinics\s+(?:that\s+)?(?:claim|advertise|market|promise|sell|offer|charge)
  | experts?\s+(?:say|said|warn) | one\s+day | in\s+the\s+future | someday | could\s+eventually
)""")

# Reported speech: someone else's words on a news page; a quoted patient or doctor on a clinic's own page.
SPEECH = Cue("speech", "said|says|stressed|noted|explained|told|added|according",
             r"\b(?:said|says|stressed|noted|explained|told|added|according\s+to)\b")

# Headings about research or news name conditions without offering them.
HEAD_RESEARCH = Cue("head_research", "trial|stud|research|finding|news|scientist",
                    r"\b(?:trials?|study|studies|research\w*|findings|news\w*|scientists?)\b")

# A red flag someone else makes, as reported by the page: "clinics promise cures".
REPORTED = Cue("reported", "claim|promis|advertis|market|tout|sell|lure|pitch|said|says|stated|website",
               r"\b(?:claim\w*|promis\w*|advertis\w*|market\w*|tout\w*|sell\w*|lure\w*|pitch\w*|said|says|stated"
               r"|website)\b")

WARNING = Cue("warning", "warn|beware|red flag|cautio|avoid clinics|questions to ask",
              r"\b(?:warn\w*|beware|red\s+flags?|caution\w*|avoid\s+clinics|questions\s+to\s+ask)\b")

# Background about a condition: what it is, what causes it, what conventional care does.
MENTION = Cue(
    "mention",
    "symptom|sign|may include|caus|risk|leading|complication|characteri|diagnos|prevalen|incidence|affect|"
    "millions|thousands|hundreds|conventional|traditional|standard|medication|drug|physical therap|physiotherapy|"
    "rehabilitation|steroid|painkiller|history|occur|result|develop|progressive|disease|disorder|condition|"
    "syndrome|illness|injury",
    r"""\b(?:
    symptoms? | signs\s+(?:of|and|include) | may\s+include | caused\s+by | causes? | risk\s+(?:of|factors?)
  | leading\s+cause | complications?\s+(?:of|include) | characteri[sz]ed | diagnos\w* | prevalen\w* | incidence
  | affects? | affecting | affected
  | (?:millions|thousands|hundreds)\s+of\s+(?:people|americans|adults|children|patients)
  | conventional | traditional | standard\s+(?:of\s+)?(?:care|treatments?|therapy) | medications? | drugs?
  | physical\s+therap(?:y|ist) | physiotherapy | rehabilitation | steroids? | painkillers?
  | history | occurs?\s+when | results?\s+from | develops? | progressive\s+(?:disease|disorder|condition)
  | is\s+(?:a|an)\s+(?:\w+\s+){0,3}(?:disease|disorder|condition|syndrome|illness|injury)
)\b""")

CONVENTIONAL = Cue("conventional", "conventional|traditional|standard|medication|drug|surgery|steroid|painkiller",
                   r"\b(?:conventional|traditional|standard|medications?|drugs?|surgery|steroids?|painkillers?)\b")

# Offering in general terms; counts only on a page that speaks as a clinic (see _Page.voice).
GENERIC_OFFER = Cue(
    "generic_offer",
    "treat|therap|inject|infus|transplant|program|protocol|procedure|solution|relie|option|heal|repair|fix|"
    "reverse|cure|help|benefit|improve|reduce|restore|candidate|suffer|if you|patients|people|those|adults|"
    "children|used|welcome|qualify",
    r"""
    \b(?:treatments?|therap(?:y|ies)|injections?|infusions?|transplant(?:s|ation)?|programs?|programmes?|
        protocols?|procedures?|solutions?|relief|options?)\s+(?:for|of|to\s+treat|to\s+help)\b
  | \bto\s+(?:treat|heal|repair|fix|relieve|reverse|cure|help)\b | \btreat(?:s|ing|ed)?\b
  | \bcan\s+(?:help|benefit|improve|relieve|reduce|repair|restore|heal)\b
  | \bhelps?\s+(?:with|patients|people|those|you)\b | \bbenefit\s+from\b | \bcandidates?\b
  | \bsuffer(?:ing|s)?\s+(?:from|with)\b | \bif\s+you\s+(?:have|suffer)
  | \bfor\s+(?:patients|people|those|adults|children)\s+(?:with|suffering|who)\b | \bused\s+(?:for|to\s+treat)\b
  | \bare\s+welcome\b | \b(?:may|can)\s+qualify\b""")

# The condition is named in a list of symptoms or causes: "Symptoms include cramps, pain and depression".
SYMPTOM_BEFORE = Cue("symptom_before", "symptom|sign|complication|side effect|caus|risk|lead|result|increase",
                     r"""
    \b(?:symptoms?|signs|complications?|side\s+effects?)\b[^.;]{0,80}?(?:\binclud\w*|\bsuch\s+as|\blike\b|:)
  | \b(?:caused\s+by|cause\s+of|causes|risk\s+of|leads?\s+to|leading\s+to|results?\s+in|resulting\s+in|
        increases?\s+the\s+risk\s+of)\b[^.;]{0,60}$""")

HEADING_MENTION = Cue(
    "heading_mention",
    "what|caus|symptom|sign|understanding|about|overview|facts|history|statistic|living with|types of|myth|"
    "diagnos|prognosis|risk|vs|versus|definition|background",
    r"""\b(?:what\s+(?:is|are|causes) | causes? | symptoms? | signs | understanding | about | overview | facts
    | history | statistics | living\s+with | types\s+of | myths? | diagnos\w* | prognosis | risk\s+factors? | vs\.?
    | versus | definition | background)\b""")

OFFER_TERM = Cue(
    "offer_term",
    "treat|therap|program|protocol|inject|infus|transplant|procedure|service|relief|solution|regenerat|repair|"
    "recovery",
    r"""\b(?:treat\w* | therap(?:y|ies) | programs? | protocols? | injections? | infusions? | transplant\w*
    | procedures? | services? | relief | solutions? | regenerat\w* | repair | recovery)\b""")

NEWS_LABEL = Cue("news_label", "blog|news|article|post|research|resources|stor|related|reading|press|media|event|"
                 "webinar",
                 r"""\b(?:blog | news\w* | articles? | posts? | research | resources | stories | story | related
    | reading | press | media | events? | webinars?)\b""")

LIST_OFFER = Cue(
    "list_offer",
    "treat|therap|condition|indication|disorder|disease|service|specialt|program|procedure|protocol|candidate|"
    "benefit|application|areas of|help|used|offer|stem|regenerative|exosome",
    r"""\b(?:treat\w* | therap(?:y|ies) | conditions? | indications? | disorders | diseases
    | services | specialt(?:y|ies) | programs? | procedures | protocols | candidates? | benefit | applications?
    | areas\s+of\s+(?:focus|expertise) | we\s+help | can\s+help | helps?\s+with | used\s+(?:for|to\s+treat)
    | offer\w* | stem[\s-]?cells? | regenerative | exosomes?)\b""")

# A heading over a list of what the clinic treats: "Conditions We Treat", "Treatments", "Who Can Benefit".
LIST_HEAD = Cue(
    "list_head", "condition|disease|disorder|indication|injuries|treat|therapies|service|specialt|benefit|"
    "candidate",
    r"""\b(?:conditions | diseases | disorders | indications | injuries | treatments | therapies
    | services | specialt(?:y|ies) | we\s+(?:commonly\s+|also\s+)?treat | who\s+(?:can|may)\s+benefit
    | candidates?)\b""")

LIST_MENTION = Cue(
    "list_mention",
    "symptom|sign|benefit|improvement|result|outcome|caus|risk|side effect|complication|conventional|"
    "traditional|medication|observed|reported|history|facts|types of|myth",
    r"""\b(?:symptoms? | signs | benefits? | improvements? | results | outcomes | causes?
    | risks? | side\s+effects | complications | conventional | traditional | medications? | observed | reported
    | history | facts | types\s+of | myths?)\b""")

COMPARE_BEFORE = Cue("compare_before", "unlike|compared|versus|vs|rather than|instead of|as opposed|than",
                     r"""\b(?:unlike|compared\s+(?:to|with)|versus|vs\.?|rather\s+than|instead\s+of|as\s+opposed\s+to
                     |than)\b[^.;]{0,60}$""")

EDUCATION = Cue(
    "education", "found|derived|obtained|harvested|isolated|collected|sourced|source|type|kinds|what",
    r"""\b(?:
    found\s+in | (?:can|may|are)\s+be\s+(?:derived|obtained|harvested|isolated|collected|found|sourced)
  | (?:derived|obtained|harvested|isolated)\s+from\s+(?:several|many|various|different)
  | sources?\s+(?:of|include) | types?\s+of\s+stem\s+cells | there\s+are\s+(?:\w+\s+)?(?:types|kinds|sources)
  | what\s+(?:are|is)
)\b""")

# Any negation at all: a cheap gate before looking at the words in front of a term.
NEGATION = Cue("negation", "no|never|neither|without|cannot|can't|don|doesn|didn|won|isn|aren|wasn|weren|hasn|"
               "haven|shouldn|wouldn|couldn",
               r"\b(?:not|no|never|neither|nor|without|cannot|non)\b|n't\b")

# Clause boundaries inside a sentence (";" is looked for directly: it is not a word).
CLAUSE = Cue("clause", "but|however|whereas|while|although|except",
             r";|\bbut\b|\bhowever\b|\bwhereas\b|\bwhile\b|\balthough\b|\bexcept\b")

# One pass over the page finds every cue keyword (word starts); a cue's regex then runs only on a sentence or
# span holding one of its keywords. A keyword found also stands for the shorter keywords inside it.
_ALL_KEYS = sorted({k for c in ALL_CUES for k in c.keys})
_KEYWORDS = word_prefix_regex(_ALL_KEYS)
_KEY_CUES = {
    ci_key(key): frozenset(c.name for c in ALL_CUES if any(ci_key(k) in ci_key(key) for k in c.keys))
    for key in _ALL_KEYS
}
_NO_CUES: frozenset[str] = frozenset()

# An answer that says no: "No.", "No, we…", "Unfortunately…", "We do not…".
_NO_ANSWER = re.compile(r"(?:no\b|unfortunately\b|we\s+(?:do\s+not|don't|cannot|can't)\b)")
_YES_ANSWER = re.compile(r"(?:yes\b|absolutely\b|of\s+course\b|we\s+(?:do|can|treat)\b)")

_SENT_END = re.compile(r"[.!?]+[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_NOT_AN_END = re.compile(r"\b(?:e\.g|i\.e|dr|mr|mrs|ms|vs|approx|st|no|fig|prof|inc|ltd|u\.s)\.$", re.I)
_NEG_WORDS = frozenset(("not", "no", "never", "neither", "nor", "without", "cannot", "non"))
_NEG_BREAK = frozenset(("with", "but", "which", "that", "who", "because", "so", "while", "instead", "rather",
                        "only", "than", ",", ";", ":"))
_WORDS = re.compile(r"[\w']+|[,;:]")


def _negated(prefix: str, reach: int) -> bool:
    """A negation among the last `reach` words before a term, with nothing in between that ends its scope."""
    for w in reversed(_WORDS.findall(prefix)[-reach:]):
        if w in _NEG_BREAK:
            return False
        if w in _NEG_WORDS or w.endswith("n't"):
            return True
    return False


# ---------------------------------------------------------------------------------------------------------
# The page


# Words by which a sentence points back at conditions named just before it.
_ANAPHOR = re.compile(r"\b(?:these|those|such|either|neither|both)\s+(?:conditions?|diseases?|disorders?|illnesses)\b"
                      r"|\b(?:treat|offer\s+(?:treatment|therapy)\s+for|accept)\s+(?:them|these|those|either)\b")


class _Sentence:
    """One sentence of a block; cue answers are remembered."""

    __slots__ = ("start", "end", "pg", "_present", "rest", "memo", "_cues", "_bounds")

    def __init__(self, start: int, end: int, pg: _Page) -> None:
        self.start, self.end, self.pg = start, end, pg
        self._present: frozenset[str] | None = None
        self.rest: str | None = None  # the sentence without its red-flag wording (see assign_roles)
        self.memo: dict[str, object] = {}  # what is the same for every term of the sentence (roles…)
        self._cues: dict[str, bool] = {}
        self._bounds: list[int] | None = None

    @property
    def low(self) -> str:
        return self.pg.low[self.start:self.end]

    @property
    def question(self) -> bool:
        return self.pg.text[self.start:self.end].rstrip("\"') ").endswith("?")

    @property
    def present(self) -> frozenset[str]:
        """Cues with a keyword in this sentence (found on first use: many sentences never need it)."""
        if self._present is None:
            self._present = self.pg.cues_between(self.start, self.end)
        return self._present

    def has(self, cue: Cue) -> bool:
        if cue.name not in self.present:
            return False
        v = self._cues.get(cue.name)
        if v is None:
            v = self._cues[cue.name] = cue.rx.search(self.pg.low, self.start, self.end) is not None
        return v

    def clause(self, h: Hit) -> tuple[int, int]:
        """The clause around a hit: "We treat autism, but we do not treat cancer" has two."""
        if self._bounds is None:
            self._bounds = []
            low = self.low
            if CLAUSE.name in self.present or ";" in low:
                for m in CLAUSE.rx.finditer(low):
                    self._bounds += [self.start + m.start(), self.start + m.end()]
        lo, hi = self.start, self.end
        b = self._bounds
        for i in range(0, len(b), 2):
            if b[i + 1] <= h.start:
                lo = b[i + 1]
            elif b[i] >= h.end:
                hi = b[i]
                break
        return lo, hi


class _Page:
    def __init__(self, text: str, low: str, blocks: list[Block], hits: list[Hit]) -> None:
        self.text, self.low, self.blocks = text, low, blocks
        found = [(m.start(), m.group()) for m in _KEYWORDS.finditer("\n" + low)]
        self.kw_pos: list[int] = [pos for pos, _ in found]  # a word's offset (the match starts one before it)
        key_cues = _KEY_CUES
        self.kw_cues: list[frozenset[str]] = [
            key_cues.get(word[1:]) or key_cues.get(ci_key(word[1:]), _NO_CUES) for _, word in found]
        self._strings: dict[tuple[str, str], bool] = {}
        self._block_cues: dict[tuple[str, int], bool] = {}
        # Talks about stem cells / regenerative care at all (else: no red flags, products, prices…).
        self.stem_blocks = {h.block for h in hits if h.kind in ("context", "cell_type")}
        self.clinical = bool(self.stem_blocks)
        # Speaks as a clinic: "we treat…", "our protocol…", sales wording, a treatments menu. News, research
        # and advocacy pages name stem cells and diseases in one sentence without offering anything.
        self.voice = self.clinical and (
            any(h.kind == "red_flag" and h.term == "sales_pressure_pricing" for h in hits)
            or self._first_person_in_main()
            or any(b.zone in ("nav", "header") and b.kind == "li" and self.has(LIST_OFFER, b.section.lower())
                   and not self.has(NEWS_LABEL, b.section.lower()) for b in blocks)
        )
        self._sentences: dict[int, _Sentence] = {}
        self._starts: dict[int, list[int]] = {}
        self._ends: dict[int, list[int]] = {}
        self._leads: dict[int, str] = {}
        self._block_roles: dict[int, str] = {}
        self._section_offer: dict[int, bool] = {}
        self._parent: list[int] | None = None

    def _first_person_in_main(self) -> bool:
        """Only the blocks holding a first-person keyword ("we", "our", "call"…) are read."""
        starts = [b.start for b in self.blocks]
        tried: set[int] = set()
        for pos, cues in zip(self.kw_pos, self.kw_cues):
            if FIRST_PERSON.name in cues:
                bi = bisect_right(starts, pos) - 1
                if bi not in tried:
                    tried.add(bi)
                    if self.blocks[bi].zone == "main" and self.block_has(FIRST_PERSON, bi):
                        return True
        return False

    def ancestors(self, bi: int) -> list[int]:
        """The headings above a block, innermost first (same zone): "Lupus" < "Conditions We Treat"."""
        if self._parent is None:  # one pass: each block's nearest enclosing heading
            self._parent = parent = []
            stacks: dict[str, list[tuple[int, int]]] = {}
            for i, b in enumerate(self.blocks):
                stack = stacks.get(b.zone)
                if stack is None:
                    stack = stacks[b.zone] = []
                if b.kind == "heading":
                    while stack and stack[-1][0] >= b.level:
                        stack.pop()
                    parent.append(stack[-1][1] if stack else -1)
                    stack.append((b.level, i))
                else:
                    parent.append(stack[-1][1] if stack else -1)
        out = []
        j = self._parent[bi]
        while j >= 0:
            out.append(j)
            j = self._parent[j]
        return out

    def cues_between(self, a: int, b: int) -> frozenset[str]:
        """Cues with a keyword starting in text[a:b]."""
        i, j = bisect_left(self.kw_pos, a), bisect_left(self.kw_pos, b)
        if i == j:
            return _NO_CUES
        if j - i == 1:
            return self.kw_cues[i]
        return frozenset().union(*self.kw_cues[i:j])

    def span_has(self, cue: Cue, a: int, b: int) -> bool:
        return cue.name in self.cues_between(a, b) and cue.rx.search(self.low, a, b) is not None

    def block_has(self, cue: Cue, bi: int) -> bool:
        key = (cue.name, bi)
        v = self._block_cues.get(key)
        if v is None:
            b = self.blocks[bi]
            v = self._block_cues[key] = self.span_has(cue, b.start, b.end)
        return v

    def _split(self) -> None:
        """Sentence ends of the whole page in one pass (the regex skips fast to '.', '!' and '?')."""
        text = self.text
        self._cut_at: list[int] = []  # where a sentence ends (inclusive of its punctuation)
        self._next_at: list[int] = []  # where the next one starts
        for m in _SENT_END.finditer(text):
            if "\n" in m.group():
                continue  # the end of a block: blocks are split anyway
            if text[m.start()] == "." and _NOT_AN_END.search(text, max(0, m.start() - 8), m.start() + 1):
                continue  # "e.g." or "Dr." is not the end of a sentence
            self._cut_at.append(m.start() + len(m.group().rstrip()))
            self._next_at.append(m.end())

    def excluded_by_next(self, s: _Sentence, bi: int) -> bool:
        """The next sentence of the block rules out what this one named, by pointing back at it."""
        starts = self._starts.get(bi, [])
        i = bisect_right(starts, s.start)
        if i >= len(starts):
            return False
        lo, hi = starts[i], self._ends[bi][i]
        return bool(_ANAPHOR.search(self.low, lo, hi)) and self.span_has(EXCLUDE, lo, hi)

    def sentence(self, h: Hit) -> _Sentence:
        bi = h.block
        starts = self._starts.get(bi)
        if starts is None:
            if not hasattr(self, "_cut_at"):
                self._split()
            b = self.blocks[bi]
            i, j = bisect_left(self._next_at, b.start), bisect_left(self._next_at, b.end)
            starts = [b.start, *self._next_at[i:j]]
            self._starts[bi] = starts
            self._ends[bi] = [*self._cut_at[i:j], b.end]
        i = bisect_right(starts, h.start) - 1 if len(starts) > 1 else 0
        key = starts[i]
        sent = self._sentences.get(key)
        if sent is None:  # made on first use: most sentences of a long block hold no claim
            sent = self._sentences[key] = _Sentence(key, self._ends[bi][i], self)
        return sent

    def block_condition_role(self, bi: int) -> str:
        role = self._block_roles.get(bi)
        if role is None:
            role = self._block_roles[bi] = _block_condition_role(self, bi)
        return role

    def question(self, bi: int) -> bool:
        return self.text[self.blocks[bi].start:self.blocks[bi].end].rstrip("\"') ").endswith("?")

    def answer_role(self, bi: int) -> str:
        """A question naming a condition: "Do you treat X?" answered "No." rules X out, answered "Yes" offers
        it; otherwise the question only names it (unless it is about stem cells: "How can stem cells help X?")."""
        b = self.blocks[bi]
        nxt = next((n for n in self.blocks[bi + 1:bi + 3] if n.zone == b.zone), None)
        if nxt is not None and _NO_ANSWER.match(self.low, nxt.start):
            return "excluded"
        if nxt is not None and self.voice and _YES_ANSWER.match(self.low, nxt.start):
            return "offered"  # "Can you help with tendonitis?" "Yes, …"
        return "offered" if bi in self.stem_blocks and self.voice else "mentioned"

    def has(self, cue: Cue, low: str) -> bool:
        """A cue in a short string (a section heading, a list's lead-in), remembered per page."""
        key = (cue.name, low)
        v = self._strings.get(key)
        if v is None:
            v = self._strings[key] = cue.search(low)
        return v

    def lead(self, bi: int) -> str:
        """For a list item or table cell: the paragraph that introduces its list ("We treat:") and, for a
        table cell, the cells before it (the column header "Conditions"). Lower case."""
        if bi not in self._leads:
            self._leads[bi] = self._lead(bi)
        return self._leads[bi]

    def _lead(self, bi: int) -> str:
        b = self.blocks[bi]
        j = bi - 1
        cells: list[str] = []
        while j >= 0 and self.blocks[j].kind in ("li", "td") and bi - j < 80:
            if b.kind == "td" and self.blocks[j].kind == "td" and len(cells) < 12:
                cells.append(self.low[self.blocks[j].start:self.blocks[j].end])
            j -= 1
        lead = ""
        if j >= 0:
            p = self.blocks[j]
            if p.kind in ("p", "text") and p.zone == b.zone and p.section == b.section:
                lead = self.low[p.start:p.end]
        return " ".join([lead, *cells]) if cells else lead

    def offer_above(self, bi: int, first_person: bool = False) -> bool:
        """A heading above says the section lists what the clinic treats ("Conditions We Treat"); for a
        heading, also one in the clinic's voice ("Stories From Our Patients" > "Anita - Knee Arthritis")."""
        for j in self.ancestors(bi):
            if (self.block_has(LIST_HEAD, j) or (first_person and self.block_has(FIRST_PERSON, j))) and not (
                    self.block_has(LIST_MENTION, j) or self.block_has(RESEARCH, j)
                    or self.block_has(HEAD_RESEARCH, j)):
                return True
        return False

    def section_offers(self, bi: int) -> bool:
        """Under a heading that only names a condition: does its section offer treatment?"""
        if bi in self._section_offer:
            return self._section_offer[bi]
        head = self.blocks[bi]
        level = head.level if head.kind == "heading" else 0
        found = False
        for j in range(bi + 1, min(len(self.blocks), bi + 20)):
            b = self.blocks[j]
            if b.zone != head.zone:
                continue
            if b.kind == "heading" and level and b.level <= level:
                break
            if self.block_has(RESEARCH, j):
                continue
            if j in self.stem_blocks or self.block_has(FIRST_PERSON, j) or (
                    self.voice and self.block_has(GENERIC_OFFER, j)):
                found = True
                break
        self._section_offer[bi] = found
        return found


# ---------------------------------------------------------------------------------------------------------
# Roles


def _heading_role(pg: _Page, bi: int) -> str:
    if (pg.block_has(RESEARCH, bi) or pg.block_has(NEWS_LABEL, bi) or pg.block_has(HEAD_RESEARCH, bi)
            or not pg.voice):
        return "mentioned"  # a news headline names treatments without offering them
    if pg.question(bi):
        return pg.answer_role(bi)  # "Do you treat rheumatoid arthritis?" is asked, not offered
    if bi in pg.stem_blocks:
        return "offered"  # "Stem Cell Treatment for X"
    if pg.block_has(HEADING_MENTION, bi):
        return "mentioned"  # "What is X?", "Symptoms of X"
    if pg.block_has(OFFER_TERM, bi):
        return "offered"  # "X Treatment Program"
    # A heading that only names the condition: its place and its section decide, on a clinic's page.
    if pg.offer_above(bi, first_person=True) or pg.section_offers(bi):
        return "offered"
    return "mentioned"


def _condition_role(pg: _Page, h: Hit, s: _Sentence, stem_in_sentence: bool) -> str:
    # Where the condition sits in its clause: "…we do not treat cancer", "symptoms include depression".
    if EXCLUDE.name in s.present and s.has(EXCLUDE):
        lo, hi = s.clause(h)
        if pg.span_has(EXCLUDE, lo, hi) and not pg.span_has(CONVENTIONAL, lo, hi):
            return "excluded"
    role = pg.block_condition_role(h.block)
    if role:
        return role
    if pg.excluded_by_next(s, h.block):
        return "excluded"  # "We are asked about X. We do not treat these conditions."
    if SYMPTOM_BEFORE.name in s.present and pg.span_has(SYMPTOM_BEFORE, s.start, h.start):
        return "mentioned"
    # The same for every condition of the sentence: worked out once.
    role = s.memo.get("condition")
    if role is None:
        role = s.memo["condition"] = _sentence_condition_role(pg, s, h.block, stem_in_sentence)
    return role


def _sentence_condition_role(pg: _Page, s: _Sentence, bi: int, stem_in_sentence: bool) -> str:
    if s.has(FIRST_PERSON):
        return "offered"
    if s.has(RESEARCH):
        return "mentioned"
    if stem_in_sentence and pg.voice:
        return "offered"
    if s.has(MENTION):
        return "mentioned"
    if pg.voice and (s.has(GENERIC_OFFER) or pg.offer_above(bi)):
        return "offered"
    return "mentioned"


def _block_condition_role(pg: _Page, bi: int) -> str:
    """What the block alone says about any condition in it ('' if it leaves it to the sentence): under an
    exclusion heading, in a heading, or a short list item / menu entry read with its list's heading."""
    b = pg.blocks[bi]
    lead = pg.lead(bi) if b.kind in ("li", "td") else ""
    section = b.section.lower()
    if pg.has(EXCLUDE, section) or (lead and pg.has(EXCLUDE, lead)):
        return "excluded"
    if b.kind in ("heading", "title"):
        return _heading_role(pg, bi)
    if pg.question(bi):
        return pg.answer_role(bi)
    if (b.kind in ("li", "td") or b.zone != "main") and b.text.count(" ") < 8:
        around = f"{section} {lead}"
        if pg.has(NEWS_LABEL, around) or pg.has(LIST_MENTION, around):
            return "mentioned"
        if pg.has(LIST_OFFER, around) or (b.zone != "main" and pg.clinical):
            return "offered"
    return ""


def _product_role(pg: _Page, h: Hit, s: _Sentence) -> str | None:
    """Cell types and routes."""
    if not pg.clinical:
        return None  # "herbal infusion" on a recipe page is not a delivery route
    lo = -1
    if NEGATION.name in s.present and s.has(NEGATION):
        lo, _ = s.clause(h)
        if _negated(pg.low[lo:h.start], 6) or pg.span_has(PRODUCT_EXCLUDE, lo, h.start):
            return "excluded"
    role = s.memo.get("product")
    if role is None:
        role = s.memo["product"] = _sentence_product_role(pg, s, h.block)
    if role == "compare":  # "unlike embryonic cells, …": only what stands after the comparison word
        if pg.span_has(COMPARE_BEFORE, s.clause(h)[0] if lo < 0 else lo, h.start):
            return "mentioned"
        return _sentence_product_role(pg, s, h.block, compared=True)
    return role


def _sentence_product_role(pg: _Page, s: _Sentence, bi: int, compared: bool = False) -> str:
    if s.question:
        return "mentioned"  # "Do you use embryonic stem cells?" asks, it does not offer
    if s.has(FIRST_PERSON):
        return "offered"
    if s.has(RESEARCH):
        return "mentioned"
    if not compared and COMPARE_BEFORE.name in s.present:
        return "compare"
    if s.has(EDUCATION):
        return "mentioned"
    b = pg.blocks[bi]
    if b.kind in ("heading", "title") and (pg.block_has(NEWS_LABEL, bi) or pg.block_has(HEADING_MENTION, bi)):
        return "mentioned"
    return "offered" if pg.voice else "mentioned"


def _assertion_role(pg: _Page, h: Hit, s: _Sentence, suppressed: set[str]) -> str | None:
    """Red flags, prices, statistics, disclaimers: said in the page's own voice, reported, or cancelled.
    Research cues are read in the sentence without its red-flag wording: "Studies show…" is the claim."""
    b = pg.blocks[h.block]
    if not pg.clinical or b.zone == "nav":
        return None  # not about stem cells at all, or a menu label
    reported = s.memo.get("reported")
    if reported is None:
        reported = _rest_has(s, RESEARCH) or (not pg.voice and _rest_has(s, SPEECH))
        reported = s.memo["reported"] = reported and not _rest_has(s, FIRST_PERSON)
    if h.kind == "red_flag":
        if h.term in suppressed or s.question:
            return None  # hedged, or only asked ("Will this cure my arthritis?")
        if NEGATION.name in s.present and s.has(NEGATION) and _negated(pg.low[s.clause(h)[0]:h.start], 3):
            return None
        if reported or not pg.voice:
            # Someone else's claim: keep it only when the page says someone makes it.
            if _rest_has(s, REPORTED) or _rest_has(s, WARNING) or pg.has(WARNING, b.section.lower()):
                return "mentioned"
            return None
        return "offered"
    if h.kind == "disclaimer":
        return "mentioned" if reported else "offered"
    return "mentioned" if reported or not pg.voice else "offered"


def _rest_has(s: _Sentence, cue: Cue) -> bool:
    key = "rest:" + cue.name
    v = s.memo.get(key)
    if v is None:
        v = s.memo[key] = cue.name in s.present and cue.rx.search(s.rest or "") is not None
    return bool(v)


def _without(low: str, s: _Sentence, spans: list[tuple[int, int]]) -> str:
    """The sentence with the given spans blanked out."""
    out, pos = [], s.start
    for a, e in sorted(spans):
        if a >= pos:
            out.append(low[pos:a])
            pos = e
    out.append(low[pos:s.end])
    return " ".join(out)


def assign_roles(text: str, blocks: list[Block], hits: list[Hit], vocab: Vocabulary,
                 low: str | None = None) -> list[Claim]:
    """Claims from hits: a role for each, red flags cancelled by their disclaimers, one claim per
    (kind, term, role, sentence), in document order. `low` is text.lower() (same length) if at hand."""
    if low is None:
        low = lower_same_length(text)
    pg = _Page(text, low, blocks, hits)
    sent_of = [pg.sentence(h) for h in hits]
    # Per sentence: red flags cancelled by disclaimers, stem-cell wording, red-flag spans.
    suppressed: dict[int, set[str]] = {}
    stem: set[int] = set()
    flag_spans: dict[int, list[tuple[int, int]]] = {}
    for h, s in zip(hits, sent_of):
        if h.kind == "disclaimer":
            suppressed.setdefault(s.start, set()).update(vocab.suppresses.get(h.term, ()))
        elif h.kind in ("context", "cell_type"):
            stem.add(s.start)
        elif h.kind == "red_flag":
            flag_spans.setdefault(s.start, []).append((h.start, h.end))
        elif h.kind == "statistic":
            # "72% of patients report…" is survey data, not an anecdote.
            suppressed.setdefault(s.start, set()).add("testimonial_anecdote")
    none: set[str] = set()

    claims: list[Claim] = []
    seen: set[tuple] = set()
    for h, s in zip(hits, sent_of):
        kind = h.kind
        if kind == "context":
            continue
        if kind == "condition":
            role: str | None = _condition_role(pg, h, s, s.start in stem)
        elif kind in ("cell_type", "route"):
            role = _product_role(pg, h, s)
        else:
            if s.rest is None:
                s.rest = _without(low, s, flag_spans.get(s.start, []))
            role = _assertion_role(pg, h, s, suppressed.get(s.start, none))
        if role is None:
            continue
        key = (kind, h.term, role, s.start, _value(h))
        if key in seen:
            continue  # one claim per (kind, term, role, sentence); prices and statistics per value
        seen.add(key)
        b = blocks[h.block]
        claims.append(_claim(kind, h.term, role, text[s.start:s.end], b.section, b.zone, h.start, h.end,
                             h.detail))
    return claims


def _value(h: Hit) -> object:
    """"$9,500 or $15,000" are two prices in one sentence; for other kinds the sentence is the unit."""
    if h.detail is None or h.kind not in ("price", "statistic"):
        return None
    return h.detail.get("amount", h.detail.get("value"))


def _claim(kind: str, term: str, role: str, evidence: str, section: str, zone: str, start: int, end: int,
           detail: dict | None) -> Claim:
    """Claim(...) without the frozen dataclass __init__ (nine object.__setattr__ calls): the same object,
    built with one dict; pages with hundreds of claims notice the difference."""
    c = object.__new__(Claim)
    object.__setattr__(c, "__dict__", {"kind": kind, "term": term, "role": role, "evidence": evidence,
                                       "section": section, "zone": zone, "start": start, "end": end,
                                       "detail": detail})
    return c
