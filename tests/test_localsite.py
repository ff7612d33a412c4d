"""LocalSite over real HTTP (urllib), and the demo site's v1 -> v2 differences."""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from email.utils import formatdate
from pathlib import Path

import pytest

from crawler.localsite import DEMO_V1, DEMO_V2, LocalSite


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # let 3xx reach the test as an HTTPError
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    """(status, headers, body) for one request; 3xx/4xx/5xx are answers, not exceptions."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with _opener.open(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read()


@pytest.fixture
def site():
    with LocalSite(DEMO_V1) as running:
        yield running


# -- serving files -------------------------------------------------------------------------------------


def test_index_served_with_html_content_type(site: LocalSite) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", site.url)
    status, headers, body = fetch(site.url + "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert int(headers["Content-Length"]) == len(body)
    assert body == (DEMO_V1 / "index.html").read_bytes()
    assert b"Fictional demo site for stemwatch" in body

    status, _, body = fetch(site.url + "/treatments/")
    assert status == 200 and b"Conditions we treat" in body


def test_extensionless_path_serves_html_file(site: LocalSite) -> None:
    status, headers, body = fetch(site.url + "/about")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert body == (DEMO_V1 / "about.html").read_bytes()
    assert fetch(site.url + "/news/open-day")[2] == (DEMO_V1 / "news/open-day.html").read_bytes()


def test_directory_without_slash_redirects(site: LocalSite) -> None:
    status, headers, _ = fetch(site.url + "/treatments")
    assert status == 301
    assert headers["Location"] == "/treatments/"


def test_missing_file_is_404_with_small_html_body(site: LocalSite) -> None:
    for path in ("/nope.html", "/nope", "/about.html/", "/treatments/nope/"):
        status, headers, body = fetch(site.url + path)
        assert status == 404, path
        assert headers["Content-Type"].startswith("text/html")
        assert b"Not Found" in body


def test_path_traversal_is_refused(site: LocalSite) -> None:
    # urllib sends the path as given; nothing outside the root may be served.
    secret = DEMO_V1.parent / "README.md"
    assert secret.exists()
    for path in ("/../README.md", "/%2e%2e/README.md", "/treatments/../../README.md"):
        assert fetch(site.url + path)[0] == 404, path


def test_content_types(site: LocalSite) -> None:
    expected = {
        "/robots.txt": "text/plain; charset=utf-8",
        "/sitemap.xml": "application/xml",
        "/brochure.pdf": "application/pdf",
        "/css/site.css": "text/css; charset=utf-8",
    }
    for path, content_type in expected.items():
        status, headers, body = fetch(site.url + path)
        assert status == 200, path
        assert headers["Content-Type"] == content_type, path
    assert fetch(site.url + "/brochure.pdf")[2].startswith(b"%PDF-1.4")


def test_head_has_headers_but_no_body(site: LocalSite) -> None:
    status, headers, body = fetch(site.url + "/faq.html", method="HEAD")
    assert status == 200
    assert body == b""
    assert int(headers["Content-Length"]) == len((DEMO_V1 / "faq.html").read_bytes())
    assert headers["ETag"] == fetch(site.url + "/faq.html")[1]["ETag"]
    assert site.requests[0][0] == "HEAD"


# -- conditional requests ------------------------------------------------------------------------------


def test_etag_and_if_none_match(site: LocalSite) -> None:
    _, headers, _ = fetch(site.url + "/prices.html")
    etag = headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{20}"', etag)

    status, headers304, body = fetch(site.url + "/prices.html", headers={"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert headers304["ETag"] == etag
    assert "Content-Length" not in headers304
    # Weak comparison and lists, as browsers and caches send them.
    assert fetch(site.url + "/prices.html", headers={"If-None-Match": f'"x", W/{etag}'})[0] == 304
    assert fetch(site.url + "/prices.html", headers={"If-None-Match": '"other"'})[0] == 200


def test_if_modified_since(site: LocalSite) -> None:
    _, headers, _ = fetch(site.url + "/faq.html")
    last_modified = headers["Last-Modified"]

    status, _, body = fetch(site.url + "/faq.html", headers={"If-Modified-Since": last_modified})
    assert (status, body) == (304, b"")
    # Exact match only (see the module docstring): any other date gets the full page.
    assert fetch(site.url + "/faq.html", headers={"If-Modified-Since": formatdate(0, usegmt=True)})[0] == 200
    assert fetch(site.url + "/faq.html", headers={"If-Modified-Since": "not a date"})[0] == 200
    # If-None-Match wins when both are sent.
    both = {"If-Modified-Since": last_modified, "If-None-Match": '"stale"'}
    assert fetch(site.url + "/faq.html", headers=both)[0] == 200


def test_validators_depend_on_bytes_not_mtime(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text("<p>same bytes</p>")
    with LocalSite(tmp_path) as site:
        first = fetch(site.url + "/")[1]
        page.write_text("<p>same bytes</p>")  # rewritten: new mtime, same content
        second = fetch(site.url + "/")[1]
        page.write_text("<p>new bytes</p>")
        third = fetch(site.url + "/")[1]
    assert (first["ETag"], first["Last-Modified"]) == (second["ETag"], second["Last-Modified"])
    assert third["ETag"] != first["ETag"]


# -- {{BASE}} ------------------------------------------------------------------------------------------


def test_base_substituted_in_robots_and_sitemap(site: LocalSite) -> None:
    robots = fetch(site.url + "/robots.txt")[2].decode()
    assert "{{BASE}}" not in robots
    assert f"Sitemap: {site.url}/sitemap.xml" in robots
    assert "Disallow: /admin/" in robots

    sitemap = fetch(site.url + "/sitemap.xml")[2].decode()
    assert "{{BASE}}" not in sitemap
    assert f"<loc>{site.url}/news/open-day.html</loc>" in sitemap
    assert f"<loc>{site.url}/</loc>" in sitemap


def test_base_not_substituted_in_html(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('<a href="{{BASE}}/x">x</a>')
    with LocalSite(tmp_path) as site:
        assert fetch(site.url + "/")[2] == b'<a href="{{BASE}}/x">x</a>'


# -- switching content, the log, routes ----------------------------------------------------------------


def test_set_root_switches_content_under_same_url(site: LocalSite) -> None:
    url = site.url
    assert fetch(url + "/treatments/autism.html")[0] == 404
    v1_about = fetch(url + "/about.html")[2]

    site.set_root(DEMO_V2)
    assert site.url == url
    status, _, body = fetch(url + "/treatments/autism.html")
    assert status == 200 and b"Stem Cell Treatment for Autism" in body
    v2_about = fetch(url + "/about.html")[2]
    assert b"FDA registered" in v2_about and b"FDA registered" not in v1_about

    with pytest.raises(NotADirectoryError):
        site.set_root(DEMO_V2 / "about.html")


def test_request_log_records_method_path_and_headers(site: LocalSite) -> None:
    fetch(site.url + "/prices.html?sid=4f9c2a71d0", headers={"X-Probe": "one", "User-Agent": "stemwatch-test"})
    fetch(site.url + "/missing", method="HEAD")

    (method, path, headers), (method2, path2, _) = site.requests
    assert (method, path) == ("GET", "/prices.html?sid=4f9c2a71d0")
    assert (method2, path2) == ("HEAD", "/missing")
    assert isinstance(headers, dict)
    assert headers["X-Probe"] == headers["x-probe"] == "one"  # names are case-insensitive
    assert "user-agent" in headers and headers.get("USER-AGENT") == "stemwatch-test"

    assert site.paths() == ["/prices.html", "/missing"]
    assert site.paths(query=True) == ["/prices.html?sid=4f9c2a71d0", "/missing"]
    site.clear_log()
    assert site.requests == [] and site.paths() == []


def test_request_log_is_thread_safe_under_concurrency(site: LocalSite) -> None:
    statuses: list[int] = []

    def worker(n: int) -> None:
        for i in range(10):
            statuses.append(fetch(f"{site.url}/faq.html?w={n}&i={i}")[0])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 80
    assert sorted(site.paths(query=True)) == sorted(f"/faq.html?w={n}&i={i}" for n in range(8) for i in range(10))


def test_routes_hook(site: LocalSite) -> None:
    site.routes["/boom"] = lambda handler: (500, {"Content-Type": "text/plain"}, b"server error")
    site.routes["/old.html"] = lambda handler: (302, {"Location": "/about.html"}, b"")
    site.routes["/about.html"] = lambda handler: (
        200,
        {"X-Method": handler.command},
        b"dynamic " + handler.path.encode(),
    )
    site.routes["/faq.html?exact=1"] = lambda handler: (200, {}, b"exact query match")

    def broken(handler):
        raise RuntimeError("oops")

    site.routes["/broken"] = broken

    assert fetch(site.url + "/boom")[0::2] == (500, b"server error")
    status, headers, _ = fetch(site.url + "/old.html")
    assert (status, headers["Location"]) == (302, "/about.html")
    status, headers, body = fetch(site.url + "/about.html?q=1")  # a route wins over the file
    assert (status, headers["X-Method"], body) == (200, "GET", b"dynamic /about.html?q=1")
    assert fetch(site.url + "/faq.html?exact=1")[2] == b"exact query match"
    assert fetch(site.url + "/faq.html?exact=2")[2] == (DEMO_V1 / "faq.html").read_bytes()
    status, _, body = fetch(site.url + "/broken")
    assert status == 500 and b"oops" in body
    assert site.paths()[:2] == ["/boom", "/old.html"]  # routed requests are logged too

    del site.routes["/about.html"]
    assert fetch(site.url + "/about.html")[2] == (DEMO_V1 / "about.html").read_bytes()


def test_stop_closes_the_server() -> None:
    site = LocalSite(DEMO_V1).start()
    url = site.url
    assert fetch(url + "/")[0] == 200
    with pytest.raises(RuntimeError):
        site.start()
    site.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/", timeout=2)
    site.stop()  # idempotent


def test_cli_serves_until_interrupted(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("hello from the cli")
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.localsite", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, line
        assert fetch(match.group() + "/")[2] == b"hello from the cli"
    finally:
        proc.terminate()
        proc.wait(timeout=5)

    bad = subprocess.run(
        [sys.executable, "-m", "crawler.localsite", str(tmp_path / "missing")], capture_output=True, text=True
    )
    assert bad.returncode == 1 and "not a directory" in bad.stderr


# -- the demo site -------------------------------------------------------------------------------------


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _denoise(text: str) -> str:
    """Blank out what v2 changes as noise: the date, the session token, the carousel order."""
    text = re.sub(r"Page updated: [^<]+", "Page updated: DATE", text)
    text = re.sub(r"sess-[0-9a-f]+", "sess-TOKEN", text)
    text = re.sub(r"sid=[0-9a-f]+", "sid=TOKEN", text)
    lines = text.split("\n")
    slides = [i for i, line in enumerate(lines) if line.lstrip().startswith('<figure class="slide">')]
    for i, line in zip(slides, sorted(lines[i] for i in slides), strict=True):
        lines[i] = line
    return "\n".join(lines)


AUTISM_MENU_ITEM = '\n          <li><a href="/treatments/autism.html">Autism</a></li>'


def _added_removed(a: str, b: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.ndiff(a.splitlines(), b.splitlines()))
    return [d[2:] for d in diff if d.startswith("+ ")], [d[2:] for d in diff if d.startswith("- ")]


def test_demo_v1_v2_differences() -> None:
    v1, v2 = _files(DEMO_V1), _files(DEMO_V2)
    assert set(v2) - set(v1) == {"treatments/autism.html"}
    assert set(v1) - set(v2) == set()
    changed = {name for name in v1 if v1[name] != v2[name]}
    assert set(v1) - changed == {"robots.txt", "brochure.pdf", "css/site.css", "admin/index.html"}

    noise_only, menu_and_noise, real = set(), set(), set()
    for name in sorted(changed):
        a, b = _denoise(v1[name].decode()), _denoise(v2[name].decode())
        if a == b:
            noise_only.add(name)
        elif a == b.replace(AUTISM_MENU_ITEM, ""):
            menu_and_noise.add(name)
        else:
            real.add(name)
    assert noise_only == {"news/open-day.html"}
    assert menu_and_noise == {
        "index.html",
        "treatments/knee-osteoarthritis.html",
        "treatments/spinal-cord-injury.html",
        "prices.html",
        "testimonials.html",
        "faq.html",
    }
    assert real == {"about.html", "treatments/multiple-sclerosis.html", "treatments/index.html", "sitemap.xml"}

    def real_diff(name: str) -> tuple[str, str]:
        added, removed = _added_removed(
            _denoise(v1[name].decode()), _denoise(v2[name].decode()).replace(AUTISM_MENU_ITEM, "")
        )
        return " ".join(added), " ".join(removed)

    added, removed = real_diff("about.html")
    assert "Our laboratory is FDA registered" in added and removed == ""
    added, removed = real_diff("treatments/multiple-sclerosis.html")
    assert "may help reduce fatigue" in removed
    assert "has a 90% success rate" in added and "Results are permanent" in added
    added, removed = real_diff("treatments/index.html")
    assert 'href="/treatments/autism.html"' in added and removed == ""
    assert real_diff("sitemap.xml") == ("  <url><loc>{{BASE}}/treatments/autism.html</loc></url>", "")

    # The carousel really is reordered, not changed.
    slides = [re.findall(r"<figcaption>([^<]+)</figcaption>", v["index.html"].decode()) for v in (v1, v2)]
    assert slides[0] != slides[1] and sorted(slides[0]) == sorted(slides[1])
    # Things test writers rely on (see crawler/demo/site/README.md).
    v1_text = b" ".join(v1.values()).decode("utf-8", "replace")
    for absent in ("FDA", "autism", "Autism", "success rate"):
        assert absent not in v1_text
    assert "treatments/autism.html" in v2["index.html"].decode()


@pytest.mark.parametrize("root", [DEMO_V1, DEMO_V2], ids=["v1", "v2"])
def test_demo_links_and_sitemap_resolve(root: Path) -> None:
    """Every root-relative link on the site and every sitemap URL answers 200; open-day is sitemap-only."""
    with LocalSite(root) as site:
        seen, queue, linked = set(), ["/"], set()
        while queue:
            path = queue.pop()
            if path in seen:
                continue
            seen.add(path)
            status, headers, body = fetch(site.url + path)
            assert status == 200, path
            if headers["Content-Type"].startswith("text/html"):
                for href in re.findall(r'(?:href|src)="(/[^"]*)"', body.decode()):
                    linked.add(href.split("?")[0])
                    if not href.startswith("/admin/"):
                        queue.append(href)
        sitemap = fetch(site.url + "/sitemap.xml")[2].decode()
        in_sitemap = {loc.removeprefix(site.url) for loc in re.findall(r"<loc>([^<]+)</loc>", sitemap)}
        for path in in_sitemap:
            assert fetch(site.url + path)[0] == 200, path
        assert "/admin/" not in site.paths()
    assert "/news/open-day.html" in in_sitemap and "/news/open-day.html" not in linked
    assert "/admin/" in linked and "/admin/" not in in_sitemap
    assert "/brochure.pdf" in linked
    assert in_sitemap <= linked | {"/news/open-day.html"}
    assert ("/treatments/autism.html" in in_sitemap) == (root == DEMO_V2)


def test_demo_pages_are_utf8_and_marked_fictional() -> None:
    for root in (DEMO_V1, DEMO_V2):
        for page in root.rglob("*.html"):
            text = page.read_text(encoding="utf-8")
            assert "Fictional demo site for stemwatch" in text, page
