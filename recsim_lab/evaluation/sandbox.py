"""``SandboxedAgent``: a submitted agent running in a child process, under a deadline and a memory limit.

The env and the scoring stay in the calling process; only the agent runs in the child, a fresh
``python -m recsim_lab.evaluation.sandbox`` (it inherits nothing but the caller's ``sys.path``, and unlike
multiprocessing's "spawn" it never re-imports the caller's ``__main__``). ``SandboxedAgent`` implements the
agent protocol by forwarding each call over a socket pair (a :class:`multiprocessing.connection.Connection`
at both ends, apart from the child's stdout and stderr, which the agent may print to):

- caller -> child: the start-up arguments, then ``(method, args, kwargs)`` per call, pickled (the child trusts
  the caller);
- child -> caller: bytes only, a JSON header line and, for ``recommend``, the slates in ``.npy`` format read
  with ``allow_pickle=False``, so nothing a submission sends can run code in the caller.

The child sets ``RLIMIT_AS`` (its address space, bytes) to the memory limit before it imports the agent, so an
allocation past the limit fails there: ``MemoryError`` in Python (status ``memory``), or a native library
that gives up (status ``crashed``, with a hint). The limit is on address space, not resident memory: a
NumPy agent needs about 0.2 GiB, a TensorFlow one 2 to 2.5 GiB on 2 cores (threads reserve more on larger
machines; the child caps glibc's malloc arenas with ``MALLOC_ARENA_MAX=4`` unless the environment sets it).
The caller enforces the deadline: when a reply has not come by then, it kills the child; on Linux the child
also dies with the caller, even when the caller is killed. The caller validates every slate itself
(:func:`~recsim_lab.sim.population.check_slates`).

Every failure raises :class:`AgentFailure`, whose ``status`` is one of :data:`FAILURE_STATUSES`.
"""

from __future__ import annotations

import errno
import io
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from agents.registry import make_agent
from recsim_lab.data import Dataset
from recsim_lab.sim.population import check_slates

FAILURE_STATUSES = {
    "error": "the agent raised an exception (reason: the last line of its traceback)",
    "memory": "an allocation failed under the memory limit (MemoryError, or a library that could not map)",
    "timeout": "the evaluation ran past its time limit; the agent's process was killed",
    "invalid_slate": "recommend() returned something that is not a valid batch of slates",
    "crashed": "the agent's process died without answering (a signal, os._exit, a crash in native code)",
}
"""Why a sandboxed agent can fail, by status."""

_CHILD_STATUSES = ("error", "memory", "invalid_slate")  # statuses the child reports itself
_MAX_REPLY_BYTES = 64 << 20  # the longest reply accepted from the child (slates are 8 bytes per item id)
_MALLOC_ARENA_MAX = "4"  # glibc reserves 64 MiB of address space per malloc arena, up to 8 per core, unless capped
_PR_SET_PDEATHSIG = 1  # prctl(2) option: the signal this process gets when its parent dies
_OUT_OF_MEMORY_SIGNS = ("Cannot allocate memory", "failed to map segment", "can't start new thread")


class AgentFailure(Exception):
    """The sandboxed agent failed.

    Attributes:
        status: one of :data:`FAILURE_STATUSES`.
        reason: what went wrong, in one line.
        call: the agent method that failed (``"start"``: importing and constructing the agent).
        episode: 0-based episode of the failure, ``None`` before the first episode.
        step: 0-based env step in the episode (``recommend`` and ``update`` only, else ``None``).
        traceback: the agent's traceback (``error`` and ``memory``), else ``""``.
    """

    def __init__(self, status: str, reason: str, *, call: str, episode: int | None, step: int | None,
                 traceback: str = "") -> None:
        if status not in FAILURE_STATUSES:
            raise ValueError(f"status must be one of {sorted(FAILURE_STATUSES)}, got {status!r}")
        where = f" at episode {episode}, step {step}" if step is not None else (
            f" at episode {episode}" if episode is not None else "")
        super().__init__(f"{status} in {call}{where}: {reason}")
        self.status, self.reason, self.call = status, reason, call
        self.episode, self.step, self.traceback = episode, step, traceback

    def record(self) -> dict[str, Any]:
        """The failure as JSON-able fields: status, reason, call, episode, step, traceback."""
        return {"status": self.status, "reason": self.reason, "call": self.call, "episode": self.episode,
                "step": self.step, "traceback": self.traceback}


