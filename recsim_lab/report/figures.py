"""One PNG figure (matplotlib, Agg): the size, title and file handling every figure of the reports shares."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from recsim_lab.atomic import atomic_write
from recsim_lab.extras import optional_import

FIGURE_PX = (800, 480)
"""Width and height of every figure, in pixels."""
_DPI = 100


def plain(text: str) -> str:
    """``text`` as matplotlib draws it literally: every ``$`` escaped, so that no mathtext is parsed."""
    return text.replace("$", r"\$")


def save_figure(path: Path, title: str, plot: Callable[[Any], None], feature: str = "recsim-lab report") -> None:
    """Draw ``plot(axes)`` on one :data:`FIGURE_PX` figure titled ``title`` (drawn literally), with a grid and,
    when anything is labelled, a legend; write it to ``path`` as PNG, atomically.

    Raises:
        MissingExtraError: matplotlib is not installed (the message names ``feature`` and the ``[report]`` extra).
    """
    FigureCanvasAgg = optional_import("matplotlib.backends.backend_agg", feature).FigureCanvasAgg
    Figure = optional_import("matplotlib.figure", feature).Figure
    figure = Figure(figsize=(FIGURE_PX[0] / _DPI, FIGURE_PX[1] / _DPI), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.set_title(plain(title))
    axes.grid(True, alpha=0.3)
    plot(axes)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small")
    atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=_DPI))
