"""Change its own folder mid-run: rewrite its own file and add a module, between episodes."""
from pathlib import Path

from agents.popularity import PopularityAgent


class Agent(PopularityAgent):
    def load(self, path):
        super().load(path)
        for attempt in (lambda: Path(__file__).write_text("raise SystemExit"),
                        lambda: Path(__file__).with_name("extra.py").write_text("x = 1"),
                        lambda: Path(__file__).unlink()):
            try:
                attempt()
                raise RuntimeError("changed its own folder")
            except OSError:
                pass
