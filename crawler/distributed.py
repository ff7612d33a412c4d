"""Crawls beyond one machine: a shared Redis queue, any number of fetching workers, one writer.

    stemwatch dcrawl --redis URL NAME      # open the crawl row, seed the queue (archive machine)
    stemwatch worker --redis URL           # fetch (any machine, any number)
    stemwatch ingest --redis URL           # the single writer: store, extract, finish (archive machine)

Exactly once per crawl, even when a worker dies:

* A worker pops a request atomically from the crawl's queue into its own *processing* hash
  (token -> serialized request). Everything the response produces (captures, new requests, the
  removal of the token) is committed in one Lua script, so a death before the commit leaves the
  request in the processing hash, and a death after leaves nothing to redo.
* Workers keep a heartbeat key with a TTL. Anyone (the ingester, other workers) who finds a
  registered worker without a heartbeat moves its processing hash back to the queue. A commit whose
  token was already requeued is dropped, so a worker wrongly presumed dead cannot double a page.
* New page URLs are claimed in a per-crawl Redis set inside the commit (canonical URL, max_pages
  cap), replacing SiteSpider's in-process `scheduled` set across workers.
* Per-host politeness across workers: a Redis lease set per host (the site's concurrency) and a
  "next start" time (the site's delay), both read from Redis' own clock.

The fetching is SiteSpider's own code (scope, robots.txt, sitemaps, validators, redirects): the
worker spider subclasses it and only routes its output to Redis. Storing is CaptureStore, the path a
local crawl takes, so versions, claims, changes and flags come out the same.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import redis
import scrapy
from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.exceptions import DontCloseSpider
from scrapy.settings import Settings
from scrapy.utils.reactor import install_reactor
from scrapy_redis import picklecompat
from scrapy_redis.queue import Base as RedisQueueBase
from scrapy_redis.scheduler import Scheduler as RedisScheduler

from crawler import settings as default_settings
from crawler.spiders.site import MAX_SITEMAPS, SiteSpider
from storage.archive import Archive, Capture

log = logging.getLogger("stemwatch.distributed")

HEARTBEAT_TTL = float(os.environ.get("STEMWATCH_HEARTBEAT_TTL", 30))  # seconds without a beat = dead
ACTIVE = "sw:crawls"  # set of crawl ids being crawled
WORKERS = "sw:workers"  # set of worker ids that ever registered and were not reaped
HOSTS = "sw:hosts"  # hosts with a politeness lease set


class DistributedError(Exception):
    """Something a user can cause: a bad Redis URL, Redis down, a site already being crawled."""


# ---- Redis keys and scripts ------------------------------------------------------------------

def ck(crawl_id: int, name: str) -> str:
    """Per-crawl keys: q (request queue), seen (claimed page URLs), maps (sitemaps), items,
    ingesting (items popped but not yet stored), workers, meta, p:<worker> (processing hash)."""
    return f"sw:c:{crawl_id}:{name}"


POP = """
local raw = redis.call('RPOP', KEYS[1])
if not raw then return false end
redis.call('HSET', KEYS[2], ARGV[1], raw)
redis.call('SADD', KEYS[3], ARGV[2])
return raw
"""

# KEYS: q, seen, maps, items, proc. ARGV: token, max_pages, max_maps, nreq, (kind, url, raw) * nreq,
# then (claim, raw) per capture: a non-empty claim is a redirect target that must still be unclaimed.
COMMIT = """
if ARGV[1] ~= '' and redis.call('HEXISTS', KEYS[5], ARGV[1]) == 0 then return 0 end
local i = 5
for _ = 1, tonumber(ARGV[4]) do
  local kind, url, raw = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  local set, cap = nil, 0
  if kind == 'page' then set, cap = KEYS[2], tonumber(ARGV[2])
  elseif kind == 'map' then set, cap = KEYS[3], tonumber(ARGV[3]) end
  if set == nil then
    redis.call('LPUSH', KEYS[1], raw)
  elseif redis.call('SISMEMBER', set, url) == 0 and redis.call('SCARD', set) < cap then
    redis.call('SADD', set, url)
    redis.call('LPUSH', KEYS[1], raw)
  end
