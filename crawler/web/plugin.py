"""Datasette plugin: the version view, links between pages, and the read-only guard.

Archived HTML is evidence, never code (DESIGN invariant 7). It is only ever served by
`/-/version/ID/raw` with a Content-Security-Policy that forbids scripts, forbids loading anything
and sandboxes the document, and the version page embeds it in an iframe with `sandbox=""`. Either
alone would stop scripts; both together also hold when someone opens the raw URL directly.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any
from urllib.parse import quote, urlsplit

from datasette import Response, hookimpl
from markupsafe import Markup, escape

from storage import codec, query

DB_NAME = "archive"
RAW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
RAW_HEADERS = {
    "Content-Security-Policy": RAW_CSP,
    "X-Content-Type-Options": "nosniff",  # the browser must not guess HTML out of other bytes
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# Only these are shown inline; anything else (PDF, images, scripts...) downloads as a file.
INLINE_TYPES = ("text/html", "application/xhtml+xml", "text/plain")


# ---- read-only ----------------------------------------------------------------------------------

def _authorizer(action: int, arg1: str | None, arg2: str | None, dbname: str | None,
                source: str | None) -> int:
    if action == sqlite3.SQLITE_READ and arg1 == "notify_targets" and arg2 == "url":
        return sqlite3.SQLITE_IGNORE  # webhook URLs can hold tokens: they read as NULL here
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() == "query_only" and arg2 is not None:
        return sqlite3.SQLITE_DENY  # nobody switches the guard below off again
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


@hookimpl
def prepare_connection(conn: sqlite3.Connection, database: str) -> None:
    # Datasette reads with ?mode=ro but keeps a writable connection for plugins; query_only makes
    # every connection to the archive, that one included, refuse any change.
    if database == DB_NAME:
        codec.register(conn)  # the versions_text view and full-text snippets unpack stored text
        conn.execute("PRAGMA query_only = 1")
        conn.set_authorizer(_authorizer)


# ---- cells --------------------------------------------------------------------------------------

_MARKED = re.compile(r"\*\*(.+?)\*\*")


def mark_snippet(snippet: str) -> Markup:
    """A search snippet's **marks** as <mark>, everything else escaped."""
    return Markup(_MARKED.sub(r"<mark>\1</mark>", str(escape(snippet))))


@hookimpl
def render_cell(value: Any, column: str, table: str | None, database: str, datasette: Any) -> Markup | None:
    if database != DB_NAME or table is not None:
        return None  # table pages keep Datasette's own links (foreign keys, row pages)
    if column.endswith("version_id") and isinstance(value, int):
        href = datasette.urls.path(f"/-/version/{value}")
        return Markup(f'<a href="{escape(href)}">{value}</a>')
    if column == "snippet" and isinstance(value, str):
        return mark_snippet(value)
    return None


# ---- the version view ---------------------------------------------------------------------------

def _is_html(content_type: str | None, body: bytes) -> bool:
    if content_type:
        return "html" in content_type.lower()
    return body[:512].lstrip().lower().startswith((b"<!doctype html", b"<html"))


def _load(conn: sqlite3.Connection, version_id: int) -> dict[str, Any]:
    record = query.version(conn, version_id)
    record["claims"] = query.version_claims(conn, version_id)
    record.update(query.neighbours(conn, version_id))
    return record


async def _record(datasette: Any, request: Any) -> dict[str, Any] | Response:
    version_id = int(request.url_vars["id"])
    try:
        return await datasette.get_database(DB_NAME).execute_fn(lambda conn: _load(conn, version_id))
    except query.QueryError as exc:
        return Response.text(str(exc), status=404)


async def version_page(datasette: Any, request: Any) -> Response:
    record = await _record(datasette, request)
    if isinstance(record, Response):
        return record
    vid = record["version_id"]
    digest = record["digest"]
    body = await datasette.get_database(DB_NAME).execute_fn(lambda conn: query.read_body(conn, digest))
    path = datasette.urls.path
    context = {
        "v": record,
        "is_html": _is_html(record["content_type"], body),
        "raw_url": path(f"/-/version/{vid}/raw"),
        "download_url": path(f"/-/version/{vid}/raw?download=1"),
        "json_url": path(f"/-/version/{vid}.json"),
        "history_url": path(f"/{DB_NAME}/page_history?url={quote(record['url'], safe='')}"),
        "timeline_url": path(f"/{DB_NAME}/site_timeline?site={quote(record['site'], safe='')}"),
        "previous_url": path(f"/-/version/{record['previous']}") if record["previous"] else None,
        "next_url": path(f"/-/version/{record['next']}") if record["next"] else None,
    }
    return Response.html(await datasette.render_template("version.html", context, request=request))


async def version_json(datasette: Any, request: Any) -> Response:
    record = await _record(datasette, request)
    if isinstance(record, Response):
        return record
    return Response.json(record, default=str)


async def version_raw(datasette: Any, request: Any) -> Response:
    record = await _record(datasette, request)
    if isinstance(record, Response):
        return record
    digest = record["digest"]
    body = await datasette.get_database(DB_NAME).execute_fn(lambda conn: query.read_body(conn, digest))
    ctype = record["content_type"] or ("text/html" if _is_html(None, body) else "application/octet-stream")
    headers = dict(RAW_HEADERS)
    if request.args.get("download") or not ctype.lower().startswith(INLINE_TYPES):
        name = urlsplit(record["url"]).path.rstrip("/").rsplit("/", 1)[-1] or "index.html"
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        headers["Content-Disposition"] = f'attachment; filename="v{record["version_id"]}-{safe}"'
    return Response(body, status=200, headers=headers, content_type=ctype)


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [
        (r"^/-/version/(?P<id>\d+)$", version_page),
        (r"^/-/version/(?P<id>\d+)\.json$", version_json),
        (r"^/-/version/(?P<id>\d+)/raw$", version_raw),
    ]
