"""Open a network socket: to the scorer's machine, and to the outside world."""
import socket

from agents.popularity import PopularityAgent

PORT = int("@PORT@")  # the scorer's, filled in by the test


class Agent(PopularityAgent):
    def fit(self, data, *, seed):
        for address in (("127.0.0.1", PORT), ("1.1.1.1", 53)):
            try:
                with socket.create_connection(address, timeout=0.5):
                    raise RuntimeError(f"connected to {address}")
            except OSError:
                pass
        super().fit(data, seed=seed)
