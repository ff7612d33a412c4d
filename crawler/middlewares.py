"""Downloader middleware that keeps the crawler off private networks.

Watchlists come from spreadsheets of unknown origin; a URL pointing at 10.x, 127.x, 169.254.x or
a name that resolves there could make the crawler probe an internal network. Every request,
including each hop of a redirect chain, is checked after DNS resolution.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest


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
