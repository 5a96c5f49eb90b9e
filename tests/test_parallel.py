"""Episodes in worker processes (`--workers N`): the same outputs byte for byte, failures reported as in a serial
run, a killed run resumes, and workers die with the run. Ray and the hybrid agent: tests/test_parallel_ray.py."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recsim_lab.checkpoint import checkpoint_files, write_checkpoint_files
from recsim_lab.cli.commands import main
from recsim_lab.evaluation.evaluate import EvaluateConfig, evaluate
from recsim_lab.evaluation.sandbox import AgentFailure
from recsim_lab.run.failures import AgentRaised, InvalidSlates, agent_traceback, call_agent
from recsim_lab.run.parallel import Parallel
from recsim_lab.run.runner import RunConfig, resume, run

OUTPUTS = ("scores.csv", "episodes.csv", "trace.csv")
EPISODES = 4

AGENTS = '''
import os
import time
from pathlib import Path

from agents.thompson import ThompsonAgent


class FailsOnThirdUpdate(ThompsonAgent):
    def update(self, users, slates, clicks):
        super().update(users, slates, clicks)
        self.updates = getattr(self, "updates", 0) + 1
        if self.updates == 3:
            raise ZeroDivisionError("third update")


def first_load(variable, path):
    """Whether this is the first load of the run's checkpoint (in whichever process) since the folder named by
    the environment variable was made; None when it is not set. `run` first checks a twin of the agent on
    folders of its own: those loads do not count."""
    folder = os.environ.get(variable)
    if not folder or Path(path).name != "checkpoint":
        return None
    try:
        os.close(os.open(Path(folder, "first"), os.O_CREAT | os.O_EXCL))
        return True
    except FileExistsError:
        return False


class FirstWaitsForThreeOthers(ThompsonAgent):
    """With CLAIM_DIR set, the first load waits until three other episodes are saved: its episode is the last to
    arrive, so the results arrive out of episode order."""

    def load(self, path):
        super().load(path)
        if first_load("CLAIM_DIR", path):
            deadline = time.monotonic() + 60
            while len(list(Path(path).parent.glob("episodes/episode-*.npz"))) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)


class FirstPlaysOthersWait(ThompsonAgent):
    """With PAUSE_DIR set, the first load plays; every later one marks PAUSE_DIR/paused and waits to be killed."""

    def load(self, path):
        super().load(path)
        if first_load("PAUSE_DIR", path) is False:
            Path(os.environ["PAUSE_DIR"], "paused").touch()
            time.sleep(120)
'''


@pytest.fixture(scope="module")
def agent_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("agents") / "parallel_agents.py"
    path.write_text(AGENTS)
    return path


@pytest.fixture(scope="module")
def serial(tiny_world_dir, tmp_path_factory):
    return run(RunConfig(env=str(tiny_world_dir), agent="thompson", episodes=EPISODES, seed=7,
                         out=str(tmp_path_factory.mktemp("serial")), progress=False)).directory


def same_outputs(directory: Path, reference: Path) -> bool:
    return all((directory / name).read_bytes() == (reference / name).read_bytes() for name in OUTPUTS)


def test_two_workers_write_byte_identical_outputs_whatever_order_episodes_finish_in(
        serial, agent_file, tiny_world_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIM_DIR", str(tmp_path))
    out = tmp_path / "runs"
    assert main(["run", "--env", str(tiny_world_dir), "--agent", f"{agent_file}:FirstWaitsForThreeOthers",
                 "--episodes", str(EPISODES), "--seed", "7", "--out", str(out), "--workers", "2", "--no-progress",
                 "--no-report"]) == 0
    (directory,) = out.iterdir()
    saved = sorted((directory / "episodes").iterdir(), key=lambda path: path.stat().st_mtime_ns)
    arrived = [int(path.stem.rpartition("-")[2]) for path in saved]
    assert sorted(arrived) == list(range(EPISODES)) and arrived != sorted(arrived)  # saved as they arrived ...
    assert same_outputs(directory, serial)  # ... written in episode order (the agent plays as thompson does)
    summary = json.loads((directory / "summary.json").read_text())
    assert summary["parallel"]["workers"] == 2 and summary["parallel"]["ray"] is None
    workers = summary["parallel"]["worker_peak_rss_bytes"]
    assert 1 <= len(workers) <= 2 and all(peak > 10 << 20 for peak in workers.values())  # processes with numpy ...
    assert not any(worker.endswith(f":{os.getpid()}") for worker in workers)  # ... none of them this one
    config = json.loads((directory / "config.json").read_text())
    assert not {"workers", "ray", "parallel"} & set(config)  # how the episodes are spread is not configuration


def test_one_worker_per_episode_at_most(serial, tiny_world_dir, tmp_path):
    outcome = run(RunConfig(env=str(tiny_world_dir), agent="thompson", episodes=1, seed=7, out=str(tmp_path),
                            progress=False), parallel=Parallel(workers=3))
    assert len(outcome.summary["parallel"]["worker_peak_rss_bytes"]) == 1
    assert (outcome.directory / "episodes.csv").read_text() == \
        "\n".join(line for line in (serial / "episodes.csv").read_text().splitlines()
                  if line.split(",")[0] in ("episode", "0")) + "\n"


def test_an_error_in_a_worker_names_method_episode_and_step_with_the_agents_own_frames(
        agent_file, tiny_world_dir, tmp_path, capsys):
    assert main(["run", "--env", str(tiny_world_dir), "--agent", f"{agent_file}:FailsOnThirdUpdate", "--episodes",
                 "2", "--out", str(tmp_path), "--workers", "2", "--no-progress"]) == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert re.match(r"recsim-lab: error: the agent's update\(\) raised ZeroDivisionError at episode [01], step 2: "
                    r"third update", last)  # each worker's agent fails in its own episode: the first to arrive
    line = AGENTS.splitlines().index('            raise ZeroDivisionError("third update")') + 1
    assert f'File "{agent_file}", line {line}, in update' in err  # the agent's own frame, from the worker ...
    assert "episode.py" not in err and "parallel.py" not in err and "concurrent" not in err  # ... and no other
    (left,) = tmp_path.iterdir()
    assert f"the run left {left} (config.json, checkpoint/, 0 of 2 episodes)" in last


def test_failures_cross_processes_with_what_the_driver_reports():
    try:
        call_agent(lambda: 1 / 0, episode=3)
    except AgentRaised as raised:
        error = raised
    received = pickle.loads(pickle.dumps(error))
    assert (type(received), str(received), received.method, received.episode, received.step) == (
        AgentRaised, str(error), "<lambda>", 3, None)
    assert agent_traceback(received) == agent_traceback(error) and "1 / 0" in agent_traceback(received)
    try:
        raise AgentRaised("update", 1, 5, KeyError("x")) from KeyError("x")
    except AgentRaised as raised:
        in_a_step = pickle.loads(pickle.dumps(raised))
    assert (in_a_step.method, in_a_step.episode, in_a_step.step) == ("update", 1, 5)
    invalid = pickle.loads(pickle.dumps(InvalidSlates(1, 4, ValueError("repeats"))))
    assert (str(invalid), invalid.episode, invalid.step) == ("invalid slates from recommend() at episode 1, step 4: "
                                                             "repeats", 1, 4)
    failure = AgentFailure("timeout", "late", call="update", episode=2, step=9, traceback="tb")
    assert pickle.loads(pickle.dumps(failure)).record() == failure.record()


@pytest.mark.slow  # about 6 s: two runs and a resume, one of them in a fresh interpreter
def test_a_run_killed_with_its_workers_resumes_to_byte_identical_outputs(agent_file, tiny_world_dir, tmp_path):
    uninterrupted = run(RunConfig(env=str(tiny_world_dir), agent=f"{agent_file}:FirstPlaysOthersWait",
                                  episodes=EPISODES, seed=7, out=str(tmp_path / "reference"), progress=False)).directory
    pause = tmp_path / "pause"
    pause.mkdir()
    driver = subprocess.Popen([sys.executable, "-m", "recsim_lab.cli", "run", "--env", str(tiny_world_dir), "--agent",
                               f"{agent_file}:FirstPlaysOthersWait", "--episodes", str(EPISODES), "--seed", "7",
                               "--out", str(tmp_path / "runs"), "--workers", "2", "--no-progress", "--no-report"],
                              env={**os.environ, "PAUSE_DIR": str(pause)}, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not ((pause / "paused").exists() and list((tmp_path / "runs").glob("*/episodes/episode-*.npz"))):
        assert driver.poll() is None, driver.stderr.read()
        assert time.monotonic() < deadline, "the run never played its first episode"
        time.sleep(0.05)
    driver.kill()
    driver.wait(timeout=60)
    assert workers_alive(pause, timeout=30) == [], "a worker outlived its run"
    (directory,) = (tmp_path / "runs").iterdir()
    assert len(list((directory / "episodes").iterdir())) == 1 and not (directory / "scores.csv").exists()
    resume(directory, progress=False, parallel=Parallel(workers=2))
    assert same_outputs(directory, uninterrupted)


def workers_alive(marker: Path, timeout: float) -> list[int]:
    """Pids of processes whose environment names ``marker``, once none is left or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and str(marker).encode() in (entry / "environ").read_bytes():
                    alive.append(int(entry.name))
            except OSError:
                continue
        alive = [pid for pid in alive if pid != os.getpid()]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


