"""Offline ranking metrics: per-user values from score matrices, and the summaries built from them.

Pure NumPy, no agent or world: :mod:`recsim_lab.evaluation.offline` turns an agent and a hold-out split into
the arrays these functions take. Throughout, for a batch of ``B`` users over a catalogue of ``n`` items:

- ``scores``: ``(B, n)`` float, higher is better; NaN is not allowed where ``candidates`` is true;
- ``candidates``: ``(B, n)`` bool, the items a user's ranking runs over (the items not in their visible
  history: what they could still click, as in online play); other entries are ignored;
- ``positives``: ``(B, n)`` bool, the user's held-out items (always candidates); every other candidate is a
  negative.

Definitions, for user u with ``P_u`` held-out items and ``N_u`` negatives among their candidates:

- **per-user AUC** ``auc_u``: the share of (held-out, negative) pairs in which the held-out item scores
  higher, ties counting one half: ``(R_u - P_u (P_u + 1) / 2) / (P_u N_u)`` with ``R_u`` the sum of the
  held-out items' mid-ranks among the candidates (Mann-Whitney); equals scikit-learn's
  ``roc_auc_score(positives[u, cand], scores[u, cand])``.
- **AUC** (pooled, :func:`pooled_auc`): the same statistic over all (user, candidate) pairs of all users
  at once, i.e. ``roc_auc_score`` of the flattened candidates; it compares scores *across* users, so it is
  only meaningful for scores on one scale.
- **group AUC**: the unweighted mean of ``auc_u`` over users.
- **impression-weighted AUC**: ``sum_u P_u auc_u / sum_u P_u``, the mean of ``auc_u`` weighted by the number
  of the user's held-out items (each held-out item one "impression" to be ranked; the GAUC of industry
  papers weighted by clicks). Equivalently the mean, over held-out items, of the share of their user's
  negatives they beat.
- The ranking: candidates by descending score, ties broken by the lower item id (deterministic).
  ``rank_u`` is the 1-based position of the user's first held-out item in it.
- **Recall@K**: ``hits_u / P_u``, with ``hits_u`` the held-out items among the first K of the ranking.
- **NDCG@K**: binary gains, ``DCG = sum_{r <= K} [item at r held out] / log2(r + 1)`` over ``IDCG``, the DCG
  of the ideal ranking (``min(K, P_u)`` held-out items first); equals scikit-learn's ``ndcg_score`` with
  ``k=K`` on rankings without ties.
- **MRR**: the mean over users of ``1 / rank_u`` (the whole ranking, not cut at K).
- **coverage@K**: the share of the catalogue that appears in at least one user's first K items.
- **popularity@K** (popularity bias): per user, the mean popularity of their first K items, an item's
  popularity being the share of users whose visible history holds it (``click_counts / n_users``, in
  ``[0, 1]`` when histories are distinct); averaged over users. Compare it with the same figure for the
  held-out items (``heldout_popularity``) or for another agent: higher means the agent favours what is
  already popular.
"""

from __future__ import annotations

import numpy as np


