"""How the archive packs what it keeps: the one place that compresses and decompresses text and bodies.

Bodies (codec 'zstd'), page text (`versions.text_z`) and claims (`version_claims.data`) are zstd frames, packed
against their site's trained dictionary once it has one (`dictionaries`, one per site and kind, 'body', 'text'
or 'claims'): pages of one site share their template and boilerplate, so what every page repeats costs almost
nothing. A frame names the id of its dictionary, an id written in the dictionary itself (zstd derives it from
the content), so a blob alone says what reads it.
SQL reads text through `unpack_text(text_z)` or the `versions_text` view, and claims through
`unpack_claims(data)`: functions `register` adds to every connection. Archives written before zstd hold zlib:
bodies with codec 'zlib' or 'zlib+dict:N' (N a `body_dicts` row) and zlib text. They stay readable and are
never rewritten.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections import OrderedDict

import zstandard as zstd

# ~0.25 ms a page: higher levels cost the crawl more time than they save bytes.
ZSTD_LEVEL = 3
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZLIB_FIRST = b"\x78"  # the first byte of every zlib stream this archive ever wrote
DICT_CODEC = "zlib+dict:"
MIN_SAMPLES, MIN_SAMPLE_BYTES = 8, 64  # what training a dictionary needs at least


class CodecError(ValueError):
    """Stored bytes that cannot be unpacked: an unknown codec, a missing dictionary, damaged data."""


def _packer(zdict: zstd.ZstdCompressionDict | None = None) -> zstd.ZstdCompressor:
    # A checksum in every frame: text has no digest of its own, so this is what tells damaged text from good.
    return zstd.ZstdCompressor(level=ZSTD_LEVEL, dict_data=zdict, write_checksum=True)


class Dictionary:
    """One trained zstd dictionary. Its compressor is built once and kept: building one costs about as much
    as packing a page with it."""

    def __init__(self, data: bytes):
        self.data = data
        self.zdict = zstd.ZstdCompressionDict(data)
        self.id: int = self.zdict.dict_id()
        self._packer: zstd.ZstdCompressor | None = None

    def pack(self, raw: bytes) -> bytes:
        if self._packer is None:
            self._packer = _packer(self.zdict)
        return self._packer.compress(raw)

    def renumbered(self, dict_id: int) -> Dictionary:
        """The same dictionary under another id: a dictionary starts with its magic, then its id (RFC 8878)."""
        return Dictionary(self.data[:4] + dict_id.to_bytes(4, "little") + self.data[8:])


def train(samples: list[bytes], size: int) -> Dictionary | None:
    """A dictionary of at most `size` bytes for pages like the samples; None when there are too few samples
    worth learning from or zstd trains no useful one: those pages are then packed without a dictionary."""
    # Tiny samples teach nothing, and some sets of empty or 1-byte samples crash zstd's trainer (SIGSEGV).
    samples = [s for s in samples if len(s) >= MIN_SAMPLE_BYTES]
    if len(samples) < MIN_SAMPLES:
        return None
    try:
        zdict = Dictionary(zstd.train_dictionary(size, samples).as_bytes())
    except zstd.ZstdError:
        return None
    # Pages that already pack small on their own (a template that repeats itself) can train a dictionary
    # that makes them bigger: one that does not even shrink its own samples is no good.
    return zdict if sum(len(zdict.pack(s)) for s in samples) < sum(len(pack(s)) for s in samples) else None


class Dictionaries:
    """The dictionaries of one connection's archive, each read from `dictionaries` when a frame first names
    it, then kept: the id is written in the dictionary's bytes, so no other dictionary can take its place.
    (A dictionary deleted since stays readable here: `stemwatch check` reads through a fresh instance.)"""

    # A dictionary with its compressor takes ~0.7 MB: a process that reads or writes many sites (the web UI,
    # the distributed ingester) keeps the most recently used ones and reads the others again when needed.
    MAX_KEPT = 48

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.by_id: OrderedDict[int, Dictionary] = OrderedDict()

    def get(self, dict_id: int) -> Dictionary:
        found = self.by_id.get(dict_id)
        if found is None:
            row = self.conn.execute("SELECT data FROM dictionaries WHERE id = ?", (dict_id,)).fetchone()
            if row is None:
                raise CodecError(f"dictionary {dict_id} is missing")
            found = Dictionary(row[0])
        self.keep(found)
        return found

    def keep(self, zdict: Dictionary) -> None:
        self.by_id[zdict.id] = zdict
        self.by_id.move_to_end(zdict.id)
        while len(self.by_id) > self.MAX_KEPT:
            self.by_id.popitem(last=False)


def frame_dict_id(blob: bytes) -> int:
    """The id of the dictionary a zstd frame was packed against, 0 for none."""
    if blob[:4] != ZSTD_MAGIC:
        raise CodecError("does not decompress (not a zstd frame)")
    try:
        return zstd.get_frame_parameters(blob).dict_id
    except zstd.ZstdError as exc:
        raise CodecError(f"does not decompress ({exc})") from exc


def pack(raw: bytes, zdict: Dictionary | None = None) -> bytes:
    return zdict.pack(raw) if zdict else _packer().compress(raw)


def unpack(blob: bytes, dicts: Dictionaries | None = None) -> bytes:
    """The bytes of one zstd frame, read with the dictionary it names."""
    dict_id = frame_dict_id(blob)
    if dict_id and dicts is None:
        raise CodecError(f"needs dictionary {dict_id}, and no archive was given to read it from")
    zdict = dicts.get(dict_id).zdict if dict_id else None
    try:
        return zstd.ZstdDecompressor(dict_data=zdict).decompress(blob, allow_extra_data=False)
    except zstd.ZstdError as exc:
        raise CodecError(f"does not decompress ({exc})") from exc


def pack_text(text: str | None, zdict: Dictionary | None = None) -> bytes | None:
    return None if text is None else pack(text.encode("utf-8"), zdict)


def unpack_text(blob: bytes | None, dicts: Dictionaries | None = None) -> str | None:
    if blob is None:
        return None
    if blob[:4] == ZSTD_MAGIC:
        raw = unpack(blob, dicts)
    elif blob[:1] == ZLIB_FIRST:  # archives written before zstd
        try:
            raw = zlib.decompress(blob)
        except zlib.error as exc:
            raise CodecError(f"text does not decompress ({exc})") from exc
    else:
        raise CodecError("text is neither zstd nor zlib")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodecError(f"text is not UTF-8 ({exc})") from exc


def register(conn: sqlite3.Connection) -> Dictionaries:
    """SQL functions the schema's view and full-text triggers call; every connection needs them. Returns the
    connection's dictionaries, for a writer to pack with too."""
    dicts = Dictionaries(conn)
    # Deterministic holds: a frame names its dictionary, and an id always stands for the same dictionary.
    conn.create_function("unpack_text", 1, lambda blob: unpack_text(blob, dicts), deterministic=True)
    conn.create_function("pack_text", 1, pack_text, deterministic=True)  # no dictionary: migrations, benches
    conn.create_function("unpack_claims", 1, lambda blob: unpack_claims(blob, dicts), deterministic=True)
    return dicts


