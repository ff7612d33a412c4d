"""Print listings as a table, JSON or CSV: one place for every command's output format."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

import click


def format_option(f: Any) -> Any:
    """`--json` and `--format table|json|csv` on every listing command."""
    f = click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default=None,
                     help="Output format (default: table).")(f)
    return click.option("--json", "as_json", is_flag=True, help="Same as --format json.")(f)


def chosen(fmt: str | None, as_json: bool) -> str:
    return "json" if as_json else (fmt or "table")


def print_rows(rows: Sequence[dict], fmt: str, columns: Sequence[str] | None = None) -> None:
    columns = list(columns or (rows[0].keys() if rows else []))
    if fmt == "json":
        click.echo(json.dumps(list(rows), indent=2, default=str, ensure_ascii=False))
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in columns})
        click.echo(buf.getvalue(), nl=False)
    else:
        print_table(rows, columns)


def print_table(rows: Sequence[dict], columns: Sequence[str], max_width: int = 60) -> None:
    if not rows:
        click.echo("(none)")
        return
    cells = [[_short(_cell(r.get(c)), max_width) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def print_object(obj: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(obj, indent=2, default=str, ensure_ascii=False))
        return
    width = max((len(k) for k in obj), default=0)
    for key, value in obj.items():
        click.echo(f"{key.ljust(width)}  {_cell(value)}")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
