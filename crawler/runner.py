"""Run one crawl of one site in this process: `python -m crawler.runner --db DB --site NAME`.

The CLI starts this in a subprocess for every crawl, because Twisted's reactor cannot be
restarted inside one process. Progress and the final summary are JSON lines on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import settings as default_settings
from crawler.pipelines import emit
from crawler.spiders.site import SiteSpider
from storage.archive import Archive, ArchiveError
from storage.locks import SiteBusy, SiteLock

EXIT_BUSY = 3


def crawl_settings(site: dict, db: str, crawl_id: int, progress: bool) -> Settings:
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    if os.environ.get("STEMWATCH_USER_AGENT"):
        settings.set("USER_AGENT", os.environ["STEMWATCH_USER_AGENT"], priority="cmdline")
    settings.setdict({
        "DOWNLOAD_DELAY": float(site["delay"]),
        "CONCURRENT_REQUESTS_PER_DOMAIN": int(site["concurrency"]),
        "ROBOTSTXT_OBEY": bool(site["obey_robots"]),
        "STEMWATCH_DB": db,
        "STEMWATCH_CRAWL_ID": crawl_id,
        "STEMWATCH_SITE_ID": site["id"],
        "STEMWATCH_PROGRESS": progress,
    }, priority="cmdline")
    return settings


def run(db: str, name: str, progress: bool = True) -> int:
    archive = Archive(db)
    site = archive.site(name)
    lock = SiteLock(archive.path, site["id"])
    try:
        lock.acquire()
    except SiteBusy as exc:
        emit({"event": "error", "site": name, "error": str(exc)})
        return EXIT_BUSY
    try:
        previous = archive.last_crawl_status(site["id"])
        crawl_id = archive.start_crawl(site, os.getpid())
        emit({"event": "started", "site": name, "crawl_id": crawl_id})
        known = archive.known_pages(site["id"])
        if previous not in (None, "finished"):
            # A 304 has no links to follow: after a crawl that died half way, conditional requests
            # would never rediscover the pages it did not reach. Fetch everything once instead;
            # unchanged bodies still collapse by digest and are not parsed.
            known = dict.fromkeys(known, (None, None))
        process = CrawlerProcess(crawl_settings(site, archive.path, crawl_id, progress),
                                 install_root_handler=False)
        crawler = process.create_crawler(SiteSpider)
        process.crawl(crawler, site=site, known=known)
        process.start()
        stats = crawler.stats.get_stats() if crawler.stats else {}
        reason = stats.get("finish_reason", "finished")
        status = {"finished": "finished", "shutdown": "interrupted"}.get(reason, "failed")
        archive.finish_crawl(crawl_id, status, {k: v for k, v in stats.items()
                                                if isinstance(v, (int, float, str))})
        end = after_crawl(archive, crawl_id)
        summary = archive.crawl(crawl_id)
        emit({"event": "done", **summary, **end})
        return 0 if status == "finished" else 1
    finally:
        lock.release()
        archive.close()


def after_crawl(archive: Archive, crawl_id: int) -> dict:
    """Crawl end: removed pages and claims, the baseline, then the digest of new flags. A failure here is
    reported, never fatal: the crawl itself is stored, and the next crawl end catches up."""
    from storage.changes import crawl_end
    from storage.notify import after_crawl as notify_after_crawl

    def log(message: str) -> None:  # messages come masked from storage.notify
        sys.stderr.write(f"stemwatch: {message}\n")
        emit({"event": "warning", "crawl_id": crawl_id, "message": message})

    try:
        end = crawl_end(archive, crawl_id)
    except Exception as exc:  # keep the crawl's summary; the traceback goes to stderr
        traceback.print_exc()
        end = {"crawl_end_error": f"{type(exc).__name__}: {exc}"}
    end["notifications"] = notify_after_crawl(archive, log)
    return end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--site", required=True)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    try:
        sys.exit(run(args.db, args.site, progress=not args.no_progress))
    except ArchiveError as exc:
        emit({"event": "error", "site": args.site, "error": str(exc)})
        sys.exit(2)


if __name__ == "__main__":
    main()
