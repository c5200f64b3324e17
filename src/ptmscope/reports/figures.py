"""The study's figures as inline SVG (matplotlib, no pyplot state, no JavaScript).

Text is drawn as paths (``svg.fonttype = path``), math-text parsing is off (a model
called ``$x$`` stays literal), comments are stripped from the output: labels taken from
the data cannot become markup in the page.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from ptmscope.reports.safe import clean

_RC: Any = {
    "svg.fonttype": "path",
    "svg.hashsalt": "ptmscope",
    "text.parse_math": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_PALETTE = ("#3b6fb6", "#e07b39", "#59a14f", "#b07aa1", "#9c755f")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    return _COMMENT.sub("", svg)


def _compact(value: float) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


# matplotlib takes seconds to import: it is imported by the three functions below, when a figure is
# drawn, so the reports, commands and tests that draw none never pay for it.


def style() -> AbstractContextManager[Any]:
    """The figures' matplotlib settings (text as paths, math text off), for a ``with`` block."""
    import matplotlib  # only when a figure is drawn (see above)

    return matplotlib.rc_context(_RC)


def figure(width: float, height: float) -> Any:
    """A matplotlib figure (no pyplot state) of ``width`` x ``height`` inches, laid out to fit."""
    from matplotlib.figure import Figure  # only when a figure is drawn (see above)

    return Figure(figsize=(width, height), layout="constrained")


def _compact_ticks(axis: Any) -> None:
    """Label a log axis 1k, 10M...: math text is off (labels from data stay literal), so ticks are formatted here."""
    from matplotlib.ticker import FuncFormatter  # only when a figure is drawn (see above)

    axis.set_major_formatter(FuncFormatter(lambda value, _: _compact(value)))
    axis.set_minor_formatter(FuncFormatter(lambda value, _: ""))


def downloads_figure(series: Mapping[str, Sequence[int]]) -> str:
    """Fig. 1: downloads of the top-100 packages per registry, by rank, log scale."""
    with style():
        fig = figure(7, 3.6)
        ax = fig.add_subplot()
        for i, (label, values) in enumerate(series.items()):
            positive = [v for v in values if v > 0]
            if positive:
                ax.plot(
                    range(1, len(positive) + 1),
                    positive,
                    label=clean(label, 60),
                    color=_PALETTE[i % len(_PALETTE)],
                    linewidth=1.6,
                )
        ax.set_yscale("log")
        _compact_ticks(ax.yaxis)
        ax.set_xlabel("the 100 most-downloaded packages (rank)")
        ax.set_ylabel("downloads")
        if series:
            ax.legend(frameon=False)
        return _svg(fig)


def bar_figure(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    xlabel: str,
    annotations: Sequence[str] | None = None,
    color: str = _PALETTE[0],
    log: bool = False,
) -> str:
    """A horizontal bar chart, largest first, with optional text at the end of each bar (``log``: log x axis)."""
    with style():
        fig = figure(7, max(1.6, 0.28 * len(labels) + 0.8))
        ax = fig.add_subplot()
        names = [clean(label, 48) for label in labels]
        positions = list(range(len(names)))[::-1]
        ax.barh(positions, values, color=color)
        ax.set_yticks(positions, names)
        ax.set_xlabel(xlabel)
        top = max((v for v in values if not math.isnan(v)), default=0) or 1
        if log:
            ax.set_xscale("log")
            _compact_ticks(ax.xaxis)
        if annotations:
            for y, value, note in zip(positions, values, annotations, strict=True):
                x = value * 1.08 if log else value + top * 0.01
                ax.text(x, y, clean(note, 30), va="center", fontsize=8, color="#444")
            ax.set_xlim(0.8 if log else 0, top * (4 if log else 1.25))
        return _svg(fig)


def paired_bar_figure(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    xlabel: str,
) -> str:
    """Horizontal bars of two (or more) snapshots per label, side by side; None draws no bar."""
    with style():
        count = max(1, len(series))
        fig = figure(7, max(1.8, 0.22 * len(labels) * count + 0.9))
        ax = fig.add_subplot()
        names = [clean(label, 48) for label in labels]
        height = 0.8 / count
        base = list(range(len(names)))[::-1]
        for i, (label, values) in enumerate(series.items()):
            positions = [y + 0.4 - height * (i + 0.5) for y in base]
            ax.barh(
                positions,
                [0.0 if v is None else v for v in values],
                height=height,
                label=clean(label, 60),
                color=_PALETTE[i % len(_PALETTE)],
            )
        ax.set_yticks(base, names)
        ax.set_xlabel(xlabel)
        ax.legend(frameon=False, loc="lower right")
        return _svg(fig)
