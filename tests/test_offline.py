"""Offline metrics: each pinned to scikit-learn or to values computed by hand on a small fixed example; the
hold-out split, both ranking routes, and the ``offline`` command."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from conftest import hand_world
from sklearn.metrics import ndcg_score, roc_auc_score

from recsim_lab.cli.commands import main
from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems
from recsim_lab.evaluation.offline import (
    Holdout,
    OfflineConfig,
    agent_scores,
    evaluate_rankings,
    holdout_split,
    offline_evaluate,
)
from recsim_lab.evaluation.offline_metrics import (
    coverage,
    mid_ranks,
    pooled_auc,
    ranking_metrics,
    user_auc,
    weighted_mean,
)

# Three users, eight items. -1 in SEEN marks an item of the user's visible history (not a candidate).
SCORES = np.array([
    [0.9, 0.1, 0.4, 0.4, 0.8, 0.2, 0.0, 0.7],   # ties at 0.4 (one held out, one not)
    [0.3, 0.5, 0.6, 0.1, 0.2, 0.9, 0.8, 0.4],
    [0.5, 0.5, 0.5, 0.1, 0.3, 0.2, 0.6, 0.7],   # three tied at 0.5
])
SEEN = np.array([
    [0, 0, 0, 0, 1, 0, 0, 0],   # item 4 (score 0.8) is in user 0's history
    [0, 0, 0, 0, 0, 1, 1, 0],   # items 5, 6 (the two best scores) are in user 1's history
    [0, 0, 0, 0, 0, 0, 0, 0],
], dtype=bool)
HELD = np.array([
    [0, 0, 1, 0, 0, 0, 0, 1],   # items 2 (tied 0.4) and 7
    [1, 0, 0, 1, 0, 0, 0, 0],   # items 0 and 3
    [0, 1, 0, 0, 0, 0, 0, 0],   # item 1 (tied 0.5)
], dtype=bool)
CAND = ~SEEN
POPULARITY = np.array([0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.0, 0.6])


def test_user_auc_matches_sklearn_with_ties_and_exclusions():
    got = user_auc(SCORES, CAND, HELD)
    want = [roc_auc_score(HELD[u, CAND[u]], SCORES[u, CAND[u]]) for u in range(3)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # by hand, user 0: candidates 0,1,2,3,5,6,7; held out 2 (0.4), 7 (0.7); negatives 0.9, 0.1, 0.4, 0.2, 0.0:
    # 7 beats 4 of 5, 2 beats 3 and ties 1 -> (4 + 3.5) / 10
    assert got[0] == pytest.approx(0.75)


def test_user_auc_is_nan_without_positives_or_negatives():
    positives = np.zeros((2, 3), dtype=bool)
    positives[1] = True
    auc = user_auc(np.ones((2, 3)), np.ones((2, 3), dtype=bool), positives)
    assert np.isnan(auc).all()


def test_mid_ranks_share_the_mean_rank_of_ties():
    ranks = mid_ranks(SCORES[2:], CAND[2:])
    # ascending: 0.1 (1), 0.2 (2), 0.3 (3), 0.5 x3 (4, 5, 6 -> 5), 0.6 (7), 0.7 (8)
    np.testing.assert_array_equal(ranks[0], [5, 5, 5, 1, 3, 2, 7, 8])


def test_pooled_auc_matches_sklearn_on_the_flattened_pairs():
    got = pooled_auc(SCORES[HELD], SCORES[CAND & ~HELD])
    assert got == pytest.approx(roc_auc_score(HELD[CAND], SCORES[CAND]), abs=1e-12)
    assert np.isnan(pooled_auc(np.empty(0), np.ones(3)))


def test_ndcg_matches_sklearn_on_rankings_without_ties():
    scores = SCORES[1:2]  # no ties among user 1's candidates
    for k in (1, 2, 3, 5, 8):
        got = ranking_metrics(scores, CAND[1:2], HELD[1:2], k, POPULARITY)["ndcg"][0]
        cand = CAND[1]
        want = ndcg_score(HELD[1:2, cand].astype(float), scores[:, cand], k=k)
        assert got == pytest.approx(want, abs=1e-12), k


def test_recall_mrr_hits_and_popularity_by_hand():
    m = ranking_metrics(SCORES, CAND, HELD, 3, POPULARITY)
    # user 0 ranking: 0 (0.9), 7 (0.7), 2 (0.4, lower id wins the tie with 3), 3, 5, 1, 6
    # user 1 ranking: 2 (0.6), 1 (0.5), 7 (0.4), 0 (0.3), 4, 3
    # user 2 ranking: 7 (0.7), 6 (0.6), 0 (0.5), 1 (0.5), 2 (0.5), ...
    np.testing.assert_array_equal(m["top"], [[0, 7, 2], [2, 1, 7], [7, 6, 0]])
    np.testing.assert_array_equal(m["hits"], [2, 0, 0])
    np.testing.assert_allclose(m["recall"], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(m["rr"], [1 / 2, 1 / 4, 1 / 4])
    np.testing.assert_allclose(m["popularity"], [(0.5 + 0.6 + 0.3) / 3, (0.3 + 0.4 + 0.6) / 3, (0.6 + 0.0 + 0.5) / 3])
    # NDCG of user 0 at 3: hits at ranks 2 and 3 over the ideal two hits at ranks 1 and 2
    assert m["ndcg"][0] == pytest.approx((1 / np.log2(3) + 1 / np.log2(4)) / (1 + 1 / np.log2(3)))


def test_cut_beyond_the_candidates_leaves_empty_slots():
    candidates = np.zeros((1, 8), dtype=bool)
    candidates[0, [1, 5]] = True
    positives = np.zeros_like(candidates)
    positives[0, 1] = True
    m = ranking_metrics(SCORES[:1], candidates, positives, 4, POPULARITY)
    np.testing.assert_array_equal(m["top"], [[5, 1, -1, -1]])
    assert m["popularity"][0] == pytest.approx((0.05 + 0.4) / 2)
    assert m["rr"][0] == pytest.approx(0.5)


def test_coverage_and_weighted_mean_by_hand():
    top = np.array([[0, 7, 2], [2, 1, 7], [7, 6, -1]])
    assert coverage(top, 8) == pytest.approx(5 / 8)  # items 0, 1, 2, 6, 7
    assert weighted_mean(np.array([1.0, 0.5, np.nan]), np.array([1.0, 3.0, 10.0])) == pytest.approx(0.625)


class TableScorer:
    """A fitted agent with the optional ``scores`` method: a fixed table."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table

    def fit(self, data, *, seed):
        pass

    def scores(self, users):
        return self.table[users]


