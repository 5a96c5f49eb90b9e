"""``SlateSpace``: the action space of the environments, slates of distinct item ids, one or a batch.

Gymnasium batches a sub-environment's space for a vector env with ``gymnasium.vector.utils.batch_space``; for a
plain ``MultiDiscrete`` that gives a ``Box`` whose samples may repeat an item. Importing this module registers
``batch_space`` for :class:`SlateSpace`, so the batched space of ``n`` sub-envs is ``SlateSpace(n_items, k,
batch=n)``, whose samples and members are ``n`` slates of distinct items: the action space of
:class:`~envs.vector_env.SlateVectorEnv`, and of ``gymnasium.make_vec`` over :class:`~envs.slate_env.SlateEnv`.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space


class SlateSpace(spaces.MultiDiscrete):
    """Slates of ``k`` distinct item ids in ``0..n_items-1``: a ``MultiDiscrete`` whose samples and members
    have no repeated item within a slate.

    Args:
        n_items: catalogue size.
        k: items per slate.
        seed: seeds the space's own generator (for :meth:`sample`).
        batch: ``None`` for one slate, shape ``(k,)``; ``n`` for ``n`` slates, shape ``(n, k)``.
    """

    def __init__(self, n_items: int, k: int, seed: int | np.random.Generator | None = None,
                 batch: int | None = None) -> None:
        shape = (k,) if batch is None else (batch, k)
        super().__init__(np.full(shape, n_items, dtype=np.int64), seed=seed)
        self.n_items = n_items

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        if mask is not None or probability is not None:
            raise NotImplementedError("SlateSpace.sample takes no mask or probability")
        k = self.shape[-1]
        if len(self.shape) == 1:
            return self.np_random.choice(self.n_items, size=k, replace=False).astype(np.int64)
        return np.stack([self.np_random.choice(self.n_items, size=k, replace=False)
                         for _ in range(self.shape[0])]).astype(np.int64)

    def contains(self, x: Any) -> bool:
        if not super().contains(x):
            return False
        ordered = np.sort(np.asarray(x), axis=-1)
        return not (ordered[..., 1:] == ordered[..., :-1]).any()

    def __repr__(self) -> str:
        batch = "" if len(self.shape) == 1 else f", batch={self.shape[0]}"
        return f"SlateSpace(n_items={self.n_items}, k={self.shape[-1]}{batch})"


@batch_space.register(SlateSpace)
def _batch_slate_space(space: SlateSpace, n: int = 1) -> SlateSpace:
    """``n`` slates of ``space`` (one slate, not already a batch): ``SlateSpace(n_items, k, batch=n)``."""
    if len(space.shape) != 1:
        raise ValueError(f"batch_space batches a space of single slates, got {space!r}")
    return SlateSpace(space.n_items, space.shape[0], seed=deepcopy(space.np_random), batch=n)
