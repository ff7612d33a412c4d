"""Command modules beyond the core ones in crawler.cli.

Each module listed here exposes COMMANDS, a list of click commands or groups added to `stemwatch`.
"""

from __future__ import annotations

import importlib

import click

MODULES: list[str] = ["journalist", "review", "ops", "report", "distributed"]


def load() -> list[click.Command]:
    out: list[click.Command] = []
    for name in MODULES:
        out += importlib.import_module(f"crawler.commands.{name}").COMMANDS
    return out
