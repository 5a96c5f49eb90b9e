"""``StepTrace``: a compact per-step record of one episode (users served, clicks, active users), bounded in size.

One point per env step until the trace would exceed ``max_points``; then adjacent points merge in pairs and
every later point covers twice as many steps. So an episode of any length keeps at most ``max_points``
points, all but the last covering the same number of steps. The report draws click rate and active users
over the steps of an episode from it.
"""

from __future__ import annotations

import numpy as np

from recsim_lab.validation import check_scalar

TRACE_COLUMNS = ("step", "steps", "served", "clicks", "active")
"""Columns of a trace: first env step of the point (0-based), env steps merged into it, user-steps served,
clicks, and users still active after its last step."""

MAX_TRACE_POINTS = 2000
"""Points kept per episode by default."""


class StepTrace:
    """Accumulates per-step aggregates of one episode.

    Args:
        max_points: the most points kept (at least 2).
    """

    def __init__(self, max_points: int = MAX_TRACE_POINTS) -> None:
        self.max_points = check_scalar(max_points, "max_points", int, min_val=2)
        self.width = 1
        """Env steps per point (the last point may hold fewer)."""
        self.n_steps = 0
        self._points: list[list[int]] = []

    def add(self, served: int, clicks: int, active: int) -> None:
        """Record one env step: ``served`` users were shown a slate, ``clicks`` clicked, ``active`` remain."""
        points = self._points
        if points and points[-1][1] < self.width:
            last = points[-1]
            last[1] += 1
            last[2] += served
            last[3] += clicks
            last[4] = active
        else:
            points.append([self.n_steps, 1, served, clicks, active])
            if len(points) > self.max_points:
                self._halve()
        self.n_steps += 1

    def _halve(self) -> None:
        """Merge adjacent points in pairs and double the width."""
        merged = []
        for first, second in zip(self._points[::2], self._points[1::2]):
            merged.append([first[0], first[1] + second[1], first[2] + second[2], first[3] + second[3], second[4]])
        if len(self._points) % 2:
            merged.append(self._points[-1])
        self._points = merged
        self.width *= 2

    def to_array(self) -> np.ndarray:
        """``(n_points, 5)`` int64 with the columns :data:`TRACE_COLUMNS`."""
        return np.array(self._points, dtype=np.int64).reshape(-1, len(TRACE_COLUMNS))
