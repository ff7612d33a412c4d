"""HTML and plain text → blocks: kinds, headings and sections, zones, hidden content, offsets."""

from __future__ import annotations

from crawler.claims import Block, extract

PAGE = """<!DOCTYPE html><html><head><title>Stem Cells for Knees | Clinic</title>
<style>p{color:red}</style><script>var x = "autism";</script></head><body>
<div id="cookie-notice"><p>We use cookies. Accept?</p></div>
<header class="site-header"><div class="logo">Clinic</div></header>
<nav class="main-menu"><ul>
  <li><a href="/">Home</a></li>
  <li><a href="/t">Treatments</a><ul><li><a href="/t/knee">Knee Pain</a></li>
    <li><a href="/t/hip">Hip Pain</a></li></ul></li>
</ul></nav>
<main>
  <h1>Knee Treatments</h1>
  <p>First paragraph with <b>bold</b> and <a href="#">a link</a>.</p>
  <h2>Who we help</h2>
  <ul><li>Athletes</li><li>Older adults</li></ul>
  <h3>Prices</h3>
  <table><tr><th>Item</th><th>Price</th></tr><tr><td>PRP</td><td>$900</td></tr></table>
  <div hidden>hidden attribute</div>
  <div style="display: none">display none</div>
  <span aria-hidden="true">aria hidden</span>
  <noscript>noscript text</noscript><template><p>template text</p></template>
  <p>Line one<br>Line two</p>
  <article><header class="entry-header"><h2>Article title</h2></header><p>Article body.</p></article>
</main>
<aside class="sidebar"><h3>Related</h3><p>Side text</p></aside>
<footer><p>Footer text</p></footer>
</body></html>"""


def blocks_of(html: str) -> list[Block]:
    return extract(html, content_type="text/html").blocks


def by_text(blocks: list[Block], text: str) -> Block:
    return next(b for b in blocks if b.text == text)


def test_kinds_levels_and_title():
    ex = extract(PAGE, content_type="text/html")
    assert ex.title == "Stem Cells for Knees | Clinic"
    b = ex.blocks
    assert b[0].kind == "title" and b[0].level == 0
    h1 = by_text(b, "Knee Treatments")
    assert (h1.kind, h1.level) == ("heading", 1)
    assert by_text(b, "Who we help").level == 2
    assert by_text(b, "Athletes").kind == "li"
    assert by_text(b, "PRP").kind == "td" and by_text(b, "Price").kind == "td"
    assert by_text(b, "First paragraph with bold and a link.").kind == "p"


def test_sections_follow_heading_hierarchy():
    b = blocks_of(PAGE)
    assert by_text(b, "First paragraph with bold and a link.").section == "Knee Treatments"
    assert by_text(b, "Athletes").section == "Who we help"
    assert by_text(b, "Who we help").section == "Knee Treatments"  # a heading's section is its parent
    assert by_text(b, "Prices").section == "Who we help"
    assert by_text(b, "$900").section == "Prices"


def test_zones():
    b = blocks_of(PAGE)
    assert by_text(b, "We use cookies. Accept?").zone == "cookie"
    assert by_text(b, "Clinic").zone == "header"
    assert by_text(b, "Knee Pain").zone == "nav"
    assert by_text(b, "Knee Treatments").zone == "main"
    assert by_text(b, "Side text").zone == "aside"
    assert by_text(b, "Footer text").zone == "footer"
    # <header> inside an <article> is the article's own header, not the site's
    assert by_text(b, "Article title").zone == "main"


def test_nested_menu_items_know_their_menu_group():
    b = blocks_of(PAGE)
    assert by_text(b, "Knee Pain").section == "Treatments"
    assert by_text(b, "Hip Pain").kind == "li"


def test_hidden_and_non_content_elements_are_dropped():
    text = extract(PAGE, content_type="text/html").text
    for gone in ("autism", "color:red", "hidden attribute", "display none", "aria hidden", "noscript text",
                 "template text"):
        assert gone not in text


def test_br_splits_blocks_and_offsets_are_exact():
    ex = extract(PAGE, content_type="text/html")
    assert "Line one" in [b.text for b in ex.blocks] and "Line two" in [b.text for b in ex.blocks]
    assert ex.text == "\n".join(b.text for b in ex.blocks)
    for b in ex.blocks:
        assert ex.text[b.start:b.end] == b.text


def test_inline_links_without_spaces_do_not_glue_words():
    b = blocks_of("<html><body><nav><div><a href=/a>Home</a><a href=/b>Treatments</a></div></nav></body></html>")
    assert [x.text for x in b] == ["Home", "Treatments"]
    b = blocks_of("<html><body><p><span>Stem</span><span>Cells</span> for knees</p></body></html>")
    assert b[0].text == "Stem Cells for knees"


def test_text_normalisation():
    ex = extract("<html><body><p>Parkinson\u2019s \u201ccare\u201d \u2013 \ufb01ne\u00a0print\u200b here</p>"
                 "</body></html>", content_type="text/html")
    assert ex.blocks[0].text == "Parkinson's \"care\" - fine print here"


def test_plain_text_paragraphs_bullets_headings():
    text = ("Stem Cells for Knees\n\nHome \u00bb Treatments \u00bb Knees\n\nWhat we treat\n\n"
            "We treat knee pain. Our team\nhas twenty years of experience.\n\n"
            "\u25a0 Meniscus tears\n\u2022 Arthritis\n- Ligament injuries\n\nBackground information\u2026\n\n"
            "Last paragraph ends here.\n")
    ex = extract(text, content_type="text/plain")
    kinds = [(b.kind, b.zone, b.text) for b in ex.blocks]
    assert kinds[0] == ("title", "main", "Stem Cells for Knees")
    assert kinds[1] == ("text", "nav", "Home \u00bb Treatments \u00bb Knees")
    assert kinds[2] == ("heading", "main", "What we treat")
    assert kinds[3] == ("p", "main", "We treat knee pain. Our team has twenty years of experience.")
    assert [k[2] for k in kinds if k[0] == "li"] == ["Meniscus tears", "Arthritis", "Ligament injuries"]
    assert ("heading", "main", "Background information...") in kinds
    assert kinds[-1] == ("p", "main", "Last paragraph ends here.")
    assert ex.title == "Stem Cells for Knees"
    assert all(b.section == "What we treat" for b in ex.blocks if b.kind == "li")


def test_plain_text_glued_words_are_split():
    ex = extract("We use umbilical cord stem cellsEmbryonic cells are never used.\n", content_type="text/plain")
    assert "stem cells Embryonic" in ex.text
    assert "iPSC" in extract("Our iPSC lab.\n", content_type="text/plain").text  # short runs stay whole
