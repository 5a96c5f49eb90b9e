"""The per-step trace and the report: files exist, PNGs are valid images of the expected size."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from recsim_lab.cli.commands import main
from recsim_lab.report.report import FIGURE_PX, _plot_episode_scores, _worlds_and_seeds, load_runs, make_report
from recsim_lab.run.runner import RunConfig, run
from recsim_lab.run.trace import TRACE_COLUMNS, StepTrace

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_trace_keeps_at_most_max_points_and_loses_no_step():
    rng = np.random.default_rng(0)
    served = rng.integers(1, 50, size=1001)
    clicks = rng.integers(0, 2, size=1001) * served // 2
    trace = StepTrace(max_points=10)
    for step in range(1001):
        trace.add(int(served[step]), int(clicks[step]), 1000 - step)
    points = trace.to_array()
    assert points.shape[1] == len(TRACE_COLUMNS) and 5 <= len(points) <= 10
    step, steps = points[:, 0], points[:, 1]
    assert step[0] == 0 and (step[1:] == step[:-1] + steps[:-1]).all() and steps.sum() == 1001
    assert (steps[:-1] == trace.width).all() and steps[-1] <= trace.width  # equal widths but the last
    assert points[:, 2].sum() == served.sum() and points[:, 3].sum() == clicks.sum()
    assert points[-1, 4] == 0 and points[0, 4] == 1000 - (steps[0] - 1)  # active after each point's last step


def test_a_short_episode_keeps_one_point_per_step():
    trace = StepTrace()
    for step in range(3):
        trace.add(5, step, 5 - step)
    assert trace.to_array().tolist() == [[0, 1, 5, 0, 5], [1, 1, 5, 1, 4], [2, 1, 5, 2, 3]]


@pytest.mark.parametrize("max_points", [1, 2.5, True])
def test_invalid_max_points(max_points):
    with pytest.raises(ValueError, match=r"max_points must be an integer in \[2, inf\), got "):
        StepTrace(max_points)


@pytest.fixture(scope="module")
def two_runs(tiny_world_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return [run(RunConfig(env=str(tiny_world_dir), agent=agent, episodes=3, seed=1, out=str(out), progress=False,
                          batch_size=batch_size)).directory
            for agent, batch_size in (("popularity", None), ("random", 4))]


def test_the_runner_records_a_trace_that_adds_up(two_runs):
    for directory in two_runs:
        with (directory / "trace.csv").open() as handle:
            trace = list(csv.DictReader(handle))
        with (directory / "episodes.csv").open() as handle:
            episodes = list(csv.DictReader(handle))
        assert list(trace[0]) == ["episode", *TRACE_COLUMNS]
        for episode in range(3):
            points = [r for r in trace if int(r["episode"]) == episode]
            users = [r for r in episodes if int(r["episode"]) == episode]
            assert sum(int(p["served"]) for p in points) == sum(int(u["steps"]) for u in users)
            assert sum(int(p["clicks"]) for p in points) == sum(int(u["clicks"]) for u in users)
            assert int(points[0]["active"]) <= 40 and int(points[-1]["active"]) == 0


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.size == FIGURE_PX and image.format == "PNG"
        assert np.unique(np.asarray(image.convert("L"))).size > 10  # something is drawn, not a blank canvas


def test_report_of_two_runs(two_runs, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", *map(str, two_runs), "--out", str(out)]) == 0
    names = {"report.html", "episode_scores.png", "score_distribution.png", "click_rate.png", "active_users.png",
             "comparison.png"}
    assert {p.name for p in out.iterdir()} == names
    assert str(out / "report.html") in capsys.readouterr().out
    for name in names - {"report.html"}:
        assert_png(out / name)
    page = (out / "report.html").read_text()
    for name in names - {"report.html"}:
        assert f'<img src="{name}" width="800" height="480"' in page
    assert "<td>popularity</td>" in page and "<td>random</td>" in page and two_runs[0].name in page


def test_report_of_one_run_has_no_comparison(two_runs, tmp_path):
    written = make_report(two_runs[:1], tmp_path)
    assert [p.name for p in written] == ["report.html", "episode_scores.png", "score_distribution.png",
                                         "click_rate.png", "active_users.png"]


def test_a_failed_evaluation_is_in_the_table_and_in_no_figure(two_runs, tmp_path):
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "config.json").write_text(json.dumps({"episodes": 2, "seed": 0}))
    (failed / "summary.json").write_text(json.dumps({
        "status": "timeout", "reason": "the evaluation ran past its time limit of 3 s", "call": "fit",
        "episode": None, "step": None, "env": "tiny", "agent": "sub.py:Slow"}))
    written = make_report([two_runs[0], failed], tmp_path / "report")
    assert "comparison.png" not in {p.name for p in written}  # one run played
    page = written[0].read_text()
    assert "timeout: the evaluation ran past its time limit of 3 s (in fit)" in page


def test_an_unfinished_run_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="no summary.json .*--resume"):
        make_report([tmp_path], tmp_path / "report")


def test_episode_scores_start_at_zero_show_episodes_as_dots_and_name_world_and_seed(two_runs):
    from matplotlib.figure import Figure  # matplotlib: the optional [report] extra

    runs = load_runs(two_runs)
    axes = Figure().subplots()
    _plot_episode_scores(axes, runs)
    assert axes.get_ylim()[0] == 0.0
    highest = max(max(run.summary["episode_mean_scores"]) for run in runs)
    assert axes.get_ylim()[1] > highest  # no dot on the frame
    dots = [collection.get_offsets() for collection in axes.collections if collection.get_offsets().shape[0] == 3]
    assert [np.asarray(d)[:, 1].tolist() for d in dots] == [run.summary["episode_mean_scores"] for run in runs]
    for line in axes.get_lines():  # only the horizontal mean lines: no line joins the episodes
        assert len(set(line.get_ydata())) == 1
    means = sorted(line.get_ydata()[0] for line in axes.get_lines())
    assert means == pytest.approx(sorted(np.mean(run.summary["episode_mean_scores"]) for run in runs))
    assert _worlds_and_seeds(runs) == "world tiny; seed 1"


def test_a_label_with_dollar_signs_is_drawn_as_text_not_mathtext(two_runs, tmp_path):
    weird = tmp_path / "weird"
    shutil.copytree(two_runs[0], weird)
    summary = json.loads((weird / "summary.json").read_text())
    summary["agent"] = r"my $\undefinedsymbol$ agent"  # invalid mathtext: matplotlib would raise
    (weird / "summary.json").write_text(json.dumps(summary))
    written = make_report([weird, two_runs[1]], tmp_path / "report")
    for path in written[1:]:
        assert_png(path)
    assert r"my $\undefinedsymbol$ agent" in written[0].read_text()
