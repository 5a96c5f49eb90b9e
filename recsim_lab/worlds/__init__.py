"""The hidden truth: worlds, their rules and choice model, and where worlds come from.

- :mod:`~recsim_lab.worlds.world`: :class:`Rules` and :class:`World` (latent vectors, futures, world folders);
- :mod:`~recsim_lab.worlds.choice`: the softmax choice model (click probabilities and draws);
- :mod:`~recsim_lab.worlds.presets`: ``make_world(name or folder)`` and the built-in presets;
- :mod:`~recsim_lab.worlds.synthetic` (with :mod:`~recsim_lab.worlds.vocabulary`): the synthetic generator;
- :mod:`~recsim_lab.worlds.catalogue_users`: generated users for a catalogue without a click log;
- :mod:`~recsim_lab.worlds.calibration` and :mod:`~recsim_lab.worlds.importing`: a real click log as a world.

Importing this package imports none of them.
"""
