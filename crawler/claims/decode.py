"""Bytes → str for archived pages: honour BOM, Content-Type charset and <meta charset>, never raise."""

from __future__ import annotations

import codecs
import re

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
# Browsers read these labels as windows-1252 (WHATWG encoding standard); so do we.
_AS_CP1252 = {"ascii", "us-ascii", "latin-1", "latin1", "iso-8859-1", "iso8859-1", "l1", "windows-1252", "cp1252"}


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    if label in _AS_CP1252:
        return "cp1252"
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True):  # 'base64', 'rot13'… are not charsets
        return None
    name = info.name
    # A declared UTF-16/32 without BOM is nearly always a lie in HTML; browsers ignore it too.
    return None if name.startswith(("utf-16", "utf-32")) else name


def declared_charset(data: bytes, content_type: str | None = None) -> str | None:
    """The charset the page declares: Content-Type header first, then a <meta> in the first 4 KB."""
    if content_type:
        m = _CT_CHARSET.search(content_type)
        if m and (name := _codec(m.group(1))):
            return name
    m = _META_CHARSET.search(data[:4096])
    if m:
        return _codec(m.group(1).decode("ascii", "replace"))
    return None


def decode(data: bytes, content_type: str | None = None) -> str:
    """Decode page bytes the way a browser would, degrading to replacement characters, never raising."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(name, "replace")
    declared = declared_charset(data, content_type)
    if declared:
        try:
            return data.decode(declared)
        except (UnicodeError, LookupError):
            pass  # the declaration is wrong or the bytes are damaged: guess below
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    as_utf8 = data.decode("utf-8", "replace")
    # Mostly-valid UTF-8 with a few bad bytes stays UTF-8; otherwise it is a legacy single-byte page.
    bad = as_utf8.count("\ufffd")
    good_multibyte = sum(1 for ch in as_utf8 if ord(ch) > 0x7F) - bad
    if good_multibyte > bad:
        return as_utf8
    if declared and declared != "utf-8":
        try:
            return data.decode(declared, "replace")
        except (UnicodeError, LookupError):
            pass
    return data.decode("cp1252", "replace")  # total: 'replace' covers the five undefined bytes
