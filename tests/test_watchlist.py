"""Tests for crawler.watchlist: loading, validation with line numbers, round trips, intervals."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from crawler.watchlist import (
    DEFAULTS,
    KEYS,
    WatchlistError,
    dump_watchlist,
    format_every,
    load_watchlist,
    loads_watchlist,
    normalise_site,
    parse_every,
)


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def errors_of(text: str, fmt: str) -> list[str]:
    with pytest.raises(WatchlistError) as info:
        loads_watchlist(text, fmt)
    return info.value.errors


GOOD_YAML = dedent(
    """
    # two clinics
    - name: alpha-clinic
      start_urls: [https://alpha.example/, http://alpha.example/en/]
      allow: ['^https://alpha\\.example/(en|de)/']
      deny: [/cart, '\\?sessionid=']
      max_pages: 50
      every: 6h
      delay: 0.5
      concurrency: 4
      obey_robots: false
      country: mx
      notes: Warning letter 2023
      active: no
    - name: beta.clinic_2
      start_urls: https://beta.example:8080/start
    """
)

GOOD_CSV = dedent(
    """
    name,start_urls,allow,max_pages,every,obey_robots,country,active
    alpha-clinic,"https://alpha.example/ http://alpha.example/en/","^https://alpha\\.example/(en|de)/
    /blog/.*",50,6h,no,mx,0
    beta.clinic_2,https://beta.example:8080/start,,,,,,
    """
)


# -- good files -----------------------------------------------------------------------------------


def test_load_good_yaml_coerces_and_fills_defaults() -> None:
    alpha, beta = loads_watchlist(GOOD_YAML, "yaml")
    assert alpha == {
        "name": "alpha-clinic",
        "start_urls": ["https://alpha.example/", "http://alpha.example/en/"],
        "allow": ["^https://alpha\\.example/(en|de)/"],
        "deny": ["/cart", "\\?sessionid="],
        "max_pages": 50,
        "every": "6h",
        "delay": 0.5,
        "concurrency": 4,
        "obey_robots": False,
        "country": "MX",
        "notes": "Warning letter 2023",
        "active": False,
    }
    assert beta == {"name": "beta.clinic_2", "start_urls": ["https://beta.example:8080/start"], **DEFAULTS}
    assert list(beta) == list(KEYS)


def test_yaml_sites_mapping_form() -> None:
    text = "sites:\n" + textwrap.indent(GOOD_YAML, "  ")
    assert loads_watchlist(text, "yaml") == loads_watchlist(GOOD_YAML, "yaml")


def test_load_good_csv_coerces_and_fills_defaults() -> None:
    alpha, beta = loads_watchlist(GOOD_CSV, "csv")
    assert alpha["start_urls"] == ["https://alpha.example/", "http://alpha.example/en/"]
    assert alpha["allow"] == ["^https://alpha\\.example/(en|de)/", "/blog/.*"]
    assert (alpha["max_pages"], alpha["every"], alpha["obey_robots"], alpha["country"], alpha["active"]) == (
        50,
        "6h",
        False,
        "MX",
        False,
    )
    assert beta == {"name": "beta.clinic_2", "start_urls": ["https://beta.example:8080/start"], **DEFAULTS}


def test_csv_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(b"\xef\xbb\xbfname,start_urls\r\nalpha,https://a.example/\r\n")
    assert load_watchlist(path)[0]["name"] == "alpha"


def test_defaults_are_not_shared_between_rows() -> None:
    first, second = (normalise_site({"name": n, "start_urls": "http://x.example"}) for n in "ab")
    first["allow"].append("x")
    assert second["allow"] == [] and DEFAULTS["allow"] == []


def test_robots_are_obeyed_unless_turned_off_explicitly() -> None:
    base = {"name": "a", "start_urls": ["http://a.example"]}
    assert normalise_site(base)["obey_robots"] is True
    assert normalise_site({**base, "obey_robots": ""})["obey_robots"] is True
    for word in ("false", "No", "0", 0, False):
        assert normalise_site({**base, "obey_robots": word})["obey_robots"] is False
    for word in ("true", "YES", "1", 1, True):
        assert normalise_site({**base, "obey_robots": word})["obey_robots"] is True


def test_every_is_written_in_shortest_form() -> None:
    site = normalise_site({"name": "a", "start_urls": "http://a.example", "every": " 24 H "})
    assert site["every"] == "1d"


@pytest.mark.parametrize(("suffix", "text"), [(".yaml", GOOD_YAML), (".yml", GOOD_YAML), (".csv", GOOD_CSV)])
def test_load_by_extension(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"watch{suffix}"
    path.write_text(text, encoding="utf-8")
    assert [site["name"] for site in load_watchlist(path)] == ["alpha-clinic", "beta.clinic_2"]


@pytest.mark.parametrize("text", [GOOD_YAML, GOOD_CSV, "sites:\n- name: a\n  start_urls: http://a.example\n"])
def test_load_sniffs_unknown_extension(tmp_path: Path, text: str) -> None:
    path = tmp_path / "watchlist.txt"
    path.write_text(text, encoding="utf-8")
    assert load_watchlist(path) == loads_watchlist(text, "auto")
    assert load_watchlist(path)


def test_empty_list_is_valid() -> None:
    assert loads_watchlist("[]\n", "yaml") == []
    assert loads_watchlist("sites: []\n", "yaml") == []
    assert loads_watchlist("name,start_urls\n", "csv") == []


# -- round trips ----------------------------------------------------------------------------------

TRICKY = [
    {
        "name": "tricky",
        "start_urls": ["https://tricky.example/a?b=c&d=e", "http://tricky.example:8080/%20x"],
        "allow": ["a|b", "^/(en|fr) page/", "x, y", 'say "hi"', "it's", "ünï|cödé", "a  b"],
        "deny": ["\\d+,\\d+", "#anchor", "- dash", "x\u2028sep"],
        "max_pages": 1,
        "every": "90m",
        "delay": 0.1,
        "concurrency": 32,
        "obey_robots": False,
        "country": "NO",  # YAML 1.1 would read a bare NO as false
        "notes": "Ünïcødé 日本語 — \"quoted\", 'single', comma,\nsecond line\ttab: yes # not a comment \u2028x",
        "active": False,
    },
    {"name": "123", "start_urls": ["http://plain.example"], **DEFAULTS, "notes": "true"},
    {"name": "null", "start_urls": ["http://null.example"], **DEFAULTS, "notes": "=1+1", "delay": 0.0},
]


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_round_trip(fmt: str) -> None:
    sites = [normalise_site(site) for site in TRICKY]
    assert sites == TRICKY  # already normalised, so normalising changes nothing
    text = dump_watchlist(sites, fmt)
    assert loads_watchlist(text, fmt) == sites
    assert dump_watchlist(loads_watchlist(text, fmt), fmt) == text


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_round_trip_through_file(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    path.write_text(dump_watchlist(TRICKY, fmt), encoding="utf-8", newline="")
    assert load_watchlist(path) == TRICKY


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_round_trip_empty(fmt: str) -> None:
    assert loads_watchlist(dump_watchlist([], fmt), fmt) == []


def test_round_trip_from_good_files() -> None:
    for text, fmt in ((GOOD_YAML, "yaml"), (GOOD_CSV, "csv")):
        sites = loads_watchlist(text, fmt)
        for out in ("yaml", "csv"):
            assert loads_watchlist(dump_watchlist(sites, out), out) == sites


def test_dump_reports_bad_rows_by_row_number() -> None:
    with pytest.raises(WatchlistError) as info:
        dump_watchlist([TRICKY[1], {"name": "x", "start_urls": ["ftp://x"]}, {"id": 3, **TRICKY[1]}], "csv")
    assert [error.split(":")[0] for error in info.value.errors] == ["row 2", "row 3"]
    assert "duplicate name '123' (first on row 1)" in info.value.errors[1]


# -- bad rows -------------------------------------------------------------------------------------

# (extra YAML lines for the third site, extra CSV cells, words the error must contain)
BAD_ROWS = [
    ("start_urls: [ftp://x.example/]", {"start_urls": "ftp://x.example/"}, "scheme 'ftp' not allowed"),
    ("start_urls: [x.example/page]", {"start_urls": "x.example/page"}, "missing scheme"),
    ("start_urls: ['https:///path']", {"start_urls": "https:///path"}, "no host"),
    ("start_urls: ['http://x.example:99999/']", {"start_urls": "http://x.example:99999/"}, "Port out of range"),
    ("start_urls: []", {}, "start_urls needs at least one URL"),
    ("allow: ['(unclosed']", {"allow": "(unclosed"}, "bad allow pattern '(unclosed': missing ), unterminated"),
    ("deny: ['a**']", {"deny": "a**"}, "bad deny pattern 'a**': multiple repeat"),
    ("every: 6x", {"every": "6x"}, "bad every '6x'"),
    ("every: 0h", {"every": "0h"}, "at least 1h"),
    ("max_pages: 0", {"max_pages": "0"}, "max_pages must be at least 1"),
    ("max_pages: lots", {"max_pages": "lots"}, "max_pages must be a whole number"),
    ("concurrency: 33", {"concurrency": "33"}, "concurrency must be between 1 and 32"),
    ("delay: -1", {"delay": "-1"}, "delay must be a number of seconds >= 0"),
    ("delay: .nan", {"delay": "nan"}, "delay must be a number"),
    ("obey_robots: maybe", {"obey_robots": "maybe"}, "obey_robots must be true or false"),
    ("country: USA", {"country": "USA"}, "two-letter ISO 3166 code"),
    ("maxpages: 3", None, "unknown key 'maxpages' (did you mean 'max_pages'?); allowed: name, start_urls"),
]


def yaml_with_bad_third_site(extra: str, name: str = "third") -> str:
    # the bad site is the list item starting on line 6
    lines = [
        "- name: first",
        "  start_urls: [http://first.example]",
        "",
        "- name: second",
        "  start_urls: [http://second.example]",
        f"- name: {name}",
        "  start_urls: [http://t.example]",
    ]
    key = extra.split(":")[0]
    if key == "start_urls":
        lines[-1] = f"  {extra}"
    else:
        lines.append(f"  {extra}")
    return "\n".join(lines) + "\n"


def csv_with_bad_third_site(cells: dict[str, str], name: str = "third") -> str:
    # line 3 holds a quoted two-line cell, so the bad site is on physical line 5
    columns = [
        "name",
        "start_urls",
        "allow",
        "deny",
        "max_pages",
        "every",
        "delay",
        "concurrency",
        "obey_robots",
        "country",
    ]
    row = {"name": name, "start_urls": "http://t.example", **cells}
    good = ["first,http://first.example", 'second,"http://second.example\nhttp://second.example/b"']
    return "\n".join([",".join(columns), *good, ",".join(f'"{row.get(c, "")}"' for c in columns)]) + "\n"


@pytest.mark.parametrize(("yaml_extra", "csv_cells", "reason"), BAD_ROWS)
def test_bad_row_yaml(yaml_extra: str, csv_cells: dict[str, str] | None, reason: str) -> None:
    errors = errors_of(yaml_with_bad_third_site(yaml_extra), "yaml")
    assert len(errors) == 1
    assert errors[0].startswith("line 6: ")
    assert reason in errors[0]


@pytest.mark.parametrize(("yaml_extra", "csv_cells", "reason"), [row for row in BAD_ROWS if row[1] is not None])
def test_bad_row_csv(yaml_extra: str, csv_cells: dict[str, str], reason: str) -> None:
    if not csv_cells:  # an empty start_urls cell
        csv_cells = {"start_urls": ""}
        reason = "missing start_urls"
    errors = errors_of(csv_with_bad_third_site(csv_cells), "csv")
    assert len(errors) == 1
    assert errors[0].startswith("line 5: ")
    assert reason in errors[0]


@pytest.mark.parametrize("name", ["first", "'has space'", "x" * 101, "'ünï'"])
def test_bad_or_duplicate_name(name: str) -> None:
    yaml_error = errors_of(yaml_with_bad_third_site("notes: n", name=name), "yaml")
    csv_error = errors_of(csv_with_bad_third_site({}, name=name.strip("'")), "csv")
    assert yaml_error[0].startswith("line 6: ") and csv_error[0].startswith("line 5: ")
    if name == "first":
        assert "duplicate name 'first' (first on line 1)" in yaml_error[0]
        assert "duplicate name 'first' (first on line 2)" in csv_error[0]
    elif len(name) > 100:
        assert "name is 101 characters long; at most 100" in yaml_error[0]
    else:
        assert "use only letters, digits, '-', '_' and '.'" in csv_error[0]


def test_missing_name() -> None:
    assert errors_of("- start_urls: [http://x.example]\n", "yaml") == ["line 1: missing name"]
    assert errors_of("name,start_urls\n,http://x.example\n", "csv") == ["line 2: missing name"]


def test_duplicate_key_in_yaml_site() -> None:
    text = "- name: a\n  start_urls: http://a.example\n  name: b\n"
    assert errors_of(text, "yaml") == ["line 1: key 'name' given twice"]


def test_yaml_non_string_scalars_get_a_hint() -> None:
    errors = errors_of("- name: a\n  start_urls: http://a.example\n  country: NO\n", "yaml")
    assert errors == ["line 1: country must be text, got a boolean False (quote it in YAML)"]


def test_yaml_item_that_is_not_a_mapping() -> None:
    errors = errors_of("- name: a\n  start_urls: http://a.example\n- just a string\n", "yaml")
    assert errors == ["line 3: expected a mapping of site keys, got a string"]


def test_every_bad_row_is_reported_and_nothing_returned() -> None:
    text = dedent(
        """
        - name: ok
          start_urls: [http://ok.example]
        - name: bad-url
          start_urls: [mailto:x@example.org]
        - name: ok
          start_urls: [http://ok.example]
        - start_urls: [http://anon.example]
          every: weekly
        - name: bad-regex
          start_urls: [http://r.example]
          allow: ['[a-']
        """
    )
    errors = errors_of(text, "yaml")
    assert [error.split(":")[0] for error in errors] == ["line 3", "line 5", "line 7", "line 9"]
    assert "duplicate name 'ok' (first on line 1)" in errors[1]
    assert "missing name" in errors[2] and "bad every 'weekly'" in errors[2]
    assert "unterminated character set" in errors[3]


def test_one_row_with_several_problems_is_one_line() -> None:
    text = "name,start_urls,max_pages,every\nx y,gopher://x,-5,soon\n"
    (error,) = errors_of(text, "csv")
    assert error.startswith("line 2: bad name 'x y'")
    assert "scheme 'gopher'" in error and "max_pages must be at least 1" in error and "bad every 'soon'" in error
    assert "\n" not in error


def test_csv_value_without_header() -> None:
    text = "name,start_urls,,\na,http://a.example,,\nb,http://b.example,,stray\n"
    assert errors_of(text, "csv") == ["line 3: value 'stray' in column 4, which has no header"]


def test_error_message_joins_errors_one_per_line() -> None:
    error = WatchlistError(["line 1: a", "line 2: b"])
    assert str(error) == "line 1: a\nline 2: b"
    assert WatchlistError("line 3: c").errors == ["line 3: c"]


# -- malformed files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("", "yaml", "line 1: empty watchlist file"),
        ("  \n\n", "csv", "line 1: empty watchlist file"),
        ("# only a comment\n", "yaml", "line 1: empty watchlist (no YAML document)"),
        ("- name: a\n  start_urls: [http://x\n", "yaml", "line 3: invalid YAML at column 1: while parsing a flow"),
        ("- name: a\n start_urls: x\n", "yaml", "line 2: invalid YAML at column 2"),
        ("- a\n---\n- b\n", "yaml", "line 2: invalid YAML at column 1: expected a single document"),
        ("- !!python/object:os.system {}\n", "yaml", "line 1: invalid YAML at column 3"),
        ("just text\n", "yaml", "line 1: expected a list of sites or a mapping with a 'sites' key"),
        ("name: a\nstart_urls: http://a.example\n", "yaml", "line 1: expected a list of sites; start each"),
        ("clinics:\n- name: a\n", "yaml", "line 1: unknown top-level key 'clinics'; only 'sites' is allowed"),
        ("sites:\n", "yaml", "line 1: 'sites' must be a list of sites"),
        ('name,start_urls\na,http://a.example\nb,"http://b\n', "csv", "line 3: malformed CSV: unexpected end"),
        ('name,start_urls\na,"http://a"x\n', "csv", "line 2: malformed CSV:"),
        ("\nname,start_urls\n", "csv", "line 1: missing header row"),
        ("name;start_urls\n", "csv", "line 1: unknown column 'name;start_urls'"),
        ("name,start_url\n", "csv", "line 1: unknown column 'start_url' (did you mean 'start_urls'?)"),
        ("name,start_urls,name\n", "csv", "line 1: column 'name' given twice"),
        ("name,notes\n", "csv", "line 1: missing column 'start_urls'"),
        ("- name: a\x00\n", "yaml", "line 1: binary data (NUL byte)"),
    ],
)
def test_malformed_text(text: str, fmt: str, expected: str) -> None:
    errors = errors_of(text, fmt)
    assert errors[0].startswith(expected)
    assert all("\n" not in error for error in errors)


@pytest.mark.parametrize(
    ("data", "suffix", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ".yaml", "line 3: binary file (NUL byte)"),
        ("name,start_urls\n".encode("utf-16"), ".csv", "line 1: binary file (NUL byte)"),
        (
            "name,start_urls\na,http://a.example\nb,http://b.example,Zürich\n".encode("latin-1"),
            ".csv",
            "line 3: not UTF-8 text (byte 0xfc)",
        ),
        (b"", ".csv", "line 1: empty watchlist file"),
    ],
)
def test_malformed_file(tmp_path: Path, data: bytes, suffix: str, expected: str) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(data)
    with pytest.raises(WatchlistError) as info:
        load_watchlist(path)
    assert info.value.errors[0].startswith(expected)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError, match="cannot read .*nope.yaml: No such file"):
        load_watchlist(tmp_path / "nope.yaml")


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown watchlist format 'json'"):
        loads_watchlist("[]", "json")
    with pytest.raises(ValueError, match="unknown watchlist format"):
        dump_watchlist([], "xml")


# -- intervals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds", "canonical"),
    [
        ("30m", 1800, "30m"),
        ("6h", 21600, "6h"),
        ("1d", 86400, "1d"),
        ("7d", 604800, "1w"),
        ("2w", 1209600, "2w"),
        ("90m", 5400, "90m"),
        ("24h", 86400, "1d"),
        (" 12 H ", 43200, "12h"),
    ],
)
def test_parse_and_format_every(text: str, seconds: int, canonical: str) -> None:
    assert parse_every(text) == seconds
    assert format_every(seconds) == canonical
    assert parse_every(format_every(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "6", "h", "1.5h", "-1d", "0m", "6s", "1y", "6hours", "١d", "1d2h"])
def test_parse_every_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="bad every"):
        parse_every(text)


@pytest.mark.parametrize("seconds", [0, -60, 90, 1.5, True])
def test_format_every_rejects(seconds: int) -> None:
    with pytest.raises(ValueError, match="cannot write"):
        format_every(seconds)
