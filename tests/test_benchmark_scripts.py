"""The benchmarks behind the offline-vs-online table and the agent table: Kendall's tau-b against scipy, and a
run of each on the tiny world (few agents, one episode; marked slow)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


offline_vs_online = load("offline_vs_online")
agent_quality = load("agent_quality")


@pytest.mark.parametrize(("x", "y"), [
    ([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]),
    ([1, 2, 2, 3, 4, 4, 5], [3, 1, 2, 2, 5, 4, 4]),  # ties in both, one joint tie
    ([0.5, 0.5, 0.7, 0.9, 0.1, 0.3], [1, 0, 1, 2, 0, 0]),
    ([3, 2, 1], [1, 2, 3]),
])
def test_kendall_tau_b_matches_scipy(x, y):
    stats = pytest.importorskip("scipy.stats")
    assert offline_vs_online.kendall_tau_b(np.array(x), np.array(y)) == pytest.approx(
        stats.kendalltau(x, y, variant="b").statistic, abs=1e-12)


def test_kendall_tau_b_drops_nan_pairs_and_is_nan_when_undefined():
    assert offline_vs_online.kendall_tau_b(np.array([1.0, np.nan, 2.0, 3.0]), np.array([1, 5, 2, 3])) == 1.0
    assert np.isnan(offline_vs_online.kendall_tau_b(np.array([1.0, 1.0, 1.0]), np.array([1, 2, 3])))
    assert np.isnan(offline_vs_online.kendall_tau_b(np.array([1.0]), np.array([1.0])))


def test_the_oracle_is_left_out_of_tau_and_kept_in_tau_with_oracle():
    metrics = offline_vs_online.metric_names(10)
    rows = [{"world": "w", "agent": a, "normalised": n, **{m: v for m in metrics}}
            for a, n, v in (("random", 0.0, 0.1), ("a", 0.5, 0.3), ("b", 0.4, 0.2), ("oracle", 1.0, 0.0))]
    tau = {t["metric"]: t for t in offline_vs_online.taus(rows, 10)}["group_auc"]
    assert (tau["tau"], tau["n_tau"]) == (1.0, 3)
    assert tau["n_tau_with_oracle"] == 4 and tau["tau_with_oracle"] == pytest.approx(0.0)


@pytest.mark.slow  # a few seconds: matplotlib, and three fits and episodes
def test_offline_vs_online_writes_rows_taus_and_a_plot(tiny_world_dir, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out.csv"
    offline_vs_online.main(["--worlds", str(tiny_world_dir), "--agents", "popularity,ucb1", "--episodes", "1",
                            "--csv", str(out), "--plot", str(tmp_path / "out.png")])
    result = json.loads(capsys.readouterr().out)
    assert [r["agent"] for r in result["rows"]] == ["random", "oracle", "popularity", "ucb1"]  # references added
    by_agent = {r["agent"]: r for r in result["rows"]}
    assert (by_agent["random"]["normalised"], by_agent["oracle"]["normalised"]) == (0.0, 1.0)
    assert by_agent["oracle"]["group_auc"] > by_agent["popularity"]["group_auc"] > 0.5
    assert len(result["tau"]) == len(offline_vs_online.metric_names(10))
    assert len(out.read_text().splitlines()) == 5
    assert (tmp_path / "out_tau.csv").is_file() and (tmp_path / "out.png").stat().st_size > 0


@pytest.mark.slow  # a few seconds: a child process per agent
def test_agent_quality_reports_steps_per_second_and_peak_memory(tiny_world_dir, capsys, monkeypatch):
    agent_quality.main(["--env", str(tiny_world_dir), "--episodes", "1", "--agents", "random,oracle",
                        "--no-isolate"])
    in_process = json.loads(capsys.readouterr().out.splitlines()[-1])
    agent_quality.main(["--env", str(tiny_world_dir), "--episodes", "1", "--agents", "popularity"])
    isolated = json.loads(capsys.readouterr().out.splitlines()[-1])
    for row in (*in_process.values(), *isolated.values()):
        assert row["steps"] > 0 and row["steps_per_s"] > 0 and row["peak_rss_bytes"] > 2**20
    assert (in_process["random"]["normalised"], in_process["oracle"]["normalised"]) == (0.0, 1.0)
    assert isolated["popularity"]["normalised"] is None  # no references in the list


def test_agent_quality_all_means_every_registered_agent(monkeypatch):
    seen = []
    monkeypatch.setattr(agent_quality, "isolated", lambda env, name, *rest: seen.append(name) or [{
        "mean_score": 0.0, "click_rate": 0.0, "steps": 1, "steps_per_s": 1.0, "peak_rss_bytes": 1,
        "fit_and_play_seconds": 0.0}])
    agent_quality.main(["--agents", "all", "--env", "small"])
    assert seen == list(agent_quality.registered_agents())


def test_env_throughput_replays_the_same_steps_and_its_fastest_rate_bounds_the_first(tiny_world):
    """Every replay plays the same steps (else ``rates`` refuses); summing each section's fastest replay can
    only beat the first replay, whose wall time includes its own sections."""
    env_throughput = load("env_throughput")
    result = {**env_throughput.one_user(tiny_world, 450, seed=0, replays=2),
              **env_throughput.batched(tiny_world, 2, seed=0, replays=2),
              **env_throughput.vector(tiny_world, 5, seed=0, replays=2)}
    for name in ("one_user_steps", "batched_user_steps", "vector_user_steps"):
        assert result[f"{name}_per_s_fastest"] >= result[f"{name}_per_s"] > 0
        assert result[f"{name}_per_cpu_s"] > 0
    assert result["vector_num_envs"] == 40
    clocks = [env_throughput.Clock(), env_throughput.Clock()]
    with clocks[0].section():
        pass
    with pytest.raises(RuntimeError, match="did not play the same steps"):
        env_throughput.rates("x", 1, clocks)


@pytest.mark.slow  # a few seconds: three pools of worker processes
def test_protocol_speed_scaling_plays_the_same_episodes_every_way(tiny_world_dir, capsys, monkeypatch):
    protocol_speed = load("protocol_speed")
    before = {name: os.environ.get(name) for name in protocol_speed.THREAD_VARIABLES}
    with protocol_speed.workers_threads(1):
        assert all(os.environ[name] == "1" for name in protocol_speed.THREAD_VARIABLES)
    assert {name: os.environ.get(name) for name in protocol_speed.THREAD_VARIABLES} == before
    monkeypatch.setattr(sys, "argv", ["protocol_speed.py", "--scaling", "--env", str(tiny_world_dir), "--agent",
                                      "popularity", "--episodes", "2", "--repeat", "1"])
    protocol_speed.main()
    report = json.loads(capsys.readouterr().out)
    assert report["same_results"] and report["steps"] > 0
    workers = {way: len(runs[0]["worker_peak_rss_bytes"]) for way, runs in report["ways"].items()}
    assert workers.pop("serial, default threads") == 0 and workers.pop("1 worker, 1 thread") == 1
    assert set(workers.values()) <= {1, 2}  # 2 workers, unless one played both tiny episodes before the other began
