"""What the built-in agents share: top-k selection outside a user's history (:mod:`~agents.helpers.ranking`),
inner-product retrieval (:mod:`~agents.helpers.retrieval`), text embeddings with an on-disk cache
(:mod:`~agents.helpers.text_embeddings`) and the sentence model behind them
(:mod:`~agents.helpers.sentence_model`), settings chosen in ``fit`` on held-out clicks
(:mod:`~agents.helpers.holdout`), and Thompson sampling among a few ways to build a slate
(:mod:`~agents.helpers.step_matched_thompson`)."""
