"""Per-user scores and the run's output files.

A user's score in an episode is ``session_length / horizon``; ``scores.csv`` holds each user's mean over
the episodes, in the DataLab Cup submission format ``user_id,avg_score``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recsim_lab.episode import EpisodeResult

SCORES_HEADER = "user_id,avg_score"
EPISODES_HEADER = "episode,user_id,score,clicks,steps"


def average_scores(results: Sequence[EpisodeResult], horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """``(user_ids, avg_score)``: each user's session_length / horizon, averaged over episodes."""
    users = results[0].users
    lengths = np.stack([r.session_length for r in results])
    return users, lengths.mean(axis=0) / horizon


def scores_csv(users: np.ndarray, scores: np.ndarray) -> str:
    """``scores.csv`` text: header then ``user_id,avg_score`` rows (shortest exact float repr)."""
    rows = (f"{u},{s!r}" for u, s in zip(users.tolist(), scores.tolist()))
    return SCORES_HEADER + "\n" + "".join(row + "\n" for row in rows)


def episodes_csv(results: Sequence[EpisodeResult], horizon: int) -> str:
    """``episodes.csv`` text: one row per episode and user."""
    lines = [EPISODES_HEADER]
    for r in results:
        for user, length, clicks in zip(r.users.tolist(), r.session_length.tolist(), r.clicks.tolist()):
            lines.append(f"{r.episode},{user},{length / horizon!r},{clicks},{length}")
    return "\n".join(lines) + "\n"


def summarize(results: Sequence[EpisodeResult], horizon: int) -> dict[str, float | int | list[float]]:
    """Mean score, click rate, steps and throughput over the episodes."""
    steps = sum(r.steps for r in results)
    clicks = sum(int(r.clicks.sum()) for r in results)
    seconds = sum(r.seconds for r in results)
    return {
        "mean_score": float(np.mean([r.session_length.mean() / horizon for r in results])),
        "episode_mean_scores": [float(r.session_length.mean() / horizon) for r in results],
        "click_rate": clicks / steps if steps else 0.0,
        "steps": steps,
        "clicks": clicks,
        "seconds": seconds,
        "steps_per_s": steps / seconds if seconds else 0.0,
    }
