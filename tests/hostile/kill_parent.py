"""Kill its parent, the first process it can see, and every process it may signal."""
import os
import signal

from agents.popularity import PopularityAgent


class Agent(PopularityAgent):
    def fit(self, data, *, seed):
        for pid in (os.getppid(), 1, -1):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        super().fit(data, seed=seed)