def mid_ranks(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """``(B, n)`` float64 1-based mid-ranks of each candidate's score among its row's candidates (ascending:
    the lowest score has rank 1; tied scores share the mean of their ranks); NaN outside the candidates."""
    values = np.where(candidates, scores.astype(np.float64, copy=False), np.nan)  # NaN sorts last
    order = np.argsort(values, axis=1, kind="stable")
    ordered = np.take_along_axis(values, order, axis=1)
    n = values.shape[1]
    position = np.broadcast_to(np.arange(n), values.shape)
    starts = np.ones(values.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]  # NaN != NaN: each non-candidate is its own group
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=1)  # start of each entry's tie group
    ends = np.ones(values.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    last = np.flip(np.minimum.accumulate(np.flip(np.where(ends, position, n), axis=1), axis=1), axis=1)
    ranks = np.empty(values.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=1)
    ranks[~candidates] = np.nan
    return ranks


def user_auc(scores: np.ndarray, candidates: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """``(B,)`` float64 per-user ROC AUC (module docstring); NaN for a user without a held-out item or
    without a negative."""
    n_pos = positives.sum(axis=1)
    n_neg = candidates.sum(axis=1) - n_pos
    rank_sum = np.where(positives, mid_ranks(scores, candidates), 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def ranking(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """``(B, n)`` int64 item ids per row: the candidates by descending score, ties by lower item id, then
    the non-candidates (which the metrics ignore)."""
    values = np.where(candidates, -scores.astype(np.float64, copy=False), np.nan)
    return np.argsort(values, axis=1, kind="stable").astype(np.int64, copy=False)


def ranking_metrics(scores: np.ndarray, candidates: np.ndarray, positives: np.ndarray, k: int,
                    popularity: np.ndarray) -> dict[str, np.ndarray]:
    """Per-user ranking metrics at cut-off ``k`` (module docstring).

    Args:
        scores, candidates, positives: ``(B, n)`` as in the module docstring.
        k: the cut-off K, ``>= 1``.
        popularity: ``(n,)`` float, each item's popularity (share of users whose history holds it).

    Returns:
        ``(B,)`` float64 arrays ``hits``, ``recall``, ``ndcg``, ``rr`` (reciprocal rank of the first held-out
        item; 0 without one), ``popularity`` (mean popularity of the first K candidates), and ``top`` ``(B, K)``
        int64: the first K items, -1 where a user has fewer than K candidates.
    """
    order = ranking(scores, candidates)
    n_cand = candidates.sum(axis=1)
    n_pos = positives.sum(axis=1)
    hit = np.take_along_axis(positives, order, axis=1)  # (B, n) held out, in ranking order
    cut = min(k, order.shape[1])
    valid = np.arange(cut) < n_cand[:, None]  # (B, cut) a real candidate at that position
    top = np.where(valid, order[:, :cut], -1)
    if cut < k:
        top = np.hstack([top, np.full((len(top), k - cut), -1, dtype=np.int64)])
    discount = 1.0 / np.log2(np.arange(2, cut + 2))  # (cut,) 1 / log2(r + 1) for r = 1..cut
    hits = hit[:, :cut].sum(axis=1).astype(np.float64)
    dcg = (hit[:, :cut] * discount).sum(axis=1)
    idcg = np.concatenate([[0.0], np.cumsum(discount)])[np.minimum(n_pos, cut)]
    first = np.argmax(hit, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = hits / n_pos
        ndcg = dcg / idcg
        shown = np.where(valid, popularity[order[:, :cut]], 0.0).sum(axis=1) / valid.sum(axis=1)
    rr = np.where(n_pos > 0, 1.0 / (first + 1.0), 0.0)
    return {"hits": hits, "recall": recall, "ndcg": ndcg, "rr": rr, "popularity": shown, "top": top}


def pooled_auc(positive_scores: np.ndarray, negative_scores: np.ndarray) -> float:
    """ROC AUC of all held-out items' scores against all negatives' scores, ties counting one half.

    Args:
        positive_scores: ``(P,)`` float, the scores of every (user, held-out item) pair.
        negative_scores: ``(N,)`` float, the scores of every (user, negative candidate) pair.

    Returns:
        The share of (positive, negative) pairs ordered correctly; NaN when either side is empty.
    """
    if not positive_scores.size or not negative_scores.size:
        return float("nan")
    negatives = np.sort(np.asarray(negative_scores, dtype=np.float64))
    positives = np.asarray(positive_scores, dtype=np.float64)
    below = np.searchsorted(negatives, positives, side="left")
    tied = np.searchsorted(negatives, positives, side="right") - below
    return float((below.sum() + 0.5 * tied.sum()) / (positives.size * negatives.size))


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """``sum(w v) / sum(w)`` over the entries where ``values`` is not NaN (NaN when none)."""
    keep = ~np.isnan(values)
    total = weights[keep].sum()
    return float((weights[keep] * values[keep]).sum() / total) if total else float("nan")


def coverage(top: np.ndarray, n_items: int) -> float:
    """The share of ``n_items`` that occurs in ``top`` ``(U, K)`` int (-1 entries ignored)."""
    return float(np.unique(top[top >= 0]).size / n_items) if n_items else float("nan")
