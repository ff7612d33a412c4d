"""Generate a synthetic stem-cell clinic website for benchmarks, deterministic from a seed.

    python bench/sitegen.py OUT_DIR --pages 5000 --base http://127.0.0.1:8080

Every page is 20–60 KB of HTML shaped like a real clinic site: a header with a treatments menu,
breadcrumbs, a lead paragraph, paragraphs of marketing with stem-cell claims, a list of conditions,
a price table, testimonials, related links and a footer. Page 0 is /index.html; page i links to
i+1 (so every page is reachable) and to a few seeded random pages (so the link graph is shallow
and a breadth-first crawl has a wide frontier, as on a real site). The text is invented here from
the word lists below; sitemap.xml and robots.txt carry absolute URLs, so they need the base URL.
"""

from __future__ import annotations

import argparse
import html
import os
import random
from pathlib import Path

SECTIONS = ("treatments", "conditions", "blog", "patients", "research", "locations")

CONDITIONS = (
    "autism", "multiple sclerosis", "Parkinson's disease", "ALS", "knee osteoarthritis",
    "spinal cord injury", "stroke recovery", "cerebral palsy", "long COVID", "COPD",
    "type 2 diabetes", "heart failure", "lupus", "rheumatoid arthritis", "macular degeneration",
    "Alzheimer's disease", "erectile dysfunction", "hair loss", "chronic back pain", "Crohn's disease",
    "neuropathy", "kidney disease", "liver cirrhosis", "muscular dystrophy", "traumatic brain injury",
    "rotator cuff tears", "tennis elbow", "fibromyalgia", "psoriasis", "anti-aging",
)
CELLS = (
    "umbilical cord mesenchymal stem cells", "adipose-derived stem cells", "bone marrow concentrate",
    "stromal vascular fraction", "Wharton's jelly", "exosomes", "placental tissue allografts",
    "amniotic fluid", "cord blood stem cells", "autologous stem cells", "expanded MSCs",
)
ROUTES = (
    "intravenous infusion", "intrathecal injection", "joint injection", "intranasal delivery",
    "nebulised inhalation", "lumbar puncture", "targeted injection under ultrasound guidance",
)
CLAIMS = (
    "with a success rate of {pct}%", "and most patients see results within {n} weeks",
    "which can reverse the damage", "offering a natural alternative to surgery",
    "using FDA-registered laboratories", "backed by over {n} published studies",
    "with no risk of rejection", "that regenerate damaged tissue", "to restore lost function",
    "in a safe, minimally invasive outpatient procedure", "with lasting relief for years",
)
NOUNS = ("patients", "families", "our physicians", "the care team", "our laboratory", "each protocol",
         "the clinic", "our coordinators", "the medical director", "international visitors")
VERBS = ("recommend", "provide", "deliver", "design", "monitor", "coordinate", "review", "prepare",
         "personalise", "schedule")
FILLER = ("comfortable", "modern", "accredited", "experienced", "caring", "advanced", "proven",
          "innovative", "personal", "gentle", "trusted", "leading", "world-class", "dedicated")
NAMES = ("Maria", "James", "Aisha", "Tomás", "Linh", "Olga", "Pedro", "Grace", "Samir", "Hannah",
         "Kenji", "Fatima", "Lucas", "Ingrid", "Noah", "Priya")
THINGS = ("visit", "schedule", "consultation", "itinerary", "review", "assessment", "welcome pack",
          "recovery plan", "transfer", "check-in", "briefing", "care package", "follow-up", "hotel stay")
LINKS = ("with", "before", "after", "during", "within", "around", "for")
UNITS = ("days", "weeks", "hours", "visits", "calls", "nights")
PROSE = tuple("""airport bilingual nurses spacious suites private driver calm recovery garden meals included
translator on call flexible dates family friendly payment plans video call secure records sunny terrace
quiet rooms fresh linen daily rounds local guide ocean view short walk pharmacy nearby wifi lounge coffee
shuttle reception evening snacks early checkin late checkout parking luggage concierge insurance forms
invoices receipts reminders newsletter webinar brochure gallery tour staff photos awards reviews ratings
community events seminars open house volunteer program scholarship partners hotels restaurants beaches
museums markets weather season holidays timezone currency exchange visa passport vaccines transport
""".split())
CITIES = ("Cancún", "Tijuana", "Panama City", "Nassau", "San José", "Bangkok", "Istanbul", "Kyiv",
          "Phoenix", "Miami", "Dallas", "Los Angeles", "Denver", "Atlanta")

