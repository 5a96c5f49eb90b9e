"""Per-user scores and the run's output files.

A user's score in an episode is ``session_length / horizon``; ``scores.csv`` holds each user's mean over
the episodes, in the DataLab Cup submission format ``user_id,avg_score``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recsim_lab.run.episode import EpisodeResult
from recsim_lab.run.trace import TRACE_COLUMNS

SCORES_HEADER = "user_id,avg_score"
EPISODES_HEADER = "episode,user_id,score,clicks,steps"
TRACE_HEADER = ",".join(("episode", *TRACE_COLUMNS))


def average_scores(results: Sequence[EpisodeResult], horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """``(user_ids, avg_score)``: each user's session_length / horizon, averaged over episodes."""
    users = results[0].users
    lengths = np.stack([r.session_length for r in results])
    return users, lengths.mean(axis=0) / horizon


def scores_csv(users: np.ndarray, scores: np.ndarray, labels: Sequence[str] | None = None) -> str:
    """``scores.csv`` text: header then ``user_id,avg_score`` rows (shortest exact float repr).

    ``labels``: one original id per row to write instead of the contiguous ``users`` (``--original-ids``);
    quoted as CSV when it holds a comma, a quote or a line break.
    """
    ids = users.tolist() if labels is None else [csv_field(str(label)) for label in labels]
    rows = (f"{u},{s!r}" for u, s in zip(ids, scores.tolist()))
    return SCORES_HEADER + "\n" + "".join(row + "\n" for row in rows)


def csv_field(text: str) -> str:
    """``text`` as one CSV field: quoted, inner quotes doubled, when it holds a comma, quote or line break
    (RFC 4180); otherwise as it is."""
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def episodes_csv(results: Sequence[EpisodeResult], horizon: int) -> str:
    """``episodes.csv`` text: one row per episode and user."""
    lines = [EPISODES_HEADER]
    for r in results:
        for user, length, clicks in zip(r.users.tolist(), r.session_length.tolist(), r.clicks.tolist()):
            lines.append(f"{r.episode},{user},{length / horizon!r},{clicks},{length}")
    return "\n".join(lines) + "\n"


def trace_csv(results: Sequence[EpisodeResult]) -> str:
    """``trace.csv`` text: each episode's step trace (see :mod:`recsim_lab.run.trace`), one row per point."""
    lines = [TRACE_HEADER]
    for r in results:
        lines.extend(f"{r.episode}," + ",".join(map(str, point)) for point in r.trace.tolist())
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