end
while i <= #ARGV do
  local claim, raw = ARGV[i], ARGV[i + 1]
  i = i + 2
  if claim == '' or redis.call('SADD', KEYS[2], claim) == 1 then redis.call('LPUSH', KEYS[4], raw) end
end
if ARGV[1] ~= '' then redis.call('HDEL', KEYS[5], ARGV[1]) end
return 1
"""

# Back to the front of the queue (RPOP end): a dead worker's requests are the next ones fetched.
REQUEUE = """
local vals = redis.call('HVALS', KEYS[1])
for _, v in ipairs(vals) do redis.call('RPUSH', KEYS[2], v) end
redis.call('DEL', KEYS[1])
return #vals
"""

# KEYS: q, items, ingesting, workers; ARGV: processing-hash prefix.
DRAINED = """
if redis.call('LLEN', KEYS[1]) > 0 or redis.call('LLEN', KEYS[2]) > 0 or redis.call('LLEN', KEYS[3]) > 0 then
  return 0
end
for _, w in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  if redis.call('HLEN', ARGV[1] .. w) > 0 then return 0 end
end
return 1
"""

# KEYS: holders (zset token -> lease end), next start, hosts; ARGV: token, concurrency, delay ms, lease ms, host.
# Returns 0 when the slot is taken, else milliseconds to wait. Redis' clock, not the workers'.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 50 end
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < nxt then return nxt - now end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
redis.call('SADD', KEYS[3], ARGV[5])
local delay = tonumber(ARGV[3])
if delay > 0 then redis.call('SET', KEYS[2], now + delay, 'PX', delay + 1000) end
return 0
"""

# KEYS: items, ingesting; ARGV: count. Items move to `ingesting` until stored (see Ingester).
TAKE = """
local xs = redis.call('RPOP', KEYS[1], ARGV[1])
if not xs then return {} end
for _, x in ipairs(xs) do redis.call('LPUSH', KEYS[2], x) end
return xs
"""