MIN_SIZE, MAX_SIZE = 20_000, 60_000
LEAD_MARK = '<p class="lead">'


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def page_path(i: int) -> str:
    """Root-relative URL path of page i."""
    if i == 0:
        return "/index.html"
    return f"/{SECTIONS[i % len(SECTIONS)]}/{slug(CONDITIONS[i % len(CONDITIONS)])}-{i}.html"


class Writer:
    """Sentences and blocks from the word lists; one seeded Random per page keeps pages independent."""

    def __init__(self, rng: random.Random):
        self.r = rng

    def sentence(self) -> str:
        """Mostly plain marketing prose; about one sentence in twenty names a therapy or rules one out,
        which keeps a page near the few dozen claims a real clinic page makes."""
        r = self.r
        kind = r.random()
        if kind < 0.04:
            claim = r.choice(CLAIMS).format(pct=r.randint(70, 99), n=r.randint(2, 400))
            return (f"Our {r.choice(FILLER)} program uses {r.choice(CELLS)} by {r.choice(ROUTES)} "
                    f"to treat {r.choice(CONDITIONS)}, {claim}.")
        if kind < 0.06:
            return (f"We do not treat {r.choice(CONDITIONS)} with {r.choice(CELLS)}; "
                    f"ask {r.choice(NOUNS)} about {r.choice(FILLER)} options instead.")
        words = [r.choice(NOUNS).capitalize(), r.choice(VERBS), "a", r.choice(FILLER), r.choice(THINGS),
                 r.choice(LINKS), *r.sample(PROSE, r.randint(4, 9)), "in", r.choice(CITIES),
                 f"{r.choice(LINKS)} {r.randint(2, 48)} {r.choice(UNITS)}."]
        return " ".join(words)

    def paragraph(self) -> str:
        return "<p>" + html.escape(" ".join(self.sentence() for _ in range(self.r.randint(3, 8)))) + "</p>\n"

    def conditions_list(self) -> str:
        items = self.r.sample(CONDITIONS, 12)
        return ('<h2>Conditions we treat</h2>\n<ul class="conditions">\n'
                + "".join(f"  <li>{html.escape(c)}</li>\n" for c in items) + "</ul>\n")

    def price_table(self) -> str:
        r = self.r
        rows = "".join(
            f"<tr><td>{html.escape(r.choice(CELLS).capitalize())} ({html.escape(r.choice(ROUTES))})</td>"
            f"<td>{r.randint(1, 4) * 25} million cells</td><td>${r.randint(30, 250) * 100:,}</td></tr>\n"
            for _ in range(r.randint(4, 9))
        )
        return ('<h2>Prices</h2>\n<table class="prices">\n<tr><th>Protocol</th><th>Dose</th><th>Price</th></tr>\n'
                + rows + "</table>\n")

    def testimonial(self) -> str:
        r = self.r
        return (f'<blockquote class="testimonial"><p>"After my {r.choice(CELLS)} treatment for '
                f"{html.escape(r.choice(CONDITIONS))} I felt better within {r.randint(2, 10)} days. "
                f'{html.escape(self.sentence())}"</p><cite>{r.choice(NAMES)}, {r.choice(CITIES)}</cite></blockquote>\n')


