"""A sweep's figures: the normalised score against each hyperparameter searched (``score_vs_<name>.png``).

Read from a sweep directory (``results.csv`` and ``sweep.json``, see :mod:`~recsim_lab.evaluation.sweep`). Each
figure has one dot per trial at its value of the hyperparameter, and the mean over every trial with that value
(the other hyperparameters, seeds and worlds pooled) as a line with a bar of plus or minus one sample standard
deviation. Numbers lie on a numeric axis (logarithmic for a ``loguniform`` range, or positive values spanning
two decades or more); other values (text, lists) are categories in the order of ``results.csv``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsim_lab.evaluation.sweep import CONFIG_FILE, RESULTS_FILE
from recsim_lab.extras import require
from recsim_lab.report.figures import plain, save_figure

_FEATURE = "the sweep's plots"


def plot_sweep(directory: str | Path) -> list[Path]:
    """Write ``score_vs_<hyperparameter>.png`` into ``directory`` for each hyperparameter of its sweep.

    Returns:
        The figures written, in the configuration's order of hyperparameters.

    Raises:
        MissingExtraError: matplotlib (the ``[report]`` extra) is not installed.
        FileNotFoundError: no ``results.csv`` or ``sweep.json`` in ``directory``.
    """
    require(_FEATURE, "matplotlib")
    directory = Path(directory)
    config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    trials = pd.read_csv(directory / RESULTS_FILE, dtype=str, keep_default_na=False)
    scores = trials["normalised_score"].astype(float).to_numpy()
    worlds = sorted(set(trials["world"]), key=list(trials["world"]).index)
    subtitle = (f"{config['agent']}, {len(trials)} trials ({len(set(trials['seed']))} seeds x {len(worlds)} "
                f"world(s): {', '.join(Path(w).name for w in worlds)}), {config['episodes']} episode(s) each")
    written = []
    for name, values in config["parameters"].items():
        path = directory / f"score_vs_{name}.png"
        log = isinstance(values, dict) and values["kind"] == "loguniform"
        save_figure(path, f"normalised score vs {name}\n{subtitle}",
                    functools.partial(_plot, name=name, texts=list(trials[name]), scores=scores, log=log), _FEATURE)
        written.append(path)
    return written


def _plot(axes: Any, *, name: str, texts: list[str], scores: np.ndarray, log: bool) -> None:
    values = [json.loads(text) if _is_json(text) else text for text in texts]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    distinct = list(dict.fromkeys(texts))
    if numeric:
        x = np.array(values, dtype=float)
        order = sorted(distinct, key=lambda text: float(json.loads(text)))
        positions = np.array([float(json.loads(text)) for text in order])
        if log or (positions.min() > 0 and positions.max() >= 100 * positions.min()):
            axes.set_xscale("log")
    else:
        order = distinct
        positions = np.arange(len(order), dtype=float)
        x = np.array([order.index(text) for text in texts], dtype=float)
        axes.set_xticks(positions, [plain(text) for text in order], rotation=15 if len(order) > 4 else 0)
    groups = [scores[np.array(texts) == text] for text in order]
    means = np.array([group.mean() for group in groups])
    spreads = np.array([group.std(ddof=1) if group.size > 1 else 0.0 for group in groups])
    axes.scatter(x, scores, s=14, alpha=0.45, color="tab:gray", label="one trial (setting, world, seed)", zorder=2)
    axes.errorbar(positions, means, yerr=spreads, marker="o", capsize=4, color="tab:blue", zorder=3,
                  label="mean over the trials with this value, +- 1 std")
    axes.set_xlabel(plain(name))
    axes.set_ylabel("normalised score (random 0, oracle 1)")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
