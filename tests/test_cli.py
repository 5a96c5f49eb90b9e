"""The command line, end to end on a tiny world."""

from __future__ import annotations

import subprocess
import sys

import pytest

from recsim_lab.cli.commands import main, parse_options

USER_AGENT = '''
import numpy as np
from agents.popularity import PopularityAgent

class Greedy(PopularityAgent):
    """A user's own agent: popularity with a documented constructor option."""

    def __init__(self, depth: int = 5):
        super().__init__()
        self.depth = depth


class Strict(PopularityAgent):
    """Its constructor raises TypeError for a depth that is not an integer (bad user input)."""

    def __init__(self, depth: int = 5):
        super().__init__()
        self.order = list(range(depth))


class Buggy(PopularityAgent):
    """A TypeError from inside fit: a bug of the agent, not bad input."""

    def fit(self, data, *, seed):
        raise TypeError("a bug inside fit")
'''


def run_cli(*args: str) -> int:
    return main(list(args))


def test_run_end_to_end_with_a_users_own_agent(tmp_path, tiny_world_dir, capsys):
    agent_file = tmp_path / "my_agent.py"
    agent_file.write_text(USER_AGENT)
    code = run_cli("run", "--env", str(tiny_world_dir), "--agent", f"{agent_file}:Greedy", "--episodes", "2",
                   "--seed", "4", "--set", "depth=7", "--out", str(tmp_path / "runs"), "--no-progress")
    out = capsys.readouterr().out
    assert code == 0
    assert f"{agent_file}:Greedy on {tiny_world_dir}" in out and "mean score" in out
    (directory,) = (tmp_path / "runs").iterdir()
    assert directory.name.startswith(f"{tiny_world_dir.name}__Greedy__4__")
    assert {p.name for p in directory.iterdir()} >= {"scores.csv", "episodes.csv", "summary.json", "config.json"}


def test_one_user_at_a_time_and_train_split(tmp_path, tiny_world_dir):
    assert run_cli("run", "--env", str(tiny_world_dir), "--agent", "random", "--episodes", "1", "--split", "train",
                   "--batch-size", "1", "--out", str(tmp_path), "--no-progress") == 0


@pytest.mark.parametrize(("args", "message"), [
    (["run", "--agent", "popularty"], "unknown agent 'popularty'. Did you mean 'popularity'?"),
    (["run", "--env", "defualt"], "unknown env 'defualt'. Did you mean 'default'?"),
    (["run", "--agent", "random", "--set", "nokey"], "--set expects KEY=VALUE, got 'nokey'"),
    (["run", "--agent", "random", "--set", "speed=3"], "agent 'random' has no option(s) ['speed']"),
    (["run", "--episodes", "0"], "episodes must be an integer in [1, inf), got 0 (int)"),
    (["run", "--env", "small", "--agent", "funk_svd", "--set", "learning_rate=fast"],
     "learning_rate must be a float in (0, inf), got 'fast' (str)"),
    (["run", "--env", "small", "--agent", "hybrid", "--set", "children=funk_svd"],
     "children must be a list or tuple, got 'funk_svd' (str)"),
    (["run", "--env", "small", "--agent", "funk_svd", "--set", "factors=0"],
     "factors must be an integer in [1, inf), got 0 (int)"),
    (["evaluate", "x.py:A", "--time-limit", "nan"], "time_limit must be a float in (0, inf), got nan (float)"),
])
def test_bad_input_gets_a_clear_error(args, message, capsys, tmp_path):
    assert run_cli(*args, "--out", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("recsim-lab: error: ") and err.count("\n") == 1  # one line, no traceback
    assert message in err
    assert not any(tmp_path.iterdir())  # nothing written for a rejected command


def test_a_type_error_of_the_agent_constructor_is_bad_input_but_one_from_fit_is_a_bug(tmp_path, tiny_world_dir,
                                                                                     capsys):
    agent_file = tmp_path / "my_agent.py"
    agent_file.write_text(USER_AGENT)
    common = ["--env", str(tiny_world_dir), "--episodes", "1", "--out", str(tmp_path / "runs"), "--no-progress"]
    assert run_cli("run", "--agent", f"{agent_file}:Strict", "--set", "depth=deep", *common) == 2
    assert capsys.readouterr().err == "recsim-lab: error: 'str' object cannot be interpreted as an integer\n"
    assert not (tmp_path / "runs").exists()
    assert run_cli("run", "--agent", f"{agent_file}:Buggy", *common) == 1  # a bug: its traceback, exit 1
    err = capsys.readouterr().err
    assert f'File "{agent_file}"' in err and "TypeError: a bug inside fit" in err and "checker.py" not in err
    assert err.splitlines()[-1] == "recsim-lab: error: the agent's fit() raised TypeError: a bug inside fit"


def test_the_encoder_flag_is_checked_and_reaches_only_agents_that_embed_text(capsys, tmp_path):
    with pytest.raises(SystemExit):
        run_cli("run", "--encoder", str(tmp_path / "nowhere"), "--out", str(tmp_path))
    assert "is not a directory (a sentence-transformers model folder)" in capsys.readouterr().err
    model = tmp_path / "model"
    model.mkdir()
    assert run_cli("run", "--agent", "popularity", "--encoder", str(model), "--out", str(tmp_path / "runs")) == 2
    assert "agent 'popularity' has no option(s) ['encoder']" in capsys.readouterr().err
    assert run_cli("run", "--agent", "content", "--encoder", str(model), "--set", "encoder=/elsewhere",
                   "--out", str(tmp_path / "runs")) == 2
    assert "disagree; give one" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_listings(capsys):
    assert run_cli("envs") == 0
    out = capsys.readouterr().out
    assert "default" in out and "datalab" in out and "recsim_lab/Default-v0" in out
    assert run_cli("agents") == 0
    out = capsys.readouterr().out
    assert "random" in out and "popularity" in out and "oracle" in out


def test_option_values_are_parsed_as_json_else_text():
    assert parse_options(["a=3", "b=0.5", "c=true", "d=path/x", "e=[1, 2]"]) == {
        "a": 3, "b": 0.5, "c": True, "d": "path/x", "e": [1, 2]}


def test_help_is_fast_and_imports_no_deep_learning_framework():
    code = ("import sys, recsim_lab.cli\n"
            "try:\n    recsim_lab.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('tensorflow', 'torch', 'sentence_transformers') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "run" in result.stdout and "export-datalab" in result.stdout
