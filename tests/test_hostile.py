"""Hostile submissions (tests/hostile/, one attack per file) against an isolated ``evaluate``.

Each row evaluates one submission on a tiny world directory (1 episode, short limits) and asserts the status
it ends with, that it scores no better than popularity, and that afterwards (a moment later, once anything
left behind could have acted) the outputs, the world, the other submission and its own folder are as they were
and none of its processes is left.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from recsim_lab.cli.commands import main
from recsim_lab.evaluation import evaluate as evaluate_module
from recsim_lab.evaluation import isolation
from recsim_lab.evaluation.evaluate import EvaluateConfig, evaluate
from recsim_lab.evaluation.sandbox import _FRAME, FORWARDED_BYTES, _receive_frame, _send_frame

HOSTILE = Path(__file__).with_name("hostile")
SCORER_SECRET = f"scorer-secret-{secrets.token_hex(16)}".encode()  # only in this process's memory
# in the command lines of what the attacks leave running
MARKERS = (b"hostile-double-fork", b"917.31337", b"hostile-nested-ns")

needs_isolation = pytest.mark.skipif(isolation.isolation_problem() is not None,
                                     reason=f"no isolation here: {isolation.isolation_problem()}")


@pytest.fixture(scope="module")
def arena(tmp_path_factory, tiny_world_dir):
    """The world, the output folder, another team's submission (with a checkpoint) and a listening port."""
    root = tmp_path_factory.mktemp("arena")
    other = root / "submissions" / "other"
    (other / "checkpoint").mkdir(parents=True)
    (other / "agent.py").write_text("from agents.popularity import PopularityAgent as Agent\n")
    (other / "checkpoint" / "state.npz").write_bytes(b"the other team's model")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    yield {"world": tiny_world_dir, "out": root / "runs", "other": other, "root": root, "listener": listener}
    listener.close()


@pytest.fixture(scope="module")
def popularity(arena):
    outcome = evaluate(config("popularity", arena))
    assert outcome.ok
    return outcome.summary["mean_score"]


def config(agent: str, arena: dict, **limits) -> EvaluateConfig:
    return EvaluateConfig(agent=agent, env=str(arena["world"]), episodes=1, seed=0, out=str(arena["out"]),
                          progress=False, **{"time_limit": 20.0, **limits})


def submission(name: str, arena: dict) -> Path:
    """``tests/hostile/NAME.py`` in a folder of its own, the attacker's knowledge filled in."""
    folder = arena["root"] / "submissions" / name
    folder.mkdir(parents=True, exist_ok=True)
    text = (HOSTILE / f"{name}.py").read_text()
    for key, value in (("@WORLD@", arena["world"]), ("@OUT@", arena["out"]), ("@OTHER@", arena["other"]),
                       ("@PORT@", arena["listener"].getsockname()[1])):
        text = text.replace(key, str(value))
    (folder / "agent.py").write_text(text)
    return folder / "agent.py"


def fingerprint(*folders: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for folder in folders for p in sorted(folder.rglob("*"))}


def leftovers() -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and any(m in Path(entry.path, "cmdline").read_bytes() for m in MARKERS):
                found.append(int(entry.name))
        except OSError:
            pass
    return found


ROWS = [  # name, status, limits, seconds to wait for anything left behind
    ("rebuild_world", "ok", {}, 0.2),
    ("proc_parent", "ok", {}, 0.2),
    ("proc_mem", "ok", {}, 0.2),
    ("double_fork", "ok", {}, 2.0),
    ("trespass", "ok", {}, 0.2),
    ("partial_message", "timeout", {"time_limit": 3.0}, 0.2),
    ("never_read", "timeout", {"time_limit": 3.0}, 0.2),
    ("fork_allocate", "memory", {"memory_limit": 640 << 20}, 0.2),
    ("nested_ns", "memory", {"memory_limit": 640 << 20}, 0.2),
    ("fork_bomb", "timeout", {"time_limit": 4.0}, 0.5),
    ("flood", "ok", {}, 0.2),
    ("kill_parent", "ok", {}, 0.2),
    ("change_folder", "ok", {}, 0.2),
    ("network", "ok", {}, 0.2),
    ("checkpoint_escape", "error", {}, 0.2),
]


@needs_isolation
@pytest.mark.parametrize(("name", "status", "limits", "settle"), ROWS, ids=[row[0] for row in ROWS])
def test_a_hostile_submission_gets_nothing(arena, popularity, capfd, name, status, limits, settle):
    path = submission(name, arena)
    own_folder = fingerprint(path.parent)
    world_and_other = fingerprint(arena["world"], arena["other"])
    assert SCORER_SECRET  # held in this process while the submission runs
    start = time.monotonic()
    outcome = evaluate(config(f"{path}:Agent", arena, **limits))
    took = time.monotonic() - start
    outputs = fingerprint(arena["out"])
    time.sleep(settle)

    summary = outcome.summary
    assert summary["status"] == status, summary.get("reason")
    assert took < limits.get("time_limit", 20.0) + 5
    if status == "ok":
        assert summary["mean_score"] <= popularity
    assert fingerprint(arena["out"]) == outputs  # nothing rewritten after evaluate returned
    assert sorted(p.name for p in outcome.directory.iterdir()) == (
        ["config.json", "episodes.csv", "receipt.json", "scores.csv", "summary.json", "trace.csv"] if status == "ok"
        else ["config.json", "summary.json"])
    assert fingerprint(arena["world"], arena["other"]) == world_and_other
    assert fingerprint(path.parent) == own_folder
    assert not list(arena["out"].rglob("planted*")) and not Path("/tmp/hostile-trespass.txt").exists()
    assert not Path(tempfile.gettempdir(), "hostile-checkpoint-escape.txt").exists()  # beside the scorer's checkpoint
    assert leftovers() == []
    with pytest.raises(BlockingIOError):
        arena["listener"].accept()  # nobody connected
    printed = capfd.readouterr()
    assert len(printed.out) < FORWARDED_BYTES + 4096 and len(printed.err) < FORWARDED_BYTES + 4096


