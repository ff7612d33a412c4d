"""The watchlist: which clinic websites to crawl, read from and written to YAML or CSV.

A *site* is a plain dict with the keys in ``KEYS``. ``normalise_site`` validates one row, coerces
types and fills ``DEFAULTS``; ``load_watchlist``/``loads_watchlist`` read a whole file and report
every bad row with its line number (nothing partial is returned); ``dump_watchlist`` writes rows
that load back to exactly the same rows. Duplicate names against the database are the caller's job.

YAML: a list of site mappings, or a mapping ``{sites: [...]}``.

CSV: header on line 1 with one column per key (only ``name`` and ``start_urls`` are required);
an empty cell takes the default. List cells (``start_urls``, ``allow``, ``deny``) hold one value
per line inside a quoted cell. A line break never occurs in a URL and is refused in a pattern, so
this split is unambiguous even for regexes containing ``|``, spaces, commas or quotes.
``start_urls`` may also be separated by spaces (a URL never contains a raw space).
Booleans accept true/false/yes/no/1/0.

Normalisation is idempotent: ``every`` is rewritten in its shortest exact form ("24h" -> "1d"),
``country`` is upper-cased, text is stripped and notes get "\\n" line endings.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

__all__ = [
    "DEFAULTS",
    "KEYS",
    "WatchlistError",
    "dump_watchlist",
    "format_every",
    "load_watchlist",
    "loads_watchlist",
    "normalise_site",
    "parse_every",
]


class WatchlistError(Exception):
    """A watchlist file that cannot be used; ``errors`` holds one "line N: reason" per problem."""

    def __init__(self, errors: list[str] | str) -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


DEFAULTS: dict[str, Any] = {
    "allow": [],
    "deny": [],
    "max_pages": 500,
    "every": "1d",
    "delay": 1.0,
    "concurrency": 2,
    "obey_robots": True,  # only an explicit false turns robots.txt off
    "country": "",
    "notes": "",
    "active": True,
}
REQUIRED = ("name", "start_urls")
KEYS: tuple[str, ...] = REQUIRED + tuple(DEFAULTS)
LIST_KEYS = ("start_urls", "allow", "deny")

_NAME = re.compile(r"[A-Za-z0-9._-]+")
_COUNTRY = re.compile(r"[A-Z]{2}")
_EVERY = re.compile(r"([0-9]+)\s*([mhdw])")  # [0-9], not \d: \d also matches non-ASCII digits
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60}  # largest first, so format_every is shortest
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_MERGE_TAG = "tag:yaml.org,2002:merge"
# libyaml is ~20x faster than pure-Python PyYAML: seconds saved on a watchlist of thousands of sites
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


# -- schedule intervals ---------------------------------------------------------------------------


def parse_every(text: str) -> int:
    """Seconds in an interval such as "30m", "6h", "1d" or "2w"."""
    match = _EVERY.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"bad every {text!r}: expected a whole number and a unit m, h, d or w (e.g. 30m, 6h, 1d, 2w)")
    count = int(match[1])
    if count < 1:
        raise ValueError(f"bad every {text!r}: the interval must be at least 1{match[2]}")
    return count * _UNITS[match[2]]


def format_every(seconds: int) -> str:
    """The shortest exact text for an interval: 86400 -> "1d", 5400 -> "90m"."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0 or seconds % 60:
        raise ValueError(f"cannot write {seconds!r} seconds as an interval: need a positive number of minutes")
    unit = next(unit for unit, size in _UNITS.items() if seconds % size == 0)
    return f"{seconds // _UNITS[unit]}{unit}"


# -- one row --------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    names = {str: "a string", list: "a list", dict: "a mapping"}
    return names.get(type(value), f"a {type(value).__name__}")


def _unknown(keys: list[Any], noun: str = "key") -> str:
    described = []
    for key in keys:
        close = difflib.get_close_matches(str(key).lower(), KEYS, n=1)
        described.append(repr(key) + (f" (did you mean {close[0]!r}?)" if close else ""))
    plural = "s" if len(keys) > 1 else ""
    return f"unknown {noun}{plural} {', '.join(described)}; allowed: {', '.join(KEYS)}"