def connect(url: str) -> redis.Redis:
    """A client that has answered a PING, or one clear DistributedError."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30,
                                      health_check_interval=30)
        client.ping()
    except ValueError as exc:
        raise DistributedError(f"bad Redis URL {url!r}: {exc}") from exc
    except redis.RedisError as exc:
        raise DistributedError(f"cannot reach Redis at {url}: {exc}") from exc
    return client


class Shared:
    """The Redis side of distributed crawls: one object per process."""

    def __init__(self, url: str):
        self.url = url
        self.r = connect(url)
        self.pop_script = self.r.register_script(POP)
        self.commit_script = self.r.register_script(COMMIT)
        self.requeue_script = self.r.register_script(REQUEUE)
        self.drained_script = self.r.register_script(DRAINED)
        self.acquire_script = self.r.register_script(ACQUIRE)
        self.take_script = self.r.register_script(TAKE)

    # -- crawls --

    def active(self) -> list[int]:
        return sorted(int(c) for c in self.r.smembers(ACTIVE))

    def meta(self, crawl_id: int) -> dict | None:
        raw = self.r.get(ck(crawl_id, "meta"))
        return json.loads(raw) if raw else None

    def site_busy(self, site_id: int) -> int | None:
        for cid in self.active():
            meta = self.meta(cid)
            if meta and meta["site"]["id"] == site_id:
                return cid
        return None

    def is_drained(self, crawl_id: int) -> bool:
        keys = [ck(crawl_id, n) for n in ("q", "items", "ingesting", "workers")]
        return bool(self.drained_script(keys=keys, args=[ck(crawl_id, "p:")]))

    def forget(self, crawl_id: int) -> None:
        """A finished crawl leaves nothing behind in Redis."""
        workers = [w.decode() for w in self.r.smembers(ck(crawl_id, "workers"))]
        pipe = self.r.pipeline()
        pipe.srem(ACTIVE, crawl_id)
        pipe.delete(*[ck(crawl_id, n) for n in ("q", "seen", "maps", "items", "ingesting", "workers", "meta",
                                                 "dupefilter")],
                    *[ck(crawl_id, f"p:{w}") for w in workers])
        pipe.execute()

    # -- requests and captures --

    def commit(self, crawl_id: int, token: str, max_pages: int, requests: list[tuple[str, str, bytes]],
               captures: list[tuple[str, bytes]]) -> bool:
        """Atomically: claim and queue new requests, queue captures, drop the processing token."""
        args: list[Any] = [token, max_pages, MAX_SITEMAPS, len(requests)]
        for kind, url, raw in requests:
            args += [kind, url, raw]
        for claim, raw in captures:
            args += [claim, raw]
        keys = [ck(crawl_id, n) for n in ("q", "seen", "maps", "items")] + [ck(crawl_id, "p:" + worker_of(token))]
        return bool(self.commit_script(keys=keys, args=args))

    # -- workers --

    def beat(self, worker_id: str) -> None:
        pipe = self.r.pipeline()
        pipe.set(f"sw:hb:{worker_id}", "1", px=int(HEARTBEAT_TTL * 1000))
        pipe.sadd(WORKERS, worker_id)
        pipe.execute()

    def reap(self) -> int:
        """Requeue the in-flight requests of every worker whose heartbeat has expired."""
        moved = 0
        for wid in (w.decode() for w in self.r.smembers(WORKERS)):
            if self.r.exists(f"sw:hb:{wid}"):
                continue
            for cid in self.active():
                moved += int(self.requeue_script(keys=[ck(cid, f"p:{wid}"), ck(cid, "q")]))
                self.r.srem(ck(cid, "workers"), wid)
            for host in (h.decode() for h in self.r.smembers(HOSTS)):  # its host slots, without waiting for leases
                key = f"sw:host:{host}:holders"
                if mine := [m for m in self.r.zrange(key, 0, -1) if m.decode().startswith(wid + "/")]:
                    self.r.zrem(key, *mine)
            self.r.srem(WORKERS, wid)
            if moved:
                log.warning("worker %s lost its heartbeat: %d request(s) requeued", wid, moved)
        return moved

    def acquire(self, host: str, token: str, concurrency: int, delay: float, lease: float) -> float:
        wait = self.acquire_script(keys=[f"sw:host:{host}:holders", f"sw:host:{host}:next", HOSTS],
                                   args=[token, max(1, concurrency), int(delay * 1000), int(lease * 1000), host])
        return int(wait) / 1000

    def release(self, host: str, token: str) -> None:
        self.r.zrem(f"sw:host:{host}:holders", token)


def worker_of(token: str) -> str:
    """Tokens are '<worker id>/<random>', so a commit knows whose processing hash to clear."""
    return token.rsplit("/", 1)[0] if token else "-"


# ---- captures on the wire --------------------------------------------------------------------

def dump_capture(cap: Capture) -> bytes:
    return json.dumps({"url": cap.url, "status": cap.status, "headers": cap.headers,
                       "body": base64.b64encode(cap.body).decode("ascii"), "fetched_at": cap.fetched_at,
                       "error": cap.error}).encode()


def load_capture(raw: bytes) -> Capture:
    d = json.loads(raw)
    return Capture(url=d["url"], status=d["status"], headers=d["headers"], body=base64.b64decode(d["body"]),
                   fetched_at=d["fetched_at"], error=d["error"])


def request_kind(request: scrapy.Request) -> tuple[str, str]:
    """What a new request claims: a page URL (max_pages), a sitemap (MAX_SITEMAPS), or nothing."""
    name = getattr(request.callback, "__name__", "")
    if name == "parse_page":
        return "page", request.meta["page_url"]
    if name == "parse_sitemap":
        return "map", request.url
    return "other", request.url


def encode_request(request: scrapy.Request, spider: scrapy.Spider) -> bytes:
    # scrapy-redis' own format: Request.to_dict (callbacks by name) through its pickle serializer.
    return picklecompat.dumps(request.to_dict(spider=spider))


# ---- enqueue (dcrawl) ------------------------------------------------------------------------

def enqueue(shared: Shared, archive: Archive, name: str) -> dict:
    """Open a crawl row for the site and seed its queue with what SiteSpider.start() yields."""
    from storage.locks import SiteBusy, SiteLock

    site = archive.site(name)
    if busy := shared.site_busy(site["id"]):
        raise DistributedError(f"{name} is already being crawled (crawl {busy})")
    lock = SiteLock(archive.path, site["id"])
    try:
        lock.acquire()  # only to refuse while a local crawl of the site runs; held for the seeding
    except SiteBusy as exc:
        raise DistributedError(str(exc)) from exc
    try:
        previous = archive.last_crawl_status(site["id"])
        known = archive.known_pages(site["id"])
        if previous not in (None, "finished"):
            known = dict.fromkeys(known, (None, None))  # as crawler.runner: refetch after a broken crawl
        crawl_id = archive.start_crawl(site, os.getpid())
        spider = SiteSpider(site=site, known=known)

        async def seeds() -> list[scrapy.Request]:
            return [r async for r in spider.start()]

        requests = asyncio.run(seeds())
        shared.r.set(ck(crawl_id, "meta"), json.dumps({"site": site, "crawl_id": crawl_id, "db": archive.path}))
        shared.commit(crawl_id, "", int(site["max_pages"]),
                      [(*request_kind(r), encode_request(r, spider)) for r in requests], [])
        shared.r.sadd(ACTIVE, crawl_id)  # last: workers and the ingester see a fully seeded crawl
    finally:
        lock.release()
    return {"site": name, "crawl_id": crawl_id, "seeded": shared.r.llen(ck(crawl_id, "q"))}


# ---- worker: scrapy-redis scheduler and queue, adapted ----------------------------------------

class ReliableQueue(RedisQueueBase):
    """scrapy-redis FIFO queue whose pop parks the request in this worker's processing hash."""

    def __len__(self) -> int:
        return self.server.llen(self.key)

    def push(self, request: scrapy.Request) -> None:
        self.server.lpush(self.key, self._encode_request(request))

    def pop(self, timeout: int = 0) -> scrapy.Request | None:
        spider: WorkerSpider = self.spider
        token = f"{spider.worker_id}/{uuid.uuid4().hex[:12]}"
        raw = spider.shared.pop_script(keys=[self.key, ck(spider.crawl_id, f"p:{spider.worker_id}"),
                                             ck(spider.crawl_id, "workers")], args=[token, spider.worker_id])
        if raw is None:
            return None
        request = self._decode_request(raw)
        request.meta["sw_token"] = token
        return request


