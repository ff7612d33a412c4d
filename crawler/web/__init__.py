"""The archive in a browser: Datasette, read-only, with stored queries and a sandboxed version view.

    ds = make_datasette("stemwatch.db")      # a datasette.app.Datasette, for tests or embedding
    serve("stemwatch.db", port=8001)         # what `stemwatch serve` runs

Metadata (titles, descriptions, column documentation, stored queries) is data in metadata.yaml;
the plugin (routes, cell rendering, the read-only guard) is crawler/web/plugin.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
DB_NAME = "archive"  # the database's name in every URL (/archive/...), whatever the file is called
SETTINGS = {
    "truncate_cells_html": 240,  # version texts are long; the version page shows them whole
    "sql_time_limit_ms": 5000,  # full-text ranking over a million versions can take a moment
    "default_page_size": 50,
    "allow_download": False,
    "allow_facet": True,
}


def load_metadata() -> dict[str, Any]:
    return yaml.safe_load((HERE / "metadata.yaml").read_text(encoding="utf-8"))


def make_datasette(db_path: str) -> Any:
    """A Datasette over one archive file that cannot write to it (see plugin.prepare_connection)."""
    from datasette.app import Datasette
    from datasette.database import Database
    from datasette.plugins import pm

    from crawler.web import plugin

    if not pm.is_registered(plugin):
        pm.register(plugin, name="stemwatch")
    ds = Datasette(memory=False, metadata=load_metadata(), template_dir=str(HERE / "templates"),
                   settings=SETTINGS)
    for name in list(ds.databases):
        if name != "_internal":
            ds.remove_database(name)  # the implicit in-memory database would only confuse
    # Reads open with ?mode=ro; the plugin sets query_only on every connection, writes included.
    ds.add_database(Database(ds, path=str(Path(db_path).resolve()), is_mutable=True), name=DB_NAME)
    return ds


def serve(db_path: str, host: str = "127.0.0.1", port: int = 8001,
          echo: Callable[[str], None] = print) -> None:
    import uvicorn

    ds = make_datasette(db_path)
    asyncio.run(ds.invoke_startup())
    echo(f"Serving {db_path} read-only at http://{host}:{port}/  (Ctrl-C to stop)")
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning")
