"""A small, real HTTP server for tests, the demo and benchmarks (stdlib only).

    with LocalSite(DEMO_V1) as site:
        fetch(site.url + "/treatments/")
        site.set_root(DEMO_V2)          # the clinic "edits its website" while we watch
        assert "/admin/" not in site.paths()

What it serves, from ``root``:

* ``/`` and ``/dir/`` serve ``index.html``; ``/dir`` (a directory, no slash) redirects to ``/dir/``;
  ``/foo`` with no extension serves ``foo.html`` when ``foo`` itself does not exist; missing files are 404.
* ``Content-Type`` comes from the extension (text types carry ``; charset=utf-8``).
* ``ETag`` is a quoted hash of the bytes sent; ``Last-Modified`` is derived from the same hash, not from the
  file's mtime, so rewriting a file with the same bytes (copying v1 over again) changes neither.
  ``If-None-Match`` wins over ``If-Modified-Since`` (RFC 9110); the latter must match the ``Last-Modified``
  date exactly (nginx's default), because a hash-derived date is stable but not monotonic.
  Either gives 304 with no body.
* ``{{BASE}}`` inside ``.xml`` and ``.txt`` files is replaced at serve time with :attr:`LocalSite.url`, so the
  static ``sitemap.xml`` and ``robots.txt`` can carry absolute URLs whatever the port. HTML is never rewritten:
  the demo site uses root-relative links.
* ``routes`` maps a path (tried with its query string first, then without) to a callable
  ``(handler) -> (status, headers, body)`` for dynamic answers (a 500, a redirect, a slow page) in tests;
  a route wins over a file.

Every request is logged in :attr:`LocalSite.requests` as ``(method, path_with_query, headers)``; header
names are matched case-insensitively (urllib sends ``If-none-match``, Scrapy ``If-None-Match``).
The server speaks HTTP/1.1 with keep-alive (closer to a real site, and faster for benchmarks) and never
writes to stderr.

Command line: ``python -m crawler.localsite ROOT [--port N]`` serves ROOT until Ctrl-C.
"""

from __future__ import annotations

import argparse
import hashlib
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from posixpath import normpath
from typing import Self
from urllib.parse import unquote, urlsplit

DEMO_ROOT = Path(__file__).parent / "demo" / "site"
DEMO_V1 = DEMO_ROOT / "v1"
DEMO_V2 = DEMO_ROOT / "v2"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
}
TEMPLATED = {".xml", ".txt"}  # the only files where {{BASE}} is replaced
NOT_FOUND = b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n"
# Last-Modified dates fall in the year after this instant, picked by the content hash.
_EPOCH = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())

Response = tuple[int, dict[str, str], bytes]
Route = Callable[["_Handler"], Response]


class Headers(dict):
    """A plain dict of request headers with lower-case keys and case-insensitive lookup."""

    def __init__(self, items=()) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default=None):
        return super().get(key.lower(), default)


