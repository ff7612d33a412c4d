"""Charts as inline SVG (matplotlib, Agg backend): no files, no external loads, crisp in print.

Okabe–Ito colours, distinguishable with the common colour-vision deficiencies; lines also differ by
marker, so the charts survive black-and-white printing.
"""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

# Okabe–Ito, reordered so the low-contrast yellow comes last on a white page.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"]
BAR_COLOURS = ["#0072B2", "#CC79A7", "#E69F00"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
STYLE = {
    "svg.fonttype": "none",  # text stays text: smaller, selectable, searchable
    "svg.hashsalt": "stemwatch",  # stable element ids, so the same data gives the same SVG
    "font.family": "sans-serif", "font.size": 10, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.color": "#dddddd", "grid.linewidth": 0.6, "axes.axisbelow": True,
}


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG sits inside HTML
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)  # RDF boilerplate with URIs
    return re.sub(r"<svg ", '<svg role="img" ', text, count=1)


def _month_labels(months: list[str]) -> list[str]:
    return [m[2:] if len(months) > 12 else m for m in months]


def lines(months: list[str], series: dict[str, list[int]], title: str, ylabel: str) -> str:
    """One line per series over months (top conditions: sites offering each, per month)."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 3.6))
        x = range(len(months))
        for i, (name, values) in enumerate(series.items()):
            # Earlier lines drawn wider: where lines coincide they show as nested stripes, not one colour.
            wide = 1.5 + 0.6 * (len(series) - 1 - i)
            ax.plot(x, values, label=name, color=OKABE_ITO[i % 8], marker=MARKERS[i % 8], markersize=3 + wide,
                    linewidth=wide)
        _axes(ax, months, title, ylabel)
        if series:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9)
        return _svg(fig)


def bars(months: list[str], series: dict[str, list[int]], title: str, ylabel: str) -> str:
    """Grouped bars per month (new therapies, new red flags, claims removed)."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 3.2))
        n = max(1, len(series))
        width = 0.8 / n
        hatches = ["", "//", ".."]  # tells the bars apart in grey print
        for i, (name, values) in enumerate(series.items()):
            ax.bar([j + (i - (n - 1) / 2) * width for j in range(len(months))], values, width, label=name,
                   color=BAR_COLOURS[i % 3], hatch=hatches[i % 3], edgecolor="#333333", linewidth=0.4)
        _axes(ax, months, title, ylabel)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9)
        return _svg(fig)


def _axes(ax, months: list[str], title: str, ylabel: str) -> None:
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    ax.set_ylabel(ylabel)
    ax.set_xticks(range(len(months)), _month_labels(months), rotation=45 if len(months) > 6 else 0,
                  ha="right" if len(months) > 6 else "center")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylim(bottom=0)
