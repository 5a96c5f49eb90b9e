"""SlateEnv (Gymnasium, one user per step) and BatchSlateEnv (many users per step)."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from conftest import hand_world
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the Gymnasium ids)
from envs.batch_env import BatchSlateEnv
from envs.registration import GYMNASIUM_IDS
from envs.slate_env import SlateEnv, SlateSpace
from recsim_lab.worlds.presets import PRESETS
from recsim_lab.worlds.world import Rules


def play(env: SlateEnv, seed: int, policy_seed: int = 0) -> list[tuple]:
    rng = np.random.default_rng(policy_seed)
    user, _ = env.reset(seed=seed)
    trajectory = []
    while True:
        slate = rng.choice(env.world.dataset.n_items, 5, replace=False)
        user, reward, terminated, truncated, info = env.step(slate)
        trajectory.append((info["user"], info["clicked_item"], reward, info["left"]))
        if terminated:
            return trajectory


def test_gymnasium_env_checker_passes(tiny_world):
    check_env(SlateEnv(tiny_world), skip_render_check=True)


def test_registered_ids_make_the_presets():
    assert set(GYMNASIUM_IDS) == set(PRESETS)  # one id per preset
    env = gymnasium.make("recsim_lab/Small-v0")
    user, info = env.reset(seed=0)
    assert env.observation_space.contains(user)
    assert env.unwrapped.world.dataset.n_items == 500
    env.close()


def test_reset_with_a_seed_is_deterministic(tiny_world):
    env = SlateEnv(tiny_world)
    assert play(env, seed=5) == play(env, seed=5)
    assert play(env, seed=5) != play(env, seed=6)


def test_episode_serves_every_user_until_all_left(tiny_world):
    env = SlateEnv(tiny_world, split="train")
    trajectory = play(env, seed=1)
    population = env.population
    served = np.bincount([t[0] for t in trajectory], minlength=tiny_world.dataset.n_users)
    np.testing.assert_array_equal(served, population.session_length)
    assert set(np.flatnonzero(served).tolist()) == set(range(tiny_world.dataset.n_train_users))
    assert sum(t[3] for t in trajectory) == tiny_world.dataset.n_train_users  # each user leaves once
    assert sum(t[2] for t in trajectory) == population.clicks.sum()
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(np.arange(5))


def test_step_info_and_reward(world):
    # User 0 is shown its three good items: logits [17, 18, 0, 16, 0 | 17], so it leaves the slate with
    # p = 1 / (2 + e + 1/e) = 0.1966 and clicks item 1 with p = e / (2 + e + 1/e) = 0.5344. User 1 is shown its
    # one good item, 3, which it clicked before, and items scoring 0: it (almost surely, 1 - 4e-8) clicks nothing.
    slates = {0: np.array([0, 1, 2, 4, 5]), 1: np.array([3, 0, 1, 2, 4])}
    env = SlateEnv(world)
    first_users, user_0_clicks = [], []
    for seed in range(300):
        user, _ = env.reset(seed=seed)
        first_users.append(int(user))
        _, reward, terminated, truncated, info = env.step(slates[int(user)])
        assert set(info) == {"user", "clicked_item", "left", "session_length", "n_active"}
        assert info["user"] == user and info["session_length"] == 1 and info["n_active"] == 2
        assert not (terminated or truncated or info["left"])
        assert reward == float(info["clicked_item"] >= 0)
        if user == 1:
            assert info["clicked_item"] == -1 and env.population.patience[1] == 4.0
        else:
            assert info["clicked_item"] in (-1, 0, 1, 4)
            user_0_clicks.append(info["clicked_item"])
    n = len(user_0_clicks)
    assert abs(n - 150) < 4 * 150 ** 0.5  # the first user is drawn uniformly: Binomial(300, 1/2)
    p_none, p_item_1 = 1 / (2 + np.e + 1 / np.e), np.e / (2 + np.e + 1 / np.e)
    for observed, p in ((user_0_clicks.count(-1) / n, p_none), (user_0_clicks.count(1) / n, p_item_1)):
        assert abs(observed - p) < 4 * (p * (1 - p) / n) ** 0.5  # 4 standard errors


INVALID_SLATES = [
    ([0, 1, 2, 3], "a slate must be 5 item ids, got 4: [0, 1, 2, 3]"),
    (np.array([0, 1, 2, 3]), "a slate must be 5 item ids, got an array of shape (4,)"),
    (np.array([[0, 1, 2, 3, 4]]), "a slate must be 5 item ids, got an array of shape (1, 5)"),
    ([0, 1, 1, 3, 4], "a slate must hold 5 distinct items; slate [0, 1, 1, 3, 4] repeats item 1"),
    ([0, 1, 2, 3, 6], "slate item id 6 is out of range 0..5"),
    ([-1, 1, 2, 3, 4], "slate item id -1 is out of range 0..5"),
    (np.array([0.0, 1, 2, 3, 4]), "slates must hold integer item ids, got dtype float64"),
    ([0.0, 1, 2, 3, 4], "a slate must be a sequence of 5 integer item ids, got [0.0, 1, 2, 3, 4]"),
    ("abcde", "a slate must be a sequence of 5 integer item ids, got 'abcde'"),
    ([True, 1, 2, 3, 4], "a slate must be a sequence of 5 integer item ids, got [True, 1, 2, 3, 4]"),
]


@pytest.mark.parametrize(("slate", "message"), INVALID_SLATES)
def test_invalid_slates_are_rejected_and_change_nothing(world, slate, message):
    env = SlateEnv(world)
    user, _ = env.reset(seed=0)
    before = (env.population.patience.copy(), env.population.session_length.copy(),
              env.population.seen.bits.copy(), env._next)
    with pytest.raises(ValueError) as error:
        env.step(slate)
    assert str(error.value) == message
    after = (env.population.patience, env.population.session_length, env.population.seen.bits, env._next)
    for b, a in zip(before[:3], after[:3]):
        np.testing.assert_array_equal(b, a)
    assert before[3] == after[3]  # no random draw consumed
    _, _, _, _, info = env.step([0, 1, 2, 4, 5])
    assert info["user"] == user  # the same user is still waiting for a valid slate


def test_slate_space_samples_distinct_items():
    space = SlateSpace(n_items=6, k=5, seed=0)
    for _ in range(200):
        sample = space.sample()
        assert space.contains(sample) and len(set(sample.tolist())) == 5
    assert not space.contains(np.array([0, 0, 1, 2, 3]))


def test_batched_env_serves_all_active_users(tiny_world):
    env = BatchSlateEnv(tiny_world)
    users, info = env.reset(seed=0)
    assert sorted(users.tolist()) == list(range(tiny_world.dataset.n_users))
    rng = np.random.default_rng(0)
    served = 0
    while True:
        slates = np.stack([rng.choice(tiny_world.dataset.n_items, 5, replace=False) for _ in users])
        next_users, rewards, terminated, info = env.step(slates)
        served += users.size
        np.testing.assert_array_equal(info["user"], users)
        assert set(next_users.tolist()) == set(users[~info["left"]].tolist())
        np.testing.assert_array_equal(rewards, info["clicked_item"] >= 0)
        if terminated:
            break
        users = next_users
    assert served == env.population.session_length.sum()


def test_batched_env_with_batch_size_draws_distinct_active_users(tiny_world):
    env = BatchSlateEnv(tiny_world, batch_size=7)
    users, _ = env.reset(seed=0)
    assert users.size == 7 and np.unique(users).size == 7
    again, _ = BatchSlateEnv(tiny_world, batch_size=7).reset(seed=0)
    np.testing.assert_array_equal(users, again)


def test_batched_env_over_given_users_serves_only_them(tiny_world):
    env = BatchSlateEnv(tiny_world, users=np.array([30, 3, 17]))
    users, _ = env.reset(seed=0)
    assert sorted(users.tolist()) == [3, 17, 30]
    _, _, _, info = env.step(np.tile(np.arange(5), (3, 1)))
    assert sorted(info["user"].tolist()) == [3, 17, 30] and env.population.session_length.sum() == 3


def test_batched_env_rejects_a_bad_batch_and_changes_nothing(tiny_world):
    env = BatchSlateEnv(tiny_world)
    users, _ = env.reset(seed=0)
    slates = np.tile(np.arange(5), (users.size, 1))
    slates[3] = [0, 1, 2, 3, 3]
    lengths = env.population.session_length.copy()
    with pytest.raises(ValueError, match=r"slate \[0, 1, 2, 3, 3\] \(row 3\) repeats item 3"):
        env.step(slates)
    with pytest.raises(ValueError, match=r"slates must have shape \(40, 5\)"):
        env.step(slates[:10])
    np.testing.assert_array_equal(env.population.session_length, lengths)
    next_users, *_ = env.step(np.tile(np.arange(5), (users.size, 1)))
    assert env.population.session_length.sum() == users.size


def test_batched_rewards_count_a_click_on_item_0():
    """Item ids start at 0, so a click on item 0 is a click. With the no-click option at -100 and temperature
    0.001, user 0 clicks its best slate item, item 0 (1.7 against 1.6 and 0s), with p = 1 - e^-100."""
    env = BatchSlateEnv(hand_world(Rules(no_click_threshold=-100.0, temperature=0.001)))
    users, _ = env.reset(seed=0)
    slates = {0: [0, 2, 3, 5, 4], 1: [0, 1, 2, 4, 5]}
    _, rewards, _, info = env.step(np.array([slates[int(user)] for user in users]))
    row = users.tolist().index(0)
    assert info["clicked_item"][row] == 0 and rewards[row] == 1.0
    np.testing.assert_array_equal(rewards, np.ones(2))  # user 1 clicks one of five items at score 0
