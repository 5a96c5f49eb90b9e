"""Send the scorer a checkpoint with a file name that leaves its folder (the child's reply code replaced)."""
import sys

from agents.popularity import PopularityAgent

serving = sys.modules["__main__"]  # recsim_lab.evaluation.sandbox, the child's main module


def escaping_reply(checkpoint):
    return serving._encode({"ok": True, "files": [["../hostile-checkpoint-escape.txt", 4]]}, b"mine")


class Agent(PopularityAgent):
    def save(self, path):
        super().save(path)
        serving._files_reply = escaping_reply
