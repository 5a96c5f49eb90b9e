"""Agents by name: built-ins, files that import their neighbours, entry-point plugins."""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint

import pytest

import agents.registry as registry
from agents.popularity import PopularityAgent
from recsim_lab.evaluation.evaluate import EvaluateConfig, evaluate
from recsim_lab.run.runner import RunConfig, run

AGENT_FILE = '''
from helper_beside_me import BASE  # a module in the same folder, as `python my_agent.py` would find it


class Neighbourly(BASE):
    pass
'''

HELPER_FILE = "from agents.popularity import PopularityAgent as BASE\n"


@pytest.fixture()
def agent_folder(tmp_path, monkeypatch):
    folder = tmp_path / "my_agents"
    folder.mkdir()
    (folder / "my_agent.py").write_text(AGENT_FILE)
    (folder / "helper_beside_me.py").write_text(HELPER_FILE)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the import adds the folder; undo it afterwards
    yield folder
    sys.modules.pop("helper_beside_me", None)


def test_an_agent_file_imports_the_modules_beside_it_in_run_and_evaluate(agent_folder, tiny_world_dir, tmp_path):
    spec = f"{agent_folder / 'my_agent.py'}:Neighbourly"
    plain = run(RunConfig(env=str(tiny_world_dir), agent="popularity", episodes=1, seed=2,
                          out=str(tmp_path / "plain"), progress=False)).directory
    ran = run(RunConfig(env=str(tiny_world_dir), agent=spec, episodes=1, seed=2, out=str(tmp_path / "run"),
                        progress=False)).directory
    sys.modules.pop("helper_beside_me", None)
    evaluated = evaluate(EvaluateConfig(agent=spec, env=str(tiny_world_dir), episodes=1, seed=2,
                                        out=str(tmp_path / "evaluated"), progress=False))
    assert evaluated.ok, evaluated.summary
    expected = (plain / "scores.csv").read_bytes()
    assert (ran / "scores.csv").read_bytes() == expected
    assert (evaluated.directory / "scores.csv").read_bytes() == expected


def test_plugins_of_the_entry_point_group_are_found_by_name(monkeypatch):
    plugin = EntryPoint(name="third_party_popularity", value="agents.popularity:PopularityAgent",
                        group=registry.ENTRY_POINT_GROUP)
    shadow = EntryPoint(name="random", value="agents.popularity:PopularityAgent", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points",
                        lambda group: [plugin, shadow] if group == registry.ENTRY_POINT_GROUP else [])
    known = registry.registered_agents()
    assert known["third_party_popularity"][0] == "agents.popularity:PopularityAgent"
    assert known["random"] == registry.BUILTIN_AGENTS["random"]  # a built-in name wins over a plugin's
    assert registry.load_agent_class("third_party_popularity") is PopularityAgent
    with pytest.raises(ValueError, match="third_party_popularity"):
        registry.load_agent_class("third_party_popularit")  # did-you-mean covers plugins too


def test_a_type_error_of_the_constructor_is_bad_input_for_every_command(tmp_path, tiny_world_dir, capsys):
    from recsim_lab.cli import main

    path = tmp_path / "strict.py"
    path.write_text("class Strict:\n    def __init__(self, alpha=1.0):\n        self.alpha = float(alpha)\n")
    for command in (["run", "--no-progress", "--no-report"], ["offline"]):
        code = main([*command, "--env", str(tiny_world_dir), "--agent", f"{path}:Strict", "--set", "alpha=[1]",
                     "--out", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, (command, err)
