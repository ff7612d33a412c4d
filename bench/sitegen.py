"""Generate a synthetic stem-cell clinic website for benchmarks, deterministic from a seed.

    python bench/sitegen.py OUT_DIR --pages 5000 --base http://127.0.0.1:8080 [--profile cms|dense]

Every page is 20–60 KB of HTML shaped like a real clinic site: a header with a treatments menu,
breadcrumbs, a lead paragraph, paragraphs of marketing with stem-cell claims, a list of conditions,
a price table, testimonials, related links and a footer. Page 0 is /index.html; page i links to
i+1 (so every page is reachable) and to a few seeded random pages (so the link graph is shallow
and a breadth-first crawl has a wide frontier, as on a real site). The text is invented here from
the word lists below; sitemap.xml and robots.txt carry absolute URLs, so they need the base URL.

Two page profiles share the URLs, the link graph and the kinds of content:

* cms (the default): the content inside the markup a WordPress theme with a page builder emits: a
  <head> with meta and Open Graph tags, inline critical CSS and JSON-LD; a header with a mega-menu and
  inline SVG icons; sections, columns and widgets with per-page element ids; a contact form with nonces;
  a footer with link columns, a cookie banner and script tags. Visible text is about a fifth of the bytes,
  as on real clinic sites; the site-wide template (CSS, menus, footer) is shared by every page.
* dense: the original pages, ~90 % visible prose and little markup; kept as a stress case for extraction.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
from pathlib import Path

import lxml.html

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
def render_dense(i: int, n: int, seed: int, head: str) -> str:
    """The dense profile: the original page, nearly all visible prose (a stress case for extraction)."""
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


# ---------------------------------------------------------------------------------------------------------
# The cms profile: the same content in the markup a WordPress theme with a page builder emits. Every URL in
# an <a href> or <link href> (both are followed by the crawlers) is a page, an anchor on a page, /robots.txt,
# an off-site address or one of the few asset files generate() writes; script and image URLs are never
# followed by a link extractor and point at files that are not written.

PROFILES = ("cms", "dense")
BRAND = "Regenera Stem Cell Institute"
PHONE, PHONE_HREF = "+1 (555) 010-2200", "tel:+15550102200"
EMAIL = "care@regenera.example"
THEME, BUILDER, UPLOADS = "/wp-content/themes/regenera", "/wp-content/plugins/elementor/assets", "/wp-content/uploads"
THEME_VER, BUILDER_VER, FORMS_VER, JQUERY_VER = "2.4.1", "3.21.4", "5.9.3", "3.7.1"
ICON_FILE = f"{UPLOADS}/2023/05/regenera-icon.svg"
STYLESHEETS = (  # (id, href): the first two are written by generate() for the cms profile
    ("regenera-style", f"{THEME}/style.min.css?ver={THEME_VER}"),
    ("elementor-frontend", f"{BUILDER}/css/frontend.min.css?ver={BUILDER_VER}"),
    ("regenera-custom", "/css/site.css"),
)
SCRIPTS = (
    ("contact-form-7", f"/wp-content/plugins/contact-form-7/includes/js/index.js?ver={FORMS_VER}"),
    ("regenera-main", f"{THEME}/assets/js/main.min.js?ver={THEME_VER}"),
    ("elementor-webpack-runtime", f"{BUILDER}/js/webpack.runtime.min.js?ver={BUILDER_VER}"),
    ("elementor-frontend-modules", f"{BUILDER}/js/frontend-modules.min.js?ver={BUILDER_VER}"),
)

# Icons drawn for this generator: (viewBox, path), simple shapes.
ICONS = {
    "chevron": ("0 0 16 16", "M2 5h12L8 11z"),
    "check": ("0 0 16 16", "M8 1a7 7 0 1 0 0 14A7 7 0 0 0 8 1zM7 11L4 8l1-1 2 2 4-4 1 1z"),
    "phone": ("0 0 16 16", "M3 1h3l1 4-2 1a9 9 0 0 0 4 4l1-2 4 1v3c0 1-1 2-2 2A12 12 0 0 1 1 3c0-1 1-2 2-2z"),
    "mail": ("0 0 16 16", "M1 3h14v10H1zm1 1v1l6 4 6-4V4z"),
    "clock": ("0 0 16 16", "M8 0a8 8 0 1 0 0 16A8 8 0 0 0 8 0zm1 8h3v2H7V3h2z"),
    "star": ("0 0 24 24", "M12 2l3.1 6.3 6.9 1-5 4.9 1.2 6.8L12 17.8 5.8 21l1.2-6.8-5-4.9 6.9-1z"),
    "arrow": ("0 0 16 16", "M1 7h10L7 3l1-1 6 6-6 6-1-1 4-4H1z"),
    "plus": ("0 0 16 16", "M7 1h2v6h6v2H9v6H7V9H1V7h6z"),
    "menu": ("0 0 16 16", "M1 3h14v2H1zm0 4h14v2H1zm0 4h14v2H1z"),
    "shield": ("0 0 16 16", "M8 0l7 3c0 6-3 11-7 13C4 14 1 9 1 3zm0 2L3 4c0 4 2 8 5 10z"),
    "heart": ("0 0 16 16", "M8 15L2 9a4 4 0 0 1 6-6 4 4 0 0 1 6 6z"),
    "plane": ("0 0 16 16", "M15 8c0-1-1-1-2-1H10L6 1H4l2 6H3L2 5H0l1 3-1 3h2l1-2h3l-2 6h2l4-6h3c1 0 2 0 2-1z"),
    "user": ("0 0 16 16", "M8 8a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-6 8c0-4 3-6 6-6s6 2 6 6z"),
    "leaf": ("0 0 16 16", "M15 1C6 1 1 5 1 11c0 2 1 4 1 4l1-1c1-5 5-8 9-9-4 2-7 5-8 9 8 1 11-6 11-13z"),
    "logo": ("0 0 64 64", "M32 2C16 2 4 14 4 30c0 17 13 32 28 32s28-15 28-32C60 14 48 2 32 2zm0 10c5 0 9 4 9 9 0 8-9 "
                          "13-9 20 0-7-9-12-9-20 0-5 4-9 9-9z"),
    "social-a": ("0 0 16 16", "M8 0a8 8 0 1 0 0 16A8 8 0 0 0 8 0zm2 5H9v2h2l-1 2H9v5H7V9H6V7h1V5c0-2 1-3 3-3z"),
    "social-b": ("0 0 16 16", "M8 0a8 8 0 1 0 0 16A8 8 0 0 0 8 0zm0 4a4 4 0 1 1 0 8 4 4 0 0 1 0-8zm0 2a2 2 0 1 0 0 "
                              "4 2 2 0 0 0 0-4z"),
    "social-c": ("0 0 16 16", "M8 0a8 8 0 1 0 0 16A8 8 0 0 0 8 0zM6 5l5 3-5 3z"),
}


def svg(name: str, cls: str = "") -> str:
    box, path = ICONS[name]
    return (f'<svg aria-hidden="true" class="e-font-icon-svg e-{name}{" " + cls if cls else ""}" viewBox="{box}" '
            f'xmlns="http://www.w3.org/2000/svg"><path d="{path}"></path></svg>')


HEADLINES = (
    "Why {nouns} choose {city}", "What to expect from your {thing}", "Your {thing}, step by step",
    "{Filler} care from the first call", "Planning your {thing} in {city}", "How we prepare each {thing}",
    "A {filler} team around you", "Before and after your {thing}", "Questions about the {thing}",
    "Staying in {city} during treatment", "The {filler} way to plan a {thing}", "From {thing} to {thing2}",
)
FEATURES = (
    ("Accredited laboratory", "shield"), ("Bilingual nurses", "user"), ("Private recovery suites", "heart"),
    ("Airport transfers", "plane"), ("Follow-up calls", "phone"), ("Flexible payment plans", "leaf"),
    ("Same-week appointments", "clock"), ("Family rooms", "heart"), ("Dedicated coordinator", "user"),
)
QUESTIONS = (
    "How long is the {thing}?", "Can my family join the {thing}?", "What is included in the {thing}?",
    "Do I need a {thing} before I travel to {city}?", "Who plans my {thing}?", "How soon can I book a {thing}?",
    "Is the {thing} available in {city}?", "What happens after the {thing}?",
)
MENU_VARIANTS = ("Program", "Protocol", "Consultation", "Recovery Plan", "Second Opinion")
MEGA_COLUMNS = ("Neurology", "Joints and spine", "Chronic illness", "Wellness and recovery")
MEGA_PER_COLUMN = 3  # the first 12 menu programs are in the header, the rest in the footer
COOKIE_TEXT = ("We use cookies to remember your preferences, count visits and improve this site. You can accept "
               "all cookies or choose which kinds to allow in the settings.")
ABOUT_TEXT = ("Regenera Stem Cell Institute is a private outpatient clinic offering consultations, regenerative "
              "programs and recovery support for local and international patients.")
ADDRESS = "1200 Harbor View Boulevard, Suite 400, Bayside"
DISCLAIMER = ("Statements on this site have not been evaluated by the FDA. Results vary between patients. The "
              "information on this site is general and does not replace a consultation with a physician who knows "
              "your history; ask your own doctor before you change or stop any treatment.")

# The theme's critical CSS, inlined in every page's <head>; the colours and sizes are the site's own.
CRITICAL_CSS = """\
:root{{--e-global-color-primary:{c1};--e-global-color-secondary:{c2};--e-global-color-text:#3b4652;\
--e-global-color-accent:{c3};--e-global-typography-primary-font-family:"{font}";\
--e-global-typography-text-font-family:"{font2}";--regenera-radius:{radius}px;--regenera-gap:{gap}px}}
*,::after,::before{{box-sizing:border-box}}
body{{margin:0;font-family:var(--e-global-typography-text-font-family),sans-serif;font-size:{fs}px;\
line-height:1.65;color:var(--e-global-color-text)}}
a{{color:var(--e-global-color-primary);text-decoration:none}}img{{max-width:100%;height:auto}}
.screen-reader-text,.elementor-screen-only{{position:absolute!important;width:1px;height:1px;overflow:hidden;\
clip:rect(1px,1px,1px,1px)}}
.e-con-inner,.elementor-container{{width:100%;max-width:{width}px;margin:0 auto;display:flex;gap:var(--regenera-gap)}}
.site-topbar{{background:var(--e-global-color-primary);color:#fff;font-size:13px;padding:6px 0}}
.elementor-inline-items{{display:flex;gap:18px;list-style:none;margin:0;padding:0}}
.e-font-icon-svg{{width:1em;height:1em;fill:currentColor}}.site-masthead{{padding:{head_pad}px 0}}
.elementor-nav-menu{{display:flex;list-style:none;margin:0;padding:0}}
.elementor-nav-menu .menu-item{{position:relative}}
.elementor-nav-menu .sub-menu{{display:none;position:absolute;top:100%;left:0;min-width:240px;background:#fff;\
box-shadow:0 12px 30px rgba(20,35,50,.12);z-index:99}}.menu-item:hover>.sub-menu{{display:block}}
.mega-menu>.sub-menu{{grid-template-columns:repeat(4,1fr);min-width:880px;padding:24px}}
.elementor-button{{display:inline-block;padding:{btn_v}px {btn_h}px;border-radius:var(--regenera-radius);\
background:var(--e-global-color-accent);color:#fff}}
.elementor-heading-title{{margin:0;font-family:var(--e-global-typography-primary-font-family),serif;line-height:1.2}}
.hero-section{{background:linear-gradient(120deg,{c2},{c1});color:#fff}}.hero-section h1{{font-size:{h1}px}}
.site-footer{{background:{footer};color:#cfd8df;font-size:14px}}.site-footer a{{color:#fff}}
#cookie-notice{{position:fixed;bottom:0;left:0;right:0;z-index:1000}}
@media (max-width:1024px){{.elementor-nav-menu--main{{display:none}}}}
@media (max-width:767px){{.elementor-column{{width:100%!important}}.hero-section h1{{font-size:{h1m}px}}}}
"""


def hexid(r: random.Random) -> str:
    """A page builder's element id: seven hex digits."""
    return f"{r.getrandbits(28):07x}"


def headline(r: random.Random) -> str:
    return r.choice(HEADLINES).format(
        nouns=r.choice(NOUNS), city=r.choice(CITIES), thing=r.choice(THINGS), thing2=r.choice(THINGS),
        filler=r.choice(FILLER), Filler=r.choice(FILLER).capitalize())


def stylesheet(r: random.Random) -> str:
    """The site's critical CSS with its own colours and sizes."""
    def colour() -> str:
        return f"#{r.randrange(0x101010, 0xc0c0c0):06x}"
    fonts = ("Inter", "Lato", "Nunito Sans", "Source Sans 3", "Poppins", "Montserrat", "Merriweather", "Lora")
    return CRITICAL_CSS.format(
        c1=colour(), c2=colour(), c3=colour(), footer=colour(), font=r.choice(fonts), font2=r.choice(fonts),
        radius=r.choice((0, 4, 6, 8, 12)), gap=r.choice((10, 16, 20, 24)), fs=r.choice((15, 16, 17)),
        width=r.choice((1140, 1200, 1280)), head_pad=r.choice((10, 14, 18)), btn_v=r.choice((10, 12, 14)),
        btn_h=r.choice((20, 24, 28)), h1=r.choice((42, 48, 54)), h1m=r.choice((28, 30, 32)))


def post_id(base: int, j: int) -> int:
    """WordPress post id of page j: increasing, with the gaps revisions and attachments leave."""
    return base + 3 * j + j * j % 3


def program(j: int) -> str:
    """Menu label of page j (the menu's pages share five conditions, so the label names a variant too)."""
    name = " ".join(word[:1].upper() + word[1:] for word in CONDITIONS[j % len(CONDITIONS)].split())
    return f"{name} {MENU_VARIANTS[j // len(CONDITIONS) % len(MENU_VARIANTS)]}"


class CmsSite:
    """The site-wide template of the cms profile (theme CSS, header with mega-menu, footer, cookie banner),
    built once per site from the seed; a page only marks its own menu item as the current one. The header
    and footer together link to the same pages as the dense profile's header."""

    def __init__(self, n: int, seed: int):
        r = random.Random(f"{seed}:site")
        self.n = n
        self.post_base = r.randint(120, 900) * 10
        last = post_id(self.post_base, n)
        self.kit, self.header_id, self.footer_id = last + r.randint(1, 9), last + r.randint(10, 50), last + 51
        self.form_id = r.randint(100, 9999)
        self.ga = "G-" + "".join(r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(10))
        self.css = stylesheet(r)
        self.current: dict[str, list[tuple[str, str]]] = {}  # page path -> (menu markup, as the current item)
        self._mid = self.post_base + 3 * n + r.randint(100, 999)  # menu item ids follow the posts
        self.picks = [1 + k * len(SECTIONS) for k in range(min(24, max(0, (n - 2) // len(SECTIONS))))]
        self.sections = list(range(1, min(n, len(SECTIONS) + 1)))
        self.header = self._header(r)
        self.footer = self._footer(r)

    def _item(self, href: str, label: str, sub: str = "", a_cls: str = "", li_cls: str = "") -> str:
        """One menu entry, with WordPress's classes; page entries are remembered for marking as current."""
        self._mid += 1
        mid = self._mid
        page = href.startswith("/") and "#" not in href
        kind = "post_type menu-item-object-page" if page else "custom menu-item-object-custom"
        parent = " menu-item-has-children" if sub else ""
        head = f' menu-item-{mid}"><a href="{href}"'
        if page:
            self.current.setdefault(href, []).append(
                (head, f' menu-item-{mid} current-menu-item current_page_item"><a href="{href}" aria-current="page"'))
        a_cls = f' class="{a_cls}"' if a_cls else ""
        arrow = f'<span class="sub-arrow">{svg("chevron")}</span>' if sub else ""
        return f'<li class="menu-item{li_cls} menu-item-type-{kind}{parent}{head}{a_cls}>{label}{arrow}</a>{sub}</li>\n'

    def _header(self, r: random.Random) -> str:
        n = self.n
        cols = []
        for c, title in enumerate(MEGA_COLUMNS):
            items = "".join(self._item(page_path(j), program(j))
                            for j in self.picks[c * MEGA_PER_COLUMN:(c + 1) * MEGA_PER_COLUMN])
            if items:
                cols.append(f'<li class="menu-item mega-column"><span class="mega-column-title">{title}</span>'
                            f'<ul class="sub-menu">\n{items}</ul></li>\n')
        mega = f'<ul class="sub-menu elementor-nav-menu--dropdown">\n{"".join(cols)}</ul>' if cols else ""
        top = [self._item("/", "Home", a_cls="elementor-item"),
               self._item(page_path(6) if n > 6 else "/index.html", "Treatments", mega,
                          "elementor-item has-submenu", " mega-menu")]
        top += [self._item(page_path(s), SECTIONS[s % len(SECTIONS)].title(), a_cls="elementor-item")
                for s in self.sections]
        top.append(self._item("/index.html#contact", "Contact", a_cls="elementor-item"))
        a, b = hexid(r), hexid(r)
        topbar = "".join(
            f'<li class="elementor-icon-list-item elementor-inline-item"><a href="{href}"><span '
            f'class="elementor-icon-list-icon">{svg(icon)}</span><span class="elementor-icon-list-text">{text}</span>'
            "</a></li>" for icon, text, href in (("phone", PHONE, PHONE_HREF), ("mail", EMAIL, f"mailto:{EMAIL}")))
        return (
            f'<header class="elementor elementor-{self.header_id} elementor-location-header" '
            f'data-elementor-type="header" data-elementor-id="{self.header_id}">\n'
            f'<div class="elementor-element elementor-element-{a} e-flex e-con-boxed e-con e-parent site-topbar" '
            f'data-id="{a}" data-element_type="container"><div class="e-con-inner">'
            f'<ul class="elementor-icon-list-items elementor-inline-items">{topbar}</ul></div></div>\n'
            f'<div class="elementor-element elementor-element-{b} e-flex e-con-boxed e-con e-parent site-masthead" '
            f'data-id="{b}" data-element_type="container" data-settings="{{&quot;sticky&quot;:&quot;top&quot;}}">'
            f'<div class="e-con-inner">\n<a href="/" class="custom-logo-link" rel="home">{svg("logo")}'
            f'<span class="site-title">{BRAND}</span></a>\n'
            '<nav aria-label="Menu" class="elementor-nav-menu--main elementor-nav-menu__container '
            'elementor-nav-menu--layout-horizontal e--pointer-underline e--animation-fade">\n'
            f'<ul id="menu-1-{b}" class="elementor-nav-menu">\n{"".join(top)}</ul></nav>\n'
            '<div class="elementor-menu-toggle" role="button" tabindex="0" aria-label="Menu Toggle" '
            f'aria-expanded="false">{svg("menu")}</div>\n'
            '<a class="elementor-button elementor-button-link elementor-size-sm header-cta" '
            'href="/index.html#contact">Free consultation</a>\n</div></div>\n</header>\n'
        )

    def _footer(self, r: random.Random) -> str:
        def links(rows: list[tuple[str, str]]) -> str:
            items = []
            for label, href in rows:
                self._mid += 1
                items.append(f'<li class="menu-item menu-item-{self._mid}"><a href="{href}">{label}</a></li>')
            return f'<ul class="menu">{"".join(items)}</ul>'

        def column(title: str, body: str) -> str:
            return f'<div class="footer-column"><h4 class="footer-title">{title}</h4>{body}</div>\n'

        contact = (f'<address class="footer-address">{ADDRESS}<br><a href="{PHONE_HREF}">{PHONE}</a><br>'
                   f'<a href="mailto:{EMAIL}">{EMAIL}</a></address>')
        social = "".join(
            f'<a class="elementor-icon elementor-social-icon elementor-social-icon-{name}" '
            f'href="https://{host}/regenera.institute.demo" target="_blank" rel="noopener">'
            f'<span class="elementor-screen-only">{name.title()}</span>{svg(icon)}</a>'
            for name, host, icon in (("facebook", "www.facebook.com", "social-a"),
                                     ("instagram", "www.instagram.com", "social-b"),
                                     ("youtube", "www.youtube.com", "social-c")))
        more = self.picks[len(MEGA_COLUMNS) * MEGA_PER_COLUMN:]
        f = hexid(r)
        return (
            f'<footer class="site-footer elementor elementor-{self.footer_id} elementor-location-footer" '
            f'data-elementor-type="footer" data-elementor-id="{self.footer_id}">\n'
            f'<div class="elementor-element elementor-element-{f} e-flex e-con-boxed e-con e-parent footer-columns" '
            f'data-id="{f}" data-element_type="container"><div class="e-con-inner">\n'
            + column("About us", f"<p>{ABOUT_TEXT}</p>")
            + (column("More programs", links([(program(j), page_path(j)) for j in more])) if more else "")
            + column("The clinic", links([(SECTIONS[s % len(SECTIONS)].title(), page_path(s)) for s in self.sections]
                                         + [("Terms", "/index.html#terms"), ("Robots", "/robots.txt")]))
            + column("Contact", f'{contact}<div '
                                f'class="elementor-social-icons-wrapper elementor-grid">{social}</div>')
            + f'</div></div>\n<div class="footer-bottom"><p class="copyright">&copy; 2024 '
            f'<a href="/index.html">{BRAND}</a>. {DISCLAIMER}</p></div>\n</footer>\n'
            '<div id="cookie-notice" role="dialog" class="cookie-notice-hidden cn-position-bottom" '
            'aria-label="Cookie Notice"><div class="cookie-notice-container"><span id="cn-notice-text" '
            f'class="cn-text-container">{COOKIE_TEXT}</span><span id="cn-notice-buttons" class="cn-buttons-container">'
            '<button type="button" id="cn-accept-cookie" data-cookie-set="accept" class="cn-set-cookie cn-button">'
            'Accept all</button><button type="button" id="cn-refuse-cookie" data-cookie-set="refuse" '
            'class="cn-set-cookie cn-button">Settings</button></span></div></div>\n'
        )


class CmsPage:
    """One cms page: page-builder sections around the Writer's content, with the page's own element ids and
    the per-element CSS a page builder writes for them."""

    def __init__(self, r: random.Random, w: Writer, pid: int):
        self.r, self.w, self.pid = r, w, pid
        self.rules: list[str] = []
        self.anchors: set[str] = set()  # ids used on the page: an id names one element

    def widget(self, kind: str, content: str) -> str:
        x = hexid(self.r)
        if self.r.random() < 0.15:
            self.rules.append(self.rule(x, kind))
        return (f'<div class="elementor-element elementor-element-{x} elementor-widget elementor-widget-{kind}" '
                f'data-id="{x}" data-element_type="widget" data-widget_type="{kind}.default">\n'
                f'<div class="elementor-widget-container">\n{content}</div>\n</div>\n')

    def column(self, widgets: str, width: int = 100) -> str:
        x = hexid(self.r)
        return (f'<div class="elementor-column elementor-col-{width} elementor-top-column elementor-element '
                f'elementor-element-{x}" data-id="{x}" data-element_type="column">\n'
                f'<div class="elementor-widget-wrap elementor-element-populated">\n{widgets}</div>\n</div>\n')

    def section(self, columns: str, cls: str = "", anchor: str = "") -> str:
        r = self.r
        x = hexid(r)
        if r.random() < 0.5:
            self.rules.append(self.rule(x, "section"))
        gap = r.choice(("default", "narrow", "extended", "wide"))
        bg = ' data-settings="{&quot;background_background&quot;:&quot;classic&quot;}"' if r.random() < 0.3 else ""
        ident = f' id="{anchor}"' if anchor and anchor not in self.anchors else ""
        self.anchors.add(anchor)
        return (f'<section{ident} class="elementor-section elementor-top-section elementor-element '
                f'elementor-element-{x} elementor-section-boxed elementor-section-height-default'
                f'{" " + cls if cls else ""}" data-id="{x}" data-element_type="section"{bg}>\n'
                f'<div class="elementor-container elementor-column-gap-{gap}">\n{columns}</div>\n</section>\n')

    def rule(self, x: str, kind: str) -> str:
        r = self.r
        sel = f".elementor-{self.pid} .elementor-element.elementor-element-{x}"
        if kind == "section":
            return f"{sel}{{padding:{r.choice((20, 40, 60, 80))}px 0px {r.choice((20, 40, 60, 80))}px 0px}}"
        if kind == "heading":
            return (f"{sel} .elementor-heading-title{{color:var(--e-global-color-{r.choice(('primary', 'secondary'))});"
                    f"font-size:{r.randint(22, 40)}px}}")
        return f"{sel}>.elementor-widget-container{{margin:0px 0px {r.choice((0, 10, 20, 30))}px 0px}}"

    def heading(self, text: str, tag: str = "h2") -> str:
        return self.widget("heading", f'<{tag} class="elementor-heading-title elementor-size-default">'
                                      f"{html.escape(text)}</{tag}>\n")

    def text(self, paragraphs: str) -> str:
        return self.widget("text-editor", paragraphs)

    def button(self, label: str, href: str = "/index.html#contact") -> str:
        return self.widget("button", '<div class="elementor-button-wrapper"><a class="elementor-button '
                                     f'elementor-button-link elementor-size-md" href="{href}"><span '
                                     'class="elementor-button-content-wrapper"><span class="elementor-button-icon">'
                                     f'{svg("arrow")}</span><span class="elementor-button-text">{label}</span></span>'
                                     "</a></div>\n")

    def image(self, alt: str) -> str:
        r = self.r
        img = self.pid + r.randint(1, 400)
        stem = (f"{UPLOADS}/{r.randint(2019, 2024)}/{r.randint(1, 12):02d}/clinic-"
                f"{r.choice(('suite', 'lab', 'team', 'garden', 'lobby'))}-{img}")
        srcset = ", ".join(f"{stem}-{wd}x{wd * 2 // 3}.webp {wd}w" for wd in (300, 768, 1024))
        return self.widget("image", f'<img loading="lazy" decoding="async" width="1024" height="683" '
                                    f'src="{stem}-1024x683.webp" class="attachment-large size-large wp-image-{img}" '
                                    f'alt="{html.escape(alt)}" srcset="{srcset}" sizes="(max-width: 1024px) 100vw, '
                                    '1024px">\n')

    # ---- content blocks: the Writer's sentences, lists, tables and testimonials ----------------------------

    def prose(self) -> str:
        r, w = self.r, self.w
        kind = r.random()
        if kind < 0.6:  # heading and a few paragraphs
            paras = "".join(w.paragraph() for _ in range(r.randint(2, 4)))
            return self.section(self.column(self.heading(headline(r)) + self.text(paras)))
        if kind < 0.8:  # text beside a picture
            paras = "".join(w.paragraph() for _ in range(r.randint(1, 2)))
            text = self.column(self.heading(headline(r), "h3") + self.text(paras), 50)
            pic = self.column(self.image(f"{r.choice(FILLER)} {r.choice(THINGS)} in {r.choice(CITIES)}"), 50)
            return self.section(text + pic if r.random() < 0.5 else pic + text)
        if kind < 0.87:  # three feature boxes
            boxes = "".join(
                self.column(self.widget(
                    "icon-box", f'<div class="elementor-icon-box-wrapper"><div class="elementor-icon-box-icon">'
                                f'<span class="elementor-icon elementor-animation-grow">{svg(icon)}</span></div>'
                                f'<div class="elementor-icon-box-content"><h3 class="elementor-icon-box-title">'
                                f'<span>{label}</span></h3><p class="elementor-icon-box-description">'
                                f"{html.escape(w.sentence())}</p></div></div>\n"), 33)
                for label, icon in r.sample(FEATURES, 3))
            return self.section(self.column(self.heading(headline(r))) + boxes, "features-row")
        if kind < 0.94:  # questions and answers
            items = []
            for k in range(1, r.randint(3, 4) + 1):
                tab = r.randint(1000, 9999) * 10 + k
                question = r.choice(QUESTIONS).format(thing=r.choice(THINGS), city=r.choice(CITIES))
                answer = " ".join(w.sentence() for _ in range(r.randint(1, 3)))
                items.append(
                    f'<div class="elementor-accordion-item"><div id="elementor-tab-title-{tab}" '
                    f'class="elementor-tab-title" data-tab="{k}" role="button" aria-controls="elementor-tab-content-'
                    f'{tab}" aria-expanded="false"><span class="elementor-accordion-icon" aria-hidden="true">'
                    f'{svg("plus")}</span><a class="elementor-accordion-title" tabindex="0">'
                    f'{html.escape(question)}</a></div><div id="elementor-tab-content-{tab}" '
                    f'class="elementor-tab-content elementor-clearfix" data-tab="{k}" role="region" '
                    f'aria-labelledby="elementor-tab-title-{tab}"><p>{html.escape(answer)}</p></div></div>\n')
            return self.section(self.column(
                self.heading("Frequently asked questions")
                + self.widget("accordion", f'<div class="elementor-accordion">{"".join(items)}</div>\n')), anchor="faq")
        return self.section(self.column(self.heading(headline(r)) + self.text(f"<p>{html.escape(w.sentence())}</p>\n")
                                        + self.button("Book a free consultation")), "cta-band")

    def conditions_list(self) -> str:
        items = "".join(f'<li class="elementor-icon-list-item"><span class="elementor-icon-list-icon">{svg("check")}'
                        f'</span><span class="elementor-icon-list-text">{html.escape(c)}</span></li>\n'
                        for c in self.r.sample(CONDITIONS, 12))
        return self.section(self.column(self.heading("Conditions we treat") + self.widget(
            "icon-list", f'<ul class="elementor-icon-list-items conditions">\n{items}</ul>\n')), anchor="conditions")

    def price_table(self) -> str:
        r = self.r
        rows = "".join(
            f'<tr><td class="price-protocol">{html.escape(r.choice(CELLS).capitalize())} '
            f'({html.escape(r.choice(ROUTES))})</td><td class="price-dose">{r.randint(1, 4) * 25} million cells</td>'
            f'<td class="price-amount"><span class="amount">${r.randint(30, 250) * 100:,}</span></td></tr>\n'
            for _ in range(r.randint(4, 9)))
        return self.section(self.column(self.heading("Prices") + self.widget(
            "html", '<table class="regenera-price-table prices"><thead><tr><th scope="col">Protocol</th>'
                    f'<th scope="col">Dose</th><th scope="col">Price</th></tr></thead>\n<tbody>\n{rows}</tbody>'
                    "</table>\n")), anchor="pricing")

    def testimonial(self) -> str:
        r = self.r
        cell, cond, days = r.choice(CELLS), r.choice(CONDITIONS), r.randint(2, 10)
        quote = f'"After my {cell} treatment for {cond} I felt better within {days} days. {self.w.sentence()}"'
        name, city = r.choice(NAMES), r.choice(CITIES)
        stars = svg("star") * 5
        return self.section(self.column(self.widget(
            "testimonial", f'<div class="elementor-testimonial-wrapper"><div class="elementor-star-rating" '
                           f'title="5/5">{stars}<span class="elementor-screen-only">Rated 5 out of 5</span></div>'
                           f'<blockquote class="elementor-testimonial-content testimonial"><p>{html.escape(quote)}</p>'
                           '</blockquote><div class="elementor-testimonial-meta"><div class="elementor-testimonial-'
                           f'image"><img decoding="async" width="150" height="150" src="{UPLOADS}/2023/0'
                           f'{r.randint(1, 9)}/patient-{r.randint(100, 999)}-150x150.jpg" alt=""></div><div '
                           f'class="elementor-testimonial-details"><cite class="elementor-testimonial-name">{name}'
                           f'</cite><div class="elementor-testimonial-job">{city}</div></div></div></div>\n')),
            anchor="stories" if r.random() < 0.5 else "")

    def contact_form(self, site: CmsSite, path: str) -> str:
        key = f"wpcf7-f{site.form_id}-p{self.pid}-o1"
        fields = "".join(
            f'<p><label>{label}<br><span class="wpcf7-form-control-wrap" data-name="{name}"><input size="40" '
            f'class="wpcf7-form-control wpcf7-{kind} wpcf7-validates-as-required" aria-required="true" value="" '
            f'type="{kind}" name="{name}"></span></label></p>\n'
            for label, name, kind in (("Your name", "your-name", "text"), ("Email", "your-email", "email")))
        return self.section(self.column(self.heading("Request a free consultation") + self.widget(
            "shortcode", f'<div class="wpcf7 no-js" id="{key}" lang="en-US" dir="ltr"><form action="{path}#{key}" '
                         'method="post" class="wpcf7-form init" novalidate="novalidate" data-status="init"><div '
                         f'style="display: none;"><input type="hidden" name="_wpcf7" value="{site.form_id}"><input '
                         f'type="hidden" name="_wpcf7_unit_tag" value="{key}"><input type="hidden" '
                         f'name="_wpcf7_container_post" value="{self.pid}"><input type="hidden" name="_wpnonce" '
                         f'value="{self.r.getrandbits(40):010x}"></div>\n{fields}<p><input class="wpcf7-form-control '
                         'wpcf7-submit" type="submit" value="Request my consultation"></p></form></div>\n')),
            "contact-band", anchor="contact")


def render_cms(i: int, n: int, seed: int, site: CmsSite, base: str = "") -> str:
    """The cms profile: the dense page's content (same link graph, same kinds of blocks, same claim rate per
    sentence) inside a page builder's markup, so that visible text is about a fifth of the bytes."""
    r = random.Random(f"{seed}:{i}")
    w = Writer(r)
    topic = CONDITIONS[i % len(CONDITIONS)]
    target = r.randint(MIN_SIZE, MAX_SIZE)
    related = sorted({(i + 1) % n, *(r.randrange(n) for _ in range(6))} - {i})
    lead = w.sentence()
    path, section = page_path(i), SECTIONS[i % len(SECTIONS)].title()
    pid = post_id(site.post_base, i)
    page = CmsPage(r, w, pid)
    e = html.escape
    url = f"{base}{path}"
    title = f"Stem cell therapy for {topic} | Regenera ({i})"
    desc = lead if len(lead) <= 155 else lead[:lead.rfind(" ", 0, 150)] + " …"
    published = (f"{r.randint(2018, 2023)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T"
                 f"{r.randint(6, 20):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}+00:00")
    modified = (f"2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T"
                f"{r.randint(6, 20):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}+00:00")
    img = f"{base}{UPLOADS}/{published[:4]}/{published[5:7]}/{slug(topic)}-{pid + r.randint(1, 50)}.jpg"
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "WebPage", "@id": url, "url": url, "name": title, "isPartOf": {"@id": f"{base}/#website"},
         "thumbnailUrl": img, "datePublished": published, "dateModified": modified, "description": desc,
         "breadcrumb": {"@id": f"{url}#breadcrumb"}, "inLanguage": "en-US"},
        {"@type": "BreadcrumbList", "@id": f"{url}#breadcrumb", "itemListElement": [
            {"@type": "ListItem", "position": 1, "name": "Home", "item": f"{base}/"},
            {"@type": "ListItem", "position": 2, "name": section}]},
        {"@type": "MedicalClinic", "@id": f"{base}/#organization", "name": BRAND, "telephone": PHONE}]}
    head = (
        '<!DOCTYPE html>\n<html lang="en-US">\n<head>\n<meta charset="UTF-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(title)}</title>\n"
        f'<meta name="description" content="{e(desc)}">\n'
        '<meta name="robots" content="index, follow, max-image-preview:large">\n'
        f'<link rel="canonical" href="{url}">\n'
        '<meta property="og:locale" content="en_US">\n<meta property="og:type" content="article">\n'
        f'<meta property="og:title" content="{e(title)}">\n'
        f'<meta property="og:url" content="{url}">\n<meta property="og:site_name" content="{BRAND}">\n'
        f'<meta property="article:modified_time" content="{modified}">\n'
        f'<meta property="og:image" content="{img}">\n<meta name="twitter:card" content="summary_large_image">\n'
        f'<script type="application/ld+json" class="yoast-schema-graph">'
        f'{json.dumps(graph, ensure_ascii=False, separators=(",", ":"))}</script>\n'
        '<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>\n'
        f'<link rel="preload" as="style" href="{STYLESHEETS[0][1]}">\n'
        f'<style id="regenera-critical-css">\n{site.css}</style>\n'
        + "".join(f"<link rel='stylesheet' id='{k}-css' href='{href}' media='all'>\n" for k, href in STYLESHEETS)
        + f'<style id="elementor-post-{pid}-inline-css">\n@@RULES@@</style>\n'
        f'<script src="/wp-includes/js/jquery/jquery.min.js?ver={JQUERY_VER}" id="jquery-core-js"></script>\n'
        f'<script async src="https://www.googletagmanager.com/gtag/js?id={site.ga}"></script>\n'
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
        f"gtag('js',new Date());gtag('config','{site.ga}',{{'page_path':'{path}'}});</script>\n"
        f'<link rel="icon" href="{ICON_FILE}" type="image/svg+xml">\n</head>\n'
    )
    header = site.header
    for old, new in site.current.get(path, ()):
        header = header.replace(old, new, 1)
    top = (
        f'<body class="page-template-default page page-id-{pid} wp-custom-logo elementor-default '
        f'elementor-kit-{site.kit} elementor-page elementor-page-{pid}">\n'
        '<a class="skip-link screen-reader-text" href="#content">Skip to content</a>\n'
        f'<div id="page" class="site">\n{header}'
        f'<main id="content" class="site-main post-{pid} page type-page status-publish hentry">\n'
        '<nav aria-label="breadcrumbs" class="rank-math-breadcrumb"><p><a href="/">Home</a>'
        f'<span class="separator"> &rsaquo; </span><span class="last">{section}</span></p></nav>\n'
        f'<div data-elementor-type="wp-page" data-elementor-id="{pid}" class="elementor elementor-{pid}">\n'
        + page.section(page.column(page.heading(f"Stem cell therapy for {topic}", "h1")
                                   + page.text(f"{LEAD_MARK}{e(lead)}</p>\n")),
                       "hero-section elementor-section-height-min-height", anchor="overview")
    )
    cards = "".join(
        f'<li class="related-post post-{post_id(site.post_base, j)}"><a href="{page_path(j)}" rel="bookmark">'
        f"{e(CONDITIONS[j % len(CONDITIONS)])} ({j})</a></li>\n" for j in related)
    related_html = ('<aside class="related-posts" aria-label="Related"><h2 class="related-title">Related</h2>'
                    f"<ul>\n{cards}</ul></aside>\n")
    frontend = json.dumps({
        "environmentMode": {"edit": False, "wpPreview": False}, "version": BUILDER_VER,
        "urls": {"assets": f"{BUILDER}/"}, "post": {"id": pid, "title": title, "excerpt": ""},
    }, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")
    settings = json.dumps({"ajaxUrl": "/wp-admin/admin-ajax.php", "nonce": f"{r.getrandbits(40):010x}",
                           "postId": pid}, separators=(",", ":")).replace("/", "\\/")
    tail = (
        "</div>\n" + related_html + "</main>\n" + site.footer + "</div>\n"
        f'<script id="regenera-main-js-extra">\nvar regeneraSettings = {settings};\n</script>\n'
        + "".join(f'<script src="{src}" id="{k}-js"></script>\n' for k, src in SCRIPTS)
        + f'<script id="elementor-frontend-js-before">\nvar elementorFrontendConfig = {frontend};\n</script>\n'
        f'<script src="{BUILDER}/js/frontend.min.js?ver={BUILDER_VER}" id="elementor-frontend-js"></script>\n'
        "</body>\n</html>\n"
    )
    # Bytes so far; the per-element CSS rules go where @@RULES@@ is, one a line.
    size = (len(head.encode()) - len("@@RULES@@") + len(top.encode()) + len(tail.encode())
            + sum(len(rule) + 1 for rule in page.rules))
    parts = [top]
    block = 0
    # Fill with blocks until the page reaches its target size; a block that would pass MAX_SIZE ends the page.
    while size < target or block == 0:  # at least one block after the lead, however small the target
        block += 1
        ruled = len(page.rules)
        # One list of conditions, one price table and one contact form per page, as on a treatment page.
        piece = (page.conditions_list() if block == 3 else page.price_table() if block == 6
                 else page.contact_form(site, path) if block == 8
                 else page.testimonial() if block % 9 == 4 else page.prose())
        grow = len(piece.encode()) + sum(len(rule) + 1 for rule in page.rules[ruled:])
        if size + grow > MAX_SIZE:
            del page.rules[ruled:]
            break
        parts.append(piece)
        size += grow
    return head.replace("@@RULES@@", "".join(rule + "\n" for rule in page.rules)) + "".join(parts) + tail


def render(i: int, n: int, seed: int, head: str | CmsSite, profile: str | None = None, base: str = "") -> str:
    """Page i of n. `head` is what all pages share, from site_template(): header(n) for the dense profile,
    CmsSite(n, seed) for cms; without `profile`, the kind of `head` decides. `base` (the site's URL) is only
    used by cms pages: canonical, og:url, JSON-LD."""
    profile = profile or ("dense" if isinstance(head, str) else "cms")
    if profile == "dense" and isinstance(head, str):
        return render_dense(i, n, seed, head)
    if profile == "cms" and isinstance(head, CmsSite):
        return render_cms(i, n, seed, head, base)
    raise ValueError(f"profile {profile!r} with a {type(head).__name__} head; expected one of {PROFILES} "
                     "with the head site_template() gives for it")


def site_template(n: int, seed: int = 1, profile: str = "cms") -> str | CmsSite:
    """What every page of the site shares, for render()."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    return header(n) if profile == "dense" else CmsSite(n, seed)


def generate(out: Path, pages: int, base: str, seed: int = 1, profile: str = "cms") -> list[Path]:
    """Write the site under `out`; return the HTML files, in page order."""
    head = site_template(pages, seed, profile)
    files = []
    for i in range(pages):
        file = out / page_path(i).lstrip("/")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(render(i, pages, seed, head, profile, base), encoding="utf-8")
        files.append(file)
    (out / "css").mkdir(exist_ok=True)
    (out / "css" / "site.css").write_text("body{font-family:sans-serif;max-width:60em;margin:auto}\n")
    if isinstance(head, CmsSite):  # the stylesheets and icon the cms pages link to (crawlers follow <link href>)
        for _, href in STYLESHEETS[:2]:
            asset = out / href.split("?")[0].lstrip("/")
            asset.parent.mkdir(parents=True, exist_ok=True)
            asset.write_text(head.css, encoding="utf-8")
        icon = out / ICON_FILE.lstrip("/")
        icon.parent.mkdir(parents=True, exist_ok=True)
        box, path = ICONS["logo"]
        icon.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{box}"><path d="{path}"/></svg>\n')
    (out / "robots.txt").write_text(f"User-agent: *\nDisallow: /admin/\nSitemap: {base}/sitemap.xml\n")
    locs = "".join(f"<url><loc>{base}{page_path(i)}</loc></url>\n" for i in range(pages))
    (out / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{locs}</urlset>\n')
    return files


INVISIBLE = ("script", "style", "noscript", "svg", "template")


def visible_text(page: bytes | str) -> str:
    """The text of <body> a reader can see: lxml.html's text without script, style, noscript, svg and
    template content, whitespace runs collapsed to one space (indentation between tags is markup)."""
    doc = lxml.html.document_fromstring(page)
    body = doc.find("body")
    if body is None:
        return ""
    for el in [el for el in body.iter(*INVISIBLE) if el is not body]:
        el.drop_tree()  # keeps the element's tail, which is visible text after it
    return " ".join(body.text_content().split())


def text_share(files: list[Path], sample: int = 200) -> float:
    """Average over up to `sample` evenly spaced pages of visible-text bytes / HTML bytes."""
    if not files:
        return 0.0
    step = max(1, len(files) // sample)
    picked = files[::step][:sample]
    total = 0.0
    for file in picked:
        data = file.read_bytes()
        total += len(visible_text(data).encode("utf-8")) / len(data)
    return total / len(picked)


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
    parser.add_argument("--profile", choices=PROFILES, default="cms",
                        help="cms: realistic page-builder markup (default); dense: almost all text (stress case)")
    args = parser.parse_args()
    files = generate(args.out, args.pages, args.base.rstrip("/"), args.seed, args.profile)
    total = sum(f.stat().st_size for f in files)
    print(f"{len(files)} pages, {total / 1e6:.1f} MB in {args.out}")
    print(f"profile {args.profile}: visible text {text_share(files):.1%} of HTML bytes "
          f"(average of {min(len(files), 200)} pages)")


if __name__ == "__main__":
    main()
