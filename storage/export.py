"""Export the archive as WARC, the format web archives (Wayback, pywb, ReplayWeb.page) read.

One version becomes a request record, a response record with the exact archived bytes, and a
metadata record (JSON: stemwatch ids, first/last seen, captures, claims). A version whose bytes were
already written in this file (the same body on another page, or a page that went back to an
earlier content) becomes a revisit record (identical-payload-digest) pointing at the first one.

WARC-Date is the version's first_seen; WARC-Payload-Digest is the version digest, which is already
SHA-1 in base32 as WARC uses. Listings export as CSV/JSON through crawler.output.print_rows.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler import __version__
from storage.archive import Archive
from storage.changes import claims_of
from storage.query import find_page, parse_when, site_id

# These describe the bytes as they travelled, not as stored: Scrapy hands over decoded bodies, so
# the stored payload is neither compressed nor chunked. They are kept under a prefix (as pywb does).
TRANSPORT_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
ORIG_PREFIX = "X-Archive-Orig-"


def http_headers(status: int, headers_json: str | None, content_type: str | None,
                 length: int) -> StatusAndHeaders:
    """The stored response headers as an HTTP header block that matches the stored payload."""
    stored: dict[str, Any] = json.loads(headers_json) if headers_json else {}
    out: list[tuple[str, str]] = []
    for name, value in stored.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            key = name if name.lower() not in TRANSPORT_HEADERS else ORIG_PREFIX + name
            out.append((key, " ".join(str(item).splitlines())))  # a stray newline would end the block
    if content_type and not any(k.lower() == "content-type" for k, _ in out):
        out.append(("Content-Type", content_type))
    out.append(("Content-Length", str(length)))
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    return StatusAndHeaders(f"{status} {reason}", out, protocol="HTTP/1.1")


def request_headers(url: str) -> StatusAndHeaders:
    """What we asked for. The exact request headers are not archived, so only the essentials."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return StatusAndHeaders(f"GET {target} HTTP/1.1", [("Host", parts.netloc)], protocol="HTTP/1.1",
                            is_http_request=True)


def versions_to_export(conn: sqlite3.Connection, site: str | None = None, since: str | None = None,
                       url: str | None = None) -> Iterator[dict[str, Any]]:
    where: list[str] = []
    args: list[Any] = []
    if site:
        where.append("pages.site_id = ?")
        args.append(site_id(conn, site))
    if since:
        where.append("versions.first_seen >= ?")
        args.append(parse_when(since))
    if url:
        where.append("pages.id = ?")
        args.append(find_page(conn, url)["id"])
    cur = conn.execute(
        "SELECT versions.id, sites.name AS site, pages.url, versions.digest, versions.first_seen, "
        "versions.last_seen, versions.captures, versions.status, versions.quality, versions.content_type, "
        "versions.headers, versions.crawl_id FROM versions JOIN pages ON pages.id = versions.page_id "
        "JOIN sites ON sites.id = pages.site_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY versions.first_seen, versions.id", args)
    names = [d[0] for d in cur.description]
    for row in cur:
        yield dict(zip(names, row))


def _claims(conn: sqlite3.Connection, version_id: int) -> list[dict[str, Any]]:
    claims = sorted(claims_of(conn, version_id), key=lambda c: -1 if c.start is None else c.start)
    return [{"kind": c.kind, "term": c.term, "role": c.role, "evidence": c.evidence} for c in claims]


def write_warc(archive: Archive, out: BinaryIO, site: str | None = None, since: str | None = None,
               url: str | None = None, gzip: bool = True) -> dict[str, int]:
    """Write the selected versions to `out`; returns counts of the records written."""
    conn = archive.conn
    writer = WARCWriter(out, gzip=gzip, warc_version="1.1")
    info = {"software": f"stemwatch/{__version__}", "format": "WARC File Format 1.1",
            "description": "stemwatch archive export: one version per response, first_seen as WARC-Date",
            "stemwatch-site": site or "", "stemwatch-since": since or "", "stemwatch-url": url or ""}
    writer.write_record(writer.create_warcinfo_record(None, info))
    first_written: dict[str, tuple[str, str]] = {}  # digest -> (url, WARC-Date) of its response
    counts = {"versions": 0, "response": 0, "revisit": 0}
    # One SELECT stays open for the whole export: it reads one snapshot (WAL) even if a crawl writes
    # meanwhile, and a million versions never sit in memory at once.
    for v in versions_to_export(conn, site, since, url):
        body = archive.body(v["digest"])
        date = v["first_seen"]  # already ISO-8601 UTC with milliseconds, valid in WARC/1.1
        headers = http_headers(v["status"], v["headers"], v["content_type"], len(body))
        warc_fields = {"WARC-Date": date}
        if v["digest"] in first_written:
            ref_url, ref_date = first_written[v["digest"]]
            response = writer.create_revisit_record(v["url"], v["digest"], ref_url, ref_date,
                                                    http_headers=headers, warc_headers_dict=warc_fields)
            counts["revisit"] += 1
        else:
            response = writer.create_warc_record(
                v["url"], "response", payload=io.BytesIO(body), length=len(body), http_headers=headers,
                warc_headers_dict={**warc_fields, "WARC-Payload-Digest": v["digest"]})
            first_written[v["digest"]] = (v["url"], date)
            counts["response"] += 1
        request = writer.create_warc_record(v["url"], "request", http_headers=request_headers(v["url"]),
                                            warc_headers_dict=dict(warc_fields))
        writer.write_request_response_pair(request, response)
        response_id = response.rec_headers.get_header("WARC-Record-ID")
        meta = json.dumps({
            "version_id": v["id"], "site": v["site"], "crawl_id": v["crawl_id"], "first_seen": v["first_seen"],
            "last_seen": v["last_seen"], "captures": v["captures"], "quality": v["quality"],
            "digest": v["digest"], "claims": _claims(conn, v["id"]),
        }, ensure_ascii=False, indent=1).encode()
        writer.write_record(writer.create_warc_record(
            v["url"], "metadata", payload=io.BytesIO(meta), length=len(meta), warc_content_type="application/json",
            warc_headers_dict={**warc_fields, "WARC-Concurrent-To": response_id}))
        counts["versions"] += 1
    return counts
