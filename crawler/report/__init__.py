"""Rendering of `stemwatch report`: the numbers come from storage.report; this package writes them as
self-contained HTML (inline SVG charts, no external loads), Markdown, JSON and the weekly digest."""

from crawler.report.render import digest_html, digest_text, render_html, render_json, render_markdown

__all__ = ["digest_html", "digest_text", "render_html", "render_json", "render_markdown"]
