"""``make_report``: ``report.html`` and PNG figures (matplotlib, Agg) for one or more run directories.

Figures, each :data:`~recsim_lab.report.figures.FIGURE_PX` pixels, titled with the world(s) and seed(s) of the
runs they show:

- ``episode_scores.png``: mean score of each episode as a dot per run (episodes are independent, so the dots
  are not joined), the run's mean over episodes as a line across them over a band from the lowest to the
  highest episode; the score axis starts at 0, so the spread between episodes shows at its true size;
- ``score_distribution.png``: histogram of the per-user scores (``scores.csv``), one outline per run;
- ``click_rate.png`` and ``active_users.png``: click rate (clicks per user served; not drawn where too few
  users are served to tell) and users still active over the env steps of an episode, averaged over the
  run's episodes (from ``trace.csv``);
- ``comparison.png`` (two runs or more): mean score per run, bars, with the per-episode spread (the range
  as an error bar, each episode as a dot).

A failed evaluation (``summary.json`` status other than ``ok``) appears in the summary table with its
failure record, and in no figure. Run labels are drawn as plain text: a ``$`` in a label is a dollar sign,
not the start of matplotlib mathtext.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsim_lab.atomic import atomic_write_text
from recsim_lab.extras import require
from recsim_lab.report.figures import FIGURE_PX, plain, save_figure

_DYNAMICS_BINS = 200  # points per curve in the over-the-episode figures
_MIN_SERVED = 30  # user-steps a bin needs for its click rate to be drawn (fewer: mostly noise)


@dataclass
class RunData:
    """What the report reads from one run directory."""

    directory: Path
    label: str
    summary: dict[str, Any]
    config: dict[str, Any]
    scores: pd.DataFrame | None
    """``scores.csv`` (``None`` for a failed evaluation)."""
    trace: pd.DataFrame | None
    """``trace.csv`` (``None`` when the run has none)."""

    @property
    def ok(self) -> bool:
        return self.summary.get("status", "ok") == "ok"


def make_report(run_dirs: Sequence[str | Path], out: str | Path) -> list[Path]:
    """Write ``out/report.html`` and its PNG figures for the runs in ``run_dirs``.

    Returns:
        The files written, ``report.html`` first.

    Raises:
        ValueError: no run directory, or one that holds no finished run.
        MissingExtraError: matplotlib (the ``[report]`` extra) is not installed.
    """
    if not run_dirs:
        raise ValueError("give at least one run directory")
    require("recsim-lab report", "matplotlib")
    runs = load_runs(run_dirs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    played = [run for run in runs if run.ok]
    traced = [run for run in played if run.trace is not None]
    figures: list[tuple[str, str, Callable[[Any, list[RunData]], None], list[RunData]]] = []
    if played:
        figures += [("episode_scores.png", "Mean score per episode", _plot_episode_scores, played),
                    ("score_distribution.png", "Distribution of per-user scores", _plot_score_distribution, played)]
    if traced:
        figures += [("click_rate.png", "Click rate over an episode", _plot_click_rate, traced),
                    ("active_users.png", "Active users over an episode", _plot_active_users, traced)]
    if len(played) >= 2:
        figures.append(("comparison.png", "Mean score per run", _plot_comparison, played))
    for name, title, plot, subset in figures:
        save_figure(out / name, f"{title}\n{_worlds_and_seeds(subset)}", functools.partial(plot, runs=subset))
    notes = [f"{run.label}: no trace.csv (runs written before the step trace existed), so it is not in the "
             f"figures over an episode" for run in played if run.trace is None]
    atomic_write_text(out / "report.html", _html(runs, [(name, title) for name, title, *_ in figures], notes))
    return [out / "report.html", *(out / name for name, *_ in figures)]


def load_runs(run_dirs: Sequence[str | Path]) -> list[RunData]:
    """Read each run directory (the same directory twice counts once) and give each run a unique label."""
    runs = [_read_run(d) for d in dict.fromkeys(Path(d).resolve() for d in run_dirs)]
    for run, label in zip(runs, _labels(runs)):
        run.label = label
    return runs


def _read_run(directory: Path) -> RunData:
    if not (directory / "summary.json").is_file():
        hint = " (an interrupted run: finish it with `recsim-lab run --resume`)" \
            if (directory / "config.json").is_file() else ""
        raise ValueError(f"{directory} holds no finished run: it has no summary.json{hint}")
    summary = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    run = RunData(directory, "", summary, config, None, None)
    if run.ok:
        run.scores = pd.read_csv(directory / "scores.csv")
        run.trace = pd.read_csv(directory / "trace.csv") if (directory / "trace.csv").is_file() else None
    return run


def _labels(runs: list[RunData]) -> list[str]:
    """The agent's name; with env and seed where agents repeat; the directory name where that repeats too."""
    def agent(run: RunData) -> str:
        spec = str(run.summary.get("agent", "?"))
        return spec.rpartition(":")[2] if ":" in spec else spec

    for make in (agent, lambda run: f"{agent(run)} ({run.summary.get('env')}, seed {run.config.get('seed')})",
                 lambda run: run.directory.name):
        labels = [make(run) for run in runs]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{label} [{i + 1}]" for i, label in enumerate(labels)]


