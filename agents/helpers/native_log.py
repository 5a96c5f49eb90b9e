"""Quiet the start-up log that native libraries write straight to file descriptor 2 while they load.

``import tensorflow`` (2.21) prints, from C++, the abseil preamble ``WARNING: All log messages before
absl::InitializeLog() is called are written to STDERR`` and two INFO lines (``port.cc``: oneDNN custom
operations are on; ``cudart_stub.cc``: could not find cuda drivers), and prints them twice: once when
``tensorflow.python.pywrap_tensorflow`` loads and again when ``tensorflow.python.profiler.internal.
_pywrap_profiler_plugin`` loads, because that extension links its own copy of TensorFlow's logging.
``TF_CPP_MIN_LOG_LEVEL=3`` silences other start-up lines (the CPU-feature notice) but not these, which
abseil writes before logging is initialised. Python's ``sys.stderr`` cannot catch them either: they bypass it.

:func:`quiet_native_log` redirects descriptor 2 to a temporary file around such an import and then writes
back everything it caught except those INFO lines and the abseil preamble, so warnings, errors and Python
tracebacks still reach the terminal; if the import raises, everything caught is written back unfiltered.
Setting ``RECSIM_LAB_VERBOSE=1`` (``recsim-lab run --verbose``) turns the filtering off.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

VERBOSE_ENV = "RECSIM_LAB_VERBOSE"
"""Environment variable: any value but empty or ``0`` shows native start-up logs unfiltered."""

_NOISE = re.compile(rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
                    rb"|I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]\n]+\] .*")
"""Whole lines that :func:`quiet_native_log` drops: abseil's preamble and INFO lines (``I<mmdd> <hh:mm:ss.us> <thread>
<file>:<line>] <message>``)."""


def verbose() -> bool:
    """Whether :data:`VERBOSE_ENV` asks for native start-up logs."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


@contextmanager
def quiet_native_log() -> Iterator[None]:
    """Inside the block, catch what is written to descriptor 2; afterwards write back all but native INFO
    lines (everything, if the block raised). Does nothing when :func:`verbose`."""
    if verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    failed = True
    with tempfile.TemporaryFile() as caught:
        try:
            os.dup2(caught.fileno(), 2)
            try:
                yield
                failed = False
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
        finally:
            os.close(saved)
            caught.seek(0)
            lines = caught.read().splitlines(keepends=True)
            kept = lines if failed else [line for line in lines if not _NOISE.fullmatch(line.rstrip(b"\r\n"))]
            data = memoryview(b"".join(kept))
            while data:
                data = data[os.write(2, data):]
