"""Downloader middlewares: keep the crawler off private networks; honour Retry-After.

Watchlists come from spreadsheets of unknown origin; a URL pointing at 10.x, 127.x, 169.254.x or
a name that resolves there could make the crawler probe an internal network. Every request,
including each hop of a redirect chain, is checked after DNS resolution.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater


class RefusedAddress(IgnoreRequest):
    """The target is not a public http(s) address."""


def private_allowed(settings: Any = None) -> bool:
    if os.environ.get("STEMWATCH_ALLOW_PRIVATE", "") in ("1", "true", "yes"):
        return True
    return bool(settings and settings.getbool("STEMWATCH_ALLOW_PRIVATE"))


@lru_cache(maxsize=4096)
def resolve(host: str) -> tuple[str, ...]:
    try:
        return tuple({info[4][0] for info in socket.getaddrinfo(host, None)})
    except socket.gaierror:
        return ()  # an unresolvable name fails later as a DNS error capture


def refusal(url: str, allow_private: bool) -> str | None:
    """Why this URL may not be fetched, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"only http and https are crawled, not {parts.scheme or 'no scheme'}"
    if allow_private:
        return None
    for addr in resolve(parts.hostname or ""):
        ip = ipaddress.ip_address(addr.split("%")[0])
        if not ip.is_global:
            return f"refused: {parts.hostname} is a private, loopback or link-local address ({ip})"
    return None


class PrivateAddressGuard:
    def __init__(self, allow_private: bool):
        self.allow_private = allow_private

    @classmethod
    def from_crawler(cls, crawler: Any) -> PrivateAddressGuard:
        return cls(private_allowed(crawler.settings))

    def process_request(self, request: Any) -> None:
        if reason := refusal(request.url, self.allow_private):
            raise RefusedAddress(reason)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfter:
    """Retry a 429/503 only after the pause its Retry-After asks for.

    Scrapy's RetryMiddleware retries at once, which a rate-limited site answers with another
    429. Sits above it (a higher number sees responses first); the wait does not block the
    reactor. A pause longer than RETRY_AFTER_MAX is not waited for: the answer is recorded.
    """

    CODES = (429, 503)

    def __init__(self, crawler: Any):
        self.crawler = crawler
        self.enabled = crawler.settings.getbool("RETRY_ENABLED")
        self.max_wait = crawler.settings.getfloat("RETRY_AFTER_MAX", 120)

    @classmethod
    def from_crawler(cls, crawler: Any) -> RetryAfter:
        return cls(crawler)

    async def process_response(self, request: Any, response: Any) -> Any:
        if not self.enabled or response.status not in self.CODES or request.meta.get("dont_retry"):
            return response
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait is None:
            return response
        if wait > self.max_wait:
            request.meta["dont_retry"] = True  # retrying at once would ignore the site's request
            return response
        retry = get_retry_request(request, spider=self.crawler.spider,
                                  reason=f"{response.status} with Retry-After {wait:g}s")
        if retry is None:
            return response  # retries used up: the 429/503 itself is the capture
        self.crawler.stats.inc_value("stemwatch/retry_after_waits")
        from twisted.internet import reactor  # imported late: Scrapy installs the reactor first
        await maybe_deferred_to_future(deferLater(reactor, wait, lambda: None))
        return retry


class RedirectScope:
    """A redirect hop out of the site's scope is not followed: no request to the other host at all.

    Scrapy's own offsite filter needs allowed_domains, which cannot express host:port scopes
    (nor IP hosts). The hop fails with IgnoreRequest, which the spider records as an error capture.
    """

    def __init__(self, crawler: Any):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> RedirectScope:
        return cls(crawler)

    def process_request(self, request: Any) -> None:
        scope = getattr(self.crawler.spider, "scope", None)
        if scope is not None and request.meta.get("redirect_urls") and request.url not in scope:
            raise IgnoreRequest(f"redirected out of scope to {request.url}")
