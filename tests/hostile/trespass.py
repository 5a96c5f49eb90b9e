"""Write into the run directory, the host's /tmp and its own folder; list and read another submission."""
import os
from pathlib import Path

from agents.popularity import PopularityAgent


def attempts():
    yield lambda: Path("@OUT@", "planted.txt").write_text("mine")
    yield lambda: Path("/tmp/hostile-trespass.txt").write_text("mine") and Path("/tmp/hostile-trespass.txt")
    yield lambda: Path(__file__).with_name("planted.py").write_text("x = 1")
    yield lambda: os.listdir("@OTHER@")
    yield lambda: Path("@OTHER@", "checkpoint", "state.npz").read_bytes()
    yield lambda: Path("@OTHER@", "agent.py").read_bytes()


class Agent(PopularityAgent):
    def fit(self, data, *, seed):
        escaped = []
        for number, attempt in enumerate(attempts()):
            try:
                attempt()
                if number != 1:  # the sandbox's own /tmp is allowed; the test checks it was not the host's
                    escaped.append(number)
            except OSError:
                pass
        if escaped:
            raise RuntimeError(f"escaped: attempts {escaped} succeeded")
        super().fit(data, seed=seed)
