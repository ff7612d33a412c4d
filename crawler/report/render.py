"""Report and digest renderers: HTML (Jinja2, autoescaped), Markdown, JSON, plain text."""

from __future__ import annotations

import functools
import html
import json
from pathlib import Path

import jinja2

from crawler.report import charts
from crawler.report.categories import labels

SECTIONS = [  # (table key, title, note)
    ("categories", "Condition categories", "Sites offering at least one condition of the category; "
                                           "groups as in the published surveys (crawler/report/categories.yaml)."),
    ("conditions", "Conditions (top {top})", ""),
    ("cell_types", "Cell and product types", ""),
    ("routes", "Routes of administration", ""),
    ("red_flags", "Red-flag claim types", "Claims the site makes in its own voice: cures, FDA language, "
                                          "success rates, absolute safety..."),
    ("disclaimers", "Regulatory status and risk statements (disclaimers)", ""),
]
TREND_LINES = 8  # the palette's size: more lines would repeat colours


def pct(share: float) -> str:
    return f"{share * 100:.1f}%"


@functools.cache
def _labels() -> dict[str, dict[str, str]]:
    return labels()


def label(kind: str, term: str) -> str:
    return _labels().get(kind, {}).get(term, term.replace("_", " "))


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["term_label"] = lambda term: label("condition", term)
    return env


def report_charts(r: dict) -> list[str]:
    t = r["trends"]
    months = t["months"]
    offering = {label("condition", term): values for term, values in list(t["offering"].items())[:TREND_LINES]}
    return [
        charts.lines(months, offering, "Sites offering each top condition, per month", "sites"),
        charts.bars(months, {"New therapies": t["new_therapy"], "New red-flag claims": t["new_red_flag"],
                             "Claims removed": t["claims_removed"]},
                    "New therapies, new red-flag claims and claims removed, per month", "count"),
    ]


def render_html(r: dict, top: int) -> str:
    sections = [(k, title.format(top=top), note) for k, title, note in SECTIONS]
    return _env().get_template("template.html.j2").render(
        r=r, sections=sections, chart_svgs=report_charts(r), pct=pct, label=label)


def render_json(r: dict) -> str:
    return json.dumps(r, indent=2, ensure_ascii=False, default=str)


# ---- Markdown ----------------------------------------------------------------------------------------------

