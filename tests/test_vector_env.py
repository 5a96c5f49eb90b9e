"""SlateVectorEnv (the batched env as a gymnasium.vector.VectorEnv) and the batched SlateSpace.

Gymnasium 1.2 ships no checker for vector envs (``check_env`` takes a ``gymnasium.Env`` only); what it has is
applied here: ``data_equivalence`` for the reset and step determinism checks that ``check_env`` makes, adapted to
a batch; ``check_environments_match`` (which handles a vector env of one sub-env); ``batch_space`` for the
spaces; the passive checker's ``check_obs``; and the vector wrappers ``RecordEpisodeStatistics`` and
``DictInfoToList`` (the one RLlib wraps every env in).
"""

from __future__ import annotations

from copy import deepcopy

import gymnasium
import numpy as np
import pytest
from conftest import hand_world
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.utils.env_match import check_environments_match
from gymnasium.utils.passive_env_checker import check_obs
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space
from gymnasium.wrappers.vector import DictInfoToList, RecordEpisodeStatistics

import envs  # noqa: F401  (registers the Gymnasium ids)
from envs.batch_env import BatchSlateEnv
from envs.slate_space import SlateSpace
from envs.vector_env import SlateVectorEnv
from recsim_lab.validation import ParameterTypeError
from recsim_lab.worlds.world import Rules

NEVER_CLICK = Rules(no_click_threshold=100.0)  # the no-click option outscores every item by far
ALWAYS_BEST = Rules(no_click_threshold=-100.0, temperature=0.001, horizon=3)  # the best unseen item, for 3 steps
HAND_SLATES = np.array([[0, 1, 2, 4, 5], [3, 0, 1, 2, 4]])  # user 0: scores 1.7 1.8 0 1.6 0; user 1: 3 is seen


def play(env: SlateVectorEnv, steps: int, seed: int) -> list:
    """``steps`` steps of seeded random slates; the whole output of every step."""
    env.action_space.seed(seed)
    return [env.step(env.action_space.sample()) for _ in range(steps)]


def test_spaces_are_the_batched_spaces_of_one_user(tiny_world):
    env = SlateVectorEnv(tiny_world, num_envs=7)
    assert env.num_envs == 7 and env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert env.single_observation_space == gymnasium.spaces.Discrete(40)
    assert env.single_action_space == SlateSpace(120, 5)
    assert env.observation_space == batch_space(env.single_observation_space, 7)
    assert env.action_space == batch_space(env.single_action_space, 7) and env.action_space.shape == (7, 5)
    obs, info = env.reset(seed=0)
    np.testing.assert_array_equal(obs, np.arange(7))  # the first 7 users of the test split
    check_obs(obs, env.observation_space, "reset")
    for outputs in play(env, 40, seed=1):
        check_obs(outputs[0], env.observation_space, "step")
        assert [output.shape for output in outputs[1:4]] == [(7,)] * 3
        assert (outputs[1].dtype, outputs[2].dtype, outputs[3].dtype) == (np.float64, np.bool_, np.bool_)


def test_batched_slate_space_samples_distinct_items_per_row():
    space = batch_space(SlateSpace(n_items=6, k=5, seed=0), 50)
    assert isinstance(space, SlateSpace) and space.shape == (50, 5)
    for _ in range(20):
        sample = space.sample()
        assert space.contains(sample) and all(len(set(row)) == 5 for row in sample.tolist())
    assert not space.contains(np.tile([0, 1, 2, 3, 3], (50, 1)))
    with pytest.raises(ValueError, match="batches a space of single slates"):
        batch_space(space, 2)


def test_make_vec_over_slate_env_gets_the_batched_slate_space():
    envs_ = gymnasium.make_vec("recsim_lab/Small-v0", num_envs=2, vectorization_mode="sync")
    assert isinstance(envs_.action_space, SlateSpace) and envs_.action_space.shape == (2, 5)
    envs_.reset(seed=0)
    envs_.action_space.seed(0)
    for _ in range(30):  # a plain MultiDiscrete batch would repeat items and the env would raise
        envs_.step(envs_.action_space.sample())
    envs_.close()


