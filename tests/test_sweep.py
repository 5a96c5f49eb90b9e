"""`recsim-lab sweep`: the configuration is checked in one line per problem; the shipped 2 x 2 grid x 2 seeds on
the small world runs on Ray Tune, each trial scoring what `recsim-lab run` scores; a killed sweep resumes to the
same CSV; the plots are drawn (the Ray tests are marked slow: Ray takes seconds to start)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from recsim_lab.cli.commands import main
from recsim_lab.evaluation.leaderboard import reference_scores
from recsim_lab.evaluation.sweep import TrialResult, _summaries, results_csv
from recsim_lab.evaluation.sweep_config import Distribution, read_sweep_config
from recsim_lab.report.sweep_plot import plot_sweep
from recsim_lab.run.runner import RunConfig, run
from recsim_lab.worlds.presets import make_world

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sweep_small.toml"
VALID = 'agent = "thompson"\nworlds = ["small"]\nseeds = [0, 1]\n[parameters]\nprior_clicks = [0.5, 2.0]\n'


def top(line: str) -> str:
    """:data:`VALID` with ``line`` among its top-level keys."""
    return line + "\n" + VALID


def write(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    (VALID.replace("seeds", "seed"), "unknown key 'seed'. Did you mean 'seeds'"),
    (VALID.replace('"thompson"', '"thomson"'), "unknown agent 'thomson'. Did you mean 'thompson'?"),
    (VALID.replace("prior_clicks", "prior_click"),
     "agent 'thompson': unknown hyperparameter 'prior_click'. Did you mean 'prior_clicks'"),
    (VALID.replace("[0.5, 2.0]", "[0.5, -1.0]"), "agent 'thompson' refuses prior_clicks = -1.0: prior_clicks must be"),
    (VALID.replace("[0.5, 2.0]", "{uniform = [0.5, 2.0]}"),
     "parameters.prior_clicks: a grid takes a list of values; a uniform range needs search = 'random'"),
    (top('search = "random"').replace("[0.5, 2.0]", "{loguniform = [0.0, 2.0]}"),
     "parameters.prior_clicks: loguniform low must be a float in (0, inf), got 0.0 (float)"),
    (VALID.replace("[0.5, 2.0]", "{normal = [0.0, 2.0]}"), "unknown range 'normal'. Did you mean"),
    (VALID.replace("[0, 1]", "[0, 0]"), "seeds must not repeat an entry, got [0, 0]"),
    (VALID.replace("[0, 1]", "[0, -1]"), "seeds[1] must be an integer in [0, inf), got -1 (int)"),
    (VALID.replace('["small"]', '["smal"]'), "unknown env 'smal'. Did you mean 'small'?"),
    ('agent = "thompson"\nworlds = ["small"]\n', "missing seeds, parameters"),
    (top("episodes = 0"), "episodes must be an integer in [1, inf), got 0 (int)"),
    (top("samples = 3"), "samples is for search = 'random'"),
    (VALID + "[options]\nprior_clicks = 1.0\n", "['prior_clicks'] are in both parameters and options"),
    ("agent = [", "not valid TOML"),
])
def test_a_bad_configuration_is_one_line_and_nothing_is_written(text, message, tmp_path, capsys):
    path = write(tmp_path, text)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"recsim-lab: error: {path}: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_toml_and_yaml_say_the_same_and_world_folders_are_taken_from_the_configs_folder(tmp_path):
    yaml = ('agent: thompson\nworlds: [small, worlds/mine]\nseeds: [3]\nsearch: random\nsamples: 4\n'
            'parameters:\n  prior_clicks: {loguniform: [0.1, 10.0]}\n  prior_misses: [1.0, 2.0]\n')
    toml = ('agent = "thompson"\nworlds = ["small", "worlds/mine"]\nseeds = [3]\nsearch = "random"\nsamples = 4\n'
            '[parameters]\nprior_clicks = {loguniform = [0.1, 10.0]}\nprior_misses = [1.0, 2.0]\n')
    (tmp_path / "worlds" / "mine").mkdir(parents=True)
    from_yaml = read_sweep_config(write(tmp_path, yaml, "s.yaml"))
    assert from_yaml == read_sweep_config(write(tmp_path, toml, "s.toml"))
    assert from_yaml.worlds == ("small", str(tmp_path / "worlds" / "mine"))
    assert from_yaml.parameters == {"prior_clicks": Distribution("loguniform", 0.1, 10.0),
                                    "prior_misses": (1.0, 2.0)}
    assert from_yaml.trials == 4 * 1 * 2
    assert json.loads(json.dumps(from_yaml.to_json())) == from_yaml.to_json()  # as sweep.json reads back


def test_the_example_configuration_is_a_2x2_grid_x_2_seeds():
    config = read_sweep_config(EXAMPLE)
    assert (config.agent, config.worlds, config.seeds, config.trials) == ("thompson", ("small",), (0, 1), 8)


def test_the_csv_and_the_spread_per_setting_by_hand():
    trials = [TrialResult({"a": 1, "b": "x"}, "small", 0, 0.02, 0.5),
              TrialResult({"a": 1, "b": "x"}, "small", 1, 0.03, 0.7),
              TrialResult({"a": 2, "b": "y,z"}, "small", 0, 0.04, 0.9)]
    assert results_csv(trials, ["a", "b"]) == ("setting,a,b,world,seed,mean_score,normalised_score\n"
                                               "0,1,x,small,0,0.02,0.5\n0,1,x,small,1,0.03,0.7\n"
                                               '1,2,"y,z",small,0,0.04,0.9\n')
    best, second = _summaries(trials)
    assert (best.setting, best.mean, best.std, best.trials) == ({"a": 2, "b": "y,z"}, 0.9, 0.0, 1)
    assert second.mean == pytest.approx(0.6) and second.std == pytest.approx(0.1 * np.sqrt(2))  # |0.7-0.5| / sqrt 2
    assert (second.low, second.high) == (0.5, 0.7)


def test_plots_of_score_against_each_hyperparameter(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({
        "agent": "thompson", "episodes": 1, "parameters": {"prior_clicks": {"kind": "loguniform", "low": 0.1,
                                                                            "high": 10.0}, "mode": ["a", "b"]}}))
    (tmp_path / "results.csv").write_text("setting,prior_clicks,mode,world,seed,mean_score,normalised_score\n"
                                          "0,0.2,a,small,0,0.01,0.1\n1,5.0,b,small,0,0.02,0.4\n")
    written = plot_sweep(tmp_path)
    assert written == [tmp_path / "score_vs_prior_clicks.png", tmp_path / "score_vs_mode.png"]
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in written)


def test_an_existing_sweep_needs_resume_and_resumes_only_with_its_configuration(tmp_path, capsys):
    directory = tmp_path / "out" / "sweep__sweep"
    directory.mkdir(parents=True)
    config = write(tmp_path, VALID)
    assert main(["sweep", str(config), "--out", str(tmp_path / "out")]) == 2
    assert "already exists: finish that sweep with --resume" in capsys.readouterr().err
    (directory / "sweep.json").write_text(json.dumps(read_sweep_config(config).to_json()))
    write(tmp_path, VALID.replace("[0.5, 2.0]", "[0.5, 3.0]"))
    assert main(["sweep", str(config), "--out", str(tmp_path / "out"), "--resume"]) == 2
    assert "the configuration changed since the sweep" in capsys.readouterr().err


def test_without_ray_the_sweep_names_the_extra_before_any_work(monkeypatch, tmp_path, capsys):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a))
    assert main(["sweep", str(EXAMPLE), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == "recsim-lab: error: recsim-lab sweep needs Ray: pip install 'recsim-lab[ray]'\n"
    assert not (tmp_path / "out").exists()


# ---- on Ray Tune


@pytest.fixture(scope="module")
def example_sweep(tmp_path_factory) -> Path:
    """The shipped example, run once to the end: its sweep directory."""
    out = tmp_path_factory.mktemp("sweep")
    assert main(["sweep", str(EXAMPLE), "--out", str(out), "--workers", "2"]) == 0
    return out / "sweep__sweep_small"


@pytest.mark.slow
@pytest.mark.ray
def test_the_example_grid_scores_each_trial_as_run_does(example_sweep, tmp_path):
    config = read_sweep_config(EXAMPLE)
    lines = (example_sweep / "results.csv").read_text().splitlines()
    assert lines[0] == "setting,prior_clicks,prior_misses,world,seed,mean_score,normalised_score"
    rows = [line.split(",") for line in lines[1:]]
    assert [row[:5] for row in rows] == [[str(s), c, m, "small", seed] for s, (c, m) in enumerate(
        [("0.5", "1.0"), ("0.5", "8.0"), ("2.0", "1.0"), ("2.0", "8.0")]) for seed in ("0", "1")]  # every trial once
    references = reference_scores(make_world("small"))
    for row in rows:
        setting = {"prior_clicks": float(row[1]), "prior_misses": float(row[2])}
        expected = run(RunConfig(env="small", agent="thompson", agent_options=setting, seed=int(row[4]),
                                 episodes=config.episodes, out=str(tmp_path), progress=False)).summary["mean_score"]
        assert float(row[5]) == expected
        assert float(row[6]) == pytest.approx((expected - references.random) / (references.oracle - references.random))
    best = json.loads((example_sweep / "best.json").read_text())
    means = {}
    for row in rows:
        means.setdefault((row[1], row[2]), []).append(float(row[6]))
    top = max(means, key=lambda key: np.mean(means[key]))
    assert best["best"]["setting"] == {"prior_clicks": float(top[0]), "prior_misses": float(top[1])}
    assert best["best"]["mean"] == pytest.approx(np.mean(means[top]))
    assert all((example_sweep / f"score_vs_{name}.png").is_file() for name in ("prior_clicks", "prior_misses"))


@pytest.mark.slow
@pytest.mark.ray
def test_a_killed_sweep_resumes_to_the_same_csv_without_playing_finished_trials_again(example_sweep, tmp_path, capsys):
    config = tmp_path / "sweep_small.toml"
    shutil.copy(EXAMPLE, config)
    out = tmp_path / "out"
    marker = str(tmp_path)  # in the environment of every process of the killed sweep
    driver = subprocess.Popen([sys.executable, "-m", "recsim_lab.cli", "sweep", str(config), "--out", str(out),
                               "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "TUNE_GLOBAL_CHECKPOINT_S": "0", "SWEEP_TEST_MARKER": marker})
    directory = out / "sweep__sweep_small"
    deadline = time.monotonic() + 300
    while len(finished_trials(directory)) < 3:
        assert driver.poll() is None, driver.stderr.read()
        assert time.monotonic() < deadline, "the sweep never finished three trials"
        time.sleep(0.2)
    time.sleep(1.0)  # the experiment's state is saved after each step of Tune's loop (TUNE_GLOBAL_CHECKPOINT_S=0)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=60)
    assert not (directory / "results.csv").exists()
    before = {path: path.read_bytes() for path in finished_trials(directory)}
    # Ray's processes notice the dead driver and exit within seconds; on a loaded machine a straggler is ended
    # here, so that nothing of the killed sweep can write while the resumed one runs
    for pid in processes_with(marker, timeout=120):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert main(["sweep", str(config), "--out", str(out), "--resume", "--workers", "2"]) == 0
    assert (directory / "results.csv").read_bytes() == (example_sweep / "results.csv").read_bytes()
    assert {path: path.read_bytes() for path in before} == before  # finished trials were not played again
    assert len(finished_trials(directory)) == 8


def finished_trials(directory: Path) -> list[Path]:
    """The ``result.json`` of each trial that reported its scores."""
    return sorted(p for p in directory.glob("*/result.json") if b"normalised_score" in p.read_bytes())


def processes_with(marker: str, timeout: float) -> list[int]:
    """Pids of processes whose environment holds ``marker`` (besides this one), once none is left or after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and int(entry.name) != os.getpid() and \
                        f"SWEEP_TEST_MARKER={marker}".encode() in (entry / "environ").read_bytes():
                    alive.append(int(entry.name))
            except OSError:
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.ray
def test_a_random_search_plays_each_drawn_setting_on_every_seed(tmp_path, capsys):
    config = write(tmp_path, 'agent = "thompson"\nworlds = ["small"]\nseeds = [0, 1]\nepisodes = 1\n'
                             'search = "random"\nsamples = 3\nsample_seed = 4\n[parameters]\n'
                             'prior_clicks = {loguniform = [0.1, 10.0]}\nprior_misses = [1.0, 8.0]\n')
    assert main(["sweep", str(config), "--out", str(tmp_path / "out"), "--workers", "2"]) == 0
    results = (tmp_path / "out" / "sweep__sweep" / "results.csv").read_text()
    rows = [line.split(",") for line in results.splitlines()[1:]]
    settings = {}
    for row in rows:
        settings.setdefault((row[1], row[2]), []).append(row[4])
    assert len(rows) == 6 and len(settings) == 3 and all(seeds == ["0", "1"] for seeds in settings.values())
    assert all(0.1 <= float(clicks) < 10.0 and misses in ("1.0", "8.0") for clicks, misses in settings)


@pytest.mark.slow
@pytest.mark.ray
def test_a_trial_that_raises_ends_the_sweep_with_exit_1_and_its_error(tmp_path, capsys):
    (tmp_path / "failing.py").write_text("from agents.thompson import ThompsonAgent\n\n\n"
                                         "class Failing(ThompsonAgent):\n    def fit(self, data, *, seed):\n"
                                         "        raise ZeroDivisionError('boom')\n")
    config = write(tmp_path, 'agent = "failing.py:Failing"\nworlds = ["small"]\nseeds = [0]\nepisodes = 1\n'
                             '[parameters]\nprior_clicks = [1.0]\n')
    assert main(["sweep", str(config), "--out", str(tmp_path / "out"), "--workers", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("recsim-lab: error: 1 of 1 trials failed, e.g. {") and "ZeroDivisionError: boom" in err
    assert err.endswith("once fixed, run them again with --resume")
