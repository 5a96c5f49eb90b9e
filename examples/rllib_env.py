"""Register recsim-lab's vector env with RLlib and sample from it through RLlib's env runner (no training).

    python examples/rllib_env.py [--env small] [--num-envs 8] [--timesteps 400]

Needs the ``[ray]`` extra (``pip install 'recsim-lab[ray]'``). RLlib calls the registered creator with its
``env_config`` plus ``num_envs``; with ``gym_env_vectorize_mode="vector_entry_point"`` it uses the returned
:class:`~envs.vector_env.SlateVectorEnv` as it is instead of stacking copies of a single env. Each sub-env is one
user's session, so an RLlib episode is a session and its return the user's clicks. No Ray cluster is started:
the env runner is built in this process.
"""

from __future__ import annotations

import argparse
from typing import Any

from envs.vector_env import SlateVectorEnv
from recsim_lab.extras import optional_import

ENV_NAME = "recsim_lab_vector"


def make_env(config: dict[str, Any]) -> SlateVectorEnv:
    """RLlib's env creator: ``config`` is the ``env_config`` (``world``, ``split``) plus RLlib's ``num_envs``."""
    return SlateVectorEnv(config.get("world", "default"), split=config.get("split", "test"),
                          num_envs=config["num_envs"])


def sample_episodes(world: str, num_envs: int, timesteps: int, seed: int = 0) -> list:
    """Register the env, build RLlib's single-agent env runner on it and sample ``timesteps`` steps of random
    slates; returns RLlib's ``SingleAgentEpisode`` objects (finished sessions and the ongoing ones' chunks)."""
    optional_import("ray", "the RLlib example")
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig  # heavy: imported only here
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
    from ray.tune.registry import register_env

    register_env(ENV_NAME, make_env)
    config = (AlgorithmConfig()
              .environment(ENV_NAME, env_config={"world": world})
              .env_runners(num_envs_per_env_runner=num_envs, gym_env_vectorize_mode="vector_entry_point")
              .debugging(seed=seed))
    runner = SingleAgentEnvRunner(config=config)
    try:
        return runner.sample(num_timesteps=timesteps, random_actions=True)
    finally:
        runner.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="small")
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--timesteps", type=int, default=400)
    args = parser.parse_args()
    episodes = sample_episodes(args.env, args.num_envs, args.timesteps)
    done = [episode for episode in episodes if episode.is_done]
    print(f"{sum(len(episode) for episode in episodes)} steps, {len(done)} finished sessions, "
          f"clicks per finished session: {[int(episode.get_return()) for episode in done]}")


if __name__ == "__main__":
    main()