@pytest.mark.slow  # about 6 s: four sandboxes
def test_evaluate_with_workers_scores_each_episode_in_a_sandbox_of_its_own(tiny_world_dir, tmp_path):
    config = dict(agent="thompson", env=str(tiny_world_dir), episodes=3, seed=2, progress=False)
    serial = evaluate(EvaluateConfig(**config, out=str(tmp_path / "serial")))
    parallel = evaluate(EvaluateConfig(**config, out=str(tmp_path / "parallel")), parallel=Parallel(workers=2))
    assert serial.ok and parallel.ok, parallel.summary.get("reason")
    assert same_outputs(parallel.directory, serial.directory)
    assert parallel.summary["evaluation"]["isolated"] and parallel.summary["parallel"]["workers"] == 2
    assert not (parallel.directory / "checkpoint").exists()


def test_a_failing_submission_in_a_worker_gets_its_failure_record(agent_file, tiny_world_dir, tmp_path):
    outcome = evaluate(EvaluateConfig(agent=f"{agent_file}:FailsOnThirdUpdate", env=str(tiny_world_dir), episodes=2,
                                      out=str(tmp_path), progress=False), parallel=Parallel(workers=2))
    summary = outcome.summary
    assert (summary["status"], summary["call"], summary["step"]) == ("error", "update", 2)
    assert summary["episode"] in (0, 1) and "ZeroDivisionError: third update" in summary["reason"]
    assert sorted(p.name for p in outcome.directory.iterdir()) == ["config.json", "summary.json"]


