"""One episode: the population of users, their patience and sessions, and the step rules.

- :mod:`~recsim_lab.sim.population`: :class:`Population`, the state machine both environments drive;
- :mod:`~recsim_lab.sim.replay`: the log-replay choice model's per-episode state.
"""
