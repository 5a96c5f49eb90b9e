"""The runner: checkpoint restore before every episode, seeds, and the outputs."""

from __future__ import annotations

import csv
import filecmp
import json
from pathlib import Path

import numpy as np
import pytest

from agents.popularity import PopularityAgent
from recsim_lab.run.runner import RunConfig, run, run_episodes
from recsim_lab.seeding import derive_seeds


class Recorder(PopularityAgent):
    """Popularity agent that, at the first recommend after each load, saves its state for comparison."""

    def __init__(self, scratch: Path) -> None:
        super().__init__()
        self.scratch = scratch
        self.snapshots: list[Path] = []
        self.fresh = False

    def load(self, path):
        super().load(path)
        self.fresh = True

    def recommend(self, users, k):
        if self.fresh:
            snapshot = self.scratch / f"episode-{len(self.snapshots)}"
            snapshot.mkdir()
            self.save(snapshot)
            self.snapshots.append(snapshot)
            self.fresh = False
        return super().recommend(users, k)


def test_every_episode_starts_from_a_byte_identical_checkpoint(tmp_path, tiny_world):
    agent = Recorder(tmp_path)
    results = run_episodes(tiny_world, agent, episodes=3, seed=1, checkpoint=tmp_path / "checkpoint",
                           progress=False)
    assert len(agent.snapshots) == 3
    names = sorted(p.name for p in (tmp_path / "checkpoint").iterdir())
    for snapshot in agent.snapshots:
        assert sorted(p.name for p in snapshot.iterdir()) == names
        for name in names:
            assert filecmp.cmp(tmp_path / "checkpoint" / name, snapshot / name, shallow=False)
    # the agent learned during the episodes, so the restore is what made the starts identical
    assert sum(int(r.clicks.sum()) for r in results) > 0
    assert not np.array_equal(agent.counts, tiny_world.dataset.click_counts())


def test_seeds_are_derived_and_distinct():
    agent_seed, episode_seeds = derive_seeds(0, 5)
    assert len(set(episode_seeds + [agent_seed])) == 6
    assert derive_seeds(0, 5) == (agent_seed, episode_seeds)
    assert derive_seeds(0, 3)[1] == episode_seeds[:3]  # more episodes extend, never reshuffle


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_run_writes_scores_episodes_summary_and_config(tmp_path, tiny_world_dir):
    outcome = run(RunConfig(env=str(tiny_world_dir), agent="popularity", episodes=2, seed=3, out=str(tmp_path),
                            progress=False))
    directory = outcome.directory
    assert directory.parent == tmp_path and directory.name.startswith(f"{tiny_world_dir.name}__popularity__3__")
    scores = read_csv(directory / "scores.csv")
    episodes = read_csv(directory / "episodes.csv")
    assert (directory / "scores.csv").read_text().splitlines()[0] == "user_id,avg_score"
    assert [int(r["user_id"]) for r in scores] == list(range(40))
    assert len(episodes) == 80 and set(episodes[0]) == {"episode", "user_id", "score", "clicks", "steps"}
    for row in scores:  # avg_score = mean over episodes of steps / horizon
        steps = [int(e["steps"]) for e in episodes if e["user_id"] == row["user_id"]]
        assert float(row["avg_score"]) == pytest.approx(np.mean(steps) / 2000)
    summary = json.loads((directory / "summary.json").read_text())
    assert summary["steps"] == sum(int(e["steps"]) for e in episodes)
    assert summary["mean_score"] == pytest.approx(np.mean([float(r["avg_score"]) for r in scores]))
    assert summary["seeds"]["run"] == 3 and len(summary["seeds"]["episodes"]) == 2
    config = json.loads((directory / "config.json").read_text())
    assert config["agent"] == "popularity" and config["world"]["n_items"] == 120


@pytest.mark.parametrize("batch_size", [None, 1])
def test_same_seed_gives_byte_identical_scores(tmp_path, tiny_world_dir, batch_size):
    config = dict(env=str(tiny_world_dir), agent="random", episodes=2, seed=7, batch_size=batch_size,
                  progress=False)
    first = run(RunConfig(out=str(tmp_path / "a"), **config)).directory
    second = run(RunConfig(out=str(tmp_path / "b"), **config)).directory
    assert (first / "scores.csv").read_bytes() == (second / "scores.csv").read_bytes()
    third = run(RunConfig(out=str(tmp_path / "c"), **{**config, "seed": 8})).directory
    assert (first / "scores.csv").read_bytes() != (third / "scores.csv").read_bytes()


def test_train_split_plays_only_the_training_users(tmp_path, tiny_world_dir):
    directory = run(RunConfig(env=str(tiny_world_dir), agent="random", episodes=1, split="train",
                              out=str(tmp_path), progress=False)).directory
    assert [int(r["user_id"]) for r in read_csv(directory / "scores.csv")] == list(range(20))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("episodes", 0, r"episodes must be an integer in \[1, inf\), got 0 \(int\)"),
    ("seed", -1, r"seed must be an integer in \[0, inf\), got -1 \(int\)"),
    ("split", "val", "split must be one of 'train', 'test', got 'val'"),
    ("batch_size", 0, r"batch_size must be an integer in \[1, inf\) or None, got 0"),
])
def test_invalid_run_config(field, value, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**{field: value})
