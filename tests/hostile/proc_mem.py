"""Read every other process's memory through /proc/<pid>/mem, looking for the scorer's secret."""
import os
import re

from agents.popularity import PopularityAgent

PATTERN = re.compile(rb"scorer-" + rb"secret-[0-9a-f]{32}")


def search(pid):
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
            for line in maps:
                start, end = (int(x, 16) for x in line.split()[0].split("-"))
                try:
                    mem.seek(start)
                    if PATTERN.search(mem.read(min(end - start, 1 << 26))):
                        return True
                except (OSError, ValueError, OverflowError):
                    continue
    except OSError:
        pass
    return False


class Agent(PopularityAgent):
    def fit(self, data, *, seed):
        found = [pid for pid in {os.getppid(), *(int(p) for p in os.listdir("/proc") if p.isdigit())}
                 if pid != os.getpid() and search(pid)]
        if found:
            raise RuntimeError(f"read the scorer's secret in the memory of {found}")
        super().fit(data, seed=seed)
