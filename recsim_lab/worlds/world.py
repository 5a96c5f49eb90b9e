"""The hidden truth an agent may not see: latent user and item vectors, and the rules of a session.

A world directory is a DataLab-format directory (``user_data.json``, ``item_data.json``) plus:

- ``world.npz``: ``user_embeddings`` (n_users, d) and ``item_embeddings`` (n_items, d), float32, loaded
  with ``allow_pickle=False``; its presence is what makes the directory a complete world;
- ``world.json`` (optional): ``name``, ``n_train_users``, ``rules`` and any provenance figures.

An imported world (``recsim-lab data import``) also holds each user's held-out future, the time-ordered rest
of their real click log, in ``world.npz`` as a CSR pair ``future_indptr`` (n_users + 1,) and
``future_items``; it is hidden from agents like the vectors, and the ``replay`` choice model clicks from it.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from recsim_lab.atomic import atomic_save_npz, atomic_write_text
from recsim_lab.data import Dataset
from recsim_lab.data.datalab import read_datalab, write_datalab
from recsim_lab.data.jsonl import read_json_file
from recsim_lab.errors import DataFormatError
from recsim_lab.validation import check_choice, check_fields, check_scalar

try:  # np.einsum(..., optimize=False) is this C function behind a dispatch wrapper that costs about as much
    from numpy._core.multiarray import c_einsum as _einsum  # as the product itself for one 5-item slate
except ImportError:  # a NumPy that moved it: the same function, through the wrapper
    _einsum = np.einsum

WORLD_ARRAYS = "world.npz"
WORLD_META = "world.json"
CHOICE_MODELS = ("softmax", "replay")
"""``softmax``: the DataLab choice over true scores; ``replay``: the earliest held-out future item (see
:mod:`recsim_lab.sim.population`)."""

MAX_SCORE = float(np.finfo(np.float32).max) / 2
"""The largest true score a world may produce: scores are float32 dot products, and half of float32's range
leaves room for the rounding of the sum. A world's bound on its scores is ``max |user row| * max |item row|``
(Cauchy-Schwarz)."""
MAX_LOGIT = float(np.finfo(np.float64).max) / 2
"""The largest ``|score| / temperature`` (and ``|threshold| / temperature``) allowed: the softmax subtracts
the largest logit from each, so twice this must still be a finite float64 for the click probabilities and the
patience that adds them up to stay finite."""


@dataclass(frozen=True)
class Rules:
    """How users choose, gain and lose patience, and leave. Defaults are the DataLab Cup values."""

    slate_size: int = 5
    """Items per slate; a slate must hold this many distinct item ids."""
    horizon: int = 2000
    """Maximum session length in steps; a user's score is session_length / horizon."""
    no_click_threshold: float = 1.7
    """Score of the no-click option in the softmax."""
    temperature: float = 0.1
    """Softmax temperature (> 0); lower means choices follow scores more sharply."""
    initial_patience: float = 5.0
    """Patience of every user at the start of an episode (> 0)."""
    patience_increment_weight: float = 0.5
    """A click on an item chosen with probability p adds min(max(p * weight, 0), 1) patience."""
    choice: str = "softmax"
    """Choice model: ``softmax`` over true scores, or ``replay`` of each user's held-out future (a replay
    click counts as p = 1, so it adds min(max(weight, 0), 1) patience)."""

    def __post_init__(self) -> None:
        check_fields(self, ("slate_size", "horizon"), int, prefix="Rules.", min_val=1)
        check_fields(self, ("no_click_threshold", "patience_increment_weight"), float, prefix="Rules.")
        check_fields(self, ("temperature", "initial_patience"), float, prefix="Rules.", min_val=0.0,
                     include_boundaries="neither")
        check_choice(self.choice, "Rules.choice", CHOICE_MODELS)
        if abs(self.no_click_threshold) > self.temperature * MAX_LOGIT:
            raise ValueError(f"|Rules.no_click_threshold| / Rules.temperature must stay within float range "
                             f"(at most {MAX_LOGIT:.3g}, so that the softmax stays finite); got "
                             f"{self.no_click_threshold:g} / {self.temperature:g}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Rules:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown rule(s) {unknown}; known rules are {sorted(known)}")
        return cls(**values)


