"""Fork children that each allocate under the memory limit, together over it."""
import os
import time

import numpy as np

from agents.popularity import PopularityAgent


class Agent(PopularityAgent):
    def fit(self, data, *, seed):
        children = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                hoard = np.ones(25 << 20)  # 200 MB each, touched
                time.sleep(30 + hoard[0])
                os._exit(0)
            children.append(pid)
        time.sleep(3)
        super().fit(data, seed=seed)
