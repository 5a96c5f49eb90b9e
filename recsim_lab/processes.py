"""What every process recsim-lab starts for itself needs: to die with the process that started it, to import
this project's packages from where the parent imports them, and to say how much memory it took.

Used by the sandbox of a submission (:mod:`~recsim_lab.evaluation.sandbox`) and by the workers that play
episodes in parallel (:mod:`~recsim_lab.run.parallel`).
"""

from __future__ import annotations

import importlib.util
import os
import resource
import signal
import sys
from pathlib import Path

PROJECT_PACKAGES = ("agents", "envs", "recsim_lab")
"""The project's top-level packages: a child process must import them from the same place as its parent."""
_PR_SET_PDEATHSIG = 1  # prctl(2) option: the signal this process gets when its parent dies


def project_packages() -> list[Path]:
    """The folders of :data:`PROJECT_PACKAGES` as this process imports them (found, not imported)."""
    return [Path(importlib.util.find_spec(name).origin).parent for name in PROJECT_PACKAGES]


def project_roots() -> list[str]:
    """The folders holding :data:`PROJECT_PACKAGES` (a child's ``PYTHONPATH``), each once, in order."""
    return list(dict.fromkeys(str(package.parent) for package in project_packages()))


def die_with_parent(parent: int) -> None:
    """Have Linux kill this process when ``parent`` dies (even by SIGKILL), so that nothing runs on orphaned.

    Elsewhere than Linux only the race is checked: a process whose parent is already gone exits at once.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def peak_rss_bytes() -> int:
    """Peak resident set size of this process, bytes: ``VmHWM`` on Linux (``ru_maxrss`` would count the
    parent's memory at the fork of a spawned process: Linux keeps it across ``exec``), else ``ru_maxrss``
    (KiB on Linux, bytes on macOS)."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) * 1024
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024