class SharedScheduler(RedisScheduler):
    """scrapy-redis' scheduler, with what Scrapy 2.19 and reliability need.

    A retry or redirect of a popped request stays in this worker, under the popped token: if the
    worker dies, the original goes back to the queue. The queue is never flushed on close (it is
    shared), and pops never block the reactor.
    """

    def open(self, spider: scrapy.Spider) -> None:
        self.local: deque[scrapy.Request] = deque()
        super().open(spider)

    def close(self, reason: str) -> None:
        pass  # the queue belongs to the crawl, not to this worker

    def enqueue_request(self, request: scrapy.Request) -> bool:
        if "sw_token" in request.meta:
            self.local.append(request)
            return True
        return super().enqueue_request(request)

    def next_request(self) -> scrapy.Request | None:
        if self.local:
            return self.local.popleft()
        return self.queue.pop()

    def has_pending_requests(self) -> bool:
        return bool(self.local) or len(self.queue) > 0


class HostGate:
    """Downloader middleware: per-host concurrency and delay shared by every worker (last before the
    download). Leases expire, so a killed worker cannot hold a host's slot for ever."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.lease = crawler.settings.getfloat("DOWNLOAD_TIMEOUT", 30) + 30

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostGate:
        return cls(crawler)

    async def process_request(self, request: scrapy.Request) -> None:
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        spider: WorkerSpider = self.crawler.spider
        host = urlsplit(request.url).netloc.lower()
        token = f"{spider.worker_id}/{uuid.uuid4().hex[:12]}"  # whose it is, for the reaper
        site = spider.site
        while wait := spider.shared.acquire(host, token, int(site["concurrency"]), float(site["delay"]),
                                            self.lease):
            await maybe_deferred_to_future(deferLater(reactor, wait, lambda: None))
        request.meta["sw_gate"] = (host, token)

    def _release(self, request: scrapy.Request) -> None:
        if gate := request.meta.pop("sw_gate", None):
            self.crawler.spider.shared.release(*gate)

    def process_response(self, request: scrapy.Request, response: Any) -> Any:
        self._release(request)
        return response

    def process_exception(self, request: scrapy.Request, exception: Exception) -> None:
        self._release(request)


class WorkerSpider(SiteSpider):
    """SiteSpider fetching one crawl's shared queue: its callbacks run unchanged, their output goes to
    Redis in one commit instead of to Scrapy's pipeline."""

    def __init__(self, site: dict, crawl_id: int, shared: Shared, worker_id: str, **kw: Any):
        super().__init__(site=site, known={}, **kw)
        self.crawl_id = crawl_id
        self.shared = shared
        self.worker_id = worker_id
        # `scheduled` stays a local cache of URLs this worker proposed; the commit claims them in Redis.

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> WorkerSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    async def start(self):  # type: ignore[override]
        """Nothing of its own: `dcrawl` seeded the queue (scrapy-redis predates async start())."""
        return
        yield

    def on_idle(self) -> None:
        if self.shared.r.sismember(ACTIVE, self.crawl_id):
            raise DontCloseSpider  # other workers may still add requests; the ingester says when it is over

    def commit(self, request: scrapy.Request, output: Iterable[Any] | None) -> list:
        requests, captures = [], []
        try:
            for x in output or ():
                if isinstance(x, Capture):
                    # A redirect target is claimed like a link: one capture per URL per crawl.
                    claim = x.url if x.url != request.meta.get("page_url", x.url) else ""
                    captures.append((claim, dump_capture(x)))
                elif isinstance(x, scrapy.Request):
                    requests.append((*request_kind(x), encode_request(x, self)))
        except Exception:  # as in a local crawl, a callback error keeps what it yielded before it
            self.logger.exception("callback failed on %s", request.url)
        try:
            committed = self.shared.commit(self.crawl_id, request.meta.get("sw_token", ""), self.max_pages,
                                           requests, captures)
        except redis.RedisError as exc:
            # The request stays in our processing hash; only our death lets the others requeue it.
            sys.stderr.write(f"stemwatch worker: lost Redis while committing ({exc}); exiting so that its "
                             "requests are requeued\n")
            os._exit(75)
        if not committed:
            self.logger.warning("%s was requeued while in flight here; its result is dropped", request.url)
        return []

    def parse_page(self, response: Any) -> list:
        return self.commit(response.request, super().parse_page(response))

    def parse_robots(self, response: Any) -> list:
        return self.commit(response.request, super().parse_robots(response))

    def parse_sitemap(self, response: Any) -> list:
        return self.commit(response.request, super().parse_sitemap(response))

    def failed(self, failure: Any) -> list:
        return self.commit(failure.request, super().failed(failure))

    def ignore(self, failure: Any) -> list:
        return self.commit(failure.request, None)


