"""Evaluating submissions in a separate process: good agents score as with `run`; failing ones get a record."""

from __future__ import annotations

import json
import re
import time

import pytest

from recsim_lab.cli.commands import _memory_size, main
from recsim_lab.evaluation import evaluate as evaluate_module
from recsim_lab.evaluation.evaluate import EvaluateConfig, evaluate
from recsim_lab.run.runner import RunConfig, run

SUBMISSIONS = '''
import os
import time

import numpy as np

from agents.popularity import PopularityAgent


class Counting(PopularityAgent):
    """Popularity that knows its episode (loads so far) and step (recommends since the last load)."""

    def fit(self, data, *, seed):
        super().fit(data, seed=seed)
        self.episode, self.step = -1, 0

    def load(self, path):
        super().load(path)
        self.episode, self.step = getattr(self, "episode", -1) + 1, 0

    def recommend(self, users, k):
        slates = self.slates(super().recommend(users, k), users)
        self.step += 1
        return slates

    def slates(self, slates, users):
        return slates


class Good(Counting):
    pass


class Raises(Counting):
    def slates(self, slates, users):
        if self.episode == 1 and self.step == 2:
            raise RuntimeError("boom")
        return slates


class Sleeps(Counting):
    def fit(self, data, *, seed):
        time.sleep(60)


class Hogs(Counting):
    def update(self, users, slates, clicks):
        self.hoard = np.ones(1 << 29)  # 4 GiB: fine without a limit, not under 1 GiB


class Exits(Counting):
    def fit(self, data, *, seed):
        os._exit(3)


class Duplicates(Counting):
    def slates(self, slates, users):
        slates[:, 1] = slates[:, 0]
        return slates


class OutOfRange(Counting):
    def slates(self, slates, users):
        slates[-1, -1] = 10_000
        return slates


class WrongShape(Counting):
    def slates(self, slates, users):
        return slates[:, :4]


class Floats(Counting):
    def slates(self, slates, users):
        return slates.astype(float)


class Ragged(Counting):
    def slates(self, slates, users):
        return [row[: 4 + i % 2].tolist() for i, row in enumerate(slates)]


class HistoryFirst(Counting):
    """Recommends items each user already clicked (allowed: they just cannot be clicked again)."""

    def slates(self, slates, users):
        clicked = self.seen.dense(users)
        first = clicked.argmax(axis=1)
        keep = clicked.any(axis=1) & (slates != first[:, None]).all(axis=1)
        slates[keep, 0] = first[keep]
        return slates
'''


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    path = tmp_path_factory.mktemp("submissions") / "submissions.py"
    path.write_text(SUBMISSIONS)
    return path


def evaluate_class(submissions, world_dir, out, name, **options):
    config = EvaluateConfig(agent=f"{submissions}:{name}", env=str(world_dir), episodes=2, seed=3, out=str(out),
                            progress=False, **options)
    return evaluate(config)


def test_a_good_submission_gets_exactly_the_outputs_of_run(submissions, tiny_world_dir, tmp_path):
    outcome = evaluate_class(submissions, tiny_world_dir, tmp_path / "evaluated", "Good")
    assert outcome.ok and outcome.summary["status"] == "ok"
    plain = run(RunConfig(env=str(tiny_world_dir), agent="popularity", episodes=2, seed=3,
                          out=str(tmp_path / "plain"), progress=False)).directory
    for name in ("scores.csv", "episodes.csv", "trace.csv"):
        assert (outcome.directory / name).read_bytes() == (plain / name).read_bytes()
    assert not (outcome.directory / "checkpoint").exists()  # the agent saved inside its sandbox
    config = json.loads((outcome.directory / "config.json").read_text())
    assert config["split"] == "test" and config["evaluation"]["memory_limit_bytes"] == 8 << 30
    assert config["evaluation"]["isolated"] is True


def test_items_from_the_history_are_allowed(submissions, tiny_world_dir, tmp_path):
    assert evaluate_class(submissions, tiny_world_dir, tmp_path, "HistoryFirst").ok


