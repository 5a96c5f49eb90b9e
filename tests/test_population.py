"""The episode rules on the 2-user, 6-item hand world: patience arithmetic, history exclusion, leaving."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import hand_world

from recsim_lab.sim.population import Population, check_slates
from recsim_lab.worlds.world import Rules

E = math.e
SLATE = [0, 1, 2, 3, 4]
P_ITEM_1 = E / (2 + E + 1 / E + 2 * math.exp(-17))  # user 0, slate SLATE: see test_choice
NO_CLICK = 0.999999  # above every click position's cumulative probability below


def both_paths(world, users=(0, 1)):
    """The batched and the one-user implementations of the same step, side by side."""
    batch, one = Population(world, np.array(users)), Population(world, np.array(users))

    def step_batch(user, slate, uniform):
        clicked, left = batch.respond(np.array([user]), batch.check([slate], 1), np.array([uniform]))
        return int(clicked[0]), bool(left[0])

    def step_one(user, slate, uniform):
        return one.respond_one(user, one.check_one(slate), uniform)

    return [(batch, step_batch), (one, step_one)]


@pytest.mark.parametrize("path", [0, 1], ids=["batched", "one-user"])
def test_click_adds_weighted_probability_to_patience(world, path):
    population, step = both_paths(world)[path]
    assert step(0, SLATE, 0.5) == (1, False)  # cdf: [0.197, 0.731, ...] so u = 0.5 picks position 1
    assert population.patience[0] == pytest.approx(5.0 + 0.5 * P_ITEM_1, rel=1e-6)  # float32 world
    assert population.session_length[0] == 1 and population.clicks[0] == 1


@pytest.mark.parametrize("path", [0, 1], ids=["batched", "one-user"])
def test_clicked_item_cannot_be_clicked_again(world, path):
    population, step = both_paths(world)[path]
    step(0, SLATE, 0.5)
    # Item 1 is now in the history: logits [17, -inf, 0, 0, 16 | 17] -> p0 = 1 / (2 + 1/e + 2e^-17).
    p0 = 1 / (2 + 1 / E + 2 * math.exp(-17))
    assert step(0, SLATE, p0 - 1e-9) == (0, False)
    assert population.patience[0] == pytest.approx(5.0 + 0.5 * P_ITEM_1 + 0.5 * p0, rel=1e-6)
    for u in np.linspace(0, 0.999, 20):
        fresh, fresh_step = both_paths(world)[path]
        fresh_step(0, SLATE, 0.5)
        assert fresh_step(0, SLATE, float(u))[0] != 1


@pytest.mark.parametrize("path", [0, 1], ids=["batched", "one-user"])
@pytest.mark.parametrize("slate", [SLATE, [3, 0, 1, 2, 4]], ids=["item-3-fourth", "item-3-first"])
def test_initial_history_is_excluded(world, path, slate):
    population, step = both_paths(world)[path]
    # User 1 clicked item 3 before the episode. Masked, the logits are [0, 0, 0, 0 | 17] over the other four
    # items: each has p = e^-17 / (1 + 4e^-17) ~ 4e-8, so any draw above ~2e-7 means no click. Unmasked,
    # item 3 (score 2.0, logit 20) would take p = e^3 / (e^3 + 1 + 4e^-20) = 0.9526 of the draws.
    for step_number, uniform in enumerate([1e-6, 0.3, 0.5, 0.9], start=1):
        assert step(1, slate, uniform) == (-1, False)
        assert population.patience[1] == 5.0 - step_number
    assert population.clicks[1] == 0
    assert population.seen.contains(np.array([1]), np.array([[3]]))[0, 0]


@pytest.mark.parametrize("path", [0, 1], ids=["batched", "one-user"])
def test_user_leaves_after_patience_runs_out(world, path):
    population, step = both_paths(world)[path]
    for n in range(1, 5):
        assert step(0, SLATE, NO_CLICK) == (-1, False)
        assert population.patience[0] == 5.0 - n
    assert step(0, SLATE, NO_CLICK) == (-1, True)  # patience 0 -> leaves
    assert population.session_length[0] == 5
    assert population.active_users.tolist() == [1]


@pytest.mark.parametrize("path", [0, 1], ids=["batched", "one-user"])
def test_user_leaves_at_the_horizon(path):
    population, step = both_paths(hand_world(Rules(horizon=3)))[path]
    assert step(0, SLATE, 0.5)[1] is False
    assert step(0, [1, 0, 2, 3, 4], 0.0)[1] is False
    clicked, left = step(0, [5, 0, 2, 3, 4], 0.99)
    assert left and population.session_length[0] == 3 and population.patience[0] > 0


def test_reset_restores_histories_patience_and_lengths(world):
    population = Population(world, np.array([0, 1]))
    initial_bits = population.seen.bits.copy()
    population.respond_one(0, SLATE, 0.5)
    for _ in range(5):
        population.respond_one(1, SLATE, NO_CLICK)
    population.reset()
    assert population.patience.tolist() == [5.0, 5.0]
    assert population.session_length.tolist() == [0, 0]
    assert population.clicks.tolist() == [0, 0]
    np.testing.assert_array_equal(population.seen.bits, initial_bits)
    assert sorted(population.active_users.tolist()) == [0, 1]


def test_reset_users_restarts_only_their_sessions(tiny_world):
    """Users who left rejoin; an active user restarts in place; the rest keep their state; and a restarted user
    can leave again (the active array stays consistent)."""
    population = Population(tiny_world, np.arange(6))
    initial_bits = population.seen.bits.copy()
    ignored = np.tile(np.arange(5), (6, 1))
    for _ in range(4):
        population.respond(np.arange(6), ignored, np.full(6, NO_CLICK))
    population.respond(np.array([0, 1]), ignored[:2], np.full(2, NO_CLICK))  # 0 and 1 lose their 5th point
    population.respond(np.array([2]), np.array([[10, 11, 12, 13, 14]]), np.array([0.0]))  # 2 clicks item 10
    assert sorted(population.active_users.tolist()) == [2, 3, 4, 5]
    assert not np.array_equal(population.seen.bits, initial_bits)
    population.reset_users(np.array([0, 1, 2]))
    assert sorted(population.active_users.tolist()) == [0, 1, 2, 3, 4, 5]
    assert population.session_length[:6].tolist() == [0, 0, 0, 4, 4, 4]
    assert population.patience[:6].tolist() == [5.0, 5.0, 5.0, 1.0, 1.0, 1.0]
    np.testing.assert_array_equal(population.seen.bits, initial_bits)
    for _ in range(5):
        population.respond(np.array([0]), ignored[:1], np.array([NO_CLICK]))
    population.respond(np.array([4]), ignored[:1], np.array([NO_CLICK]))
    assert sorted(population.active_users.tolist()) == [1, 2, 3, 5]


def test_batched_and_one_user_paths_agree_on_random_steps(tiny_world):
    rng = np.random.default_rng(3)
    users = tiny_world.dataset.users("test")
    batch, one = Population(tiny_world, users), Population(tiny_world, users)
    for _ in range(30):
        active = batch.active_users.copy()
        if active.size == 0:
            break
        slates = np.stack([rng.choice(tiny_world.dataset.n_items, 5, replace=False) for _ in active])
        uniforms = rng.random(active.size)
        clicked, left = batch.respond(active, batch.check(slates, active.size), uniforms)
        for b, user in enumerate(active.tolist()):
            assert one.respond_one(user, one.check_one(slates[b]), float(uniforms[b])) == (clicked[b], left[b])
    np.testing.assert_allclose(batch.patience, one.patience, rtol=1e-12)
    np.testing.assert_array_equal(batch.seen.bits, one.seen.bits)


@pytest.mark.parametrize("k", [1, 2, 5, 8, 9, 12])
def test_check_slates_finds_the_first_slate_with_a_repeat(k):
    """Short slates are checked pair by pair, long ones (k > 8) by sorting: both name the first bad row."""
    rng = np.random.default_rng(k)
    for trial in range(60):
        slates = np.stack([rng.choice(40, k, replace=False) for _ in range(30)])
        bad_rows = sorted(rng.choice(30, trial % 3, replace=False).tolist()) if k > 1 else []
        repeated = {}
        for row in bad_rows:
            i, j = rng.choice(k, 2, replace=False)
            slates[row, i] = repeated[row] = slates[row, j]
        if not bad_rows:
            np.testing.assert_array_equal(check_slates(slates, 30, k, 40), slates)
            continue
        with pytest.raises(ValueError, match=rf"\(row {bad_rows[0]}\) repeats item {repeated[bad_rows[0]]}$"):
            check_slates(slates, 30, k, 40)
