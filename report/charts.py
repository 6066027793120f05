"""Small inline SVG charts (matplotlib, no pyplot state, nothing fetched from the network)."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

_BLUE = "#2b6cb0"
_ORANGE = "#dd6b20"
_RED = "#c53030"
_GREEN = "#2f855a"


def _svg(fig: Figure, name: str) -> str:
    """Serialise a figure to an inline ``<svg>`` element (no XML prolog, DOCTYPE or metadata)."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"safelink-{name}", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = re.sub(r"<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text, flags=re.S)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    return text.replace("<svg ", f'<svg role="img" aria-label="{name}" class="chart" ', 1)


def _fig(width: float = 6.4, height: float = 2.8) -> Figure:
    fig = Figure(figsize=(width, height), dpi=96)
    fig.set_layout_engine("constrained")
    return fig


def weight_histogram(weights: Sequence[float], link_weight: float | None, review_weight: float | None) -> str:
    """Histogram of match weights with the link and review thresholds marked.

    Args:
        weights: the candidate pairs' total match weights.
        link_weight: the link threshold as a weight (``None`` if unknown).
        review_weight: the review threshold as a weight (``None`` if unknown).
    """
    fig = _fig()
    ax = fig.add_subplot()
    ax.hist(list(weights), bins=min(60, max(10, len(weights) // 5 or 10)), color=_BLUE)
    if review_weight is not None:
        ax.axvline(review_weight, color=_ORANGE, linestyle="--", label=f"review ≥ {review_weight:.1f}")
    if link_weight is not None:
        ax.axvline(link_weight, color=_RED, linestyle="-", label=f"link ≥ {link_weight:.1f}")
    ax.set_xlabel("match weight (log2 Bayes factor incl. prior)")
    ax.set_ylabel("pairs")
    if len(weights) > 200:
        ax.set_yscale("log")
    if review_weight is not None or link_weight is not None:
        ax.legend(loc="upper left", fontsize=8)
    return _svg(fig, "match weight histogram")


def bar_chart(labels: Sequence[str], values: Sequence[float], xlabel: str, ylabel: str, name: str,
              log: bool = False) -> str:
    """A plain vertical bar chart.

    Args:
        labels: one label per bar.
        values: bar heights.
        xlabel: x axis label.
        ylabel: y axis label.
        name: accessible name of the chart.
        log: logarithmic y axis.
    """
    fig = _fig()
    ax = fig.add_subplot()
    ax.bar([str(x) for x in labels], list(values), color=_BLUE)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    return _svg(fig, name)


def trend_chart(dates: Sequence[str], series: dict[str, Sequence[float | None]], ylabel: str, name: str) -> str:
    """Lines over the last nights.

    Args:
        dates: x labels (ISO dates), oldest first.
        series: label -> one value per date (``None`` = gap).
        ylabel: y axis label.
        name: accessible name of the chart.
    """
    fig = _fig(5.2, 2.4)
    ax = fig.add_subplot()
    ax.set_title(name, fontsize=10)
    x = list(range(len(dates)))
    colours = [_BLUE, _ORANGE, _GREEN, _RED, "#6b46c1", "#718096"]
    for i, (label, values) in enumerate(series.items()):
        ys = [float("nan") if v is None else float(v) for v in values]
        ax.plot(x, ys, marker="o", markersize=3, label=label, color=colours[i % len(colours)])
    step = max(1, len(dates) // 8)
    ax.set_xticks(x[::step], [d[5:] for d in dates][::step], fontsize=8)
    ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(fontsize=7, loc="upper left")
    return _svg(fig, name)
