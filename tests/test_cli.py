"""The `stemwatch` command line, run as a real subprocess."""

from __future__ import annotations

import json

from crawler.watchlist import parse_every
from tests.conftest import stemwatch

GOOD_YAML = """sites:
  - name: alpha-clinic
    start_urls: [https://alpha.example/, https://alpha.example/en/]
    deny: ['/blog/', '\\?print=']
    every: 6h
    country: MX
  - name: beta-clinic
    start_urls: [https://beta.example/]
    max_pages: 50
    obey_robots: false
    notes: "imported, with | pipes, commas and 'quotes'"
"""


def test_sites_add_list_show_remove(tmp_path):
    db = str(tmp_path / "a.db")
    out = stemwatch("sites", "add", "acme", "https://acme.example/", "--every", "7d", "--deny", "/blog/",
                    "--country", "US", "--max-pages", "40", db=db)
    assert "added acme" in out.stdout
    rows = json.loads(stemwatch("sites", "list", "--json", db=db).stdout)
    assert [r["name"] for r in rows] == ["acme"]
    assert parse_every(rows[0]["every"]) == 7 * 86400 and rows[0]["max_pages"] == 40 and rows[0]["obey_robots"] is True
    shown = json.loads(stemwatch("sites", "show", "acme", "--json", db=db).stdout)
    assert shown["deny"] == ["/blog/"] and shown["pages"] == 0
    assert "acme" in stemwatch("sites", "list", "--format", "csv", db=db).stdout.splitlines()[1]
    stemwatch("sites", "remove", "acme", db=db)
    assert json.loads(stemwatch("sites", "list", "--json", db=db).stdout) == []
    assert len(json.loads(stemwatch("sites", "list", "--all", "--json", db=db).stdout)) == 1


def test_user_errors_are_one_line(tmp_path):
    db = str(tmp_path / "a.db")
    for args in (["sites", "add", "x", "ftp://x.example/"],
                 ["sites", "add", "x", "https://x.example/", "--deny", "(unclosed"],
                 ["sites", "add", "x", "https://x.example/", "--every", "sometimes"],
                 ["sites", "show", "nobody"],
                 ["crawl", "nobody"],
                 ["sites", "import", str(tmp_path / "missing.yaml")]):
        proc = stemwatch(*args, db=db, check=False)
        assert proc.returncode != 0, args
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.strip().startswith("Error:") or "Usage" in proc.stderr, proc.stderr
    stemwatch("sites", "add", "x", "https://x.example/", db=db)
    dup = stemwatch("sites", "add", "x", "https://y.example/", db=db, check=False)
    assert dup.returncode != 0 and "already exists" in dup.stderr


def test_import_export_round_trip(tmp_path):
    db = str(tmp_path / "a.db")
    src = tmp_path / "watch.yaml"
    src.write_text(GOOD_YAML)
    stemwatch("sites", "import", str(src), db=db)
    for fmt in ("yaml", "csv"):
        exported = stemwatch("sites", "export", "--format", fmt, db=db).stdout
        file = tmp_path / f"again.{fmt}"
        file.write_text(exported)
        db2 = str(tmp_path / f"b-{fmt}.db")
        stemwatch("sites", "import", str(file), db=db2)
        keep = ("name", "start_urls", "allow", "deny", "max_pages", "every", "obey_robots", "country", "notes")
        one = [{k: r[k] for k in keep} for r in json.loads(stemwatch("sites", "list", "--json", db=db).stdout)]
        two = [{k: r[k] for k in keep} for r in json.loads(stemwatch("sites", "list", "--json", db=db2).stdout)]
        assert one == two, fmt


def test_bad_watchlist_rejected_whole_with_lines(tmp_path):
    db = str(tmp_path / "a.db")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,start_urls,deny\n"
                   "good,https://good.example/,\n"
                   "ftp-site,ftp://files.example/,\n"
                   "regex,https://r.example/,(oops\n"
                   "good,https://again.example/,\n")
    proc = stemwatch("sites", "import", str(bad), db=db, check=False)
    assert proc.returncode != 0
    assert "line 3" in proc.stderr and "line 4" in proc.stderr and "line 5" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads(stemwatch("sites", "list", "--json", db=db).stdout) == []  # nothing imported
    garbage = tmp_path / "garbage.yaml"
    garbage.write_bytes(b"sites: [\x00\xff\xfe")
    proc = stemwatch("sites", "import", str(garbage), db=db, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


def test_every_command_documents_an_example():
    from crawler.cli import cli

    def walk(group, prefix=""):
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                yield from walk(cmd, prefix + name + " ")
            else:
                yield prefix + name, cmd

    for name, cmd in walk(cli):
        assert "Example" in (cmd.help or ""), f"`stemwatch {name}` has no example in its help"