@needs_isolation
@pytest.mark.parametrize("name", ["fork_allocate", "nested_ns"])
def test_the_tree_budget_holds_without_cgroups(arena, monkeypatch, name):
    """Where no cgroup can be made, the watchdog sums the namespace's memory (and counts its tasks: a fork bomb
    is not run here, as root, whom RLIMIT_NPROC does not stop, it would load the shared test machine); nested
    namespaces, where the watchdog would not look, cannot be made (bwrap --disable-userns)."""
    monkeypatch.setattr(isolation, "_make_cgroups", lambda *args: [])
    outcome = evaluate(config(f"{submission(name, arena)}:Agent", arena, memory_limit=640 << 20))
    assert outcome.summary["status"] == "memory"
    assert "processes together went past the memory limit of 640 MiB" in outcome.summary["reason"]
    assert leftovers() == []


@pytest.mark.parametrize("name", ["rebuild_world", "double_fork"])
def test_the_attacks_work_without_isolation(arena, popularity, name):
    """The same attacks, ``insecure``: they win, so the rows above fail when isolation is off."""
    outputs = arena["root"] / f"insecure-{name}"
    world = dict(arena, out=outputs)
    outcome = evaluate(config(f"{submission(name, world)}:Agent", world, insecure=True))
    assert outcome.ok
    if name == "rebuild_world":
        assert outcome.summary["mean_score"] > popularity
    else:
        time.sleep(2.0)
        assert (outcome.directory / "scores.csv").read_text() == "user_id,avg_score\n0,1.0\n"
    shutil.rmtree(outputs)


@pytest.mark.parametrize("peer", ["never reads", "sends a length prefix, then nothing"])
def test_every_protocol_read_and_write_has_a_deadline(peer):
    ours, theirs = socket.socketpair()
    with ours, theirs:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            if peer == "never reads":
                _send_frame(ours, bytes(16 << 20), time.monotonic() + 0.5)
            else:
                theirs.sendall(_FRAME.pack(256))
                _receive_frame(ours, time.monotonic() + 0.5, 1 << 20)
        assert time.monotonic() - start < 1.5


def test_without_isolation_evaluate_refuses_in_one_line(arena, monkeypatch, capsys):
    monkeypatch.setattr(evaluate_module, "isolation_problem", lambda: "isolating a submission needs bubblewrap")
    args = ["evaluate", "popularity", "--env", str(arena["world"]), "--episodes", "1", "--no-progress",
            "--out", str(arena["root"] / "refused")]
    assert main(args) == 2
    assert capsys.readouterr().err == ("recsim-lab: error: isolating a submission needs bubblewrap; or pass "
                                       "--insecure to run code you trust without isolation\n")
    assert not (arena["root"] / "refused").exists()
    assert main([*args, "--insecure"]) == 0


def test_an_output_folder_inside_the_submissions_folder_is_hidden_once(tmp_path):
    """--out inside the submission's folder, and the run directory inside --out: one read-only tmpfs over the
    outer one (a second, inside a read-only tmpfs, could not be made and bwrap would fail)."""
    (tmp_path / "runs" / "run").mkdir(parents=True)
    command = isolation.sandbox_command(["true"], reads=[tmp_path], hide=[tmp_path / "runs" / "run", tmp_path / "runs"],
                              chdir=tmp_path)
    assert [command[i + 1] for i, arg in enumerate(command) if arg == "--remount-ro"] == [str(tmp_path / "runs")]


def test_the_sandbox_cannot_make_user_namespaces(tmp_path):
    command = isolation.sandbox_command(["true"], reads=[tmp_path], chdir=tmp_path)
    assert "--unshare-user" in command and "--disable-userns" in command


def test_hidden_paths_are_covered_wherever_the_sandbox_would_see_them(tmp_path):
    """A hidden path inside a folder it reads is covered even when an outer hidden path is not bound at all;
    a hidden path under the system's /usr is covered too."""
    (tmp_path / "sub" / "world").mkdir(parents=True)
    command = isolation.sandbox_command(["true"], reads=[tmp_path / "sub"],
                                        hide=[tmp_path, tmp_path / "sub" / "world", Path("/usr/share")],
                                        chdir=tmp_path / "sub")
    covered = [command[i + 1] for i, arg in enumerate(command) if arg == "--remount-ro"]
    assert covered == [str(Path(os.path.realpath("/usr/share"))), str(tmp_path / "sub" / "world")]