@pytest.mark.parametrize(("name", "options", "status", "call", "episode", "step", "reason"), [
    ("Raises", {}, "error", "recommend", 1, 2, "RuntimeError: boom"),
    ("Sleeps", {"time_limit": 3.0}, "timeout", "fit", None, None, "time limit of 3 s"),
    ("Hogs", {"memory_limit": 1 << 30}, "memory", "update", 0, 0, "float64 (memory limit 1 GiB)"),
    ("Exits", {}, "crashed", "fit", None, None, "exit code 3"),
    ("Duplicates", {}, "invalid_slate", "recommend", 0, 0, "repeats item"),
    ("OutOfRange", {}, "invalid_slate", "recommend", 0, 0, "slate item id 10000 is out of range 0..119"),
    ("WrongShape", {}, "invalid_slate", "recommend", 0, 0, "slates must have shape (40, 5)"),
    ("Floats", {}, "invalid_slate", "recommend", 0, 0, "must hold integer item ids, got dtype float64"),
    ("Ragged", {}, "invalid_slate", "recommend", 0, 0, "not an array of item ids"),
    ("Missing", {}, "error", "start", None, None, "unknown class"),
])
def test_a_failing_submission_gets_a_failure_record_and_no_scores(submissions, tiny_world_dir, tmp_path, name,
                                                                   options, status, call, episode, step, reason):
    start = time.monotonic()
    outcome = evaluate_class(submissions, tiny_world_dir, tmp_path, name, **options)
    assert time.monotonic() - start < 15
    summary = json.loads((outcome.directory / "summary.json").read_text())
    assert not outcome.ok and summary == outcome.summary
    assert (summary["status"], summary["call"], summary["episode"], summary["step"]) == (status, call, episode, step)
    assert reason in summary["reason"]
    assert {p.name for p in outcome.directory.iterdir()} == {"config.json", "summary.json"}


def test_a_privileged_agent_is_not_given_the_hidden_world(tiny_world_dir, tmp_path):
    outcome = evaluate(EvaluateConfig(agent="oracle", env=str(tiny_world_dir), episodes=1, out=str(tmp_path),
                                      progress=False))
    assert outcome.summary["status"] == "error" and "privileged" in outcome.summary["reason"]


def test_exit_codes_and_messages(submissions, tiny_world_dir, tmp_path, capsys):
    common = ["--env", str(tiny_world_dir), "--episodes", "1", "--out", str(tmp_path), "--no-progress"]
    assert main(["evaluate", f"{submissions}:Good", *common]) == 0
    assert ": ok, mean score" in capsys.readouterr().out
    assert main(["evaluate", f"{submissions}:Duplicates", *common]) == 1
    assert "FAILED (invalid_slate) in recommend, episode 0, step 0: a slate must hold" in capsys.readouterr().err


@pytest.mark.parametrize(("field", "value", "message"), [
    ("time_limit", 0, "time_limit must be a float in (0, inf), got 0 (int)"),
    ("memory_limit", 0, "memory_limit must be an integer in [1, inf) or None, got 0 (int)"),
    ("episodes", 0, "episodes must be an integer in [1, inf), got 0 (int)"),
])
def test_invalid_evaluate_config(field, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        EvaluateConfig(agent="popularity", **{field: value})


@pytest.mark.parametrize(("text", "size"), [("512M", 512 << 20), ("8G", 8 << 30), ("1.5GiB", 3 << 29),
                                            ("4096", 4096), ("none", None)])
def test_memory_sizes(text, size):
    assert _memory_size(text) == size


def test_a_bad_memory_size_is_rejected(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "x.py:A", "--memory-limit", "8X"])
    assert "expected a size such as 512M, 8G or 'none', got '8X'" in capsys.readouterr().err


def test_the_organisers_key_and_world_seeds_are_hidden_from_the_sandbox(tiny_world_dir, tmp_path, organiser_key,
                                                                        monkeypatch):
    seen = {}
    real = evaluate_module.SandboxedAgent

    def spy(*args, **kwargs):
        seen["hide"] = kwargs["hide"]
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "SandboxedAgent", spy)
    assert evaluate(EvaluateConfig(agent="popularity", env=str(tiny_world_dir), episodes=1, out=str(tmp_path),
                                   progress=False)).ok
    assert organiser_key.resolve() in seen["hide"] and organiser_key.parent.resolve() in seen["hide"]
    assert (organiser_key.parent / "world-seeds").resolve() in seen["hide"]


def test_a_submission_whose_folder_holds_the_key_is_refused(tiny_world_dir, tmp_path):
    folder = tmp_path / "team"
    (folder / "keys").mkdir(parents=True)
    (folder / "agent.py").write_text("from agents.popularity import PopularityAgent as Agent\n")
    key = folder / "keys" / "receipt.key"
    with pytest.raises(ValueError, match="holds the organiser's key") as raised:
        evaluate(EvaluateConfig(agent=f"{folder / 'agent.py'}:Agent", env=str(tiny_world_dir), episodes=1,
                                out=str(tmp_path / "runs"), progress=False, key=str(key)))
    assert "\n" not in str(raised.value) and not (tmp_path / "runs").exists() and not key.exists()