@pytest.mark.parametrize(("args", "message"), [
    (["--workers", "0"], "workers must be an integer in [1, inf) or None, got 0 (int)"),
    (["--ray", "127.0.0.1:1", "--workers", "2"], "on the Ray cluster at '127.0.0.1:1' its CPUs decide"),
])
def test_bad_parallel_options_get_one_line(args, message, tiny_world_dir, tmp_path, capsys):
    assert main(["run", "--env", str(tiny_world_dir), "--agent", "popularity", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


@pytest.mark.parametrize("command", ["run", "evaluate"])
def test_ray_without_the_extra_names_the_extra_before_any_work(command, monkeypatch, tiny_world_dir, tmp_path, capsys):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a))
    agent = ["--agent", "popularity"] if command == "run" else ["popularity"]
    assert main([command, *agent, "--env", str(tiny_world_dir), "--out", str(tmp_path / "runs"), "--ray"]) == 2
    assert capsys.readouterr().err == "recsim-lab: error: --ray needs Ray: pip install 'recsim-lab[ray]'\n"
    assert not (tmp_path / "runs").exists()


def test_checkpoint_files_round_trip_and_names_that_leave_the_folder_are_refused(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.npy").write_bytes(b"\x00\x01")
    (tmp_path / "top.json").write_text("{}")
    files = checkpoint_files(tmp_path)
    assert files == {"a/b/x.npy": b"\x00\x01", "top.json": b"{}"}
    write_checkpoint_files(tmp_path / "copy", files)
    assert checkpoint_files(tmp_path / "copy") == files
    for name in ("../evil", "/etc/evil", "", "a/../../evil", "a\0b"):
        with pytest.raises(ValueError, match="is not a relative path inside the checkpoint"):
            write_checkpoint_files(tmp_path / "refused", {"fine.npy": b"", name: b"x"})
        assert not (tmp_path / "refused").exists()  # nothing written
    (tmp_path / "link").symlink_to(tmp_path / "top.json")
    with pytest.raises(ValueError, match="'link', which is not a regular file"):
        checkpoint_files(tmp_path)