def test_users_who_never_click_leave_after_their_patience_and_restart():
    """Patience 5, one lost per ignored slate: every session lasts 5 steps; the 6th step restarts it."""
    env = RecordEpisodeStatistics(SlateVectorEnv(hand_world(NEVER_CLICK)))
    env.reset(seed=0)
    for step in range(1, 13):
        obs, rewards, terminated, truncated, info = env.step(HAND_SLATES)
        np.testing.assert_array_equal(obs, [0, 1])
        np.testing.assert_array_equal(rewards, [0.0, 0.0])
        assert not truncated.any()
        assert terminated.tolist() == [step in (5, 11)] * 2
        restarted = step in (6, 12)
        assert info["_clicked_item"].tolist() == [not restarted] * 2
        np.testing.assert_array_equal(info["session_length"], 0 if restarted else (step - 1) % 6 + 1)
        if step in (5, 11):
            np.testing.assert_array_equal(info["episode"]["l"], [5, 5])
            np.testing.assert_array_equal(info["episode"]["r"], [0.0, 0.0])


def test_a_restarted_session_starts_from_the_initial_history():
    """User 0 clicks its best unseen item each step: 1 (1.8), 0 (1.7), 4 (1.6), then the horizon (3) ends the
    session; after the restart it clicks 1, 0, 4 again, so its history was restored. User 1 has clicked item 3
    before: it clicks one of the other four (all score 0), never 3, and never the same item twice a session."""
    env = SlateVectorEnv(hand_world(ALWAYS_BEST))
    env.reset(seed=0)
    clicks = []
    for _ in range(7):
        _, rewards, terminated, _, info = env.step(HAND_SLATES)
        clicks.append(info["clicked_item"].tolist() if info["_clicked_item"].all() else None)
    assert [c and c[0] for c in clicks] == [1, 0, 4, None, 1, 0, 4]
    for session in (clicks[:3], clicks[4:]):
        user_1 = [c[1] for c in session]
        assert len(set(user_1)) == 3 and set(user_1) <= {0, 1, 2, 4}
    assert env.population.seen.contains(np.array([0, 1]), np.array([[1], [3]])).all()


def test_matches_the_batched_env_until_the_first_user_leaves(tiny_world):
    """Same seed, same slates: the same steps as BatchSlateEnv up to and including the first departure."""
    vector, batched = SlateVectorEnv(tiny_world), BatchSlateEnv(tiny_world)
    obs, _ = vector.reset(seed=4)
    users, _ = batched.reset(seed=4)
    rng = np.random.default_rng(0)
    steps = 0
    while steps < 100:
        steps += 1
        np.testing.assert_array_equal(obs, users)
        slates = np.stack([rng.choice(120, 5, replace=False) for _ in users])
        obs, rewards, terminated, _, info = vector.step(slates)
        users, batch_rewards, _, batch_info = batched.step(slates)
        np.testing.assert_array_equal(info["clicked_item"], batch_info["clicked_item"])
        np.testing.assert_array_equal(rewards, batch_rewards)
        np.testing.assert_array_equal(terminated, batch_info["left"])
        np.testing.assert_array_equal(info["session_length"], batch_info["session_length"])
        if terminated.any():
            break
    assert 1 < steps < 100  # the comparison covered several steps and a departure


def test_reset_with_a_seed_is_deterministic_and_reset_without_one_continues(tiny_world):
    """check_env's reset-seed check, on a batch: reset(seed=123), reset(), reset(seed=123), reset()."""
    env = SlateVectorEnv(tiny_world)
    runs = []
    for seed in (123, None, 123, None):
        state = deepcopy(env.np_random.bit_generator.state)
        obs, info = env.reset(seed=seed)
        if seed is None:
            assert env.np_random.bit_generator.state == state  # not reseeded
        runs.append([obs, info] + play(env, 25, seed=0))
    assert data_equivalence(runs[0], runs[2], exact=True) and data_equivalence(runs[1], runs[3], exact=True)
    assert not data_equivalence(runs[0], runs[1])


