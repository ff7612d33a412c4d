"""The baseline: a bare Scrapy spider with stemwatch's crawl shape and none of its work.

    python bench/bare_spider.py http://127.0.0.1:PORT/ --concurrency 16

Same scope as stemwatch (links to the start URL's host and port, compared ourselves because
LinkExtractor's allow_domains fails on IP addresses), same concurrency, delay 0, robots.txt
obeyed, cookies off, breadth first; links found with Scrapy's LinkExtractor; nothing stored.
Prints one JSON line: pages (HTML 200s parsed), elapsed seconds (Scrapy's own stat), bytes.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, start: str, **kw: Any):
        super().__init__(**kw)
        self.start_urls = [start]
        self.host = urlsplit(start).netloc.lower()
        # The same extractor configuration as crawler/spiders/site.py.
        self.links = LinkExtractor(deny_extensions=[], tags=("a", "area", "link"), attrs=("href",))
        self.pages = 0
        self.bytes = 0

    def parse(self, response: Response) -> Iterable[scrapy.Request]:
        if response.status != 200 or not isinstance(response, TextResponse):
            return
        self.pages += 1
        self.bytes += len(response.body)
        for link in self.links.extract_links(response):
            if urlsplit(link.url).netloc.lower() == self.host:
                yield scrapy.Request(link.url, self.parse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("start")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    process = CrawlerProcess({
        "CONCURRENT_REQUESTS": 32,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": True,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "EXTENSIONS": {"scrapy.extensions.telnet.TelnetConsole": None,
                       "scrapy.extensions.remote_control.RemoteControl": None},
        "DEPTH_PRIORITY": 1,
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "LOG_LEVEL": "WARNING",
    }, install_root_handler=False)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, start=args.start)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    spider = crawler.spider
    print(json.dumps({"pages": spider.pages, "bytes": spider.bytes,
                      "elapsed": stats.get("elapsed_time_seconds"),
                      "responses": stats.get("response_received_count", 0)}), flush=True)


if __name__ == "__main__":
    main()
