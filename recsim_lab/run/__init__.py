"""Runs: fit once, checkpoint, play every episode from the restored checkpoint, write the outputs.

- :mod:`~recsim_lab.run.runner`: :func:`run`, :func:`resume`, :func:`run_episodes`;
- :mod:`~recsim_lab.run.episode`: one episode; :mod:`~recsim_lab.run.trace`: its per-step trace;
- :mod:`~recsim_lab.run.record`: what a run keeps on disk so that it can resume;
- :mod:`~recsim_lab.run.scoring`: per-user scores and the output files.
"""
