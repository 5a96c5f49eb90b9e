"""``SandboxedAgent``: a submitted agent running isolated, under a deadline and a memory limit.

The env and the scoring stay in the calling process; only the agent runs in the child, a fresh
``python -m recsim_lab.evaluation.sandbox`` inside bubblewrap's namespaces
(:mod:`~recsim_lab.evaluation.isolation`: it sees read-only only the system, Python, the project's packages
and the submission's folder; a private ``/tmp``; no network; no process but its own), its whole process tree
under one memory and process budget (:class:`~recsim_lab.evaluation.isolation.ProcessTree`). ``SandboxedAgent``
implements the agent protocol by forwarding each call over a socket pair, one message per frame (an 8-byte
length, then the bytes), apart from the child's stdout and stderr, which are passed on up to
:data:`FORWARDED_BYTES` each:

- caller -> child: the start-up arguments, then ``(method, args, kwargs)`` per call, pickled (the child trusts
  the caller); ``fit`` gets a new :class:`~recsim_lab.data.Dataset` of the visible fields only, and ``save``
  and ``load`` no path: the child keeps the checkpoint in a private folder of its ``/tmp``; ``load`` carries
  the checkpoint's files to a child that does not hold them yet (a fresh sandbox for one episode, in a
  parallel evaluation);
- child -> caller: bytes only, a JSON header line and, for ``recommend``, the slates in ``.npy`` format read
  with ``allow_pickle=False``; for ``save``, the checkpoint's files (names and sizes in the header, then their
  bytes: at most :data:`MAX_CHECKPOINT_BYTES`, each name a plain relative path), which the caller writes into
  its own checkpoint folder. Nothing a submission sends can run code in the caller.

Every read and write of the caller has the evaluation's deadline, so a child that sends half a message or
stops reading is ended with status ``timeout``. The child also sets ``RLIMIT_AS`` (each process's address
space) to the memory limit before it imports the agent, so one large allocation fails there: ``MemoryError``
in Python (status ``memory``), or a native library that gives up (status ``crashed``, with a hint); the tree as
a whole going over the limit is ``memory`` too. The child caps glibc's malloc arenas with
``MALLOC_ARENA_MAX=4`` unless the environment sets it. :meth:`SandboxedAgent.close` returns once every process
of the submission is gone; they also die with the caller, even when it is killed. Without isolation
(``isolated=False``, for code you trust) the child is a plain process that dies with the caller
(``PR_SET_PDEATHSIG``). The caller validates every slate itself (:func:`~recsim_lab.sim.population.check_slates`).

Every failure raises :class:`AgentFailure`, whose ``status`` is one of :data:`FAILURE_STATUSES`.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from agents.helpers.text_embeddings import CACHE_ENV, default_cache_dir
from agents.registry import absolute_spec, make_agent
from recsim_lab.checkpoint import checkpoint_files, write_checkpoint_files
from recsim_lab.data import Dataset
from recsim_lab.evaluation.isolation import TMP_SIZE, ProcessTree, kept_environment, sandbox_command
from recsim_lab.evaluation.receipts import KEY_VARIABLE
from recsim_lab.processes import die_with_parent, project_packages, project_roots
from recsim_lab.run.failures import AgentRaised
from recsim_lab.sim.population import check_slates
from recsim_lab.worlds.world import World

FAILURE_STATUSES = {
    "error": "the agent raised an exception (reason: the last line of its traceback)",
    "memory": "an allocation failed under the memory limit (MemoryError, or a library that could not map), or "
              "the submission's processes together went past it",
    "timeout": "the evaluation ran past its time limit; the agent's process was killed",
    "invalid_slate": "recommend() returned something that is not a valid batch of slates",
    "crashed": "the agent's process died without answering (a signal, os._exit, a crash in native code)",
}
"""Why a sandboxed agent can fail, by status."""

FORWARDED_BYTES = 1 << 20
"""The most the agent's stdout and stderr (each) are passed on to ours; the rest is dropped."""
_CHILD_STATUSES = ("error", "memory", "invalid_slate")  # statuses the child reports itself
_MAX_REPLY_BYTES = 64 << 20  # the longest reply accepted from the child (slates are 8 bytes per item id)
MAX_CHECKPOINT_BYTES = TMP_SIZE
"""The largest checkpoint a submission may save (it lives in the sandbox's ``/tmp``, of this size)."""
_MALLOC_ARENA_MAX = "4"  # glibc reserves 64 MiB of address space per malloc arena, up to 8 per core, unless capped
_OUT_OF_MEMORY_SIGNS = ("Cannot allocate memory", "failed to map segment", "can't start new thread")
_FRAME = struct.Struct("!Q")  # every message: its length in 8 bytes, then its bytes


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

    def __reduce__(self) -> tuple[Any, ...]:  # from a worker process to the scorer (a parallel evaluation)
        return _agent_failure, tuple(self.record().values())


