"""The default agent in parallel, with `--workers 2`, on a Ray started by the run, and on a two-node Ray cluster
started on this machine: `scores.csv` byte-identical to the serial run's (marked slow: the hybrid fits with
TensorFlow and the packaged text model, and Ray takes seconds to start)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from recsim_lab.cli.commands import main

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.model]

RUN = ["run", "--env", "small", "--agent", "hybrid", "--episodes", "4", "--no-progress", "--no-report"]
RAY = str(Path(sys.executable).with_name("ray"))  # the `ray` command beside this Python


@pytest.fixture(scope="module", autouse=True)
def environment(tmp_path_factory):
    """One private embedding cache for the module (the serial run encodes the item texts, the others reuse them),
    and Ray without token authentication: the test cluster is this machine's own, and a process keeps the
    authentication mode of its first Ray for the next ones."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECSIM_LAB_CACHE", str(tmp_path_factory.mktemp("cache")))
        patch.setenv("RAY_AUTH_MODE", "disabled")
        yield


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("serial")
    assert main([*RUN, "--out", str(out)]) == 0
    (directory,) = out.iterdir()
    return directory


def parallel_run(out: Path, *options: str) -> Path:
    assert main([*RUN, "--out", str(out), *options]) == 0
    (directory,) = out.iterdir()
    return directory


def test_two_workers(serial, tmp_path):
    directory = parallel_run(tmp_path, "--workers", "2")
    assert (directory / "scores.csv").read_bytes() == (serial / "scores.csv").read_bytes()
    assert (directory / "trace.csv").read_bytes() == (serial / "trace.csv").read_bytes()


def test_a_ray_started_by_the_run_gets_the_world_once(serial, tmp_path, monkeypatch):
    import ray

    puts = []
    put = ray.put
    monkeypatch.setattr(ray, "put", lambda value, **kwargs: puts.append(type(value)) or put(value, **kwargs))
    directory = parallel_run(tmp_path, "--ray", "--workers", "2")
    assert (directory / "scores.csv").read_bytes() == (serial / "scores.csv").read_bytes()
    assert puts == [tuple] and not ray.is_initialized()  # world, agent and checkpoint in one object; Ray stopped
    summary = json.loads((directory / "summary.json").read_text())
    assert summary["parallel"]["ray"] == "local" and len(summary["parallel"]["worker_peak_rss_bytes"]) >= 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def nodes(address: str, environment: dict[str, str]) -> int:
    """Active nodes of the cluster at ``address`` (0 while it does not answer)."""
    status = subprocess.run([RAY, "status", "--address", address], env=environment, capture_output=True, text=True)
    if status.returncode != 0:
        return 0
    active = status.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
    return sum(line.strip().startswith("1 node_") for line in active.splitlines())


def test_a_two_node_ray_cluster_on_this_machine(serial, tmp_path):
    """`ray start --head` and a second `ray start --address`, one CPU each, each in a session of its own so that
    exactly its processes are stopped afterwards (`ray stop` would stop every Ray on the machine), with a Ray
    folder of their own (else they would note their address where every `ray.init()` here looks)."""
    ray_folder = tempfile.mkdtemp(prefix="ray-test-")  # short: Ray's socket paths must fit in 107 bytes
    environment = {**os.environ, "RAY_TMPDIR": ray_folder}
    address = f"127.0.0.1:{free_port()}"
    started = []
    try:
        for command, count in (([RAY, "start", "--head", "--port", address.split(":")[1], "--include-dashboard",
                                 "false"], 1), ([RAY, "start", "--address", address], 2)):
            started.append(subprocess.Popen([*command, "--block", "--num-cpus", "1", "--disable-usage-stats"],
                                            env=environment, start_new_session=True, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL))
            deadline = time.monotonic() + 180
            while nodes(address, environment) < count:
                assert started[-1].poll() is None, f"{command} exited with {started[-1].returncode}"
                assert time.monotonic() < deadline, f"the cluster never had {count} node(s)"
                time.sleep(1)
        directory = parallel_run(tmp_path, "--ray", address)
        assert (directory / "scores.csv").read_bytes() == (serial / "scores.csv").read_bytes()
        assert nodes(address, environment) == 2  # both nodes lived through the run
    finally:
        for node in started:
            stop_session(node)
        shutil.rmtree(ray_folder, ignore_errors=True)


def stop_session(leader: subprocess.Popen) -> None:
    """SIGTERM to the session ``leader`` started, then SIGKILL to whatever of it is left after 30 s."""
    session = leader.pid
    os.killpg(session, signal.SIGTERM)
    leader.wait(timeout=60)
    deadline = time.monotonic() + 30
    while (left := [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if _session(pid) == session]):
        if time.monotonic() > deadline:
            for pid in left:
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)


def _session(pid: int) -> int | None:
    """The session of a live process (``None``: gone, or a zombie waiting to be reaped)."""
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return None
        return os.getsid(pid)
    except (OSError, IndexError):
        return None
