"""bench/sitegen.py: the benchmark's synthetic clinic site, in both page profiles (no network, no server)."""

from __future__ import annotations

import hashlib
import html
import importlib.util
import json
import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import lxml.html
import pytest

from crawler.claims import extract

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("sitegen", ROOT / "bench" / "sitegen.py")
sitegen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sitegen)

BASE = "http://127.0.0.1:1"
PAGES = 30
# Recorded from bench/sitegen.py before the cms profile existed (seed 1, 30 pages, BASE): the dense profile
# must keep producing exactly these bytes. See digest() for what is hashed.
LEGACY_PAGES_SHA256 = "a47b27e031e4d2332ac889a2bf037643920c70975e5c335c8468eca7f68af153"
LEGACY_TREE_SHA256 = "12cf056b2377b98451b3230690ea9f7014ba2a82fa4b115d39fc3839668b71ae"


def digest(root: Path, files: list[Path]) -> str:
    """sha256 over (path relative to root, NUL, bytes, NUL) of each file, in the given order."""
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def tree(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> dict[str, tuple[Path, list[Path]]]:
    out = {}
    for profile in sitegen.PROFILES:
        root = tmp_path_factory.mktemp(profile)
        out[profile] = (root, sitegen.generate(root, PAGES, BASE, seed=1, profile=profile))
    return out


def page_links(root: Path, file: Path) -> list[str]:
    """Absolute URLs of the page's <a>, <area> and <link> hrefs: what the crawlers' LinkExtractor follows."""
    url = BASE + "/" + file.relative_to(root).as_posix()
    doc = lxml.html.document_fromstring(file.read_bytes())
    return [urljoin(url, el.get("href")) for el in doc.iter("a", "area", "link") if el.get("href")]


def local_file(root: Path, url: str) -> Path | None:
    """The file nginx would serve for a same-site URL (query and fragment ignored); None if off-site."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != BASE:
        return None
    path = parts.path.lstrip("/") or "index.html"
    return root / path


def lead_text(page: str) -> str:
    start = page.index(sitegen.LEAD_MARK) + len(sitegen.LEAD_MARK)
    return html.unescape(page[start:page.index("</p>", start)])


def test_default_profile_is_cms():
    assert sitegen.PROFILES == ("cms", "dense")
    assert sitegen.generate.__defaults__ == (1, "cms")
    with pytest.raises(ValueError):
        sitegen.site_template(3, 1, "minimal")


@pytest.mark.parametrize("profile", ["cms", "dense"])
def test_page_sizes(sites, profile):
    # No special rule for the index page: page 0 is drawn and filled like the others.
    root, files = sites[profile]
    assert [f.relative_to(root).as_posix() for f in files] == [sitegen.page_path(i).lstrip("/") for i in range(PAGES)]
    sizes = [f.stat().st_size for f in files]
    assert all(sitegen.MIN_SIZE <= s <= sitegen.MAX_SIZE for s in sizes), sizes


@pytest.mark.parametrize("profile", ["cms", "dense"])
def test_links_resolve(sites, profile):
    root, files = sites[profile]
    for i, file in enumerate(files):
        urls = page_links(root, file)
        targets = {local_file(root, u) for u in urls} - {None}
        missing = [t for t in targets if not t.is_file()]
        assert not missing, (file, missing)
        pages = {urlsplit(u).path for u in urls if urlsplit(u).path.endswith(".html")}
        assert sitegen.page_path((i + 1) % PAGES) in pages or i == PAGES - 1


def linked_pages(root: Path, file: Path, i: int) -> set[str]:
    """Same-site paths page i links to, without stylesheets and icons and without page i itself."""
    paths = {urlsplit(u).path for u in page_links(root, file) if local_file(root, u)}
    return {p for p in paths if not p.startswith(("/wp-content/", "/css/"))} - {sitegen.page_path(i)}


def test_same_link_graph(sites):
    """A cms page links to the same pages as its dense twin (apart from itself: canonical, skip link)."""
    (cms_root, cms), (dense_root, dense) = sites["cms"], sites["dense"]
    for i in range(PAGES):
        assert linked_pages(cms_root, cms[i], i) == linked_pages(dense_root, dense[i], i), i


@pytest.mark.parametrize("profile", ["cms", "dense"])
def test_deterministic(sites, tmp_path, profile):
    root, _ = sites[profile]
    sitegen.generate(tmp_path, PAGES, BASE, seed=1, profile=profile)
    first, second = tree(root), tree(tmp_path)
    assert [p.relative_to(root) for p in first] == [p.relative_to(tmp_path) for p in second]
    assert digest(root, first) == digest(tmp_path, second)
    other = tmp_path / "seed2"
    sitegen.generate(other, PAGES, BASE, seed=2, profile=profile)
    assert (other / "index.html").read_bytes() != (root / "index.html").read_bytes()


def test_dense_profile_unchanged(sites):
    root, files = sites["dense"]
    assert digest(root, files) == LEGACY_PAGES_SHA256
    assert digest(root, tree(root)) == LEGACY_TREE_SHA256  # and no extra files next to the pages
    # The old call, render(i, n, seed, header(n)), still renders a dense page.
    assert sitegen.render(5, PAGES, 1, sitegen.header(PAGES)) == files[5].read_text(encoding="utf-8")


def test_text_share(sites):
    cms = sitegen.text_share(sites["cms"][1])
    dense = sitegen.text_share(sites["dense"][1])
    assert 0.12 <= cms <= 0.35, cms
    assert dense > 0.7, dense


def test_visible_text_skips_code():
    page = ("<html><head><title>T</title><style>p{}</style></head><body><p>one <b>two</b></p>"
            "<script>var x = 1;</script><svg><text>icon</text></svg> tail<noscript>ns</noscript>"
            "<template><p>tpl</p></template>\n  <p>three</p></body></html>")
    assert sitegen.visible_text(page) == "one two tail three"


def test_cms_markup(sites):
    """Page-builder markup around the content: shared template, page-specific ids and values."""
    root, files = sites["cms"]
    pages = [f.read_text(encoding="utf-8") for f in files]
    post_base = sitegen.CmsSite(PAGES, 1).post_base
    for i, page in enumerate(pages):
        doc = lxml.html.document_fromstring(page)
        url = BASE + sitegen.page_path(i)
        graph = json.loads(doc.xpath('//script[@type="application/ld+json"]')[0].text)
        assert graph["@graph"][0]["@id"] == url
        assert doc.xpath('//link[@rel="canonical"]/@href') == [url]
        assert doc.xpath('//meta[@property="og:url"]/@content') == [url]
        assert len(doc.xpath("//head/style")) == 2 and doc.xpath("//svg") and doc.xpath('//*[@id="cookie-notice"]')
        assert doc.xpath("//footer//ul/li/a") and doc.xpath('//script[contains(@src, "?ver=")]')
        assert doc.xpath('//li[contains(@class, "menu-item-type-post_type menu-item-object-page")]')
        assert f"page-id-{sitegen.post_id(post_base, i)} " in page
    ids = [set(re.findall(r'data-id="([0-9a-f]{7})"', p)) for p in pages]
    assert all(len(s) > 5 for s in ids)
    shared = set.intersection(*ids)  # the site-wide template's element ids
    assert not (ids[3] - shared) & (ids[4] - shared)  # the rest are the page's own
    footers = {p[p.index("<footer"):p.index("</footer>")] for p in pages}
    assert len(footers) == 1  # the site-wide footer is the same on every page
    for page in pages:  # an id names one element of a page
        found = re.findall(r' id="([^"]+)"', page)
        assert len(found) == len(set(found))


def test_modify_changes_cms_lead(tmp_path):
    files = sitegen.generate(tmp_path, PAGES, BASE, seed=1, profile="cms")
    before = {f: f.read_bytes() for f in files}
    changed = sitegen.modify(files, 0.2, seed=1)
    assert len(changed) == 6
    for f in files:
        after = f.read_bytes()
        if f in changed:
            assert after != before[f]
            assert lead_text(after.decode()).startswith("New this season")
            assert b"New this season" in after
        else:
            assert after == before[f]


def test_claims_on_cms_pages(sites):
    root, files = sites["cms"]
    counts = []
    for i, file in enumerate(files):
        body = file.read_bytes()
        e = extract(body, url=BASE + sitegen.page_path(i))
        assert isinstance(e.claims, list)
        assert len(e.claims) >= 10, (file, len(e.claims))
        assert " ".join(lead_text(body.decode()).split()) in e.text
        counts.append(len(e.claims))
    assert sum(counts) / len(counts) >= 20
