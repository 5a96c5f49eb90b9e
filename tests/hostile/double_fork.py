"""Double fork + setsid: a grandchild outlives the evaluation and rewrites scores.csv and summary.json."""
import os
import sys

from agents.popularity import PopularityAgent

REWRITE = """
import pathlib, time
time.sleep(1.0)
for path in pathlib.Path("@OUT@").rglob("*"):
    if path.name in ("scores.csv", "summary.json"):
        path.write_text("user_id,avg_score\\n0,1.0\\n")
"""


class Agent(PopularityAgent):
    def fit(self, data, *, seed):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)  # hold none of the scorer's pipes
                os.execv(sys.executable, [sys.executable, "-c", REWRITE, "hostile-double-fork"])
            os._exit(0)
        os.wait()
        super().fit(data, seed=seed)
