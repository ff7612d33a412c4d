"""One generic spider: the site row decides where it may go.

Scope is the start URLs' hosts (host and port compared ourselves, because LinkExtractor's
allow_domains matches nothing for an IP address), then the site's allow/deny patterns, then
max_pages. Known pages are requested again with their stored validators, so an unchanged page
costs one 304; new pages are found through links of changed pages and through sitemaps.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from crawler.middlewares import RefusedAddress
from storage.archive import Capture, utcnow

# Query parameters that never change what a page says: tracking tags, session ids, cache busters.
NOISE_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_eid|sid|sessionid|phpsessid|jsessionid|_ga"
                          r"|_|v|ver|ts|cb|cachebust\w*|nocache|timestamp|rnd|rand)$", re.I)
MAX_SITEMAPS = 50


def canonical_url(url: str) -> str:
    """Drop the fragment and tracking/session parameters so one page has one URL."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not NOISE_PARAMS.match(k)]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), ""))


class Scope:
    """Which URLs belong to a site."""

    def __init__(self, site: dict):
        self.hosts = {urlsplit(u).netloc.lower() for u in site["start_urls"]}
        self.allow = [re.compile(p) for p in site.get("allow", [])]
        self.deny = [re.compile(p) for p in site.get("deny", [])]

    def __contains__(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.netloc.lower() not in self.hosts:
            return False
        if any(p.search(url) for p in self.deny):
            return False
        return not self.allow or any(p.search(url) for p in self.allow)


class SiteSpider(scrapy.Spider):
    name = "site"

    def __init__(self, site: dict, known: dict[str, tuple[str | None, str | None]] | None = None, **kw: Any):
        super().__init__(**kw)
        self.site = site
        self.scope = Scope(site)
        self.max_pages = int(site.get("max_pages", 500))
        self.known = known or {}
        self.scheduled: set[str] = set()
        self.sitemaps_seen: set[str] = set()
        self.links = LinkExtractor(deny_extensions=[], tags=("a", "area", "link"), attrs=("href",))

    async def start(self) -> AsyncIterator[Any]:
        for url in self.site["start_urls"]:
            if req := self.page_request(url):
                yield req
        origins = {f"{p.scheme}://{p.netloc}" for p in map(urlsplit, self.site["start_urls"])}
        for origin in sorted(origins):
            yield scrapy.Request(f"{origin}/robots.txt", self.parse_robots, errback=self.ignore,
                                 dont_filter=True, meta={"dont_obey_robotstxt": True})
            yield self.sitemap_request(f"{origin}/sitemap.xml")
        # Known pages come last, so a max-pages cap keeps the start pages first.
        for url in self.known:
            if req := self.page_request(url):
                yield req

    # ---- requests ----------------------------------------------------------------------------

    def page_request(self, url: str) -> scrapy.Request | None:
        url = canonical_url(url)
        if url in self.scheduled or url not in self.scope or len(self.scheduled) >= self.max_pages:
            return None
        self.scheduled.add(url)
        headers = {}
        etag, last_modified = self.known.get(url, (None, None))
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        # dont_filter: the spider dedupes by canonical URL itself; Scrapy's filter would silently
        # drop every hop of a redirect loop (and the page with it) instead of recording the loop.
        return scrapy.Request(url, self.parse_page, errback=self.failed, headers=headers,
                              meta={"page_url": url}, dont_filter=True)

    def sitemap_request(self, url: str) -> scrapy.Request | None:
        if url in self.sitemaps_seen or len(self.sitemaps_seen) >= MAX_SITEMAPS:
            return None
        self.sitemaps_seen.add(url)
        return scrapy.Request(url, self.parse_sitemap, errback=self.ignore, dont_filter=True)

    # ---- callbacks ---------------------------------------------------------------------------

    def parse_page(self, response: Response) -> Iterable[Any]:
        requested = response.meta["page_url"]
        final = canonical_url(response.url)
        if final != requested and final not in self.scope:
            yield Capture(url=requested, status=response.status, fetched_at=utcnow(),
                          error=f"redirected out of scope to {response.url}")
            return
        if final != requested:
            if final in self.scheduled:
                return  # the target is captured by its own request: one capture per URL per crawl
            self.scheduled.add(final)
        headers = {k.decode("latin-1").lower(): b", ".join(v).decode("latin-1")
                   for k, v in response.headers.items()}
        yield Capture(url=final, status=response.status, headers=headers, body=response.body,
                      fetched_at=utcnow())
        if response.status == 200 and isinstance(response, TextResponse) and "html" in (
            headers.get("content-type", "html")
        ):
            for link in self.links.extract_links(response):
                if req := self.page_request(link.url):
                    yield req

    def parse_robots(self, response: Response) -> Iterable[Any]:
        if response.status != 200:
            return
        for url in sitemap_urls_from_robots(response.body[:1_000_000], base_url=response.url):
            if req := self.sitemap_request(url):
                yield req

    def parse_sitemap(self, response: Response) -> Iterable[Any]:
        if response.status != 200:
            return
        body = response.body
        if gzip_magic_number(response):
            try:
                body = gunzip(body, max_size=self.settings.getint("DOWNLOAD_MAXSIZE"))
            except Exception:  # a broken or oversized gzip sitemap is skipped, not fatal
                self.logger.warning("unreadable gzip sitemap %s", response.url)
                return
        try:
            sitemap = Sitemap(body)
        except Exception:  # lxml refuses malformed XML; the crawl goes on without it
            self.logger.warning("malformed sitemap %s", response.url)
            return
        for entry in sitemap:
            loc = entry.get("loc", "")
            if sitemap.type == "sitemapindex":
                req = self.sitemap_request(loc) if loc in self.scope else None
            else:
                req = self.page_request(loc)
            if req:
                yield req

    def failed(self, failure: Any) -> Iterable[Any]:
        request = failure.request
        if failure.check(RefusedAddress):
            yield Capture(url=request.meta.get("page_url", request.url), status=0, fetched_at=utcnow(),
                          error=str(failure.value))
            return
        if failure.check(IgnoreRequest) and "robots.txt" in str(failure.value):
            # robots.txt said no: nothing was fetched. Other IgnoreRequests (a gzip bomb refused
            # past DOWNLOAD_MAXSIZE) did fetch something and fall through to an error capture.
            self.crawler.stats.inc_value("stemwatch/blocked_by_robots")
            return
        yield Capture(url=request.meta.get("page_url", request.url), status=0, fetched_at=utcnow(),
                      error=f"{failure.type.__name__}: {failure.getErrorMessage()}"[:500])

    def ignore(self, failure: Any) -> None:
        """robots.txt and sitemaps are optional; their absence is not an error."""
        return None