def _worlds_and_seeds(runs: list[RunData]) -> str:
    """``"world small; seed 0"``, or ``"worlds small, default; seeds 0, 3"`` where the runs differ."""
    def listed(noun: str, values: list[str]) -> str:
        distinct = list(dict.fromkeys(values))
        return f"{noun}{'s' if len(distinct) > 1 else ''} {', '.join(distinct)}"

    worlds = [str(run.config.get("world", {}).get("name") or run.summary.get("env", "?")) for run in runs]
    return f"{listed('world', worlds)}; {listed('seed', [str(run.config.get('seed', '?')) for run in runs])}"


def _plot_episode_scores(axes: Any, runs: list[RunData]) -> None:
    highest = 0.0
    for run in runs:
        means = np.asarray(run.summary["episode_mean_scores"], dtype=float)
        mean, low, high = float(means.mean()), float(means.min()), float(means.max())
        dots = axes.scatter(np.arange(means.size), means, s=30, zorder=3,
                            label=plain(f"{run.label}: mean {mean:.5f}, episodes {low:.5f} to {high:.5f}"))
        colour = dots.get_facecolor()[0]
        span = [-0.3, means.size - 0.7]
        axes.plot(span, [mean, mean], color=colour, linewidth=1.5)
        axes.fill_between(span, low, high, color=colour, alpha=0.2, linewidth=0)
        highest = max(highest, high)
    axes.set_xlabel("episode (0-based; each an independent session of the population)")
    axes.set_ylabel("mean score over users (session length / horizon)\n"
                    "dots: episodes; line: their mean; band: their range")
    axes.set_ylim(0.0, 1.15 * highest if highest > 0 else 1.0)  # from 0; headroom above the highest dot
    axes.xaxis.get_major_locator().set_params(integer=True)


def _plot_score_distribution(axes: Any, runs: list[RunData]) -> None:
    everything = np.concatenate([run.scores["avg_score"].to_numpy() for run in runs])
    bins = np.linspace(0.0, max(float(everything.max()), 1e-9), 41)
    for run in runs:
        axes.hist(run.scores["avg_score"], bins=bins, histtype="step", linewidth=1.5, label=plain(run.label))
    axes.set_xlabel("user's score, averaged over episodes (session length / horizon)")
    axes.set_ylabel("users")


def _plot_click_rate(axes: Any, runs: list[RunData]) -> None:
    for run in runs:
        centres, served, clicks, _ = _binned_trace(run.trace)
        with np.errstate(invalid="ignore", divide="ignore"):
            axes.plot(centres, np.where(served >= _MIN_SERVED, clicks / served, np.nan), label=plain(run.label))
    axes.set_xlabel(_step_label(runs))
    axes.set_ylabel(f"clicks per user served\n(where at least {_MIN_SERVED} were served)")
    axes.set_ylim(0.0, 1.0)


def _plot_active_users(axes: Any, runs: list[RunData]) -> None:
    for run in runs:
        centres, _, _, active = _binned_trace(run.trace)
        axes.plot(centres, active, label=plain(run.label))
    axes.set_xlabel(_step_label(runs))
    axes.set_ylabel("users still active (mean over episodes)")
    axes.set_ylim(bottom=0)


