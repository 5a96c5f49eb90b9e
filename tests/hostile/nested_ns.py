"""Hide memory from the budget in nested namespaces: ``unshare --user --pid --fork`` children that each
allocate under the limit, together over it (the watchdog counts only the sandbox's own PID namespace). Where
the sandbox refuses new user namespaces, the same children run plainly, so they are counted either way."""
import subprocess
import sys
import time

from agents.popularity import PopularityAgent

HOARD = ("import time, numpy as np; hoard = np.ones(25 << 20); print(flush=True); "
         "time.sleep(30 + hoard[0])  # hostile-nested-ns")


class Agent(PopularityAgent):
    def fit(self, data, *, seed):
        nested = subprocess.run(["unshare", "--user", "--pid", "--fork", "true"], capture_output=True).returncode == 0
        prefix = ["unshare", "--user", "--pid", "--fork"] if nested else []
        children = [subprocess.Popen([*prefix, sys.executable, "-c", HOARD], stdout=subprocess.PIPE)
                    for _ in range(4)]
        for child in children:  # every child holds its memory (however loaded the machine), then a moment to notice
            child.stdout.readline()
        time.sleep(3)
        super().fit(data, seed=seed)