def _agent_failure(status: str, reason: str, call: str, episode: int | None, step: int | None,
                   trace: str) -> AgentFailure:
    return AgentFailure(status, reason, call=call, episode=episode, step=step, traceback=trace)


class SandboxedAgent:
    """The agent ``spec`` in a child process; implements :class:`~agents.protocol.Agent`.

    Use it as a context manager (or call :meth:`close`) so that the child never outlives it: :meth:`close`
    returns once every process the submission started is gone.

    Args:
        spec: ``path/to/file.py:Class``, ``package.module:Class`` or a built-in name.
        options: the agent's constructor keywords (it is not given the hidden world).
        n_items: catalogue size, to validate slates.
        time_limit: seconds from now by which every call must have returned.
        memory_limit: bytes: each process's address-space limit and, isolated, the whole tree's memory;
            ``None`` for none.
        isolated: run the child in its own namespaces (:mod:`~recsim_lab.evaluation.isolation`); ``False``
            runs it as a plain child process, for code you trust.
        hide: paths the isolated child must not see even where they lie inside a folder it sees (the world,
            the outputs).
        time_left: seconds left of ``time_limit`` (default: all of it), for a sandbox opened partway through
            an evaluation.
        first_episode: the episode the first ``load`` starts.

    ``save`` and ``load`` are given the scorer's checkpoint path, but the child saves into a private folder of
    its own (inside the sandbox's ``/tmp``) and never learns that path: ``save`` writes the files the child
    sends back into the scorer's folder, and ``load`` sends them to a child that does not hold them yet. A
    failure's episode and step are counted from the calls: each ``load`` starts an episode (the runner
    restores the checkpoint at the start of every episode) and each ``update`` ends a step.

    Raises:
        AgentFailure: from the constructor and from every method, when the agent fails.
        RuntimeError: ``isolated`` and isolation is not available here (the reason, in one line).
    """

    def __init__(self, spec: str, options: dict[str, Any], *, n_items: int, time_limit: float,
                 memory_limit: int | None, isolated: bool = True, hide: tuple[Path, ...] = (),
                 time_left: float | None = None, first_episode: int = 0) -> None:
        spec = absolute_spec(spec)  # the child works in the submission's folder: give it the file's full path
        self.n_items = n_items
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self.isolated = isolated
        self.episode: int | None = None
        self.step: int | None = None
        self._next_episode = first_episode
        self._holds: Path | None = None  # the scorer's checkpoint folder whose files the child holds
        self._deadline = time.monotonic() + (time_limit if time_left is None else time_left)
        self._call = "start"
        self._closed = False
        self._tree = ProcessTree(memory_limit) if isolated else None
        self._tmp = None if isolated else tempfile.mkdtemp(prefix="recsim-lab-agent-")
        ours, theirs = socket.socketpair()
        with theirs:
            self._socket = ours
            argv, environment, cwd = self._command(spec, theirs.fileno(), hide)
            self._process = subprocess.Popen(argv, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment,
                                             cwd=cwd)
        if self._tree is not None:
            self._tree.started(self._process)
        self._forwarders = [threading.Thread(target=_forward, args=(pipe, out, name), daemon=True)
                            for pipe, out, name in ((self._process.stdout, sys.stdout, "stdout"),
                                                    (self._process.stderr, sys.stderr, "stderr"))]
        for thread in self._forwarders:
            thread.start()
        process_limit = None if self._tree is None else self._tree.process_limit()
        self._request("start", sys.path, spec, dict(options), memory_limit, process_limit)  # "ready", or why not

    @property
    def isolation(self) -> str:
        """How the child is held: ``"bwrap+cgroup"``, ``"bwrap+watchdog"`` or ``"none"``."""
        return "none" if self._tree is None else f"bwrap+{self._tree.method}"

    def _command(self, spec: str, fd: int, hide: tuple[Path, ...]) -> tuple[list[str], dict[str, str], str | None]:
        """The child's command line, environment and working directory."""
        argv = [sys.executable, *(["-P"] if sys.version_info >= (3, 11) else []), "-m", __name__, str(fd)]
        if self._tree is None:  # a plain child process that dies with us (PR_SET_PDEATHSIG)
            environment = {name: value for name, value in os.environ.items() if name != KEY_VARIABLE}
            return ([*argv, str(os.getpid())],
                    {"MALLOC_ARENA_MAX": _MALLOC_ARENA_MAX, **environment, "TMPDIR": self._tmp}, None)
        source = spec.rpartition(":")[0]
        folder = Path(source).resolve().parent if source.endswith(".py") else None
        reads = [*project_packages(), *([folder] if folder is not None and folder.is_dir() else [])]  # read-only
        environment = {"MALLOC_ARENA_MAX": _MALLOC_ARENA_MAX, **kept_environment(),
                       "PYTHONPATH": os.pathsep.join(project_roots())}
        cache = default_cache_dir()
        if cache.is_dir():  # text embeddings of item texts, which the agent sees anyway: read-only, so that a
            reads.append(cache)  # submission reuses what the organiser's runs encoded but can poison nothing
            environment[CACHE_ENV] = str(cache.resolve())
        tmp_size = TMP_SIZE if self.memory_limit is None else min(TMP_SIZE, self.memory_limit)
        chdir = folder if folder is not None and folder.is_dir() else Path("/tmp")
        command = sandbox_command(argv, reads=reads, hide=hide, chdir=chdir, tmp_size=tmp_size,
                                  environment=environment)
        return self._tree.command(command), {}, None

    def fit(self, data: Dataset, *, seed: int) -> None:
        visible = Dataset(list(data.headlines), list(data.descriptions), list(data.categories),
                          [np.asarray(history, dtype=np.int64) for history in data.histories],
                          n_train_users=int(data.n_train_users))  # the fields and nothing else
        self._request("fit", visible, seed=int(seed))

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        _, body = self._request("recommend", users, k)
        try:
            slates = np.lib.format.read_array(io.BytesIO(body), allow_pickle=False) if body else None
        except Exception as error:  # noqa: BLE001  (anything the child sends is untrusted input)
            raise self._failure("error", f"the agent's process sent a malformed reply ({error})") from None
        try:
            return check_slates(slates, len(users), k, self.n_items)
        except ValueError as error:
            raise self._failure("invalid_slate", str(error)) from None

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        self._request("update", users, slates, clicks)
        self.step = (self.step or 0) + 1

    def save(self, path: Path) -> None:
        header, body = self._request("save", limit=MAX_CHECKPOINT_BYTES)  # the child never learns ``path``
        try:
            files, offset = {}, 0
            for name, size in header["files"]:
                if not isinstance(size, int) or size < 0 or offset + size > len(body):
                    raise ValueError(f"file {name!r} of size {size!r} does not fit the reply")
                files[name], offset = body[offset:offset + size], offset + size
            if offset != len(body):
                raise ValueError(f"{len(body) - offset} bytes after the last file")
            write_checkpoint_files(Path(path), files)
        except (KeyError, TypeError, ValueError, OSError) as error:  # untrusted: names, sizes, a file and a folder
            raise self._failure("error", f"the agent's process sent a malformed checkpoint ({error})") from None
        self._holds = Path(path)

    def load(self, path: Path) -> None:
        self.episode, self._next_episode = self._next_episode, self._next_episode + 1
        self.step = 0
        files = None if self._holds == Path(path) else checkpoint_files(path)  # a fresh sandbox gets the files
        self._request("load", files)
        self._holds = Path(path)

    def close(self) -> None:
        """Stop the child and every process it started; return once they are all gone."""
        if self._closed:
            return
        self._closed = True
        if self._tree is not None:
            self._tree.kill()
        elif self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._socket.close()
        for thread in self._forwarders:
            thread.join(timeout=5.0)  # an insecure child's orphans may keep its pipes open
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> SandboxedAgent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(self, call: str, *args: Any, limit: int = _MAX_REPLY_BYTES,
                 **kwargs: Any) -> tuple[dict[str, Any], bytes]:
        """Send one call; the child's reply: its JSON header and the bytes after it (at most ``limit``)."""
        self._call = call
        try:
            _send_frame(self._socket, pickle.dumps((call, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL),
                        self._deadline)
        except TimeoutError:
            raise self._timeout() from None
        except OSError:
            raise self._died() from None
        return self._receive(limit)

    def _receive(self, limit: int) -> tuple[dict[str, Any], bytes]:
        try:
            message = _receive_frame(self._socket, self._deadline, limit)
        except TimeoutError:
            raise self._timeout() from None
        except (EOFError, OSError) as error:
            if self._exit_code() is not None:
                raise self._died() from None
            raise self._failure("error", f"the agent's process broke the reply protocol ({error})") from None
        except ValueError as error:
            raise self._failure("error", f"the agent's process sent a malformed reply ({error})") from None
        if self._tree is not None and self._tree.out_of_memory():
            raise self._out_of_memory()
        try:
            header, body = _decode(message)
        except Exception as error:  # noqa: BLE001  (anything the child sends is untrusted input)
            raise self._failure("error", f"the agent's process sent a malformed reply ({error})") from None
        if not header["ok"]:
            reason = header["reason"]
            if header["status"] == "memory":
                reason += f" (memory limit {_format_bytes(self.memory_limit)})"
            raise self._failure(header["status"], reason, trace=header.get("traceback", ""))
        return header, body

    def _exit_code(self) -> int | None:
        """The child's exit code (negative: killed by that signal), or ``None`` if it still runs after 1 s."""
        try:
            return self._process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return None

    def _timeout(self) -> AgentFailure:
        return self._failure("timeout", f"the evaluation ran past its time limit of {self.time_limit:g} s")

    def _out_of_memory(self) -> AgentFailure:
        return self._failure("memory", f"the submission's processes together went past the memory limit of "
                                       f"{_format_bytes(self.memory_limit)}")

    def _died(self) -> AgentFailure:
        code = self._exit_code()
        if self._tree is not None and self._tree.out_of_memory():
            return self._out_of_memory()
        if self._tree is not None and code is not None and code > 128 and code - 128 in signal.valid_signals():
            code = 128 - code  # bwrap exits with 128 + the signal that killed the agent
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
        """An :class:`AgentFailure` for the current call; the child and its processes are stopped first."""
        self.close()
        step = self.step if self._call in ("recommend", "update") else None
        return AgentFailure(status, reason, call=self._call, episode=self.episode, step=step, traceback=trace)


@dataclass(frozen=True)
class SandboxedAgents:
    """A fresh :class:`SandboxedAgent` for each episode: ``evaluate``'s
    :class:`~recsim_lab.run.parallel.AgentSource` when its episodes are played in parallel. Every sandbox runs
    the same submission with the same options and limits, under the deadline of the whole evaluation; it never
    sees the world."""

    spec: str
    options: dict[str, Any]
    n_items: int
    time_limit: float
    deadline: float
    """When the evaluation's time is up, as ``time.time()`` (a wall clock: comparable across processes)."""
    memory_limit: int | None
    isolated: bool
    hide: tuple[Path, ...]

    @contextmanager
    def open(self, world: World, episode: int) -> Iterator[SandboxedAgent]:
        with SandboxedAgent(self.spec, self.options, n_items=self.n_items, time_limit=self.time_limit,
                            memory_limit=self.memory_limit, isolated=self.isolated, hide=self.hide,
                            time_left=self.deadline - time.time(), first_episode=episode) as agent:
            try:
                yield agent
            except AgentRaised as error:  # the runner's wrapping of the sandbox's failure: the failure itself
                if isinstance(error.__cause__, AgentFailure):
                    raise error.__cause__ from None
                raise


def _forward(pipe: BinaryIO, out: Any, name: str) -> None:
    """Pass the child's ``pipe`` on to ``out`` up to :data:`FORWARDED_BYTES`, then drop the rest."""
    passed = 0
    with pipe:
        while chunk := pipe.read1(1 << 16):
            if passed < FORWARDED_BYTES:
                text = chunk[:FORWARDED_BYTES - passed].decode("utf-8", "replace")
                passed += len(chunk)
                if passed >= FORWARDED_BYTES:
                    text += f"\n[recsim-lab: the agent's {name} is cut here, after {_format_bytes(FORWARDED_BYTES)}]\n"
                try:
                    out.write(text)
                    out.flush()
                except (OSError, ValueError):
                    passed = FORWARDED_BYTES


def _send_frame(sock: socket.socket, data: bytes, deadline: float | None) -> None:
    """Send one message by ``deadline`` (``time.monotonic()``; ``None``: no deadline), or ``TimeoutError``."""
    _set_timeout(sock, deadline)
    sock.sendall(_FRAME.pack(len(data)))
    _set_timeout(sock, deadline)
    sock.sendall(data)


def _receive_frame(sock: socket.socket, deadline: float | None, limit: int) -> bytes:
    """One message by ``deadline``: ``TimeoutError``, ``EOFError`` (closed), ``ValueError`` (over ``limit``)."""
    (size,) = _FRAME.unpack(_receive_exactly(sock, _FRAME.size, deadline))
    if size > limit:
        raise ValueError(f"a message of {size} bytes, over the limit of {limit}")
    return _receive_exactly(sock, size, deadline)


def _receive_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    received = 0
    while received < size:
        _set_timeout(sock, deadline)
        count = sock.recv_into(view[received:])
        if count == 0:
            raise EOFError("the connection was closed")
        received += count
    return bytes(buffer)


def _set_timeout(sock: socket.socket, deadline: float | None) -> None:
    if deadline is None:
        sock.settimeout(None)
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("past the deadline")
    sock.settimeout(remaining)


def _format_bytes(size: int | None) -> str:
    if size is None:
        return "none"
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{size / (1 << shift):g} {unit}"
    return f"{size} bytes"


def _encode(header: dict[str, Any], body: bytes = b"") -> bytes:
    """A reply: one JSON line, then ``body``."""
    return json.dumps(header).encode("utf-8") + b"\n" + body


def _decode(message: bytes) -> tuple[dict[str, Any], bytes]:
    """Split a reply into its header and body, checking the header without trusting it: ``ValueError`` (or
    any exception) when it is malformed."""
    head, _, body = message.partition(b"\n")
    header = json.loads(head)
    if not isinstance(header, dict) or not isinstance(header.get("ok"), bool):
        raise ValueError("no 'ok' flag")
    if not header["ok"] and (header.get("status") not in _CHILD_STATUSES or not isinstance(header.get("reason"), str)
                             or not isinstance(header.get("traceback", ""), str)):
        raise ValueError("a failure without a known status and a reason")
    return header, body


def _serve(sock: socket.socket) -> None:
    """The child: limit memory, build the agent, then answer calls until the caller goes away."""
    _, (path, spec, options, memory_limit, process_limit), _ = _receive_call(sock)
    sys.path[:] = path
    if memory_limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    if process_limit is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (process_limit, process_limit))
    checkpoint = Path(tempfile.mkdtemp(prefix="checkpoint-"))  # private: the sandbox's /tmp (TMPDIR outside one)
    try:
        agent = make_agent(spec, **options)
    except (Exception, SystemExit) as error:
        _send_frame(sock, _failure_reply(error), None)
        return
    _send_frame(sock, _encode({"ok": True}), None)
    while True:
        try:
            call, args, kwargs = _receive_call(sock)
        except EOFError:
            return
        try:
            if call == "load" and args[0] is not None:  # the files of a checkpoint saved in another sandbox
                shutil.rmtree(checkpoint)
                checkpoint.mkdir()
                write_checkpoint_files(checkpoint, args[0])
            if call in ("save", "load"):
                args = (checkpoint,)
            result = getattr(agent, call)(*args, **kwargs)
            reply = _slates_reply(result) if call == "recommend" else \
                _files_reply(checkpoint) if call == "save" else _encode({"ok": True})
        except (Exception, SystemExit) as error:
            reply = _failure_reply(error)
        _send_frame(sock, reply, None)


def _receive_call(sock: socket.socket) -> tuple[str, tuple, dict]:
    return pickle.loads(_receive_frame(sock, None, sys.maxsize))  # from the caller, which the child trusts


def _files_reply(checkpoint: Path) -> bytes:
    files = checkpoint_files(checkpoint)
    return _encode({"ok": True, "files": [[name, len(data)] for name, data in files.items()]}, b"".join(files.values()))


def _slates_reply(result: Any) -> bytes:
    try:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.asarray(result), allow_pickle=False)
        return _encode({"ok": True}, buffer.getvalue())
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


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle; the caller stops us
    if len(sys.argv) > 2:  # not isolated: die with the caller (an isolated child dies with bwrap)
        die_with_parent(int(sys.argv[2]))
    _serve(socket.socket(fileno=int(sys.argv[1])))
