"""Evaluating submissions: an agent in a separate, limited process; score files; the leaderboard.

- :mod:`~recsim_lab.evaluation.evaluate` with :mod:`~recsim_lab.evaluation.sandbox`: the official protocol;
- :mod:`~recsim_lab.evaluation.receipts`: secret world seeds, the organiser's key, receipts;
- :mod:`~recsim_lab.evaluation.submission`: validating ``user_id,avg_score`` files, streamed;
- :mod:`~recsim_lab.evaluation.leaderboard`: ranking them (verified or self-reported) against their world's random
  and oracle references.
"""
