"""The RLlib example: RLlib's single-agent env runner steps SlateVectorEnv (random slates, no training).

The RLlib test is slow (importing RLlib takes tens of seconds) and needs the ``[ray]`` extra. No Ray cluster is
started: the env runner is built in the test's process.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from recsim_lab.extras import MissingExtraError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "rllib_env.py"


def load_example():
    spec = importlib.util.spec_from_file_location("rllib_env_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_ray_the_example_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingExtraError, match=r"^the RLlib example needs Ray: pip install 'recsim-lab\[ray\]'$"):
        load_example().sample_episodes("small", num_envs=2, timesteps=10)


@pytest.mark.slow
@pytest.mark.ray
def test_rllib_env_runner_samples_user_sessions():
    """Each RLlib episode is one user's session: its observation is that user throughout, its return is its
    clicks, it terminates (never truncates) when the user leaves, and a session without a click lasts exactly
    the initial patience, 5 steps (one point lost per ignored slate)."""
    pytest.importorskip("ray.rllib")
    episodes = load_example().sample_episodes("small", num_envs=4, timesteps=300, seed=0)
    assert sum(len(episode) for episode in episodes) >= 300
    finished = [episode for episode in episodes if episode.is_done]
    assert len(finished) >= 10
    served = set()
    for episode in episodes:
        users = np.unique(episode.get_observations())
        assert users.size == 1
        served.add(int(users[0]))
        rewards = np.asarray(episode.get_rewards())
        assert set(rewards.tolist()) <= {0.0, 1.0} and episode.get_return() == rewards.sum()
        assert not episode.is_truncated
    assert served == {0, 1, 2, 3}  # the first 4 users of the small world, one per sub-env
    assert all(episode.is_terminated for episode in finished)
    clickless = [len(episode) for episode in finished if episode.get_return() == 0 and episode.t_started == 0]
    assert clickless and set(clickless) == {5}
