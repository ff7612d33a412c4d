"""A private nginx serving one folder on a free 127.0.0.1 port, for benchmarks.

    with Nginx(root) as server:
        print(server.url)           # http://127.0.0.1:PORT
        ...                         # server.access_log is the access log file

Its config, pid, logs and temp folders live in a temp dir of its own; nothing under /etc/nginx
is read or written. `etag on;` and Last-Modified (nginx's default for static files) let a
recrawl's conditional requests get 304s. Run in the foreground (`daemon off;`), so stopping it
is terminating the one process we started.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

CONFIG = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    types {{ text/html html; application/xml xml; text/plain txt; text/css css; }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/html text/plain text/css application/xml;
    access_log {tmp}/access.log;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    etag on;
    if_modified_since exact;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index index.html;
    }}
}}
"""


def ensure_nginx() -> str:
    """Path of the nginx binary; installs Debian's package when missing and we are root."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError("nginx is not installed; run as root: apt-get update && apt-get install -y nginx")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "nginx"], check=True, env=env, stdout=subprocess.DEVNULL)
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(found):
        raise RuntimeError("apt-get installed nginx but no nginx binary was found")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self, root: Path, port: int | None = None):
        self.root = Path(root).resolve()
        self.port = port or free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="stemwatch-nginx-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.tmp / "access.log"

    def start(self) -> Self:
        binary = ensure_nginx()
        # As root, nginx's workers drop to `nobody`, who may not read a 0700 temp dir: keep root.
        user = "user root;" if os.geteuid() == 0 else ""
        conf = self.tmp / "nginx.conf"
        conf.write_text(CONFIG.format(tmp=self.tmp, port=self.port, root=self.root, user=user))
        self.proc = subprocess.Popen([binary, "-p", str(self.tmp), "-c", str(conf), "-e", str(self.tmp / "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.proc.stderr.read().decode(errors='replace')}")  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on port {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: fast shutdown of master and its worker
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
