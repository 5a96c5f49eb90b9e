"""The DataLab Cup object API (envs.datalab) and `export-datalab`, on tiny saved worlds."""

from __future__ import annotations

import csv
import importlib.util
import os
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from envs import datalab
from envs.datalab import TrainingEnvironment
from envs.datalab_export import MARKER, export_datalab
from recsim_lab.cli.commands import main
from recsim_lab.data.datalab import read_datalab
from recsim_lab.seeding import derive_seeds, episode_seed
from recsim_lab.worlds.synthetic import SyntheticConfig, build_synthetic_world

N_ITEMS = 60


def tiny_config(**changes) -> SyntheticConfig:
    values = dict(n_users=20, n_train_users=10, n_items=N_ITEMS, dim=6, attractive_items=5)
    return SyntheticConfig(**{**values, **changes})


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    return build_synthetic_world(tiny_config(), name="compat").save(tmp_path_factory.mktemp("compat_world"))


@pytest.fixture(autouse=True)
def tiny_env(world_dir, monkeypatch):
    monkeypatch.setenv("RECSIM_LAB_WORLD", str(world_dir))
    monkeypatch.delenv("RECSIM_LAB_SEED", raising=False)


def Testing(**kwargs):  # noqa: N802  (the class, under a name pytest does not collect)
    return datalab.TestingEnvironment(**kwargs)


def play(env, episodes: int, rng: random.Random) -> list[list[float]]:
    """A DataLab Cup notebook's loop with random slates; returns each episode's get_score()."""
    scores = []
    for _ in range(episodes):
        while env.has_next_state():
            env.get_response(rng.sample(range(N_ITEMS), 5))
        scores.append(env.get_score())
        env.reset()
    return scores


@pytest.mark.parametrize(("make", "n_users"), [(TrainingEnvironment, 10), (Testing, 20)])
def test_datalab_loop(make, n_users):
    env = make()
    horizon = env.world.rules.horizon
    assert env.n_users == n_users and env.has_next_state()
    rng = random.Random(0)
    all_scores = []
    for _ in range(5):
        left = 0
        while env.has_next_state():
            user = env.get_state()
            assert type(user) is int and 0 <= user < n_users
            slate = rng.sample(range(N_ITEMS), 5)
            clicked_id, in_environment = env.get_response(slate)
            assert type(clicked_id) is int and type(in_environment) is bool
            assert clicked_id == -1 or clicked_id in slate
            left += not in_environment
        assert left == n_users  # everyone leaves exactly once
        with pytest.raises(RuntimeError, match="no user is left"):
            env.get_state()
        with pytest.raises(RuntimeError, match="call reset"):
            env.get_response([0, 1, 2, 3, 4])
        scores = env.get_score()
        assert len(scores) == n_users and all(type(s) is float and 0.0 <= s <= 1.0 for s in scores)
        lengths = np.array(scores) * horizon
        assert np.allclose(lengths, np.round(lengths)) and (np.round(lengths) >= 1).all()
        all_scores.append(scores)
        env.reset()
    assert len({tuple(s) for s in all_scores}) > 1  # episodes have different seeds
    avg_scores = [np.average(s) for s in zip(*all_scores)]
    assert len(avg_scores) == n_users


def snapshot(env):
    return env.get_state(), env.get_score(), env.env.population.n_active


@pytest.mark.parametrize(("slate", "message"), [
    ([1, 2, 3, 4], "must be 5 item ids"),
    ((1, 2, 3, 4, 5, 6), "must be 5 item ids"),
    ([[0, 1, 2, 3, 4]], "shape"),
    ([1, 1, 2, 3, 4], "distinct"),
    ([0, 1, 2, 3, N_ITEMS], "out of range"),
    (np.array([-1, 0, 1, 2, 3]), "out of range"),
    ([0.0, 1, 2, 3, 4], "integer"),
    ([0, 1, 2, 3, "4"], "integer"),
    ([True, False, True, False, True], "integer"),
    ([0, 1, [2], 3, 4], "integer item ids"),
    (None, "must be 5 item ids"),
    ("abcde", "must be 5 item ids"),
])
def test_invalid_slates_raise_and_change_nothing(slate, message):
    env, twin = Testing(), Testing()
    for _ in range(3):  # into the episode a little
        for e in (env, twin):
            e.get_response([5, 6, 7, 8, 9])
    before = snapshot(env)
    with pytest.raises(ValueError, match=message):
        env.get_response(slate)
    assert snapshot(env) == before == snapshot(twin)
    for _ in range(5):  # the random stream did not move either
        assert env.get_response([0, 1, 2, 3, 4]) == twin.get_response([0, 1, 2, 3, 4])
        assert snapshot(env) == snapshot(twin)


class TensorLike:
    """Stands in for a tf/torch tensor: np.asarray reads it through __array__."""

    def __init__(self, values):
        self.values = values

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.values, dtype=dtype)


@pytest.mark.parametrize("form", [tuple, np.array, lambda s: np.array(s, dtype=np.int32), TensorLike,
                                  lambda s: [np.int64(i) for i in s]])
def test_slate_forms(form):
    env, twin = Testing(), Testing()
    rng = random.Random(3)
    for _ in range(30):
        slate = rng.sample(range(N_ITEMS), 5)
        assert env.get_response(form(slate)) == twin.get_response(slate)
        assert snapshot(env) == snapshot(twin)


def test_reproducible_and_seeded(monkeypatch):
    first, second = play(Testing(), 3, random.Random(1)), play(Testing(), 3, random.Random(1))
    assert first == second
    assert play(Testing(seed=0), 3, random.Random(1)) == first
    monkeypatch.setenv("RECSIM_LAB_SEED", "7")
    seven = play(Testing(), 3, random.Random(1))
    assert seven != first and seven == play(Testing(seed=7), 3, random.Random(1))
    assert Testing().seed == 7 and Testing(seed=2).seed == 2


