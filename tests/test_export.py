"""WARC export: valid by warcio's own checker, and byte-for-byte the archive when read back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from crawler.cli import cli
from storage.archive import Archive
from storage.export import write_warc
from tests.test_query import H, M, newsroom  # noqa: F401  (the fixture)

WARCIO = str(Path(sys.executable).parent / "warcio")


def export(archive: Archive, out: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["export", "warc", str(out), *args, "--db", archive.path])
    assert result.exit_code == 0, result.output
    return result.output


def records(path: Path) -> list[dict]:
    """Every record with its headers and fully read content (payload for responses)."""
    out = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            out.append({
                "type": rec.rec_type, "headers": dict(rec.rec_headers.headers),
                "http": rec.http_headers, "content": rec.content_stream().read(),
            })
    return out


def versions(archive: Archive) -> dict[int, dict]:
    cur = archive.conn.execute(
        "SELECT versions.id, url, digest, versions.first_seen, status FROM versions "
        "JOIN pages ON pages.id = page_id")
    return {r[0]: dict(zip(("id", "url", "digest", "first_seen", "status"), r)) for r in cur}


def warcio_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([WARCIO, "check", "-v", str(path)], capture_output=True, text=True, timeout=60)


def test_warc_valid_and_byte_exact(newsroom, tmp_path):  # noqa: F811
    archive, ids = newsroom
    out = tmp_path / "all.warc.gz"
    msg = export(archive, out)
    assert "10 version(s)" not in msg  # ten fetches, but they collapse into fewer versions
    check = warcio_check(out)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "digest pass" in check.stdout and "failed" not in check.stdout.lower()

    recs = records(out)
    assert recs[0]["type"] == "warcinfo" and b"stemwatch" in recs[0]["content"]
    by_id = {r["headers"]["WARC-Record-ID"]: r for r in recs}
    stored = versions(archive)
    metas = [r for r in recs if r["type"] == "metadata"]
    assert len(metas) == len(stored)  # one metadata record per version, each naming its version
    seen_versions = set()
    for meta in metas:
        info = json.loads(meta["content"])
        v = stored[info["version_id"]]
        seen_versions.add(v["id"])
        response = by_id[meta["headers"]["WARC-Concurrent-To"]]
        h = response["headers"]
        assert h["WARC-Target-URI"] == v["url"] and h["WARC-Date"] == v["first_seen"]
        assert h["WARC-Payload-Digest"] == v["digest"] == info["digest"]
        assert response["http"].get_statuscode() == str(v["status"])
        if response["type"] == "response":
            assert response["content"] == archive.body(v["digest"])  # byte for byte
            assert response["http"].get_header("Content-Length") == str(len(response["content"]))
        else:
            assert response["type"] == "revisit" and response["content"] == b""
    assert seen_versions == set(stored)

    # Requests pair with their responses.
    requests = [r for r in recs if r["type"] == "request"]
    assert len(requests) == len(stored)
    for req in requests:
        assert by_id[req["headers"]["WARC-Concurrent-To"]]["headers"]["WARC-Target-URI"] == \
            req["headers"]["WARC-Target-URI"]
        assert req["http"].protocol == "GET" and req["http"].statusline.endswith(" HTTP/1.1")

    # The HTTP headers are the stored ones, minus what no longer describes the stored payload.
    covid = next(r for r in recs if r["type"] == "response"
                 and r["headers"]["WARC-Target-URI"] == M + "/treatments/long-covid.html")
    assert covid["http"].get_header("server") == "nginx"
    assert covid["http"].get_header("X-Archive-Orig-content-encoding") == "gzip"
    assert covid["http"].get_header("content-encoding") is None


def test_repeated_bytes_become_revisits(newsroom, tmp_path):  # noqa: F811
    archive, ids = newsroom
    out = tmp_path / "all.warc"
    export(archive, out)
    assert out.read_bytes().startswith(b"WARC/1.1")  # not gzipped without .gz
    recs = records(out)
    revisits = {r["headers"]["WARC-Target-URI"]: r["headers"] for r in recs if r["type"] == "revisit"}
    stored = versions(archive)
    # The PDF on the second site, and the prices page that went back to its first content.
    assert set(revisits) == {H + "/brochure.pdf", M + "/prices.html"}
    pdf = revisits[H + "/brochure.pdf"]
    assert pdf["WARC-Profile"] == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    assert pdf["WARC-Refers-To-Target-URI"] == M + "/brochure.pdf"
    assert pdf["WARC-Refers-To-Date"] == stored[ids["pdf"]]["first_seen"]
    assert pdf["WARC-Date"] == stored[ids["harbor_pdf"]]["first_seen"]
    prices = revisits[M + "/prices.html"]
    assert prices["WARC-Refers-To-Date"] == stored[ids["pricesA"]]["first_seen"]
    assert prices["WARC-Date"] == stored[ids["pricesA2"]]["first_seen"]
    assert warcio_check(out).returncode == 0


def test_filters_site_since_url(newsroom, tmp_path):  # noqa: F811
    archive, ids = newsroom
    harbor = tmp_path / "harbor.warc.gz"
    export(archive, harbor, "--site", "harbor")
    recs = records(harbor)
    responses = [r for r in recs if r["type"] in ("response", "revisit")]
    assert {r["headers"]["WARC-Target-URI"] for r in responses} == {H + "/", H + "/brochure.pdf"}
    # Meridian's copy of the PDF is not in this file, so harbor's is written in full.
    assert all(r["type"] == "response" for r in responses)

    since = tmp_path / "march.warc.gz"
    export(archive, since, "--since", "2026-03-01")
    uris = sorted(r["headers"]["WARC-Target-URI"] for r in records(since) if r["type"] == "response")
    assert uris == [M + "/prices.html", M + "/treatments/long-covid.html"]

    one = tmp_path / "one.warc.gz"
    export(archive, one, "--url", M + "/treatments/long-covid.html")
    assert [json.loads(r["content"])["version_id"] for r in records(one) if r["type"] == "metadata"] == [
        ids["covid1"], ids["covid2"]]
    claims = json.loads([r for r in records(one) if r["type"] == "metadata"][0]["content"])["claims"]
    assert {c["term"] for c in claims} == {"long_covid", "exosomes"}
    for path in (harbor, since, one):
        assert warcio_check(path).returncode == 0


def test_export_errors_leave_no_file(newsroom, tmp_path):  # noqa: F811
    archive, _ = newsroom
    out = tmp_path / "x.warc.gz"
    result = CliRunner().invoke(cli, ["export", "warc", str(out), "--site", "nosuch", "--db", archive.path])
    assert result.exit_code == 1 and result.output == "Error: unknown site: nosuch\n"
    assert list(tmp_path.glob("x.warc*")) == []


def test_python_api_to_a_stream(newsroom, tmp_path):  # noqa: F811
    archive, _ = newsroom
    path = tmp_path / "api.warc.gz"
    with path.open("wb") as fh:
        counts = write_warc(archive, fh, url=H + "/")
    assert counts == {"versions": 1, "response": 1, "revisit": 0}
    assert warcio_check(path).returncode == 0
