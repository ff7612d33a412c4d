"""One crawl per site at a time, across processes.

An flock on a file beside the database: the kernel releases it when the holder dies, however it
dies, so a crashed crawl never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class SiteBusy(Exception):
    pass


class SiteLock:
    def __init__(self, db_path: str, site_id: int):
        folder = Path(db_path + ".locks")
        folder.mkdir(exist_ok=True)
        self.path = folder / f"site-{site_id}.lock"
        self.fd: int | None = None

    def acquire(self) -> SiteLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SiteBusy(f"a crawl of this site is already running (lock {self.path})") from None
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def is_held(self) -> bool:
        """True when another process holds the lock right now."""
        try:
            self.acquire()
        except SiteBusy:
            return True
        self.release()
        return False

    def __enter__(self) -> SiteLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
