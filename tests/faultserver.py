"""A misbehaving web server for tests: each path answers with a scripted fault.

    with FaultServer() as srv:
        srv.set("/", html('<a href="/slow">x</a>'))
        srv.set("/slow", Reply(body=b"x" * 100, drip=0.2))        # one byte every 0.2 s
        srv.set("/flaky", Reply(status=503), Reply(status=503), Reply(body=b"ok"))  # a 5xx burst
        srv.set("/reset", Reply(reset=True))                      # RST before any answer

Raw sockets, not http.server, because the faults live below HTTP: dripping bytes, hanging,
resetting the connection, lying about Content-Length. Binds 127.0.0.1 only. A path's replies
are used in order and the last one repeats; unknown paths get 404. Every request is logged
with its arrival time, so tests can check retries and waits.
"""

from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Self


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    hang: float = 0.0  # seconds of silence before anything is sent
    drip: float = 0.0  # seconds between single bytes of the body (headers go at once)
    reset: bool = False  # close with RST instead of answering
    raw: bytes | None = None  # send exactly these bytes instead of a built response
    content_length: int | None = None  # announce this length instead of the real one


def html(text: str, status: int = 200, charset: str | None = "utf-8", **headers: str) -> Reply:
    ctype = "text/html" + (f"; charset={charset}" if charset else "")
    return Reply(status=status, headers={"Content-Type": ctype, **headers}, body=text.encode())


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status=status, headers={"Location": location, "Content-Type": "text/html"})


def gzip_bomb(inflated: int) -> Reply:
    """A small gzip body that inflates to `inflated` zero bytes."""
    return Reply(headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
                 body=gzip.compress(b"\0" * inflated, 9))


REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 304: "Not Modified", 403: "Forbidden",
           404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable"}


class FaultServer:
    def __init__(self) -> None:
        self.table: dict[str, list[Reply]] = {}
        self.log: list[tuple[float, str]] = []  # (monotonic time, path with query)
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self.url = ""

    def set(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self.table[path] = list(replies)

    def hits(self, path: str) -> list[float]:
        with self._lock:
            return [t for t, p in self.log if p == path]

    def paths(self) -> list[str]:
        with self._lock:
            return [p for _, p in self.log]

    # ---- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sock.settimeout(0.1)
        self._sock = sock
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True, name="faultserver").start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._sock:
            self._sock.close()

    # ---- serving -----------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()  # type: ignore[union-attr]
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _next_reply(self, path: str) -> Reply:
        with self._lock:
            self.log.append((time.monotonic(), path))
            replies = self.table.get(path) or self.table.get(path.split("?")[0])
            if not replies:
                return html("<h1>Not Found</h1>", status=404)
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        with conn:
            buf = b""
            try:
                while not self._stop.is_set():  # keep-alive: one request after another
                    while b"\r\n\r\n" not in buf:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buf += chunk
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    method, target = head.split(b"\r\n")[0].decode("latin-1").split(" ")[:2]
                    reply = self._next_reply(target)
                    if not self._answer(conn, method, reply):
                        return
            except OSError:
                return  # the client gave up (timeout, maxsize): normal here

    def _answer(self, conn: socket.socket, method: str, reply: Reply) -> bool:
        """Send one reply; False when the connection must close afterwards."""
        if reply.hang:
            time.sleep(reply.hang)
        if reply.reset:
            # SO_LINGER 0 makes close() send RST: "connection reset by peer" for the client.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if reply.raw is not None:
            conn.sendall(reply.raw)
            return False
        body = b"" if method == "HEAD" else reply.body
        length = reply.content_length if reply.content_length is not None else len(reply.body)
        lines = [f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}",
                 f"Content-Length: {length}"] + [f"{k}: {v}" for k, v in reply.headers.items()]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if reply.drip:
            for i in range(len(body)):
                conn.sendall(body[i:i + 1])
                time.sleep(reply.drip)
        else:
            conn.sendall(body)
        return reply.content_length is None