@dataclass(frozen=True, eq=False)
class World:
    """A dataset together with its hidden truth.

    Attributes:
        dataset: what agents may see.
        user_embeddings: ``(n_users, d)`` float32 latent user vectors.
        item_embeddings: ``(n_items, d)`` float32 latent item vectors; the true score of item i for user u
            is ``user_embeddings[u] @ item_embeddings[i]``.
        rules: choice and patience rules.
        name: short name used in run folder names.
        info: provenance and calibration figures, saved in ``world.json``.
        futures: ``None``, or per user the int64 item ids of their held-out future, earliest first
            (distinct, none in the user's visible history); required by ``rules.choice == "replay"``.
    """

    dataset: Dataset
    user_embeddings: np.ndarray
    item_embeddings: np.ndarray
    rules: Rules = field(default_factory=Rules)
    name: str = "world"
    info: dict[str, Any] = field(default_factory=dict)
    futures: Sequence[np.ndarray] | None = None

    def __post_init__(self) -> None:
        users = _finite_matrix("user_embeddings", self.user_embeddings)
        items = _finite_matrix("item_embeddings", self.item_embeddings)
        if users.shape[1] != items.shape[1]:
            raise ValueError(
                f"user_embeddings and item_embeddings must have the same dimension; "
                f"got {users.shape[1]} and {items.shape[1]}"
            )
        if users.shape[0] != self.dataset.n_users:
            raise ValueError(f"user_embeddings has {users.shape[0]} rows but the dataset has "
                             f"{self.dataset.n_users} users")
        if items.shape[0] != self.dataset.n_items:
            raise ValueError(f"item_embeddings has {items.shape[0]} rows but the dataset has "
                             f"{self.dataset.n_items} items")
        _check_score_range(users, items, self.rules)
        if self.dataset.n_items < self.rules.slate_size:
            raise ValueError(f"a world needs at least slate_size={self.rules.slate_size} items, "
                             f"got {self.dataset.n_items}")
        object.__setattr__(self, "user_embeddings", users)
        object.__setattr__(self, "item_embeddings", items)
        if self.futures is not None:
            object.__setattr__(self, "futures", _checked_futures(self.futures, self.dataset))
        elif self.rules.choice == "replay":
            raise ValueError("the replay choice model needs each user's held-out future (World.futures); "
                             "worlds imported with `recsim-lab data import` have them")

    def with_choice(self, choice: str | None) -> World:
        """This world under another choice model (``None``: unchanged).

        Raises:
            ValueError: an unknown choice model, or ``replay`` for a world without held-out futures.
        """
        if choice is None or choice == self.rules.choice:
            return self
        return replace(self, rules=replace(self.rules, choice=choice))

    def future_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """The futures as ``(indptr, items)``: user u's future is ``items[indptr[u]:indptr[u + 1]]``
        (all empty when the world has none)."""
        futures = self.futures or [np.empty(0, dtype=np.int64)] * self.dataset.n_users
        indptr = np.zeros(len(futures) + 1, dtype=np.int64)
        np.cumsum([len(f) for f in futures], out=indptr[1:])
        items = np.concatenate(futures) if len(futures) else np.empty(0, dtype=np.int64)
        return indptr, items.astype(np.int64, copy=False)

    @property
    def dim(self) -> int:
        return self.user_embeddings.shape[1]

    def true_scores(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``(B, k)`` true scores of ``items[b, j]`` for ``users[b]``."""
        # take() gathers the same contiguous rows as fancy indexing, faster; einsum's summation order is the rule
        user_rows, item_rows = self.user_embeddings.take(users, axis=0), self.item_embeddings.take(items, axis=0)
        return _einsum("bd,bkd->bk", user_rows, item_rows)

    def true_scores_one(self, user: int, items: list[int]) -> list[float]:
        """True scores of ``items`` for one user; the same arithmetic as a row of :meth:`true_scores`."""
        return _einsum("d,kd->k", self.user_embeddings[user], self.item_embeddings.take(items, axis=0)).tolist()

    def save(self, directory: str | Path) -> Path:
        """Write the dataset files, ``world.npz`` and ``world.json`` into ``directory``."""
        directory = Path(directory)
        write_datalab(self.dataset, directory)
        arrays = {"user_embeddings": self.user_embeddings, "item_embeddings": self.item_embeddings}
        if self.futures is not None:
            arrays["future_indptr"], arrays["future_items"] = self.future_csr()
        atomic_save_npz(directory / WORLD_ARRAYS, **arrays)
        meta = {"name": self.name, "n_train_users": self.dataset.n_train_users,
                "rules": asdict(self.rules), **self.info}
        atomic_write_text(directory / WORLD_META, json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> World:
        """Read a world directory (see the module docstring).

        Raises:
            DataFormatError: a missing ``world.npz``, a malformed file, or arrays of the wrong shape or
                with NaN/inf.
        """
        directory = Path(directory)
        arrays_path = directory / WORLD_ARRAYS
        if not arrays_path.is_file():
            raise DataFormatError(arrays_path, "not found: a world directory needs the hidden truth "
                                               "(user_embeddings, item_embeddings) beside its dataset files")
        meta_path = directory / WORLD_META
        meta = _read_meta(meta_path)
        dataset = read_datalab(directory)
        n_train_users = meta.pop("n_train_users", None)
        try:
            if n_train_users is not None:
                n_train_users = check_scalar(n_train_users, "n_train_users", int, min_val=0, max_val=dataset.n_users)
                dataset = replace(dataset, n_train_users=n_train_users)
            name = check_scalar(meta.pop("name", directory.resolve().name), "name", str)
        except ValueError as error:
            raise DataFormatError(meta_path, str(error)) from None
        try:
            loaded = np.load(arrays_path, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise DataFormatError(arrays_path, "not a readable .npz file (a single .npy array, not an .npz "
                                                   "archive of named arrays)")
            with loaded as arrays:
                missing = {"user_embeddings", "item_embeddings"} - set(arrays.files)
                if missing:
                    raise DataFormatError(arrays_path, f"missing array(s) {sorted(missing)}")
                users, items = arrays["user_embeddings"], arrays["item_embeddings"]
                futures = _read_futures(arrays, dataset.n_users, arrays_path)
        except DataFormatError:
            raise
        except EOFError:  # np.load of an empty file
            raise DataFormatError(arrays_path, "not a readable .npz file (empty file)") from None
        except (OSError, ValueError, zipfile.BadZipFile) as error:  # truncated or damaged archive or member
            raise DataFormatError(arrays_path, f"not a readable .npz file ({error})") from None
        try:
            rules = Rules.from_dict(meta.pop("rules", {}))
        except (TypeError, ValueError) as error:
            raise DataFormatError(directory / WORLD_META, f"rules: {error}") from None
        try:
            return cls(dataset, users, items, rules=rules, name=name, info=meta, futures=futures)
        except ValueError as error:
            raise DataFormatError(arrays_path, str(error)) from None


def _finite_matrix(name: str, array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"{name} must be a 2-D array (rows, dim) with dim >= 1, got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        kind = "numeric" if not np.issubdtype(array.dtype, np.number) else "real numbers (integers or floats)"
        raise ValueError(f"{name} must hold {kind}, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array))[0, 0])
        raise ValueError(f"{name} contains NaN or inf (first in row {row})")
    if array.size and float(np.abs(array).max()) > float(np.finfo(np.float32).max):
        row = int(np.argwhere(np.abs(array) > np.finfo(np.float32).max)[0, 0])
        raise ValueError(f"{name} holds values outside float32's range, in which worlds are stored (first in "
                         f"row {row})")
    return np.ascontiguousarray(array, dtype=np.float32)


def _check_score_range(users: np.ndarray, items: np.ndarray, rules: Rules) -> None:
    """Refuse vectors whose scores could overflow: float32 scores, or the softmax's ``score / temperature``.

    Raises:
        ValueError: naming both arrays, their largest row norms, the bound and the reason.
    """
    largest_user = float(np.linalg.norm(users.astype(np.float64), axis=1).max(initial=0.0))
    largest_item = float(np.linalg.norm(items.astype(np.float64), axis=1).max(initial=0.0))
    bound = largest_user * largest_item
    limit = min(MAX_SCORE, rules.temperature * MAX_LOGIT)
    if bound > limit:
        reason = "half of float32's range, in which scores are computed" if limit == MAX_SCORE else \
            f"Rules.temperature ({rules.temperature:g}) times {MAX_LOGIT:.3g}, beyond which score / temperature " \
            f"overflows the softmax"
        raise ValueError(f"the largest possible score, max |user_embeddings row| * max |item_embeddings row| = "
                         f"{largest_user:.3g} * {largest_item:.3g} = {bound:.3g}, exceeds {limit:.3g} ({reason})")


def _checked_futures(futures: Sequence[np.ndarray], dataset: Dataset) -> tuple[np.ndarray, ...]:
    """Futures as int64 arrays, one per user, each distinct, in range and outside the visible history."""
    futures = tuple(np.asarray(f).reshape(-1) for f in futures)
    if len(futures) != dataset.n_users:
        raise ValueError(f"futures must hold one array per user ({dataset.n_users}), got {len(futures)}")
    for user, future in enumerate(futures):
        if future.size and not np.issubdtype(future.dtype, np.integer):
            raise ValueError(f"future of user {user} must hold integer item ids, got dtype {future.dtype}")
    futures = tuple(f.astype(np.int64, copy=False) for f in futures)
    lengths = np.array([f.size for f in futures], dtype=np.int64)
    if not lengths.sum():
        return futures
    n_items = dataset.n_items
    owners = np.repeat(np.arange(len(futures)), lengths)
    flat = np.concatenate(futures)
    bad = (flat < 0) | (flat >= n_items)
    if bad.any():
        first = int(np.argmax(bad))
        raise ValueError(f"future of user {owners[first]} has item id {flat[first]}, outside 0..{n_items - 1}")
    keys = owners * np.int64(n_items) + flat
    ordered = np.sort(keys)
    if (ordered[1:] == ordered[:-1]).any():
        key = int(ordered[1:][ordered[1:] == ordered[:-1]][0])
        raise ValueError(f"future of user {key // n_items} repeats item {key % n_items}")
    history_lengths = np.array([h.size for h in dataset.histories], dtype=np.int64)
    if history_lengths.sum():
        history_keys = (np.repeat(np.arange(dataset.n_users), history_lengths) * np.int64(n_items)
                        + np.concatenate(dataset.histories))
        clash = np.isin(keys, history_keys)
        if clash.any():
            first = int(np.argmax(clash))
            raise ValueError(f"future of user {owners[first]} has item {flat[first]}, which is already in "
                             f"their visible history")
    return futures


def _read_futures(arrays: Any, n_users: int, path: Path) -> list[np.ndarray] | None:
    """The futures stored as ``future_indptr`` / ``future_items`` in ``world.npz``, or ``None``."""
    present = {"future_indptr", "future_items"} & set(arrays.files)
    if not present:
        return None
    if len(present) == 1:
        raise DataFormatError(path, f"future_indptr and future_items come together; only {sorted(present)} found")
    indptr, items = arrays["future_indptr"], arrays["future_items"]
    if not (np.issubdtype(indptr.dtype, np.integer) and np.issubdtype(items.dtype, np.integer)):
        raise DataFormatError(path, "future_indptr and future_items must be integer arrays")
    if (indptr.shape != (n_users + 1,) or indptr[0] != 0 or (np.diff(indptr) < 0).any()
            or indptr[-1] != items.size or items.ndim != 1):
        raise DataFormatError(path, f"future_indptr must be non-decreasing of shape ({n_users + 1},) from 0 to "
                         f"len(future_items) = {items.size}")
    return np.split(items.astype(np.int64), indptr[1:-1])


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    meta = read_json_file(path)
    if not isinstance(meta, dict):
        raise DataFormatError(path, "expected a JSON object")
    return meta
