"""Runs survive faults: a killed or interrupted run resumes to byte-identical outputs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recsim_lab.cli.commands import main
from recsim_lab.run.runner import RunConfig, resume, run

EPISODES = 4
SEED = 5
OUTPUTS = ("scores.csv", "episodes.csv", "trace.csv")

SLOW_AGENT = '''
import os
import time
from pathlib import Path

from agents.popularity import PopularityAgent


class Pausing(PopularityAgent):
    """Popularity that, when PAUSE_FILE is set, creates that file as the second episode starts (the runner
    restores the checkpoint, so episode 0 is saved) and then waits there to be stopped. Only the run's own
    checkpoint counts: `run` first checks a twin of the agent on a sample, which loads from folders of its own."""

    def load(self, path):
        super().load(path)
        if Path(path).name == "checkpoint":
            self.loads = getattr(self, "loads", 0) + 1
        pause = os.environ.get("PAUSE_FILE")
        if pause and getattr(self, "loads", 0) == 2:
            Path(pause).touch()
            time.sleep(120)  # inside the runner's episode loop: Ctrl-C or a kill ends it
'''


@pytest.fixture(scope="module")
def slow_agent(tmp_path_factory):
    path = tmp_path_factory.mktemp("agent") / "slow_agent.py"
    path.write_text(SLOW_AGENT)
    return f"{path}:Pausing"


@pytest.fixture(scope="module")
def uninterrupted(slow_agent, tiny_world_dir, tmp_path_factory):
    return run(RunConfig(env=str(tiny_world_dir), agent=slow_agent, episodes=EPISODES, seed=SEED,
                         out=str(tmp_path_factory.mktemp("uninterrupted")), progress=False)).directory


def start_run(slow_agent, world_dir, out: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "recsim_lab.cli", "run", "--env", str(world_dir), "--agent", slow_agent,
               "--episodes", str(EPISODES), "--seed", str(SEED), "--out", str(out / "runs"), "--no-progress"]
    # SIGINT back to its default in the child, so that Python turns it into KeyboardInterrupt even when this test
    # runs where SIGINT is ignored (a shell without job control ignores it in background commands, and children
    # inherit that)
    return subprocess.Popen(command, env={**os.environ, "PAUSE_FILE": str(out / "paused")}, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def stop_after_first_episode(process: subprocess.Popen, out: Path, how: signal.Signals) -> Path:
    """Signal the run once it waits at the start of its second episode: the first is saved, and the run is
    inside its episode loop, so the signal cannot land during start-up or after the run has finished,
    however slowly either process is scheduled."""
    deadline = time.monotonic() + 120
    while not (out / "paused").exists():
        if process.poll() is not None:
            pytest.fail(f"the run exited with {process.returncode} before pausing:\n{process.stderr.read()}")
        assert time.monotonic() < deadline, "the run never reached its second episode"
        time.sleep(0.01)
    assert list((out / "runs").glob("*/episodes/episode-000.npz"))
    process.send_signal(how)
    process.wait(timeout=60)
    (directory,) = (out / "runs").iterdir()
    return directory


def assert_same_outputs(directory: Path, reference: Path) -> None:
    for name in OUTPUTS:
        assert (directory / name).read_bytes() == (reference / name).read_bytes(), name


def test_a_killed_run_resumes_to_byte_identical_scores(slow_agent, tiny_world_dir, uninterrupted, tmp_path, capsys):
    process = start_run(slow_agent, tiny_world_dir, tmp_path)
    directory = stop_after_first_episode(process, tmp_path, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    saved = sorted(p.name for p in (directory / "episodes").iterdir())
    assert 1 <= len(saved) < EPISODES and not (directory / "scores.csv").exists()
    assert main(["run", "--resume", str(directory), "--no-progress"]) == 0
    assert f"outputs: {directory}" in capsys.readouterr().out
    assert_same_outputs(directory, uninterrupted)
    assert len(list((directory / "episodes").iterdir())) == EPISODES


def test_ctrl_c_keeps_the_completed_episodes_and_exits_130(slow_agent, tiny_world_dir, uninterrupted, tmp_path):
    process = start_run(slow_agent, tiny_world_dir, tmp_path)
    directory = stop_after_first_episode(process, tmp_path, signal.SIGINT)
    message = process.stderr.read()
    assert process.returncode == 130, message
    assert "recsim-lab: interrupted" in message and f"recsim-lab run --resume {directory}" in message
    assert list((directory / "episodes").iterdir()) and not (directory / "scores.csv").exists()
    resume(directory, progress=False)
    assert_same_outputs(directory, uninterrupted)


def copy_run(source: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(source, tmp_path / source.name))


def test_resuming_a_finished_run_plays_nothing_and_changes_nothing(uninterrupted, tmp_path):
    directory = copy_run(uninterrupted, tmp_path)
    (directory / ".scores.csv.x1y2.tmp").write_text("user_id,avg")  # left by a process killed mid-write
    shutil.rmtree(directory / "checkpoint")
    (directory / "checkpoint").mkdir()  # a run with no episode left to play never touches the checkpoint...
    with pytest.raises(ValueError, match="changed after the run sealed it"):
        resume(directory, progress=False)  # ...but it is verified all the same
    shutil.rmtree(directory / "checkpoint")
    shutil.copytree(uninterrupted / "checkpoint", directory / "checkpoint")
    resume(directory, progress=False)
    assert_same_outputs(directory, uninterrupted)
    assert not list(directory.glob(".*.tmp"))


def test_a_run_killed_before_its_checkpoint_was_sealed_fits_again(uninterrupted, tmp_path):
    directory = copy_run(uninterrupted, tmp_path)
    for name in ("checkpoint.json", "scores.csv", "episodes.csv", "trace.csv", "summary.json"):
        (directory / name).unlink()
    shutil.rmtree(directory / "episodes")
    (directory / "checkpoint" / "counts.npy").write_bytes(b"half")
    resume(directory, progress=False)
    assert_same_outputs(directory, uninterrupted)


def test_episodes_of_another_run_are_refused(uninterrupted, tiny_world_dir, tmp_path):
    other = run(RunConfig(env=str(tiny_world_dir), agent="popularity", episodes=1, seed=SEED + 1,
                          out=str(tmp_path / "other"), progress=False)).directory
    directory = copy_run(uninterrupted, tmp_path)
    shutil.copy(other / "episodes" / "episode-000.npz", directory / "episodes" / "episode-000.npz")
    with pytest.raises(ValueError, match="episode-000.npz does not belong to this run"):
        resume(directory, progress=False)


@pytest.mark.parametrize(("setup", "args", "message"), [
    (None, ["--episodes", "3"], "--resume takes the configuration from RUN_DIR/config.json; drop --episodes"),
    ("empty", [], "is not a run directory: it has no config.json"),
    ("evaluation", [], "is an evaluation (recsim-lab evaluate), which is not resumable"),
])
def test_resume_refuses_what_it_cannot_finish(uninterrupted, tmp_path, capsys, setup, args, message):
    directory = copy_run(uninterrupted, tmp_path)
    if setup == "empty":
        (directory / "config.json").unlink()
    elif setup == "evaluation":
        config = json.loads((directory / "config.json").read_text())
        (directory / "config.json").write_text(json.dumps({**config, "evaluation": {}}))
    assert main(["run", "--resume", str(directory), *args]) == 2
    assert message in capsys.readouterr().err
