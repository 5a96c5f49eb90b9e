"""``check_agent``: run an agent through the protocol on a dataset and say everything it does wrong.

Modelled on Gymnasium's ``check_env``: call it on your own agent before a long run::

    from agents.checker import check_agent
    check_agent(MyAgent(), world.dataset)       # raises AgentCheckError listing every problem
"""

from __future__ import annotations

import filecmp
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems

PROTOCOL_METHODS = ("fit", "recommend", "update", "save", "load")


class AgentCheckError(Exception):
    """The agent breaks the protocol; ``problems`` lists each way it does."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the agent breaks the protocol:\n" + "\n".join(f"- {p}" for p in problems))
        self.problems = problems


def check_agent(agent: Any, data: Dataset, *, k: int = 5, seed: int = 0, batch: int = 8,
                report_exceptions: bool = True) -> None:
    """Exercise ``fit``, ``save``, ``load``, ``recommend`` and ``update`` on ``data``, in the order a run
    calls them (fit, save, load, then recommend and update), and say everything the agent does wrong.

    Checks that slates have shape ``(B, k)``, integer ids in range and no repeats (for a batch and for a
    single user); that ``recommend`` leaves the saved state unchanged (it must not learn); that ``update``
    accepts clicks and no-clicks; and that ``load`` restores exactly what ``save`` wrote (same files, same
    slates). Recommending items from the user's history is allowed but wasteful (they cannot be clicked):
    it gives a ``UserWarning``. Returns ``None`` when the agent passes.

    Args:
        agent: the agent, freshly constructed.
        data: the dataset to fit on.
        k: slate size.
        seed: the seed given to ``fit`` (and used to pick the ``batch`` users).
        batch: users per ``recommend`` call.
        report_exceptions: list an exception raised by ``recommend`` or ``update`` as a problem (``True``),
            or let it propagate with its traceback (``False``; ``recsim-lab run`` does this).

    Raises:
        AgentCheckError: listing every problem found.
    """
    missing = [m for m in PROTOCOL_METHODS if not callable(getattr(agent, m, None))]
    if missing:
        raise AgentCheckError([f"missing method(s) {missing}; an agent needs {list(PROTOCOL_METHODS)}"])
    problems: list[str] = []
    rng = np.random.default_rng(seed)
    users = np.sort(rng.choice(data.n_users, size=min(batch, data.n_users), replace=False)).astype(np.int64)
    agent.fit(data, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        before, after, reloaded = Path(tmp, "before"), Path(tmp, "after"), Path(tmp, "reloaded")
        for folder in (before, after, reloaded):
            folder.mkdir()
        agent.save(before)
        agent.load(before)  # as a run restores the checkpoint before its first episode
        slates = _checked_slates(agent, users, k, data, problems, "recommend(users, k)", report_exceptions)
        _checked_slates(agent, users[:1], k, data, problems, "recommend(one user, k)", report_exceptions)
        if problems:
            raise AgentCheckError(problems)
        agent.recommend(users, k)
        agent.save(after)
        if not _same_files(before, after):
            problems.append("recommend() changed the saved state: only update() may learn")
        clicks = np.where(np.arange(users.size) % 2 == 0, slates[:, 0], -1)
        try:
            agent.update(users, slates, clicks)
        except Exception as error:
            if not report_exceptions:
                raise
            problems.append(f"update(users, slates, clicks) raised {type(error).__name__}: {error}")
        agent.load(before)
        agent.save(reloaded)
        if not _same_files(before, reloaded):
            problems.append("load() then save() does not reproduce the checkpoint: the restore is not exact")
        elif not np.array_equal(np.asarray(agent.recommend(users, k)), slates):
            problems.append("after load(), recommend() differs from the first recommend() after load(): the "
                            "restore is not exact")
    if problems:
        raise AgentCheckError(problems)
    seen = SeenItems.from_histories(data.histories, data.n_items)
    if seen.contains(users, slates).any():
        warnings.warn("the agent recommends items from the user's history; they cannot be clicked", stacklevel=2)


def _checked_slates(agent: Any, users: np.ndarray, k: int, data: Dataset, problems: list[str], call: str,
                    report_exceptions: bool) -> np.ndarray:
    try:
        slates = np.asarray(agent.recommend(users, k))
    except Exception as error:
        if not report_exceptions:
            raise
        problems.append(f"{call} raised {type(error).__name__}: {error}")
        return np.empty((0, k), dtype=np.int64)
    if slates.shape != (users.size, k):
        problems.append(f"{call} returned shape {slates.shape}, expected ({users.size}, {k})")
    elif not np.issubdtype(slates.dtype, np.integer):
        problems.append(f"{call} returned dtype {slates.dtype}, expected integer item ids")
    elif slates.min() < 0 or slates.max() >= data.n_items:
        problems.append(f"{call} returned item ids outside 0..{data.n_items - 1}")
    elif (np.diff(np.sort(slates, axis=1), axis=1) == 0).any():
        problems.append(f"{call} returned a slate with a repeated item")
    return slates.astype(np.int64, copy=False) if np.issubdtype(slates.dtype, np.integer) else slates


def _same_files(a: Path, b: Path) -> bool:
    names_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    names_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    return names_a == names_b and all(filecmp.cmp(a / n, b / n, shallow=False) for n in names_a)
