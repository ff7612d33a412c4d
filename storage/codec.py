"""How the archive packs what it keeps: the one place that compresses and decompresses text and bodies.

Page text is zlib-compressed in `versions.text_z`; SQL reads it through `unpack_text(text_z)` (registered
on every connection by `register`) and the `versions_text` view. A body is zlib-compressed on its own
(codec 'zlib') or against its site's dictionary (codec 'zlib+dict:N', N a `body_dicts` row): pages of one
site share their template, so the menus, scripts and footers each page repeats cost almost nothing.
"""

from __future__ import annotations

import sqlite3
import zlib

LEVEL = 6
# zlib looks back at most 32 KB, so only that much of a dictionary can ever be used.
DICT_BYTES = 32 * 1024
# A page this small carries too little template to be worth a dictionary.
DICT_MIN_BODY = 4 * 1024
DICT_CODEC = "zlib+dict:"


class CodecError(ValueError):
    """Stored bytes that cannot be unpacked: an unknown codec, a missing dictionary, damaged data."""


def pack_text(text: str | None) -> bytes | None:
    return None if text is None else zlib.compress(text.encode("utf-8"), LEVEL)


def unpack_text(blob: bytes | None) -> str | None:
    return None if blob is None else zlib.decompress(blob).decode("utf-8")


def register(conn: sqlite3.Connection) -> None:
    """SQL functions the schema's view and full-text triggers call; every connection needs them."""
    conn.create_function("unpack_text", 1, unpack_text, deterministic=True)
    conn.create_function("pack_text", 1, pack_text, deterministic=True)


def template_of(body: bytes) -> bytes | None:
    """A site's dictionary, from one of its pages: the head (styles, header, menus) and the tail (footer,
    scripts), which are what the site's other pages repeat. zlib favours the dictionary's end, where the
    nearest matches should be, so the head comes last."""
    if len(body) < DICT_MIN_BODY:
        return None
    half = DICT_BYTES // 2
    return body[-half:] + body[:half] if len(body) > DICT_BYTES else body


def pack_body(body: bytes, zdict: bytes | None = None) -> bytes:
    if zdict is None:
        return zlib.compress(body, LEVEL)
    packer = zlib.compressobj(LEVEL, zdict=zdict)
    return packer.compress(body) + packer.flush()


def unpack_body(conn: sqlite3.Connection, codec: str, data: bytes) -> bytes:
    zdict = b""
    if codec.startswith(DICT_CODEC) and codec[len(DICT_CODEC):].isdigit():
        row = conn.execute("SELECT data FROM body_dicts WHERE id = ?", (int(codec[len(DICT_CODEC):]),)).fetchone()
        if row is None:
            raise CodecError(f"the dictionary of codec {codec!r} is missing")
        zdict = row[0]
    elif codec != "zlib":
        raise CodecError(f"unknown codec {codec!r}")
    try:
        unpacker = zlib.decompressobj(zdict=zdict) if zdict else zlib.decompressobj()
        raw = unpacker.decompress(data) + unpacker.flush()
    except (zlib.error, TypeError) as exc:
        raise CodecError(f"does not decompress ({exc})") from exc
    if not unpacker.eof:
        raise CodecError("does not decompress (truncated data)")
    return raw


def read_body(conn: sqlite3.Connection, digest: str) -> bytes:
    """The exact archived bytes of a body; CodecError if it is missing or cannot be unpacked."""
    row = conn.execute("SELECT codec, data FROM bodies WHERE digest = ?", (digest,)).fetchone()
    if row is None:
        raise CodecError(f"no body stored for {digest}")
    try:
        return unpack_body(conn, row[0], row[1])
    except CodecError as exc:
        raise CodecError(f"body {digest}: {exc}") from exc
