"""Environment throughput with the random agent: one user per step, batched, and the vector env.

    python benchmarks/env_throughput.py [--env datalab] [--one-user-steps 200000] [--batched-episodes 20]
                                        [--vector-steps 100] [--replays 3]

Env time only is what the headline keys measure (the agent's slates are drawn outside the timed calls);
the ``*_with_agent`` keys time the whole loop including ``recommend`` and ``update``. ``vector_*`` steps
:class:`~envs.vector_env.SlateVectorEnv` with one sub-env per user of the world (every user served at every
step, a user who leaves restarting). Each is played ``--replays`` times, the same steps each time. The
``*_per_s`` rates are those of the first play, per wall second; the ``*_per_cpu_s`` twins divide by this
process's CPU seconds instead, which other jobs on a shared machine disturb less; the ``*_per_s_fastest``
rates add up, for each timed section (one batched or vector step, or 100 one-user steps), its fastest play:
an estimate of the rate on a quiet machine. Prints one JSON object; ``--json PATH`` also writes it to a file.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from agents.random import RandomAgent
from envs.batch_env import BatchSlateEnv
from envs.slate_env import SlateEnv
from envs.vector_env import SlateVectorEnv
from recsim_lab.worlds.presets import make_world

_BLOCK = 100  # one-user steps per timed section: a millisecond or two, which some replay gets uninterrupted


class Clock:
    """Wall seconds and this process's CPU seconds summed over the sections timed with :meth:`section`, and
    each section's wall seconds."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self.sections: list[float] = []

    @contextmanager
    def section(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        elapsed = time.perf_counter() - wall
        self.wall += elapsed
        self.cpu += time.process_time() - cpu
        self.sections.append(elapsed)


def rates(name: str, units: int, clocks: list[Clock]) -> dict[str, float]:
    """``units`` per wall second and per CPU second of the first replay, and per second of the fastest replay of
    each section summed (the replays play the same steps)."""
    if len({len(clock.sections) for clock in clocks}) > 1:
        raise RuntimeError("the replays did not play the same steps")
    fastest = float(np.min([clock.sections for clock in clocks], axis=0).sum())
    return {f"{name}_per_s": units / clocks[0].wall, f"{name}_per_cpu_s": units / clocks[0].cpu,
            f"{name}_per_s_fastest": units / fastest}


def one_user(world, steps: int, seed: int, replays: int) -> dict[str, float]:
    agent = RandomAgent()
    agent.fit(world.dataset, seed=seed)
    rng = np.random.default_rng(seed)
    slates = agent.recommend(rng.integers(world.dataset.n_users, size=steps), world.rules.slate_size)
    env = SlateEnv(world)
    clocks = []
    for _ in range(replays):
        clock, episodes = Clock(), 0
        env.reset(seed=seed)
        for start in range(0, steps, _BLOCK):
            with clock.section():
                for slate in slates[start:start + _BLOCK]:
                    _, _, terminated, _, _ = env.step(slate)
                    if terminated:
                        episodes += 1
                        env.reset(seed=seed + episodes)
        clocks.append(clock)

    user, _ = env.reset(seed=seed)
    users = np.array([user])
    start = time.perf_counter()
    for _ in range(steps // 4):
        slate = agent.recommend(users, world.rules.slate_size)
        user, _, terminated, _, info = env.step(slate[0])
        agent.update(users, slate, np.array([info["clicked_item"]]))
        users[0] = env.reset(seed=seed)[0] if terminated else user
    loop_seconds = time.perf_counter() - start
    return {**rates("one_user_steps", steps, clocks), "one_user_steps_per_s_with_agent": (steps // 4) / loop_seconds}


def batched(world, episodes: int, seed: int, replays: int) -> dict[str, float]:
    env = BatchSlateEnv(world)
    clocks, loop_seconds = [], []
    for _ in range(replays):
        agent = RandomAgent()
        agent.fit(world.dataset, seed=seed)  # so that every replay plays the same slates
        clock, user_steps = Clock(), 0
        loop_start = time.perf_counter()
        for episode in range(episodes):
            users, _ = env.reset(seed=seed + episode)
            terminated = False
            while not terminated:
                slates = agent.recommend(users, world.rules.slate_size)
                with clock.section():
                    next_users, _, terminated, info = env.step(slates)
                agent.update(users, slates, info["clicked_item"])
                user_steps += users.size
                users = next_users
        loop_seconds.append(time.perf_counter() - loop_start)
        clocks.append(clock)
    return {**rates("batched_user_steps", user_steps, clocks),
            "batched_user_steps_per_s_with_agent": user_steps / loop_seconds[0], "batched_user_steps": user_steps}


def vector(world, steps: int, seed: int, replays: int) -> dict[str, float]:
    env = SlateVectorEnv(world)
    clocks = []
    for _ in range(replays):
        agent = RandomAgent()
        agent.fit(world.dataset, seed=seed)
        users, _ = env.reset(seed=seed)
        clock = Clock()
        for _ in range(steps):
            slates = agent.recommend(users, world.rules.slate_size)
            with clock.section():
                env.step(slates)
        clocks.append(clock)
    return {**rates("vector_user_steps", steps * env.num_envs, clocks), "vector_num_envs": env.num_envs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="datalab")
    parser.add_argument("--one-user-steps", type=int, default=200_000)
    parser.add_argument("--batched-episodes", type=int, default=20)
    parser.add_argument("--vector-steps", type=int, default=100)
    parser.add_argument("--replays", type=int, default=3, help="plays of the same steps (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the JSON object to this file")
    args = parser.parse_args()
    start = time.perf_counter()
    world = make_world(args.env)
    result = {"env": args.env, "n_users": world.dataset.n_users, "n_items": world.dataset.n_items,
              "world_build_seconds": time.perf_counter() - start}
    result.update(one_user(world, args.one_user_steps, args.seed, args.replays))
    result.update(batched(world, args.batched_episodes, args.seed, args.replays))
    result.update(vector(world, args.vector_steps, args.seed, args.replays))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