def _md(text: object) -> str:
    """A table cell: no pipes or line breaks."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _who(row: dict) -> str:
    parts = []
    for e in row["evidence"]:
        if "terms" in e:
            parts.append(f"{e['site']} (v{', v'.join(map(str, e['version_ids']))})")
        else:
            span = f"v{e['first_version_id']}" + (f"–v{e['last_version_id']}"
                                                   if e["last_version_id"] != e["first_version_id"] else "")
            removed = f", removed {e['removed_at'][:10]}" if e["status"] == "removed" else ""
            parts.append(f"{e['site']} ({span}{removed})")
    return "; ".join(parts)


def render_markdown(r: dict, top: int) -> str:
    p = r["period"]
    out = [f"# Stem-cell clinic websites: report {p['since'][:10]} to {p['until'][:10]}", "",
           f"{r['sites_in_scope']} sites in scope; generated {p['generated_at'][:16].replace('T', ' ')} UTC. "
           "Each row lists the sites and version ids behind it. Definitions: docs/reports.md.", ""]
    for key, title, note in SECTIONS:
        out += [f"## {title.format(top=top)}", ""] + ([note, ""] if note else [])
        rows = r["tables"][key]
        if not rows:
            out += ["None in the period.", ""]
            continue
        out += ["| Item | Sites | Share | Sites and versions |", "| --- | ---: | ---: | --- |"]
        out += [f"| {_md(row['label'])} | {row['sites']} | {pct(row['share'])} | {_md(_who(row))} |" for row in rows]
        out.append("")
    t = r["trends"]
    out += ["## Trends per month", "", "| | " + " | ".join(t["months"]) + " |",
            "| --- |" + " ---: |" * len(t["months"])]
    for term, values in t["offering"].items():
        out.append(f"| sites offering {_md(label('condition', term))} | " + " | ".join(map(str, values)) + " |")
    for key, name in (("new_therapy", "new therapies"), ("new_red_flag", "new red-flag claims"),
                      ("claims_removed", "claims removed")):
        out.append(f"| {name} | " + " | ".join(map(str, t[key])) + " |")
    out += ["", f"## New in the period ({len(r['new_flags'])} flags)", ""]
    out += _flag_lines(r["new_flags"]) or ["None."]
    out += ["", f"## Claims removed ({len(r['removed_claims'])})", ""]
    out += [f"- {c['removed_at'][:10]} **{c['site']}** {c['kind']}: {label(c['kind'], c['term'])} "
            f"(last in version {c['last_version_id']}, {c['url']})" for c in r["removed_claims"]] or ["None."]
    out += ["", "## Watchlist", "", "| Site | Country | Health | Last crawl | Last good crawl |",
            "| --- | --- | --- | --- | --- |"]
    for s in r["watchlist"]:
        last, good = s["last_crawl"], s["last_good_crawl"]
        last_text = f"#{last['id']} {last['started_at'][:10]} {last['status']}" if last else "never"
        good_text = f"#{good['id']} {good['started_at'][:10]}" if good else "none"
        out.append(f"| {_md(s['site'])} | {s['country']} | {s['health']} | {last_text} | {good_text} |")
    return "\n".join(out) + "\n"


def _flag_lines(flags: list[dict]) -> list[str]:
    lines = []
    for f in flags:
        lines.append(f"- {f['detected_at'][:10]} #{f['id']} **{f['site']}** {f['kind'].replace('_', ' ')}: "
                     f"{label(f['claim_kind'], f['term'])} [{f['priority']}, {f['status']}] version {f['version_id']}")
        if f["evidence"]:
            lines.append(f"  > {f['evidence'][:300]}")
        if f["url"]:
            lines.append(f"  {f['url']}")
    return lines


# ---- digest ------------------------------------------------------------------------------------------------

def digest_title(d: dict) -> str:
    n = len(d["new_flags"])
    return (f"stemwatch weekly: {n} new flag{'s' if n != 1 else ''}, {len(d['removed_claims'])} removed, "
            f"{len(d['unhealthy_sites'])} site(s) with crawl problems")


def digest_text(d: dict) -> str:
    """Plain text for the notification channels (short: channels cut long messages)."""
    p = d["period"]
    out = [f"{p['since'][:10]} to {p['until'][:10]}, {d['sites_in_scope']} sites.", "",
           f"NEW FLAGS ({len(d['new_flags'])})"]
    for f in d["new_flags"]:
        out.append(f"#{f['id']} {f['site']}: {f['kind'].replace('_', ' ')} {label(f['claim_kind'], f['term'])} "
                   f"[{f['priority']}, {f['status']}]")
        if f["evidence"]:
            out.append(f'    "{f["evidence"][:200]}"')
        if f["url"]:
            out.append(f"    {f['url']}")
    out += ["", f"REMOVED CLAIMS ({len(d['removed_claims'])})"]
    out += [f"{c['site']}: {c['kind'].replace('_', ' ')} {label(c['kind'], c['term'])} "
            f"(removed {c['removed_at'][:10]}, last in version {c['last_version_id']})" for c in d["removed_claims"]]
    out += ["", f"CRAWL PROBLEMS ({len(d['unhealthy_sites'])} sites)"]
    for s in d["unhealthy_sites"]:
        last = s["last_crawl"]
        good = s["last_good_crawl"]
        out.append(f"{s['site']}: {s['health']} (last crawl #{last['id']} {last['started_at'][:10]}, "
                   f"{last['errors']} errors, {last['blocked']} blocked; last good "
                   f"{good['started_at'][:10] if good else 'never'})")
    out += ["", "Review: stemwatch flags"]
    return "\n".join(out) + "\n"


def digest_html(d: dict) -> str:
    """An email-ready page: inline styles only, no scripts, no external loads."""
    esc = html.escape
    cell = 'style="padding:4px 8px;border-bottom:1px solid #ddd;vertical-align:top;text-align:left"'
    head = 'style="margin:18px 0 6px;font-size:16px;color:#0072B2"'
    warn = 'style="padding:4px 8px;border-bottom:1px solid #ddd;color:#b34700"'
    p = d["period"]
    parts = ['<div style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#1a1a1a;max-width:720px">',
             f'<h1 style="font-size:20px;margin:0 0 4px">{esc(digest_title(d))}</h1>',
             f'<p style="color:#555;margin:0">{esc(p["since"][:10])} to {esc(p["until"][:10])}, '
             f'{d["sites_in_scope"]} sites</p>',
             f'<h2 {head}>New flags ({len(d["new_flags"])})</h2>']
    rows = []
    for f in d["new_flags"]:
        link = (f'<br><a href="{esc(f["url"])}" style="color:#0060a0;font-size:12px">{esc(f["url"])}</a>'
                if f["url"] else "")
        quote = ('<div style="border-left:3px solid #E69F00;padding-left:6px;color:#333">'
                 f'{esc(f["evidence"][:300])}</div>' if f["evidence"] else "")
        rows.append(f'<tr><td {cell}>#{f["id"]}</td><td {cell}><b>{esc(f["site"])}</b></td>'
                    f'<td {cell}>{esc(f["kind"].replace("_", " "))}: <b>{esc(label(f["claim_kind"], f["term"]))}</b> '
                    f'[{esc(f["priority"])}, {esc(f["status"])}]{quote}{link}</td></tr>')
    parts.append(_table(rows, "No new flags."))
    parts.append(f'<h2 {head}>Removed claims ({len(d["removed_claims"])})</h2>')
    parts.append(_table([f'<tr><td {cell}>{esc(c["removed_at"][:10])}</td><td {cell}><b>{esc(c["site"])}</b></td>'
                         f'<td {cell}>{esc(c["kind"].replace("_", " "))}: {esc(label(c["kind"], c["term"]))} '
                         f'(last in version {c["last_version_id"]})</td></tr>' for c in d["removed_claims"]],
                        "No claims removed."))
    parts.append(f'<h2 {head}>Crawl problems ({len(d["unhealthy_sites"])})</h2>')
    parts.append(_table([f'<tr><td {cell}><b>{esc(s["site"])}</b></td><td {warn}>{esc(s["health"])}</td>'
                         f'<td {cell}>last crawl #{s["last_crawl"]["id"]} {esc(s["last_crawl"]["started_at"][:10])}, '
                         f'{s["last_crawl"]["errors"]} errors</td></tr>' for s in d["unhealthy_sites"]],
                        "Every site's last crawl read it."))
    parts.append('<p style="color:#777;font-size:12px">Review the flags with <code>stemwatch flags</code>.</p></div>')
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + esc(digest_title(d))
            + "</title></head><body style=\"margin:0;padding:16px;background:#ffffff\">" + "\n".join(parts)
            + "</body></html>\n")


def _table(rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p style="color:#555">{empty}</p>'
    return ('<table style="border-collapse:collapse;width:100%;font-size:13px" cellpadding="0" cellspacing="0">'
            + "".join(rows) + "</table>")
