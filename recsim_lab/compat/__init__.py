"""Compatibility layers for code written against other evaluation environments.

- :mod:`recsim_lab.compat.datalab`: the DataLab Cup object API (``TrainingEnvironment``,
  ``TestingEnvironment``) over :class:`~recsim_lab.env.SlateEnv`;
- :mod:`recsim_lab.compat.export`: ``export_datalab``, which writes a DataLab Cup folder (visible dataset
  plus an ``evaluation/environment.py`` shim) so that an existing competition notebook runs unchanged.
"""