class SandboxedAgent:
    """The agent ``spec`` in a child process; implements :class:`~agents.protocol.Agent`.

    Use it as a context manager (or call :meth:`close`) so that the child never outlives it.

    Args:
        spec: ``path/to/file.py:Class``, ``package.module:Class`` or a built-in name.
        options: the agent's constructor keywords (it is not given the hidden world).
        n_items: catalogue size, to validate slates.
        time_limit: seconds from now by which every call must have returned.
        memory_limit: the child's address-space limit in bytes, or ``None`` for none.

    A failure's episode and step are counted from the calls: each ``load`` starts an episode (the runner
    restores the checkpoint at the start of every episode) and each ``update`` ends a step.

    Raises:
        AgentFailure: from the constructor and from every method, when the agent fails.
    """

    def __init__(self, spec: str, options: dict[str, Any], *, n_items: int, time_limit: float,
                 memory_limit: int | None) -> None:
        self.n_items = n_items
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self.episode: int | None = None
        self.step: int | None = None
        self._deadline = time.monotonic() + time_limit
        self._call = "start"
        ours, theirs = socket.socketpair()
        with ours, theirs:
            self._process = subprocess.Popen([sys.executable, "-m", __name__, str(theirs.fileno()), str(os.getpid())],
                                             pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                             env={"MALLOC_ARENA_MAX": _MALLOC_ARENA_MAX, **os.environ})
            self._conn = Connection(ours.detach())
        self._request("start", sys.path, spec, dict(options), memory_limit)  # "ready", or why no agent

    def fit(self, data: Dataset, *, seed: int) -> None:
        self._request("fit", data, seed=seed)

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        slates = self._request("recommend", users, k)
        try:
            return check_slates(slates, len(users), k, self.n_items)
        except ValueError as error:
            raise self._failure("invalid_slate", str(error)) from None

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        self._request("update", users, slates, clicks)
        self.step = (self.step or 0) + 1

    def save(self, path: Path) -> None:
        self._request("save", Path(path))

    def load(self, path: Path) -> None:
        self.episode = 0 if self.episode is None else self.episode + 1
        self.step = 0
        self._request("load", Path(path))

    def close(self) -> None:
        """Stop the child (it holds nothing worth a graceful exit: checkpoints are written by ``save``)."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._conn.close()

    def __enter__(self) -> SandboxedAgent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(self, call: str, *args: Any, **kwargs: Any) -> np.ndarray | None:
        self._call = call
        try:
            self._conn.send((call, args, kwargs))
        except OSError:
            raise self._died() from None
        return self._receive()

    def _receive(self) -> np.ndarray | None:
        """The payload of the child's reply (slates for ``recommend``, else ``None``)."""
        remaining = self._deadline - time.monotonic()
        try:
            message = self._conn.recv_bytes(_MAX_REPLY_BYTES) if remaining > 0 and self._conn.poll(remaining) \
                else None
        except (EOFError, OSError) as error:
            if self._exit_code() is not None:
                raise self._died() from None
            raise self._failure("error", f"the agent's process broke the reply protocol ({error})") from None
        if message is None:
            raise self._failure("timeout", f"the evaluation ran past its time limit of {self.time_limit:g} s")
        try:
            header, payload = _decode(message)
        except Exception as error:  # noqa: BLE001  (anything the child sends is untrusted input)
            raise self._failure("error", f"the agent's process sent a malformed reply ({error})") from None
        if not header["ok"]:
            reason = header["reason"]
            if header["status"] == "memory":
                reason += f" (memory limit {_format_bytes(self.memory_limit)})"
            raise self._failure(header["status"], reason, trace=header.get("traceback", ""))
        return payload

    def _exit_code(self) -> int | None:
        """The child's exit code (negative: killed by that signal), or ``None`` if it still runs after 1 s."""
        try:
            return self._process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return None

    def _died(self) -> AgentFailure:
        code = self._exit_code()
        if code is None:
            how = "it closed its connection"
        elif code < 0:
            how = f"killed by {signal.Signals(-code).name}"
        else:
            how = f"exit code {code}"
        hint = "" if self.memory_limit is None else (
            f"; native libraries may exit like this when an allocation fails under the memory limit of "
            f"{_format_bytes(self.memory_limit)}")
        return self._failure("crashed", f"the agent's process died during {self._call} ({how}){hint}")

    def _failure(self, status: str, reason: str, trace: str = "") -> AgentFailure:
        """An :class:`AgentFailure` for the current call; the child is stopped first."""
        self.close()
        step = self.step if self._call in ("recommend", "update") else None
        return AgentFailure(status, reason, call=self._call, episode=self.episode, step=step, traceback=trace)


