"""Answer the start, then never read again: the scorer's send of the dataset must not block past the limit."""
import socket
import struct
import sys
import time

from agents.popularity import PopularityAgent


class Agent(PopularityAgent):
    def __init__(self):
        super().__init__()
        sock = socket.socket(fileno=int(sys.argv[-1]))
        sock.sendall(struct.pack("!Q", 12) + b'{"ok": true}')
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        time.sleep(60)