def pack_body(body: bytes, zdict: Dictionary | None = None) -> bytes:
    """Packed as codec 'zstd', the only codec written now."""
    return pack(body, zdict)


def unpack_body(conn: sqlite3.Connection, codec: str, data: bytes, dicts: Dictionaries | None = None) -> bytes:
    if codec == "zstd":
        return unpack(data, dicts or Dictionaries(conn))
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


def read_body(conn: sqlite3.Connection, digest: str, dicts: Dictionaries | None = None) -> bytes:
    """The exact archived bytes of a body; CodecError if it is missing or cannot be unpacked."""
    row = conn.execute("SELECT codec, data FROM bodies WHERE digest = ?", (digest,)).fetchone()
    if row is None:
        raise CodecError(f"no body stored for {digest}")
    try:
        return unpack_body(conn, row[0], row[1], dicts)
    except CodecError as exc:
        raise CodecError(f"body {digest}: {exc}") from exc


# ---- claims ---------------------------------------------------------------------------------------
# A version's claims are packed in one frame (`version_claims.data`) rather than stored one row per claim:
# a CMS page repeats ~70 claims from its menus and footers, and rows cost three times the page's text.
# Queries by term go through `site_claims`; a version's claims are only ever read whole.
# Each claim is [kind, term, role, evidence, section, zone, start, end, detail]; an evidence sentence that
# is in the version's text (always, for the extractor's own output) is kept as [offset, length] into it.
# Like text, the frame is packed against the site's 'claims' dictionary once there is one.

def pack_claims(claims: list[tuple], text: str | None, zdict: Dictionary | None = None) -> bytes:
    rows = []
    for kind, term, role, evidence, section, zone, start, end, detail in claims:
        at = _find(text or "", evidence, start)
        rows.append([kind, term, role, [at, len(evidence)] if at >= 0 else evidence, section, zone,
                     start, end, detail])
    return pack(json.dumps(rows, separators=(",", ":")).encode("utf-8"), zdict)


def unpack_claims(blob: bytes, dicts: Dictionaries | None = None) -> str:
    """The stored claims as JSON (evidence still as offsets): SQL's `unpack_claims(data)`."""
    try:
        return unpack(blob, dicts).decode("utf-8")
    except (CodecError, UnicodeDecodeError) as exc:
        raise CodecError(f"claims do not unpack ({exc})") from exc


def parse_claims(stored: str, text: str | None = None) -> list[tuple]:
    """The claims of `pack_claims`, from `unpack_claims`; without the text, evidence kept as offsets reads ''."""
    try:
        rows = json.loads(stored)
    except ValueError as exc:
        raise CodecError(f"claims do not unpack ({exc})") from exc
    out = []
    for row in rows:
        evidence = row[3]
        if isinstance(evidence, list):
            evidence = text[evidence[0]:evidence[0] + evidence[1]] if text is not None else ""
        out.append((*row[:3], evidence, *row[4:]))
    return out


def _find(text: str, sentence: str, near: int | None) -> int:
    """Where the evidence sentence sits: it holds the matched phrase, so look from just before it."""
    if not sentence:
        return -1
    if near is not None:
        at = text.find(sentence, max(0, near - len(sentence)))
        if at >= 0:
            return at
    return text.find(sentence)