def test_step_is_deterministic(tiny_world):
    """check_env's step-determinism check, on a batch."""
    env = SlateVectorEnv(tiny_world)
    env.action_space.seed(123)
    action = env.action_space.sample()
    outputs, states = [], []
    for _ in range(2):
        env.reset(seed=123)
        outputs.append(env.step(action))
        states.append(env.np_random.bit_generator.state)
    assert data_equivalence(outputs[0], outputs[1], exact=True) and states[0] == states[1]


def test_environments_match_checker_accepts_two_copies():
    check_environments_match(SlateVectorEnv(hand_world(), num_envs=1), SlateVectorEnv(hand_world(), num_envs=1),
                             num_steps=300, seed=3)


def test_batched_env_reset_without_a_seed_continues_its_generator(tiny_world):
    env = BatchSlateEnv(tiny_world, batch_size=7)
    first, _ = env.reset(seed=0)
    state = deepcopy(env.rng.bit_generator.state)
    env.reset()
    assert env.rng.bit_generator.state != state  # the draw of the batch moved it on, from where it was
    twin = BatchSlateEnv(tiny_world, batch_size=7)
    twin.reset(seed=0)
    np.testing.assert_array_equal(env.reset()[0], (twin.reset(), twin.reset())[1][0])


def test_rejected_slates_change_nothing(tiny_world):
    env = SlateVectorEnv(tiny_world, num_envs=4)
    env.reset(seed=0)
    slates = np.tile(np.arange(5), (4, 1))
    env.step(slates)
    before = (env.population.session_length.copy(), env.population.patience.copy(),
              deepcopy(env.np_random.bit_generator.state))
    bad = slates.copy()
    bad[2] = [7, 8, 9, 9, 10]
    for actions, message in ((bad, r"slate \[7, 8, 9, 9, 10\] \(row 2\) repeats item 9"),
                             (slates[:3], r"slates must have shape \(4, 5\)"),
                             (slates + 200, "slate item id 200 is out of range 0..119")):
        with pytest.raises(ValueError, match=message):
            env.step(actions)
    np.testing.assert_array_equal(env.population.session_length, before[0])
    np.testing.assert_array_equal(env.population.patience, before[1])
    assert env.np_random.bit_generator.state == before[2]


def test_reset_mask_restarts_only_the_masked_sessions(tiny_world):
    env = SlateVectorEnv(tiny_world, num_envs=3)
    env.reset(seed=0)
    for _ in range(3):
        env.step(np.tile(np.arange(5), (3, 1)))
    env.reset(options={"reset_mask": np.array([False, True, False])})
    np.testing.assert_array_equal(env.population.session_length[:3], [3, 0, 3])
    with pytest.raises(ValueError, match=r"reset_mask'\] must be a bool array of shape \(3,\)"):
        env.reset(options={"reset_mask": np.array([1, 0, 0])})
    with pytest.raises(ValueError, match="only the option 'reset_mask'"):
        env.reset(options={"seed": 3})
    with pytest.raises(ParameterTypeError, match="seed must be an int"):
        env.reset(seed=[1, 2, 3])


def test_dict_info_to_list_gives_one_info_per_served_user(tiny_world):
    env = DictInfoToList(SlateVectorEnv(tiny_world, num_envs=3))
    env.reset(seed=0)
    _, _, _, _, infos = env.step(np.tile(np.arange(5), (3, 1)))
    assert [sorted(info) for info in infos] == [["clicked_item", "session_length"]] * 3
    assert [info["session_length"] for info in infos] == [1, 1, 1]


def test_step_before_reset_and_bad_sizes_are_refused(tiny_world):
    with pytest.raises(RuntimeError, match="call reset"):
        SlateVectorEnv(tiny_world).step(np.zeros((40, 5), dtype=np.int64))
    with pytest.raises(ValueError, match="num_envs"):
        SlateVectorEnv(tiny_world, num_envs=41)