def _plot_comparison(axes: Any, runs: list[RunData]) -> None:
    positions = np.arange(len(runs))
    for position, run in zip(positions, runs):
        episodes = np.asarray(run.summary["episode_mean_scores"])
        mean = float(episodes.mean())
        axes.bar(position, mean, width=0.6, alpha=0.8)
        axes.errorbar(position, mean, yerr=[[mean - episodes.min()], [episodes.max() - mean]], color="black",
                      capsize=6)
        axes.scatter(np.full(episodes.size, position), episodes, color="black", s=12, zorder=3)
    axes.set_xticks(positions, [plain(run.label) for run in runs], rotation=15 if len(runs) > 3 else 0)
    axes.set_ylabel("mean score; bar: mean, line: range, dots: episodes")


def _step_label(runs: list[RunData]) -> str:
    batched = {run.config.get("batch_size") for run in runs}
    if batched == {None}:
        return "env step (each step serves every active user once)"
    if batched == {1}:
        return "env step (one user per step)"
    return "env step"


def _binned_trace(trace: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A run's trace on a common grid of env steps: bin centres, then per bin the user-steps served and the
    clicks summed over episodes, and the mean over episodes of the active users (0 once an episode ended)."""
    starts, widths = trace["step"].to_numpy(), trace["steps"].to_numpy()
    ends = starts + widths
    n_bins = int(min(_DYNAMICS_BINS, ends.max()))
    edges = np.linspace(0.0, float(ends.max()), n_bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    which = np.clip(np.searchsorted(edges, starts + widths / 2, side="right") - 1, 0, n_bins - 1)
    served = np.bincount(which, weights=trace["served"].to_numpy(), minlength=n_bins)
    clicks = np.bincount(which, weights=trace["clicks"].to_numpy(), minlength=n_bins)
    active = np.zeros(n_bins)
    episodes = trace.groupby("episode", sort=True)
    for _, points in episodes:
        point_starts, point_ends = points["step"].to_numpy(), (points["step"] + points["steps"]).to_numpy()
        index = np.searchsorted(point_starts, centres, side="right") - 1
        inside = centres < point_ends[-1]
        active[inside] += points["active"].to_numpy()[index[inside]]
    return centres, served, clicks, active / episodes.ngroups


def _html(runs: list[RunData], figures: list[tuple[str, str]], notes: list[str]) -> str:
    e = html.escape
    head = ("run", "status", "env", "agent", "episodes", "seed", "mean score", "episode spread", "click rate",
            "users", "steps", "steps/s", "directory")
    rows = []
    for run in runs:
        s, c = run.summary, run.config
        if run.ok:
            episodes = s["episode_mean_scores"]
            cells = ["ok", s["env"], s["agent"], len(episodes), c.get("seed"), f"{s['mean_score']:.5f}",
                     f"{min(episodes):.5f} to {max(episodes):.5f}", f"{s['click_rate']:.3f}", s["users"],
                     f"{s['steps']:,}", f"{s['steps_per_s']:,.0f}"]
        else:
            where = ", ".join(f"{key} {s[key]}" for key in ("episode", "step") if s.get(key) is not None)
            cells = [f"{s['status']}: {s['reason']} (in {s['call']}{', ' + where if where else ''})", s.get("env"),
                     s.get("agent"), c.get("episodes"), c.get("seed"), "", "", "", "", "", ""]
        rows.append("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in [run.label, *cells, run.directory.name])
                    + "</tr>")
    sections = [f'<h2>{e(title)}</h2>\n<img src="{e(name)}" width="{FIGURE_PX[0]}" height="{FIGURE_PX[1]}" '
                f'alt="{e(title)}">' for name, title in figures]
    note_list = "".join(f"<li>{e(note)}</li>" for note in notes)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>recsim-lab report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }}
th {{ background: #f0f0f0; }}
</style>
</head>
<body>
<h1>recsim-lab report</h1>
<p>{len(runs)} run(s). A user's score is their session length divided by the horizon, averaged over episodes.</p>
<table>
<tr>{"".join(f"<th>{e(h)}</th>" for h in head)}</tr>
{chr(10).join(rows)}
</table>
{f"<ul>{note_list}</ul>" if notes else ""}
{chr(10).join(sections)}
</body>
</html>
"""
