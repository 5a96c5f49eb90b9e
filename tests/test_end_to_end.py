"""End to end through the ``recsim-lab`` command in a fresh process, as a user runs it (``make test-slow``).

Each test starts the CLI with this checkout first on ``PYTHONPATH`` and a temporary working directory, and
checks what lands on disk and the exit code. Each takes seconds, not minutes.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def shared_file(relative: str) -> Path:
    """``../shared/<relative>`` beside the checkout; in a git worktree, beside its main checkout."""
    checkouts = [REPO]
    dot_git = REPO / ".git"
    if dot_git.is_file() and dot_git.read_text().startswith("gitdir:"):  # <main>/.git/worktrees/<name>
        checkouts.append(Path(dot_git.read_text().split(":", 1)[1].strip()).parents[2])
    candidates = [checkout.parent / "shared" / relative for checkout in checkouts]
    return next((path for path in candidates if path.is_file()), candidates[0])


NEWS_CATEGORY_SAMPLE = shared_file("data/news_category_sample.jsonl")


def recsim_lab(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``recsim-lab ARGS`` in ``cwd`` in a fresh interpreter that imports this checkout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", "from recsim_lab.cli import main; raise SystemExit(main())", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def only_child(folder: Path) -> Path:
    (child,) = folder.iterdir()
    return child


def scores(run_dir: Path) -> dict[str, float]:
    with open(run_dir / "scores.csv", newline="") as handle:
        return {row["user_id"]: float(row["avg_score"]) for row in csv.DictReader(handle)}


def test_run_on_the_small_world_then_report_on_that_run(tmp_path):
    done = recsim_lab(tmp_path, "run", "--env", "small", "--agent", "popularity", "--episodes", "2", "--seed", "3",
                      "--out", "runs", "--no-progress")
    assert done.returncode == 0, done.stderr
    run_dir = only_child(tmp_path / "runs")
    assert f"outputs: {Path('runs') / run_dir.name}" in done.stdout
    assert run_dir.name.startswith("small__popularity__3__")
    for name in ("scores.csv", "episodes.csv", "trace.csv", "summary.json", "config.json", "checkpoint.json"):
        assert (run_dir / name).is_file(), name
    assert sorted(p.name for p in (run_dir / "episodes").iterdir()) == ["episode-000.npz", "episode-001.npz"]
    summary = json.loads((run_dir / "summary.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    user_scores = scores(run_dir)
    assert len(user_scores) == summary["users"] == config["world"]["n_users"]
    assert all(0 < s <= 1 for s in user_scores.values())  # every user stays at least one of 2000 steps
    assert summary["mean_score"] == pytest.approx(sum(user_scores.values()) / len(user_scores), rel=1e-5)

    done = recsim_lab(tmp_path, "report", str(run_dir), "--out", "report")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "report" / "report.html").read_text()
    assert run_dir.name in html
    for line in done.stdout.split():
        path = tmp_path / line
        assert path.is_file() and path.stat().st_size > 0, line
        assert path.suffix != ".png" or path.name in html  # every figure written is shown in the page
    assert (tmp_path / "report" / "report.html") in [tmp_path / line for line in done.stdout.split()]


FAILING_SUBMISSION = '''
from agents.popularity import PopularityAgent


class FailsToLearn(PopularityAgent):
    """Recommends like popularity, then raises on the first update."""

    def update(self, users, slates, clicks):
        raise RuntimeError("update is not implemented yet")
'''


def test_evaluate_a_submission_that_raises_in_update(tmp_path):
    (tmp_path / "submission.py").write_text(FAILING_SUBMISSION)
    done = recsim_lab(tmp_path, "evaluate", "submission.py:FailsToLearn", "--env", "small", "--episodes", "2",
                      "--out", "runs", "--no-progress", "--time-limit", "60")
    assert done.returncode == 1, done.stderr
    assert "FAILED (error) in update" in done.stderr and "update is not implemented yet" in done.stderr
    run_dir = only_child(tmp_path / "runs")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "error" and summary["call"] == "update"
    assert summary["episode"] == 0 and summary["step"] == 0
    assert "update is not implemented yet" in summary["reason"]
    assert not (run_dir / "scores.csv").exists() and not (run_dir / "episodes.csv").exists()


@pytest.mark.skipif(not NEWS_CATEGORY_SAMPLE.is_file(),
                    reason=f"the shared News Category sample is not at {NEWS_CATEGORY_SAMPLE} (a fresh clone has no "
                           f"../shared)")
def test_import_the_news_category_sample_then_run_popularity_on_it(tmp_path):
    done = recsim_lab(tmp_path, "data", "import", "news-category", str(NEWS_CATEGORY_SAMPLE), "--out", "news",
                      "--users", "300", "--seed", "1")
    assert done.returncode == 0, done.stderr
    world = json.loads((tmp_path / "news" / "world.json").read_text())
    assert (tmp_path / "news" / "world.npz").is_file()

    done = recsim_lab(tmp_path, "run", "--env", "news", "--agent", "popularity", "--episodes", "1",
                      "--out", "runs", "--no-progress")
    assert done.returncode == 0, done.stderr
    run_dir = only_child(tmp_path / "runs")
    config = json.loads((run_dir / "config.json").read_text())
    n_users = world["split"]["users"]  # 300 generated, less those below --min-history
    assert 250 <= n_users <= 300 and world["split"]["users_dropped"] == 300 - n_users
    assert config["world"]["n_users"] == n_users and config["world"]["n_items"] == world["split"]["items"]
    assert config["world"]["rules"] == world["rules"]
    user_scores = scores(run_dir)
    assert len(user_scores) == n_users and all(0 < s <= 1 for s in user_scores.values())
