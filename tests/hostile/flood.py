"""Flood stdout and stderr, then play popularity."""
import os

from agents.popularity import PopularityAgent


class Agent(PopularityAgent):
    def fit(self, data, *, seed):
        line = b"flood " * 10_000 + b"\n"
        for _ in range(1000):  # 60 MB to each
            os.write(1, line)
            os.write(2, line)
        super().fit(data, seed=seed)