class TableRanker:
    """A fitted agent with only ``recommend``: the items by descending table score (history included)."""

    def __init__(self, table: np.ndarray) -> None:
        self.table, self.calls = table, []

    def recommend(self, users, k):
        self.calls.append((users.tolist(), k))
        return np.argsort(-self.table[users], axis=1, kind="stable")[:, :k]


def _holdout() -> Holdout:
    """Three users over six items (the first six columns of the fixed example); user 0 has clicked item 4,
    user 1 item 5, user 2 nothing."""
    data = Dataset([f"item {i}" for i in range(6)], [""] * 6, [""] * 6, [[4], [5], []], n_train_users=3)
    return Holdout(data, (np.array([2]), np.array([0, 3]), np.array([1])), "test")


def test_evaluate_rankings_matches_sklearn_by_either_route():
    split = _holdout()
    table = SCORES[:, :6]
    users = np.arange(3)
    by_scores = evaluate_rankings(TableScorer(table), split, users, k=2)
    by_ranking = evaluate_rankings(TableRanker(table), split, users, k=2)
    held = np.zeros((3, 6), dtype=bool)
    held[0, 2], held[1, [0, 3]], held[2, 1] = True, True, True
    cand = ~SeenItems.from_histories(split.data.histories, 6).dense(users)
    want = [roc_auc_score(held[u, cand[u]], table[u, cand[u]]) for u in users]
    np.testing.assert_allclose(by_scores.columns["auc"], want)
    summary = by_scores.summary
    assert summary["group_auc"] == pytest.approx(np.mean(want))
    assert summary["weighted_auc"] == pytest.approx((want[0] + 2 * want[1] + want[2]) / 4)
    assert summary["auc"] == pytest.approx(roc_auc_score(held[cand], table[cand]))
    assert summary["route"] == "scores" and by_ranking.summary["route"] == "recommend"
    # a full ranking by recommend orders like the scores (ties aside: user 2's tied 0.5s keep lower-id order)
    for name in ("hits", "recall", "ndcg", "rr"):
        np.testing.assert_allclose(by_ranking.columns[name], by_scores.columns[name], err_msg=name)
    # AUC: user 1 has no ties; user 0's tied 0.4s become ordered positions, so held-out item 2 now beats 3
    assert by_ranking.columns["auc"][1] == pytest.approx(want[1])
    assert by_scores.columns["auc"][0] == pytest.approx(2.5 / 4)
    assert by_ranking.columns["auc"][0] == pytest.approx(3 / 4)