def header(n: int) -> str:
    """The same header on every page: menu of treatments and sections (links to low-numbered pages)."""
    picks = [1 + k * len(SECTIONS) for k in range(min(24, max(0, (n - 2) // len(SECTIONS))))]
    menu = "".join(f'<li><a href="{page_path(j)}">{html.escape(CONDITIONS[j % len(CONDITIONS)].title())}</a></li>'
                   for j in picks)
    sections = "".join(f'<li><a href="{page_path(s)}">{SECTIONS[s % len(SECTIONS)].title()}</a></li>'
                       for s in range(1, min(n, len(SECTIONS) + 1)))
    return (
        '<header><a class="logo" href="/">Regenera Stem Cell Institute</a>\n'
        f'<nav class="main"><ul>{sections}</ul></nav>\n'
        f'<nav class="treatments"><h3>Treatments</h3><ul>{menu}</ul></nav>\n'
        '<a class="cta" href="/index.html#contact">Free consultation</a></header>\n'
    )


FOOTER = (
    '<footer><p>Regenera Stem Cell Institute. Statements on this site have not been evaluated by the '
    'FDA. Results vary between patients.</p><ul><li><a href="/index.html">Home</a></li>'
    '<li><a href="/robots.txt">Robots</a></li></ul>'
    '<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}</script>'
    "</footer>\n"
)


def render(i: int, n: int, seed: int, head: str) -> str:
    r = random.Random(f"{seed}:{i}")
    w = Writer(r)
    topic = CONDITIONS[i % len(CONDITIONS)]
    target = r.randint(MIN_SIZE, MAX_SIZE)
    related = sorted({(i + 1) % n, *(r.randrange(n) for _ in range(6))} - {i})
    parts = [
        f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Stem cell therapy for {html.escape(topic)} | Regenera ({i})</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="/css/site.css"></head>\n<body>\n',
        head,
        f'<main><nav class="crumbs"><a href="/">Home</a> › {SECTIONS[i % len(SECTIONS)].title()}</nav>\n'
        f"<h1>Stem cell therapy for {html.escape(topic)}</h1>\n",
        f"{LEAD_MARK}{html.escape(w.sentence())}</p>\n",
    ]
    size = sum(map(len, parts))
    block = 0
    # Fill with blocks until the page reaches its target size (the footer and links are small).
    while size < target - 2_000:
        block += 1
        # One list of conditions and one price table per page, as on a treatment page.
        piece = (w.conditions_list() if block == 3 else w.price_table() if block == 6
                 else w.testimonial() if block % 9 == 4 else w.paragraph())
        parts.append(piece)
        size += len(piece)
    parts.append('<aside class="related"><h2>Related</h2><ul>'
                 + "".join(f'<li><a href="{page_path(j)}">{html.escape(CONDITIONS[j % len(CONDITIONS)])}'
                           f" ({j})</a></li>" for j in related)
                 + "</ul></aside>\n</main>\n")
    parts.append(FOOTER + "</body></html>\n")
    return "".join(parts)


def generate(out: Path, pages: int, base: str, seed: int = 1) -> list[Path]:
    """Write the site under `out`; return the HTML files, in page order."""
    head = header(pages)
    files = []
    for i in range(pages):
        file = out / page_path(i).lstrip("/")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(render(i, pages, seed, head), encoding="utf-8")
        files.append(file)
    (out / "css").mkdir(exist_ok=True)
    (out / "css" / "site.css").write_text("body{font-family:sans-serif;max-width:60em;margin:auto}\n")
    (out / "robots.txt").write_text(f"User-agent: *\nDisallow: /admin/\nSitemap: {base}/sitemap.xml\n")
    locs = "".join(f"<url><loc>{base}{page_path(i)}</loc></url>\n" for i in range(pages))
    (out / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{locs}</urlset>\n')
    return files


def modify(files: list[Path], fraction: float, seed: int = 1) -> list[Path]:
    """Rewrite the lead paragraph of `fraction` of the pages: a real content change, new claims.

    The mtime is pushed forward explicitly: nginx's ETag is mtime-size, and a rewrite within the
    same second at the same size would otherwise keep the old validators.
    """
    r = random.Random(f"{seed}:modify")
    chosen = r.sample(files, max(1, round(len(files) * fraction))) if files and fraction > 0 else []
    for file in chosen:
        text = file.read_text(encoding="utf-8")
        start = text.index(LEAD_MARK) + len(LEAD_MARK)
        end = text.index("</p>", start)
        new = (f"New this season: {r.choice(CELLS)} by {r.choice(ROUTES)} for "
               f"{r.choice(CONDITIONS)}, now with a {r.randint(90, 99)}% success rate.")
        file.write_text(text[:start] + html.escape(new) + text[end:], encoding="utf-8")
        st = file.stat()
        os.utime(file, (st.st_atime, st.st_mtime + 3600))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--base", default="http://127.0.0.1:8080")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    files = generate(args.out, args.pages, args.base.rstrip("/"), args.seed)
    total = sum(f.stat().st_size for f in files)
    print(f"{len(files)} pages, {total / 1e6:.1f} MB in {args.out}")


if __name__ == "__main__":
    main()