def test_episode_seeds_match_the_runner():
    assert [episode_seed(11, e) for e in range(4)] == derive_seeds(11, 4)[1]


def test_reset_restores():
    env, twin = Testing(), Testing()
    for _ in range(7):
        env.get_response([0, 1, 2, 3, 4])
    mid = env.get_score()
    assert len(mid) == 20 and sum(round(s * env.world.rules.horizon) for s in mid) == 7  # valid mid-episode
    play(twin, 1, random.Random(5))  # twin finishes episode 0 differently
    env.reset()
    assert env.episode == twin.episode == 1
    assert env.get_score() == [0.0] * 20 and env.has_next_state() and env.env.population.n_active == 20
    assert play(env, 2, random.Random(9)) == play(twin, 2, random.Random(9))


def test_world_and_seed_configuration_errors(monkeypatch):
    monkeypatch.setenv("RECSIM_LAB_WORLD", "defualt")
    with pytest.raises(ValueError, match=r"Did you mean 'default'\?.*RECSIM_LAB_WORLD"):
        Testing()
    monkeypatch.delenv("RECSIM_LAB_WORLD")
    assert TrainingEnvironment(world="small").n_users == 100  # a preset, by keyword
    monkeypatch.setenv("RECSIM_LAB_SEED", "x1")
    with pytest.raises(ValueError, match="RECSIM_LAB_SEED environment variable must be a non-negative integer"):
        Testing()
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, inf\), got -1"):
        Testing(seed=-1)


NOTEBOOK = textwrap.dedent('''
    import random
    import numpy as np
    import pandas as pd
    from evaluation.environment import TestingEnvironment

    df_user = pd.read_json("dataset/user_data.json", lines=True)
    df_item = pd.read_json("dataset/item_data.json", lines=True)
    env = TestingEnvironment()
    scores = []
    for _ in range(5):
        while env.has_next_state():
            cur_user = env.get_state()
            slate = random.sample(range(len(df_item)), k=5)
            clicked_id, in_environment = env.get_response(slate)
        scores.append(env.get_score())
        env.reset()
    avg_scores = [np.average(s) for s in zip(*scores)]
    pd.DataFrame({"user_id": range(len(df_user)), "avg_score": avg_scores}).to_csv("scores.csv", index=False)
''')


def test_export_datalab_end_to_end(tmp_path, world_dir, capsys):
    folder = tmp_path / "cup"
    assert main(["export-datalab", str(folder), "--env", str(world_dir)]) == 0
    printed = capsys.readouterr().out.split()
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == ["dataset/item_data.json", "dataset/user_data.json", "evaluation/__init__.py",
                     "evaluation/environment.py"]  # no world.npz / world.json: the hidden truth stays put
    assert sorted(printed) == sorted(str(folder / f) for f in files)
    shim = (folder / "evaluation" / "environment.py").read_text()
    assert MARKER in shim and repr(str(world_dir.resolve())) in shim
    exported, original = read_datalab(folder / "dataset"), read_datalab(world_dir)
    assert exported.headlines == original.headlines
    assert all(np.array_equal(a, b) for a, b in zip(exported.histories, original.histories))

    (folder / "notebook.py").write_text(NOTEBOOK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECSIM_LAB_")}
    done = subprocess.run([sys.executable, "notebook.py"], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    with open(folder / "scores.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["user_id"]) for r in rows] == list(range(20))
    assert all(0.0 < float(r["avg_score"]) <= 1.0 for r in rows)


def load_shim(folder, name):
    spec = importlib.util.spec_from_file_location(name, folder / "evaluation" / "environment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_export_preset_and_override(tmp_path, world_dir, monkeypatch):
    written = export_datalab(tmp_path / "cup", "small")
    assert len(written) == 4 and all(p.is_file() for p in written)
    shim = load_shim(tmp_path / "cup", "shim_small")
    assert shim.WORLD == "small"
    monkeypatch.delenv("RECSIM_LAB_WORLD")
    assert shim.TestingEnvironment().n_users == 200 and shim.TrainingEnvironment().n_users == 100
    monkeypatch.setenv("RECSIM_LAB_WORLD", str(world_dir))  # the variable still overrides
    assert shim.TestingEnvironment().n_users == 20 and shim.TrainingEnvironment().n_users == 10


def test_export_overwrite_policy(tmp_path, world_dir, capsys):
    folder = tmp_path / "cup"
    export_datalab(folder, world_dir)
    (folder / "notebook.ipynb").write_text("{}")
    assert export_datalab(folder, world_dir)  # a previous export's folders may be replaced

    foreign = tmp_path / "original_cup"
    (foreign / "dataset").mkdir(parents=True)
    (foreign / "dataset" / "user_data.json").write_text("theirs\n")
    assert main(["export-datalab", str(foreign), "--env", str(world_dir)]) == 2
    assert "was not written by recsim-lab export-datalab" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.rglob("*")) == ["dataset", "user_data.json"]  # nothing written
    assert (foreign / "dataset" / "user_data.json").read_text() == "theirs\n"

    (foreign / "dataset" / "user_data.json").unlink()
    (foreign / "evaluation").mkdir()
    (foreign / "evaluation" / "environment.py").write_text("class TestingEnvironment: ...\n")
    with pytest.raises(ValueError, match="evaluation is not empty"):
        export_datalab(foreign, world_dir)
    with pytest.raises(ValueError, match="unknown env 'defualt'"):
        export_datalab(tmp_path / "new", "defualt")
    assert not (tmp_path / "new").exists()