def test_recommend_route_asks_each_user_for_all_their_candidates():
    split = _holdout()
    seen = SeenItems.from_histories(split.data.histories, 6)
    ranker = TableRanker(SCORES[:, :6])
    scores = agent_scores(ranker, np.arange(3), seen)
    assert sorted(ranker.calls) == [([0, 1], 5), ([2], 6)]  # users 0 and 1 have 5 candidates
    # the answer's position j scores k - j
    order = np.argsort(-SCORES[0, :6], kind="stable")[:5]
    np.testing.assert_array_equal(scores[0, order], [5, 4, 3, 2, 1])
    capped = TableRanker(SCORES[:, :6])
    scores = agent_scores(capped, np.arange(3), seen, depth=2)
    assert sorted(capped.calls) == [([0, 1, 2], 2)]
    assert (scores > 0).sum(axis=1).tolist() == [2, 2, 2]  # the unranked rest tie at 0


def test_recommend_route_rejects_malformed_rankings():
    seen = SeenItems(1, 6)

    class Bad:
        def recommend(self, users, k):
            return np.full((users.size, k), 9)

    with pytest.raises(ValueError, match="outside 0..5"):
        agent_scores(Bad(), np.array([0]), seen)


def test_holdout_split_takes_the_last_clicks_of_a_world_without_futures(tiny_world):
    split = holdout_split(tiny_world, 2)
    assert split.source == "last 2"
    for history, visible, held in zip(tiny_world.dataset.histories, split.data.histories, split.heldout):
        assert visible.size == len(history) - min(2, max(len(history) - 1, 0))
        np.testing.assert_array_equal(visible, history[:visible.size])
        assert set(held.tolist()) == set(history[visible.size:].tolist()) - set(visible.tolist())


def test_holdout_split_keeps_the_futures_of_an_imported_world(tiny_world):
    futures = [np.setdiff1d(np.arange(3), h)[:1] for h in tiny_world.dataset.histories]
    world = replace(tiny_world, futures=futures)
    split = holdout_split(world)
    assert split.source == "futures" and split.data is world.dataset
    assert [f.tolist() for f in split.heldout] == [f.tolist() for f in futures]
    assert holdout_split(world, 3).source == "last 3"


def test_offline_evaluate_writes_users_csv_and_summary(tiny_world, tmp_path):
    result, directory = offline_evaluate(OfflineConfig(env="tiny", agent="popularity", out=str(tmp_path), k=5),
                                         world=tiny_world)
    lines = (directory / "users.csv").read_text().splitlines()
    assert lines[0] == "user_id,n_candidates,n_heldout,auc,hits@5,recall@5,ndcg@5,rr,popularity@5"
    assert len(lines) == 1 + result.summary["users_evaluated"]
    summary = json.loads((directory / "summary.json").read_text())
    for key in ("auc", "group_auc", "weighted_auc", "recall@5", "ndcg@5", "mrr", "coverage@5", "popularity@5"):
        assert 0.0 <= summary[key] <= 1.0, key
    assert summary["holdout"] == "last 5" and summary["route"] == "recommend"


def test_cli_offline_prints_the_summary_and_refuses_bad_input(tiny_world_dir, tmp_path, capsys):
    assert main(["offline", "--env", str(tiny_world_dir), "--agent", "popularity", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "group_auc" in out and "users.csv" in out
    assert main(["offline", "--env", str(tiny_world_dir), "--k", "0", "--out", str(tmp_path)]) == 2
    assert main(["offline", "--env", str(tiny_world_dir), "--agent", "popularty", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("recsim-lab: error:") for line in err)


def test_holdout_split_keeps_one_click_visible_and_drops_repeats():
    world = hand_world(histories=([0, 2, 0], [3]))
    split = holdout_split(world, 5)
    assert [h.tolist() for h in split.data.histories] == [[0], [3]]  # all but one click held out
    assert [h.tolist() for h in split.heldout] == [[2], []]  # the repeated 0 is in the visible part
