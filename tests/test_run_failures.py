"""`run` as helpful as `check_agent`: a broken agent is refused before the work, a failing one is named by
method, episode and step with its own traceback, exit codes as documented, and a starting template."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from agents.checker import check_agent
from recsim_lab.cli import main

AGENTS = '''
import numpy as np
from agents.popularity import PopularityAgent

FIT_CALLS = []


class NoSaveLoad:
    def fit(self, data, *, seed):
        FIT_CALLS.append(data.n_users)

    def recommend(self, users, k):
        return np.tile(np.arange(k), (users.size, 1))

    def update(self, users, slates, clicks):
        pass


class FailsOnThirdUpdate(PopularityAgent):
    def update(self, users, slates, clicks):
        super().update(users, slates, clicks)
        self.updates = getattr(self, "updates", 0) + 1
        if self.updates == 3:
            raise ZeroDivisionError("third update")


class RepeatsAfterTwoUpdates(PopularityAgent):
    def recommend(self, users, k):
        slates = super().recommend(users, k)
        if getattr(self, "updates", 0) >= 2:
            slates[:, 1] = slates[:, 0]
        return slates

    def update(self, users, slates, clicks):
        super().update(users, slates, clicks)
        self.updates = getattr(self, "updates", 0) + 1
'''


@pytest.fixture()
def agent_file(tmp_path):
    path = tmp_path / "user_agents.py"
    path.write_text(AGENTS)
    return path


def run_cli(agent_file, name, world_dir, out, *extra):
    return main(["run", "--env", str(world_dir), "--agent", f"{agent_file}:{name}", "--episodes", "2",
                 "--out", str(out), *extra])


def test_an_agent_without_save_and_load_is_refused_before_fit(agent_file, tiny_world_dir, tmp_path, capsys):
    assert run_cli(agent_file, "NoSaveLoad", tiny_world_dir, tmp_path / "runs", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "missing method(s) ['save', 'load']" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # nothing was written
    assert sys.modules[[m for m in sys.modules if m.startswith("recsim_lab_user_agent_")][-1]].FIT_CALLS == []


def test_an_error_inside_the_agent_names_method_episode_and_step_with_its_own_frames(
        agent_file, tiny_world_dir, tmp_path, capsys):
    assert run_cli(agent_file, "FailsOnThirdUpdate", tiny_world_dir, tmp_path / "runs", "--no-progress") == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("recsim-lab: error: the agent's update() raised ZeroDivisionError at episode 0, "
                           "step 2: third update")
    line = AGENTS.splitlines().index('            raise ZeroDivisionError("third update")') + 1
    assert f'File "{agent_file}", line {line}, in update' in err  # the agent's own frame ...
    assert "episode.py" not in err and "runner.py" not in err  # ... and none of the runner's
    (left,) = (tmp_path / "runs").iterdir()
    assert f"the run left {left} (config.json, checkpoint/, 0 of 2 episodes)" in last
    assert f"recsim-lab run --resume {left}" in last


def test_invalid_slates_exit_2_with_episode_and_step(agent_file, tiny_world_dir, tmp_path, capsys):
    assert run_cli(agent_file, "RepeatsAfterTwoUpdates", tiny_world_dir, tmp_path / "runs", "--no-progress") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("recsim-lab: error: invalid slates from recommend() at episode 0, step 2: a slate "
                          "must hold 5 distinct items")


def test_no_progress_bar_when_the_output_is_not_a_terminal(tiny_world_dir, tmp_path, capsys):
    assert main(["run", "--env", str(tiny_world_dir), "--agent", "popularity", "--episodes", "1",
                 "--out", str(tmp_path)]) == 0  # progress on, but stderr is captured (not a terminal)
    captured = capsys.readouterr()
    assert "episode 1/1" not in captured.err and "step" not in captured.err


def test_new_agent_writes_a_passing_agent_and_test_that_run_in_an_empty_folder(tmp_path, capsys):
    folder = tmp_path / "empty"
    folder.mkdir()
    assert main(["new-agent", "my_bandit", "--dir", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["my_bandit.py", "test_my_bandit.py"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_my_bandit.py"],
                           cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    played = subprocess.run([sys.executable, "-c", "from recsim_lab.cli import main; raise SystemExit(main())",
                             "run", "--agent", "my_bandit.py:MyBandit", "--env", "small", "--episodes", "1"],
                            cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert played.returncode == 0, played.stderr
    assert "my_bandit.py:MyBandit on small" in played.stdout and (folder / "runs").is_dir()


def test_new_agent_refuses_to_overwrite_or_a_bad_name(tmp_path, capsys):
    assert main(["new-agent", "my_bandit", "--dir", str(tmp_path)]) == 0
    before = (tmp_path / "my_bandit.py").read_text()
    assert main(["new-agent", "my_bandit", "--dir", str(tmp_path)]) == 2
    assert "already exist" in capsys.readouterr().err
    assert (tmp_path / "my_bandit.py").read_text() == before
    assert main(["new-agent", "my-bandit", "--dir", str(tmp_path)]) == 2
    assert "must be a Python module name" in capsys.readouterr().err


def test_the_template_agent_explores_reproducibly_per_episode(tmp_path, tiny_world):
    assert main(["new-agent", "explorer", "--dir", str(tmp_path)]) == 0
    sys.path.insert(0, str(tmp_path))
    try:
        from explorer import Explorer
    finally:
        sys.path.remove(str(tmp_path))
    agent = Explorer(epsilon=0.5)
    check_agent(agent, tiny_world.dataset)
    agent.fit(tiny_world.dataset, seed=4)
    (tmp_path / "ckpt").mkdir()
    agent.save(tmp_path / "ckpt")
    users = tiny_world.dataset.users("test")
    slates = []
    for _ in range(2):  # two episodes from the same checkpoint explore alike
        agent.load(tmp_path / "ckpt")
        slates.append(agent.recommend(users, 5))
    assert (slates[0] == slates[1]).all()
    greedy = Explorer(epsilon=0.0)
    greedy.fit(tiny_world.dataset, seed=4)
    assert (greedy.recommend(users, 5) != slates[0]).any(axis=1).mean() > 0.3  # about half explore


class StateFromLoad:
    """Keeps nothing from fit but the data; everything it recommends from is set up in load, as the contract
    allows (load comes before every episode, the first included)."""

    def fit(self, data, *, seed):
        self.counts = data.click_counts()

    def save(self, path):
        np.save(path / "counts.npy", self.counts)

    def load(self, path):
        self.ranking = np.argsort(-np.load(path / "counts.npy"), kind="stable")

    def recommend(self, users, k):
        return np.tile(self.ranking[:k], (users.size, 1))

    def update(self, users, slates, clicks):
        pass


def test_check_agent_calls_the_methods_in_the_order_of_a_run(tiny_world):
    with pytest.warns(UserWarning, match="history"):  # it ignores histories: allowed, but wasteful
        check_agent(StateFromLoad(), tiny_world.dataset)  # recommend before any load would raise AttributeError


def test_an_exception_during_the_pre_check_is_reported_like_one_during_the_run(agent_file, tiny_world_dir, tmp_path,
                                                                               capsys):
    path = tmp_path / "always.py"
    path.write_text("from agents.popularity import PopularityAgent\n\n\nclass Always(PopularityAgent):\n"
                    "    def update(self, users, slates, clicks):\n        raise RuntimeError('boom')\n")
    assert run_cli(path, "Always", tiny_world_dir, tmp_path / "runs", "--no-progress") == 1
    err = capsys.readouterr().err
    assert f'File "{path}", line 6, in update' in err and "checker.py" not in err
    assert err.splitlines()[-1] == "recsim-lab: error: the agent's update() raised RuntimeError: boom"
    assert not (tmp_path / "runs").exists()
