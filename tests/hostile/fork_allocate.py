"""Fork children that each allocate under the memory limit, together over it."""
import os
import time

import numpy as np

from agents.popularity import PopularityAgent


class Agent(PopularityAgent):
    def fit(self, data, *, seed):
        ready, told = os.pipe()
        for _ in range(4):
            if os.fork() == 0:
                hoard = np.ones(25 << 20)  # 200 MB each, touched
                os.write(told, b"!")
                os.close(told)
                time.sleep(30 + hoard[0])
                os._exit(0)
        os.close(told)
        while os.read(ready, 1):  # until every child holds its memory or died trying (an OOM kill), then a
            pass  # moment for the watchdog, however loaded the machine
        time.sleep(3)
        super().fit(data, seed=seed)