def validators(body: bytes) -> tuple[str, str]:
    """(ETag, Last-Modified) for these bytes; both depend on the bytes only."""
    digest = hashlib.sha256(body).hexdigest()
    seconds = _EPOCH + int(digest[:8], 16) % (365 * 86400)
    return f'"{digest[:20]}"', formatdate(seconds, usegmt=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stemwatch-localsite/1"
    timeout = 30  # an idle keep-alive connection gives up its thread after this
    # Headers and body go out in two writes; with Nagle + delayed ACK each keep-alive request waits ~40 ms.
    disable_nagle_algorithm = True
    site: LocalSite  # set on the per-server subclass

    def log_message(self, format: str, *args) -> None:
        pass  # quiet: tests and benchmarks own stderr

    def setup(self) -> None:
        super().setup()
        self.site._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.site._closed(self.connection)

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        site = self.site
        site._log(self.command, self.path, Headers(self.headers.items()))
        path = urlsplit(self.path).path or "/"
        route = site.routes.get(self.path) or site.routes.get(path)
        if route is not None:
            try:
                status, headers, body = route(self)
            # A broken test route should show up as a 500, not as a hung client.
            except Exception as exc:  # noqa: BLE001
                status, headers, body = 500, {"Content-Type": "text/plain"}, f"route error: {exc!r}".encode()
            self._send(status, headers, body)
            return
        self._send(*site._file_response(path, self.headers))

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        names = {k.lower() for k in headers}
        for name, value in headers.items():
            self.send_header(name, value)
        no_body = status in (204, 304) or status < 200
        if not no_body and "content-length" not in names:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and not no_body:
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 drops connections under a concurrent crawl

    def handle_error(self, request, client_address) -> None:
        pass  # a client hanging up mid-response is normal for crawlers; stay quiet


class LocalSite:
    """Serve a directory on 127.0.0.1 in a background thread; see the module docstring."""

    def __init__(self, root: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = self._check_root(root)
        self.host = host
        self.port = port
        self.url = ""
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("LocalSite already started")
        handler = type("Handler", (_Handler,), {"site": self})
        self._server = _Server((self.host, self.port), handler)
        self.port = self._server.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"localsite:{self.port}"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        # Keep-alive connections would otherwise keep being answered after stop().
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def set_root(self, root: str | Path) -> None:
        """Serve another directory from now on (e.g. demo v1 -> v2) without changing the URL."""
        self.root = self._check_root(root)

    # -- request log -------------------------------------------------------------------------------
    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def paths(self, query: bool = False) -> list[str]:
        """Requested paths in arrival order; without the query string unless ``query=True``."""
        with self._lock:
            logged = [p for _, p, _ in self.requests]
        return logged if query else [urlsplit(p).path for p in logged]

    def _log(self, method: str, path: str, headers: Headers) -> None:
        with self._lock:
            self.requests.append((method, path, headers))

    def _opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.add(conn)

    def _closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.discard(conn)

    # -- files -------------------------------------------------------------------------------------
    @staticmethod
    def _check_root(root: str | Path) -> Path:
        path = Path(root).resolve()
        if not path.is_dir():
            raise NotADirectoryError(f"not a directory: {root}")
        return path

    def _resolve(self, path: str) -> Path | str | None:
        """The file for a URL path, a redirect target (str) for a directory without '/', or None."""
        root = self.root  # read once: set_root() may swap it mid-request
        clean = normpath(unquote(path)).lstrip("/")  # normpath("/") is "/", so clean may be ""
        target = (root / clean).resolve()
        if not target.is_relative_to(root):
            return None  # ../ escapes
        if target.is_dir():
            if not path.endswith("/"):
                return path + "/"
            target = target / "index.html"
        elif path.endswith("/"):
            return None  # "/about.html/" names a directory that does not exist
        elif not target.exists() and not target.suffix:
            target = target.with_name(target.name + ".html")
        return target if target.is_file() else None

    def _file_response(self, path: str, request_headers) -> Response:
        found = self._resolve(path)
        if isinstance(found, str):
            return 301, {"Location": found, "Content-Type": CONTENT_TYPES[".html"]}, b""
        if found is None:
            return 404, {"Content-Type": CONTENT_TYPES[".html"]}, NOT_FOUND
        body = found.read_bytes()
        suffix = found.suffix.lower()
        if suffix in TEMPLATED:
            body = body.replace(b"{{BASE}}", self.url.encode())
        etag, last_modified = validators(body)
        headers = {
            "Content-Type": CONTENT_TYPES.get(suffix, "application/octet-stream"),
            "ETag": etag,
            "Last-Modified": last_modified,
        }
        if _not_modified(request_headers, etag, last_modified):
            return 304, headers, b""
        return 200, headers, body


def _not_modified(request_headers, etag: str, last_modified: str) -> bool:
    inm = request_headers.get("If-None-Match")
    if inm is not None:  # when present, If-Modified-Since is ignored
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = request_headers.get("If-Modified-Since")
    if ims:
        try:
            return parsedate_to_datetime(ims) == parsedate_to_datetime(last_modified)
        except (TypeError, ValueError):
            return False
    return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m crawler.localsite",
        description="Serve a directory on 127.0.0.1 until Ctrl-C, e.g. crawler/demo/site/v1",
    )
    parser.add_argument("root", help="directory to serve")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    args = parser.parse_args(argv)
    try:
        site = LocalSite(args.root, port=args.port).start()
    except (OSError, NotADirectoryError) as exc:
        parser.exit(1, f"error: {exc}\n")
    print(f"Serving {site.root} at {site.url}/ (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()


if __name__ == "__main__":
    main()
