"""Scrapy settings for stemwatch crawls: every setting we change, each with the reason.

Per-site values (delay, concurrency, robots.txt) are applied on top of these by crawler.runner.
"""

import os

from crawler import __version__

BOT_NAME = "stemwatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# Identify ourselves with a contact, so a site owner can see who crawls and why.
CONTACT_URL = "https://github.com/stemwatch/stemwatch"
USER_AGENT = f"stemwatch/{__version__} (+{CONTACT_URL})"

# Polite by default: obey robots.txt, two requests at a time per host, a pause between them.
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
RANDOMIZE_DOWNLOAD_DELAY = True

# A dead or dripping server must not stall a crawl; transient failures get two more tries.
DOWNLOAD_TIMEOUT = float(os.environ.get("STEMWATCH_DOWNLOAD_TIMEOUT", 30))  # env: tests use ~1 s
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]

# Clinic pages are small; anything past 10 MB is not a page we can read as evidence of claims.
# Also caps a compressed body's inflated size, so a gzip bomb is refused, not inflated into memory.
DOWNLOAD_MAXSIZE = int(os.environ.get("STEMWATCH_DOWNLOAD_MAXSIZE", 10 * 1024 * 1024))  # env: tests
DOWNLOAD_WARNSIZE = min(4 * 1024 * 1024, DOWNLOAD_MAXSIZE)

# Every status reaches the spider: a 404, a 5xx or a 304 is a capture worth recording.
HTTPERROR_ALLOW_ALL = True

# Session cookies make pages vary between crawls and identify us; we want the public page.
COOKIES_ENABLED = False

# A site needs no Referer from us to serve its public pages; leaving it out also saves work per request.
REFERER_ENABLED = False

# One item per page: Scrapy's default of 100 concurrent items only adds scheduling overhead.
CONCURRENT_ITEMS = 8

# Remote code paths stay closed: no telnet console, no remote-control endpoint.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
}

ITEM_PIPELINES = {"crawler.pipelines.ArchivePipeline": 300}

# Checked before the robots.txt middleware (100), so not even robots.txt is fetched from a
# private address; redirects pass through it again (set STEMWATCH_ALLOW_PRIVATE=1 to allow).
DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.PrivateAddressGuard": 50,
    # A redirect to another host (or a denied path) is refused before it is fetched.
    "crawler.middlewares.RedirectScope": 55,
    # Above RetryMiddleware (550) so it sees a 429/503 first: it waits out Retry-After, then retries.
    "crawler.middlewares.RetryAfter": 560,
}
RETRY_AFTER_MAX = 120  # seconds; a site asking for a longer pause gets its answer recorded instead
STEMWATCH_ALLOW_PRIVATE = False

# The archive is the record; Scrapy's HTTP cache would only hide real fetches.
HTTPCACHE_ENABLED = False

# Breadth first keeps a max-pages cap on the pages closest to the start URLs.
DEPTH_PRIORITY = 1
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"

LOG_LEVEL = "WARNING"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