def _text(key: str, value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # YAML reads `name: 2024` as a number
    # YAML 1.1 reads NO (Norway), yes, off, dates... as non-strings; say how to fix it
    raise ValueError(f"{key} must be text, got {_kind(value)} {value!r} (quote it in YAML)")


def _control_chars(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in text)


def _name(value: Any) -> str:
    name = _text("name", value)
    if len(name) > 100:
        raise ValueError(f"name is {len(name)} characters long; at most 100")
    if not _NAME.fullmatch(name):
        raise ValueError(f"bad name {name!r}: use only letters, digits, '-', '_' and '.'")
    return name


def _items(key: str, value: Any, split: Callable[[str], list[str]]) -> list[str]:
    if isinstance(value, str):
        return [item.strip() for item in split(value) if item.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{key} must be a list of strings, got {_kind(value)}")
    items = [item.strip() for item in value]
    if "" in items:
        raise ValueError(f"{key} has an empty entry")
    return items


def _url(url: str) -> str:
    if any(ch.isspace() for ch in url) or _control_chars(url):
        raise ValueError(f"bad URL {url!r}: contains a space or control character")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        if "://" not in url:
            raise ValueError(f"bad URL {url!r}: missing scheme (start it with http:// or https://)")
        raise ValueError(f"bad URL {url!r}: scheme {parts.scheme!r} not allowed (only http and https)")
    if not parts.hostname:
        raise ValueError(f"bad URL {url!r}: no host")
    try:
        parts.port  # noqa: B018 - raises on a malformed or out-of-range port
    except ValueError as exc:
        raise ValueError(f"bad URL {url!r}: {exc}") from None
    return url


def _start_urls(value: Any) -> list[str]:
    urls = _items("start_urls", value, str.split)
    if not urls:
        raise ValueError("start_urls needs at least one URL")
    return [_url(url) for url in urls]


def _patterns(key: str) -> Callable[[Any], list[str]]:
    def parse(value: Any) -> list[str]:
        patterns = _items(key, value, _LINE_BREAK.split)
        for pattern in patterns:
            # refused so that "one pattern per line" in a CSV cell stays unambiguous
            if _control_chars(pattern):
                raise ValueError(
                    f"bad {key} pattern {pattern!r}: contains a line break or control character "
                    "(write it as an escape such as \\n)"
                )
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad {key} pattern {pattern!r}: {exc}") from None
        return patterns

    return parse


def _integer(key: str, low: int, high: int | None = None) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key} must be a whole number, got {value!r}")  # noqa: TRY004 - a row error
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"between {low} and {high}"
            raise ValueError(f"{key} must be {bounds}, got {value}")
        return value

    return parse


def _delay(value: Any) -> float:
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
    if number is None or not math.isfinite(number) or number < 0:
        raise ValueError(f"delay must be a number of seconds >= 0, got {value!r}")
    return number


def _boolean(key: str) -> Callable[[Any], bool]:
    def parse(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower() if isinstance(value, (str, int)) else None
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ValueError(f"{key} must be true or false (or yes/no, 1/0), got {value!r}")

    return parse


def _every(value: Any) -> str:
    return format_every(parse_every(_text("every", value)))


def _country(value: Any) -> str:
    code = _text("country", value).upper()
    if code and not _COUNTRY.fullmatch(code):
        raise ValueError(f"country must be a two-letter ISO 3166 code such as DE or US, got {value!r}")
    return code


def _notes(value: Any) -> str:
    notes = _LINE_BREAK.sub("\n", _text("notes", value))
    if _control_chars(notes, allowed="\t\n"):
        raise ValueError("notes contain a control character")
    return notes


_FIELDS: dict[str, Callable[[Any], Any]] = {
    "name": _name,
    "start_urls": _start_urls,
    "allow": _patterns("allow"),
    "deny": _patterns("deny"),
    "max_pages": _integer("max_pages", 1),
    "every": _every,
    "delay": _delay,
    "concurrency": _integer("concurrency", 1, 32),
    "obey_robots": _boolean("obey_robots"),
    "country": _country,
    "notes": _notes,
    "active": _boolean("active"),
}


def normalise_site(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate one site row, coerce its values and fill defaults.

    Raises ValueError with every problem of the row on one line, separated by "; ".
    """
    if not isinstance(raw, dict):
        # ValueError, not TypeError: to the loaders this is one more bad row to report
        raise ValueError(f"expected a mapping of site keys, got {_kind(raw)}")  # noqa: TRY004
    problems = []
    unknown = [key for key in raw if key not in _FIELDS]
    if unknown:
        problems.append(_unknown(unknown))
    site: dict[str, Any] = {}
    for key in KEYS:
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):  # an empty CSV cell
            if key in REQUIRED:
                problems.append(f"missing {key}")
            else:
                default = DEFAULTS[key]
                site[key] = list(default) if isinstance(default, list) else default
            continue
        try:
            site[key] = _FIELDS[key](value)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("; ".join(problems))
    return site


# -- whole files ----------------------------------------------------------------------------------

# (line or row number, raw row, problems found while reading it)
_Row = tuple[int, Any, list[str]]


def _raw_name(raw: Any) -> str | None:
    name = raw.get("name") if isinstance(raw, dict) else None
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        return None
    return str(name).strip() or None


def _normalise_rows(rows: list[_Row], label: str) -> list[dict[str, Any]]:
    sites: list[dict[str, Any]] = []
    errors: list[str] = []
    first_seen: dict[str, int] = {}
    for number, raw, problems in rows:
        problems = list(problems)
        try:
            sites.append(normalise_site(raw))
        except ValueError as exc:
            problems.append(str(exc))
        # checked on the raw name so a duplicate is reported even when its row is bad otherwise
        name = _raw_name(raw)
        if name in first_seen:
            problems.append(f"duplicate name {name!r} (first on {label} {first_seen[name]})")
        elif name is not None:
            first_seen[name] = number
        if problems:
            errors.append(f"{label} {number}: {'; '.join(problems)}")
    if errors:
        raise WatchlistError(errors)
    return sites


def _yaml_rows(text: str) -> list[_Row]:
    loader = _YAML_LOADER(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise WatchlistError("line 1: empty watchlist (no YAML document)")
        items = _yaml_sites_node(root)
        lines = [node.start_mark.line + 1 for node in items.value]
        # checked before construction, which flattens merge keys (<<) into the nodes in place
        problems = [_yaml_duplicate_keys(node) for node in items.value]
        values = loader.construct_document(items)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        column = f" at column {mark.column + 1}" if mark else ""
        reason = ", ".join(part for part in (exc.context, exc.problem) if part)
        raise WatchlistError(f"line {line}: invalid YAML{column}: {reason}") from None
    except yaml.YAMLError as exc:
        raise WatchlistError(f"line 1: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return list(zip(lines, values, problems))


def _yaml_sites_node(root: yaml.Node) -> yaml.SequenceNode:
    if isinstance(root, yaml.MappingNode):
        found = None
        for key, value in root.value:
            if key.value in KEYS:  # a lone site mapping: the "- " was forgotten
                raise WatchlistError(
                    f"line {root.start_mark.line + 1}: expected a list of sites; start each site with '- '"
                )
            if key.value != "sites":
                raise WatchlistError(
                    f"line {key.start_mark.line + 1}: unknown top-level key {key.value!r}; only 'sites' is allowed"
                )
            found = value
        if found is None:
            raise WatchlistError(f"line {root.start_mark.line + 1}: the mapping has no 'sites' key")
        if not isinstance(found, yaml.SequenceNode):
            raise WatchlistError(f"line {found.start_mark.line + 1}: 'sites' must be a list of sites")
        return found
    if isinstance(root, yaml.SequenceNode):
        return root
    raise WatchlistError(f"line {root.start_mark.line + 1}: expected a list of sites or a mapping with a 'sites' key")


def _yaml_duplicate_keys(node: yaml.Node) -> list[str]:
    # PyYAML silently keeps the last of two equal keys; a watchlist typo deserves an error
    if not isinstance(node, yaml.MappingNode):
        return []
    seen, problems = set(), []
    for key, _ in node.value:
        if key.tag == _MERGE_TAG or not isinstance(key, yaml.ScalarNode):
            continue
        if key.value in seen:
            problems.append(f"key {key.value!r} given twice")
        seen.add(key.value)
    return problems


def _csv_rows(text: str) -> list[_Row]:
    # newline="" keeps line breaks inside quoted cells; strict=True refuses stray quotes
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        columns = [cell.strip() for cell in next(reader, [])]
        _check_csv_header(columns)
        rows: list[_Row] = []
        while True:
            start = reader.line_num + 1
            cells = next(reader, None)
            if cells is None:
                return rows
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            raw, problems = {}, []
            for index, cell in enumerate(cells):
                column = columns[index] if index < len(columns) else ""
                if column:
                    raw[column] = cell
                elif cell.strip():
                    problems.append(f"value {cell[:40]!r} in column {index + 1}, which has no header")
            rows.append((start, raw, problems))
    except csv.Error as exc:
        raise WatchlistError(f"line {start}: malformed CSV: {exc}") from None


def _check_csv_header(columns: list[str]) -> None:
    if not any(columns):
        raise WatchlistError(f"line 1: missing header row (columns such as {','.join(KEYS)})")
    problems = []
    unknown = [column for column in columns if column and column not in _FIELDS]
    if unknown:
        problems.append(_unknown(unknown, "column"))
        if len(columns) == 1 and ";" in columns[0]:
            problems.append("columns must be separated by commas")
    problems += [f"column {c!r} given twice" for c in sorted({c for c in columns if c and columns.count(c) > 1})]
    problems += [f"missing column {key!r}" for key in REQUIRED if key not in columns]
    if problems:
        # rows are not checked: with a broken header every row would repeat the same error
        raise WatchlistError([f"line 1: {problem}" for problem in problems])


def _sniff(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            # a CSV header is keys and commas; YAML has "key:" or starts with "-", "[" or "{"
            return "csv" if "," in line and ":" not in line and line[0] not in "-[{" else "yaml"
    return "yaml"


def _format_name(fmt: str) -> str:
    fmt = fmt.lower().lstrip(".")  # also accepts a file suffix such as ".yml"
    return "yaml" if fmt == "yml" else fmt


def loads_watchlist(text: str, fmt: str) -> list[dict[str, Any]]:
    """Parse and validate a watchlist given as text; ``fmt`` is "yaml", "csv" or "auto"."""
    fmt = _format_name(fmt)
    if fmt not in ("yaml", "csv", "auto"):
        raise ValueError(f"unknown watchlist format {fmt!r}: use 'yaml' or 'csv'")
    text = text.removeprefix("\ufeff")  # spreadsheets often write a byte-order mark
    if not text.strip():
        raise WatchlistError("line 1: empty watchlist file")
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise WatchlistError(f"line {line}: binary data (NUL byte); a watchlist is UTF-8 YAML or CSV text")
    if fmt == "auto":
        fmt = _sniff(text)
    rows = _yaml_rows(text) if fmt == "yaml" else _csv_rows(text)
    return _normalise_rows(rows, "line")


def load_watchlist(path: str | Path) -> list[dict[str, Any]]:
    """Read a watchlist file: YAML (.yaml/.yml) or CSV (.csv); any other name is sniffed."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WatchlistError(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"\x00" in data:  # also catches UTF-16, which spreadsheets offer as "Unicode text"
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise WatchlistError(f"line {line}: binary file (NUL byte); save the watchlist as UTF-8 YAML or CSV")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise WatchlistError(
            f"line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the watchlist as UTF-8"
        ) from None
    fmt = {".yaml": "yaml", ".yml": "yaml", ".csv": "csv"}.get(path.suffix.lower(), "auto")
    return loads_watchlist(text, fmt)


def _csv_cell(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(value)  # one value per line; see the module docstring
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def dump_watchlist(sites: list[dict[str, Any]], fmt: str) -> str:
    """Write sites as "yaml" or "csv" text that ``loads_watchlist`` reads back to the same rows.

    Rows are validated first (WatchlistError with "row N: reason"); they must hold only site keys.
    """
    fmt = _format_name(fmt)
    if fmt not in ("yaml", "csv"):
        raise ValueError(f"unknown watchlist format {fmt!r}: use 'yaml' or 'csv'")
    rows = _normalise_rows([(number, site, []) for number, site in enumerate(sites, 1)], "row")
    if fmt == "yaml":
        # a huge width stops PyYAML folding long strings over several lines
        return yaml.dump(
            rows, Dumper=_YAML_DUMPER, sort_keys=False, allow_unicode=True, default_flow_style=False, width=2**20
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")  # notes hold only "\n", so cells with it are quoted
    writer.writerow(KEYS)
    writer.writerows([_csv_cell(site[key]) for key in KEYS] for site in rows)
    return out.getvalue()
