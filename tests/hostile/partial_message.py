"""Send the scorer a length prefix (a message of 256 bytes), then nothing."""
import struct
import sys
import time

from agents.popularity import PopularityAgent


class Agent(PopularityAgent):
    def fit(self, data, *, seed):
        import os
        os.write(int(sys.argv[-1]), struct.pack("!Q", 256))
        time.sleep(60)