def worker_settings(site: dict, crawl_id: int, url: str) -> Settings:
    from crawler.runner import crawl_settings

    settings = crawl_settings(site, "", crawl_id, progress=False)
    settings.setdict({
        "ITEM_PIPELINES": {},
        "SCHEDULER": "crawler.distributed.SharedScheduler",
        "SCHEDULER_QUEUE_CLASS": "crawler.distributed.ReliableQueue",
        "SCHEDULER_QUEUE_KEY": ck(crawl_id, "q"),
        # Scrapy's default filter has no from_spider(), and scrapy-redis then calls from_settings(),
        # which Scrapy 2.19 removed: name the scrapy-redis filter explicitly.
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_DUPEFILTER_KEY": ck(crawl_id, "dupefilter"),
        "SCHEDULER_PERSIST": True,
        "REDIS_URL": url,
        "DOWNLOADER_MIDDLEWARES": {**settings.getdict("DOWNLOADER_MIDDLEWARES"),
                                   "crawler.distributed.HostGate": 950},
    }, priority="cmdline")
    return settings


class Worker:
    """One process, one reactor, one Scrapy crawler per active crawl; exits after max_idle seconds
    with nothing to crawl (None: never)."""

    TICK = 0.25

    def __init__(self, url: str, max_idle: float | None = None, echo: Callable[[str], None] = print):
        self.shared = Shared(url)
        self.url = url
        self.max_idle = max_idle
        self.echo = echo
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.crawlers: dict[int, Crawler] = {}
        self.retry_at: dict[int, float] = {}
        self.idle_since = time.monotonic()
        self.last_beat = 0.0

    def run(self) -> None:
        settings = Settings()
        settings.setmodule(default_settings, priority="project")
        settings.set("LOG_INSTALL_ROOT_HANDLER", False)
        # Install Scrapy's reactor before LoopingCall touches `twisted.internet.reactor` (the default one).
        install_reactor(settings["TWISTED_REACTOR"])
        self.process = CrawlerProcess(settings)
        self.shared.beat(self.worker_id)
        from twisted.internet import task

        self.loop = task.LoopingCall(self.tick)
        self.loop.start(self.TICK)
        self.echo(f"worker {self.worker_id} waiting for crawls on {self.url}")
        self.process.start(stop_after_crawl=False)

    def tick(self) -> None:
        try:
            self._tick()
        except redis.RedisError as exc:  # keep going: Redis may come back; the heartbeat tells others
            log.warning("redis: %s", exc)

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self.last_beat >= HEARTBEAT_TTL / 5:
            self.shared.beat(self.worker_id)
            self.last_beat = now
            self.shared.reap()
        for cid in self.shared.active():
            if cid not in self.crawlers and self.retry_at.get(cid, 0) <= now and (meta := self.shared.meta(cid)):
                self.start_crawl(cid, meta["site"])
        for crawler in list(self.crawlers.values()):
            if crawler.engine and crawler.engine.running and crawler.spider:
                self.feed(crawler)
        if self.crawlers:
            self.idle_since = now
        elif self.max_idle is not None and now - self.idle_since >= self.max_idle:
            from twisted.internet import reactor

            self.loop.stop()
            reactor.stop()  # start(stop_after_crawl=False) leaves stopping the reactor to us

    def start_crawl(self, crawl_id: int, site: dict) -> None:
        crawler = Crawler(WorkerSpider, worker_settings(site, crawl_id, self.url))
        self.crawlers[crawl_id] = crawler
        self.echo(f"worker {self.worker_id}: crawl {crawl_id} of {site['name']}")
        d = self.process.crawl(crawler, site=site, crawl_id=crawl_id, shared=self.shared, worker_id=self.worker_id)

        def failed(failure: Any) -> None:  # not retried at once: the error would repeat every tick
            self.retry_at[crawl_id] = time.monotonic() + 30
            log.error("crawl %s failed in this worker: %s", crawl_id, failure.getTraceback())

        d.addErrback(failed)
        d.addBoth(lambda _: self.crawlers.pop(crawl_id, None))

    def feed(self, crawler: Crawler) -> None:
        """Wake an idle engine when the shared queue has work: Scrapy itself looks only every 5 s."""
        engine = crawler.engine
        if engine.needs_backout():
            return
        scheduler = engine._slot.scheduler if engine._slot else None  # noqa: SLF001 (no public handle)
        if scheduler is None or scheduler.local:
            return
        if request := scheduler.queue.pop():
            engine.crawl(request)  # it stays local (it has a token) and schedules the engine's next call


