"""Shared fixtures: loopback sites served by the tests themselves, archives in tmp folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.localsite import LocalSite
from crawler.watchlist import normalise_site
from storage.archive import Archive

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "crawler" / "demo" / "site"

# Every crawl target in the tests is on 127.0.0.1, which the crawler refuses unless allowed.
os.environ["STEMWATCH_ALLOW_PRIVATE"] = "1"


@pytest.fixture
def demo_site():
    with LocalSite(DEMO / "v1") as site:
        yield site


@pytest.fixture
def archive(tmp_path):
    arc = Archive(str(tmp_path / "test.db"))
    yield arc
    arc.close()


def add_site(archive: Archive, name: str, url: str, **extra) -> dict:
    row = normalise_site({"name": name, "start_urls": [url + "/"], "delay": 0, "concurrency": 4, **extra})
    return archive.add_site(row)


def write_site(root: Path, pages: dict[str, str | bytes]) -> Path:
    """Write a small static site: {path: content}."""
    for path, content in pages.items():
        file = root / path.lstrip("/")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def stemwatch(*args: str, db: str | None = None, check: bool = True, timeout: float = 120,
              input: str | None = None) -> subprocess.CompletedProcess:
    """Run the real `stemwatch` command in a subprocess."""
    cmd = [sys.executable, "-m", "crawler.cli", *args] + (["--db", db] if db else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input, cwd=ROOT,
                          env={**os.environ})
    if check and proc.returncode != 0:
        raise AssertionError(f"stemwatch {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def db_size(archive: Archive) -> int:
    """Bytes on disk after folding the WAL into the main file."""
    archive.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(archive.path)
