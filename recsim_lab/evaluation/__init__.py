"""Evaluating submissions: an agent in a separate, limited process; score files; the leaderboard.

- :mod:`~recsim_lab.evaluation.evaluate` with :mod:`~recsim_lab.evaluation.sandbox`: the official protocol;
- :mod:`~recsim_lab.evaluation.submission`: validating ``user_id,avg_score`` files;
- :mod:`~recsim_lab.evaluation.leaderboard`: ranking them against the random and oracle references.
"""