# ---- ingest: the single writer --------------------------------------------------------------

class Ingester:
    """Pops captures and stores them through CaptureStore; finishes crawls once drained."""

    BATCH = 32

    def __init__(self, url: str, db: str, echo: Callable[[dict], None] | None = None):
        from crawler.pipelines import extractor_pool

        self.shared = Shared(url)
        self.db = db
        Archive(db).close()  # a bad --db fails now, not at the first capture
        self.echo = echo or (lambda e: None)
        self.stores: dict[int, Any] = {}
        self.pool = extractor_pool()
        for cid in self.shared.active():  # items a previous ingester popped but did not store
            while self.shared.r.rpoplpush(ck(cid, "ingesting"), ck(cid, "items")):
                pass

    def run(self, until_idle: bool = False) -> list[dict]:
        finished: list[dict] = []
        last_reap = 0.0
        try:
            while True:
                if time.monotonic() - last_reap >= 1.0:
                    self.shared.reap()
                    last_reap = time.monotonic()
                active = self.shared.active()
                if any([self.ingest_batch(cid) for cid in active]):
                    continue
                for cid in active:
                    if self.shared.is_drained(cid):
                        finished.append(self.finish(cid))
                if until_idle and not self.shared.active():
                    return finished
                time.sleep(0.1)
        finally:
            self.pool.shutdown(wait=True)
            for store in self.stores.values():
                store.close()

    def store_for(self, crawl_id: int) -> Any:
        from crawler.pipelines import CaptureStore

        if crawl_id not in self.stores:
            archive = Archive(self.db)
            try:
                site_id = archive.crawl(crawl_id)["site_id"]
            finally:
                archive.close()
            self.stores[crawl_id] = CaptureStore(self.db, crawl_id, site_id)
        return self.stores[crawl_id]

    def ingest_batch(self, crawl_id: int) -> int:
        from crawler.pipelines import extract_capture

        raws = self.shared.take_script(keys=[ck(crawl_id, "items"), ck(crawl_id, "ingesting")], args=[self.BATCH])
        if not raws:
            return 0
        store = self.store_for(crawl_id)
        caps = [load_capture(raw) for raw in raws]
        # Extraction runs in worker processes, the batch's pages in parallel; storing stays in order.
        futures = [self.pool.submit(extract_capture, c.body, c.content_type, c.url)
                   if store.worth_extracting(c) else None for c in caps]
        for cap, future in zip(caps, futures):
            if future is not None:
                cap.extraction = future.result()
            store.store(cap)
        self.shared.r.delete(ck(crawl_id, "ingesting"))
        self.echo({"event": "progress", "crawl_id": crawl_id, **store.counts})
        return len(caps)

    def finish(self, crawl_id: int) -> dict:
        from crawler.runner import after_crawl

        if store := self.stores.pop(crawl_id, None):
            store.close()
        archive = Archive(self.db)
        try:
            if archive.crawl(crawl_id)["status"] == "running":
                archive.finish_crawl(crawl_id, "finished", {"distributed": 1, "finish_reason": "finished"})
                end = after_crawl(archive, crawl_id)
            else:
                end = {}  # finished by an ingester that died before forgetting it
            summary = {"event": "done", **archive.crawl(crawl_id), **end}
        finally:
            archive.close()
        self.shared.forget(crawl_id)
        self.echo(summary)
        return summary


def crawl_meta_db(shared: Shared) -> str | None:
    """The archive the active crawls were enqueued from (the default for `ingest --db`)."""
    for cid in shared.active():
        if meta := shared.meta(cid):
            return meta.get("db")
    return None


