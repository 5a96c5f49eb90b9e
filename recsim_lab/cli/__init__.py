"""The ``recsim-lab`` command: :mod:`~recsim_lab.cli.commands` (run, evaluate, score, report, listings) and
:mod:`~recsim_lab.cli.data_commands` (``data import``, ``data inspect``)."""

from recsim_lab.cli.commands import main

__all__ = ["main"]