def _format_bytes(size: int | None) -> str:
    if size is None:
        return "none"
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{size / (1 << shift):g} {unit}"
    return f"{size} bytes"


def _encode(header: dict[str, Any], array: np.ndarray | None = None) -> bytes:
    """A reply: one JSON line, then the array in ``.npy`` format when there is one."""
    body = b""
    if array is not None:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        body = buffer.getvalue()
    return json.dumps(header).encode("utf-8") + b"\n" + body


def _decode(message: bytes) -> tuple[dict[str, Any], np.ndarray | None]:
    """Parse a reply without trusting it: ``ValueError`` (or any exception) when it is malformed."""
    head, _, body = message.partition(b"\n")
    header = json.loads(head)
    if not isinstance(header, dict) or not isinstance(header.get("ok"), bool):
        raise ValueError("no 'ok' flag")
    if not header["ok"] and (header.get("status") not in _CHILD_STATUSES or not isinstance(header.get("reason"), str)
                             or not isinstance(header.get("traceback", ""), str)):
        raise ValueError("a failure without a known status and a reason")
    array = np.lib.format.read_array(io.BytesIO(body), allow_pickle=False) if body else None
    return header, array


def _serve(conn: Connection) -> None:
    """The child: limit memory, build the agent, then answer calls until the caller goes away."""
    _, (path, spec, options, memory_limit), _ = conn.recv()
    sys.path[:] = path
    if memory_limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    try:

        agent = make_agent(spec, **options)
    except (Exception, SystemExit) as error:
        conn.send_bytes(_failure_reply(error))
        return
    conn.send_bytes(_encode({"ok": True}))
    while True:
        try:
            call, args, kwargs = conn.recv()
        except EOFError:
            return
        try:
            result = getattr(agent, call)(*args, **kwargs)
            reply = _slates_reply(result) if call == "recommend" else _encode({"ok": True})
        except (Exception, SystemExit) as error:
            reply = _failure_reply(error)
        conn.send_bytes(reply)


def _slates_reply(result: Any) -> bytes:
    try:
        return _encode({"ok": True}, np.asarray(result))
    except (ValueError, TypeError) as error:  # ragged lists, objects: not an array of numbers
        return _encode({"ok": False, "status": "invalid_slate",
                        "reason": f"recommend returned a {type(result).__name__} that is not an array of item ids "
                                  f"({error})"})


def _failure_reply(error: BaseException) -> bytes:
    status = "memory" if _out_of_memory(error) else "error"
    try:
        reason = traceback.format_exception_only(error)[-1].strip()
        trace = "".join(traceback.format_exception(error))
    except MemoryError:
        reason, trace = type(error).__name__, ""
    return _encode({"ok": False, "status": status, "reason": reason, "traceback": trace})


def _out_of_memory(error: BaseException | None) -> bool:
    """Whether ``error`` (or one it arose from) is a failed allocation: ``MemoryError``, ``ENOMEM``, or a
    library that could not map its code or start a thread under the address-space limit."""
    while error is not None:
        if isinstance(error, MemoryError) or (isinstance(error, OSError) and error.errno == errno.ENOMEM) or \
                any(sign in str(error) for sign in _OUT_OF_MEMORY_SIGNS):
            return True
        error = error.__cause__ or error.__context__
    return False


def _exit_with_caller(caller: int) -> None:
    """Have Linux kill this process when the caller dies (even by SIGKILL), so no agent runs on orphaned."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != caller:  # the caller died before the request took effect
        os._exit(1)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle; the caller stops us
    _exit_with_caller(int(sys.argv[2]))
    _serve(Connection(int(sys.argv[1])))
