"""``hybrid``: combine child agents given by name, by slate slots or by blending their scores.

- ``mode="slots"``: child ``i`` fills ``slots[i]`` positions of the slate in turn (e.g. 2 FunkSVD + 3
  content, as the DataLab Cup reference solution did); an item a previous child already placed is skipped
  and the next one of that child's ranking taken, so slates stay distinct.
- ``mode="blend"``: each child's scores are standardised per user (zero mean, unit variance over the
  catalogue, so that children on different scales mix fairly) and summed with ``weights``; the slate is
  the top ``k`` unseen items of the blend.

  - Up to :data:`~agents.helpers.retrieval.FULL_ROW_ITEMS` items, every child scores the whole catalogue
    (``scores(users)``, one matrix product each) and the moments are exact.
  - Above, scoring every item per user-step is too slow, so the blend is retrieved. Each child is linear,
    ``scores = queries(users) @ item_keys.T`` plus a constant per user (less sparse penalties), so the
    standardised blend is one inner product between ``[w_1 / s_1 * query_1, w_2 / s_2 * query_2, ...]``
    (``s_i`` the user's spread under child ``i``) and the concatenated keys ``[key_1, key_2, ...]`` of an
    item. ``fit`` builds one index over the concatenated keys (:class:`~agents.helpers.retrieval.InnerProductIndex`,
    approximate at 50,000 items and more; the checkpoint keeps it), and ``update`` files the keys of the
    items shown anew; each user's ``candidates`` best unseen items under it are re-scored exactly by every
    child (``scores_of(users, items)``: penalties), and the moments are estimated on a fixed random sample
    of 2,048 items.
    Retrieving each child's own best items instead and blending their union needs deep lists, because the
    blend's best items lie deep in either child's ranking (measured: ``benchmarks/README.md``).

  Children must have ``scores(users)`` ``(B, n_items)``, ``scores_of(users, items)`` (items ``(B, C)``
  per user, or ``(M,)`` shared by all users), ``queries(users)`` ``(B, d)`` and ``item_keys``
  ``(n_items, d)``.

The default is the blend of ``funk_svd`` and ``content``, the content child without its session penalties
(:data:`TUNED_CHILD_OPTIONS`), with weights chosen in ``fit`` for the world at hand (``weights=None``): the
children are fitted on every history less its last ``holdout`` share, each blend of :func:`weight_grid`
(steps of 0.1) serves the users a few replayed sessions in which they click only what they held out
(:mod:`agents.helpers.holdout`), and the blend with the most clicks is kept; then the children are fitted on
the whole histories. The checkpoint keeps the choice (``hybrid.json``, with every blend's replay rate), so
every episode starts from it. One fixed blend does not serve every world: online, ``default`` does best
near 0.6-0.8 / 0.4-0.2 and MovieLens 100K with FunkSVD alone, while on ``sparse`` (20,000 items, short
histories, where text carries much of what is known) the chosen blend beats the fixed 0.8 / 0.2 by 0.03
(tables in ``benchmarks/README.md``, "Choosing settings in fit"). The penalties (taking score off items of
ignored slates) make the content agent rotate through its weak ranking, which helps it alone; in the blend
they overrule FunkSVD, which already learns from ignored slates, and under the choice model an ignored slate
is a draw, not proof that its items are bad.

The replay is a good start, not the last word: it rewards the text more than the simulated users do (on
``news`` and ``datalab`` it chose blends that score below FunkSVD alone online). So online (``adapt``, the
default when the weights are chosen) the blend of ``fit`` is one of several *arms*, with each child alone,
and each user-step's arm is drawn by Thompson sampling on the clicks each arm has earned since the
checkpoint was loaded, compared step of the session by step of the session
(:mod:`agents.helpers.step_matched_thompson`: users who click stay, so late steps click more whatever the
arm). The episode's own clicks then decide among blends that the held-out data could not tell apart.
Before any response the arms are drawn alike, so an offline ranking (``recsim-lab offline``, which never
calls ``update``) of the default hybrid mixes the fitted blend and each child alone; ``adapt=False`` ranks
by the fitted blend.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from agents.helpers.holdout import choose_in_fit
from agents.helpers.ranking import top_k, top_k_unseen
from agents.helpers.retrieval import (
    FULL_ROW_ITEMS,
    InnerProductIndex,
    load_index,
    require_index,
    save_index,
    unseen_candidates,
)
from agents.helpers.step_matched_thompson import StepMatchedThompson
from agents.registry import load_agent_class, make_agent
from recsim_lab.checkpoint import load_json, save_json
from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems
from recsim_lab.validation import check_choice, check_fields, check_scalar, check_sequence

_CHUNK_USERS = 256  # users blended at a time, bounding the (users x candidates x dim) gathers
_MOMENT_ITEMS = 2048  # items sampled to estimate each user's score mean and spread
_MODES = ("slots", "blend")
_GRID_STEP = 0.1  # weight step of the blends compared in fit
_META = "hybrid.json"

TUNED_CHILD_OPTIONS: dict[str, dict[str, Any]] = {"content": {"ignore_penalty": 0.0, "passed_penalty": 0.0}}
"""Options given to these built-in children in blend mode, under any ``child_options`` (see the module
docstring)."""


@dataclass
class HybridAgent:
    """Combine ``children`` (built-in names or ``module:Class`` specs) by slots or by a score blend."""

    children: tuple[str, ...] = ("funk_svd", "content")
    """Child agents, by name."""
    mode: str = "blend"
    """``"blend"`` (weighted standardised scores) or ``"slots"`` (each child fills its share of the slate)."""
    weights: tuple[float, ...] | None = None
    """Blend weight per child (``mode="blend"``); ``None``: chosen in ``fit`` among :func:`weight_grid`
    (see the module docstring)."""
    holdout: float = 0.2
    """Share of each user's history held out to choose the blend (``weights=None``)."""
    candidates: int = 100
    """Items per user retrieved from the joint index and re-scored (``mode="blend"``, catalogues of more
    than :data:`~agents.helpers.retrieval.FULL_ROW_ITEMS` items)."""
    nprobe: int = 24
    """Clusters of the approximate joint index scanned per query (50,000 items and more; more: higher
    recall, slower)."""
    slots: tuple[int, ...] = (2, 3)
    """Slate positions per child, in order (``mode="slots"``); they must sum to the slate size."""
    child_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Hyperparameters per child name, e.g. ``{"funk_svd": {"factors": 32}}``, on top of those of
    :data:`TUNED_CHILD_OPTIONS` (blend mode only)."""
    adapt: bool = True
    """With ``weights=None``: keep choosing online among the blend chosen in ``fit`` and each child alone, each
    user-step's blend drawn by Thompson sampling on the clicks each has earned since the checkpoint was loaded
    (see the module docstring); ``False``: play the blend chosen in ``fit`` throughout (also when loading a
    checkpoint fitted with ``adapt``)."""
    encoder: str | None = None
    """A local sentence-transformers model directory for every child that takes an ``encoder`` option (the
    ``content`` agent); ``None`` leaves their default."""
    agents: list[Any] = field(default_factory=list, init=False, repr=False)
    blend: tuple[float, ...] = field(default=(), init=False, repr=False)
    """The blend weights: ``weights``, or those chosen in ``fit``."""
    arms: tuple[tuple[float, ...], ...] = field(default=(), init=False, repr=False)
    """The blends played: ``(blend,)``, or with ``adapt``, ``blend`` and each child alone."""
    bandit: StepMatchedThompson | None = field(default=None, init=False, repr=False)
    """Draws each user-step's arm and counts the responses, when there are several arms."""
    replay_rates: dict[tuple[float, ...], float] = field(default_factory=dict, init=False, repr=False)
    """Clicks per user-step of every blend compared in ``fit`` (:func:`~agents.helpers.holdout.replay_rate`);
    empty when ``weights`` were given."""
    seen: SeenItems | None = field(default=None, init=False, repr=False)
    index: InnerProductIndex | None = field(default=None, init=False, repr=False)
    """The index over the children's concatenated ``item_keys`` as ``fit`` left them (large catalogues only)."""
    _moment_items: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), init=False, repr=False)

    def __post_init__(self) -> None:

        check_choice(self.mode, "mode", _MODES)
        self.children = check_sequence(self.children, "children", str, min_length=1)
        if self.weights is not None:
            self.weights = check_sequence(self.weights, "weights", float)
        self.slots = check_sequence(self.slots, "slots", int, min_val=0)
        check_fields(self, ("holdout",), float, min_val=0.0, max_val=1.0, include_boundaries="neither")
        if self.mode == "blend" and self.weights is not None and len(self.weights) != len(self.children):
            raise ValueError(f"weights must have one entry per child ({len(self.children)}), got {self.weights}")
        check_fields(self, ("candidates", "nprobe"), int, min_val=1)
        if self.mode == "slots" and len(self.slots) != len(self.children):
            raise ValueError(f"slots must have one non-negative entry per child ({len(self.children)}), "
                             f"got {self.slots}")
        check_scalar(self.child_options, "child_options", dict)
        for name, options in self.child_options.items():
            check_scalar(options, f"child_options[{name!r}]", dict)
        check_scalar(self.encoder, "encoder", str, allow_none=True)
        unknown = sorted(set(self.child_options) - set(self.children))
        if unknown:
            raise ValueError(f"child_options names {unknown}, which are not among children {self.children}")
        self.agents = [make_agent(name, **options) for name, options in self._options_per_child().items()]
        if self.mode == "blend":
            missing = [n for n, a in zip(self.children, self.agents)
                       if not (all(callable(getattr(a, m, None)) for m in ("scores", "scores_of", "queries"))
                               and "item_keys" in dir(a))]  # dir(): a property may need fit() first
            if missing:
                raise ValueError(f"mode='blend' needs children with scores(), scores_of(), queries() and "
                                 f"item_keys; {missing} lack them")

    def _options_per_child(self) -> dict[str, dict[str, Any]]:
        """Each child's constructor options: the tuned ones (blend mode), ``encoder``, then ``child_options``."""

        tuned = TUNED_CHILD_OPTIONS if self.mode == "blend" else {}
        options = {name: dict(tuned.get(name, {})) for name in self.children}
        if self.encoder is not None:
            takers = [name for name in self.children
                      if "encoder" in inspect.signature(load_agent_class(name)).parameters]
            if not takers:
                raise ValueError(f"encoder is set, but none of the children {self.children} takes an encoder")
            for name in takers:
                options[name]["encoder"] = self.encoder
        for name, given in self.child_options.items():
            options[name].update(given)
        return options

    def fit(self, data: Dataset, *, seed: int) -> None:
        """Fit the children; in blend mode with ``weights=None``, first choose the blend: fit them on each
        history less its last ``holdout`` share, and keep the weights of :func:`weight_grid` whose replayed
        sessions click most of the held-out items (:mod:`agents.helpers.holdout`); then fit them on the whole
        histories, each child keeping the settings its own ``fit`` chose on the visible part (its
        ``CHOSEN_IN_FIT``). With ``adapt``, the arms played online are that blend and each child alone."""
        if self.mode == "blend":  # before the children's fit: a large catalogue's index needs faiss
            require_index(data.n_items)
        grid = weight_grid(len(self.children))
        self.blend, self.replay_rates = self.weights or grid[0], {}
        self.arms, self.bandit = (self.blend,), None
        if self.mode == "blend" and self.weights is None:
            (self.blend,), rates = choose_in_fit(self, data, self.holdout, seed, partial(self._fit_children, seed=seed),
                                                 "arms", [(blend,) for blend in grid], default=(grid[0],))
            self.replay_rates, self.arms = dict(zip(grid, rates)), (self.blend,)
            if self.adapt:
                self.arms += tuple(blend for blend in grid if max(blend) == 1.0 and blend != self.blend)
            with _choices_kept(self.agents):
                self._fit_children(data, seed)
        else:
            self._fit_children(data, seed)
        self.bandit = StepMatchedThompson(len(self.arms), data.n_users, seed) if len(self.arms) > 1 else None

    def _fit_children(self, data: Dataset, seed: int) -> None:
        """Fit every child on ``data``; the item sets and, at large catalogues, the joint index follow."""
        seeds = np.random.SeedSequence(seed).spawn(len(self.agents) + 1)  # one per child, one for the index
        for agent, child_seed in zip(self.agents, seeds):
            agent.fit(data, seed=int(child_seed.generate_state(1)[0]))
        self.seen = SeenItems.from_histories(data.histories, data.n_items)
        self._moment_items = _moment_sample(data.n_items)
        self.index = None
        if self._retrieves():
            self.index = InnerProductIndex(self.joint_keys(), nprobe=self.nprobe,
                                           seed=int(seeds[-1].generate_state(1)[0] % 2**31))

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        if self.mode == "slots":
            if sum(self.slots) != k:
                raise ValueError(f"slots {self.slots} sum to {sum(self.slots)}, but the slate size is {k}")
            return self._by_slots(users, k)
        weights = self._draw_weights(users)
        blend = self._by_full_rows if self.index is None else self._by_candidates
        return np.concatenate([blend(users[start:start + _CHUNK_USERS], weights[start:start + _CHUNK_USERS], k)
                               for start in range(0, users.size, _CHUNK_USERS)])

    def _draw_weights(self, users: np.ndarray) -> np.ndarray:
        """``(B, n_children)`` float32 blend weights per user: the one arm, or each user's arm drawn by the
        bandit."""
        arms = np.asarray(self.arms, dtype=np.float32)
        if self.bandit is None:
            return np.broadcast_to(arms[0], (users.size, arms.shape[1]))
        return arms[self.bandit.draw(users)]

    def _by_full_rows(self, users: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
        blend = np.zeros((users.size, self.seen.n_items), dtype=np.float32)
        for agent, weight in zip(self.agents, weights.T):
            scores = np.asarray(agent.scores(users), dtype=np.float32)
            scores -= scores.mean(axis=1, keepdims=True)
            spread = np.sqrt(np.einsum("bi,bi->b", scores, scores) / scores.shape[1])[:, None]
            blend += _scale(weight[:, None], spread) * scores
        return top_k_unseen(blend, users, self.seen, k)

    def standardisation(self, users: np.ndarray, weights: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per child, ``(B, 1)`` float32 ``weight / spread`` and mean of each user's scores, estimated on the
        fixed item sample, for per-user ``weights`` ``(B, n_children)``: the blend is
        ``sum_i scale_i * (scores_i - mean_i)``."""
        scales, means = [], []
        for agent, weight in zip(self.agents, weights.T):
            sample = np.asarray(agent.scores_of(users, self._moment_items), dtype=np.float32)
            scales.append(_scale(weight[:, None], sample.std(axis=1, keepdims=True)))
            means.append(sample.mean(axis=1, keepdims=True))
        return scales, means

    def joint_queries(self, users: np.ndarray, scales: list[np.ndarray]) -> np.ndarray:
        """``(B, sum of d)`` float32: each child's ``queries(users)`` times its scale, side by side, whose
        inner product with :meth:`joint_keys` ranks items as the blend does."""
        return np.hstack([scale * agent.queries(users) for agent, scale in zip(self.agents, scales)])

    def joint_keys(self, items: np.ndarray | None = None) -> np.ndarray:
        """``(n_items, sum of d)`` float32: the children's ``item_keys`` side by side (only the rows of
        ``items`` ``(m,)``, when given)."""
        rows = slice(None) if items is None else items
        return np.hstack([np.asarray(agent.item_keys[rows], dtype=np.float32) for agent in self.agents])

    def _by_candidates(self, users: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
        scales, means = self.standardisation(users, weights)
        queries = self.joint_queries(users, scales)
        candidates = unseen_candidates(self.index, queries, users, self.seen, self.candidates)
        invalid = candidates < 0  # padding: the index found fewer unseen items
        items = np.where(invalid, 0, candidates)
        blend = np.zeros(candidates.shape, dtype=np.float32)
        for agent, scale, mean in zip(self.agents, scales, means):
            blend += scale * (np.asarray(agent.scores_of(users, items), dtype=np.float32) - mean)
        blend[invalid] = -np.inf
        slates = np.take_along_axis(candidates, top_k(blend, k), axis=1)
        short = (~invalid).sum(axis=1) < k  # fewer than k unseen items left: the first child completes the row
        if short.any():
            slates[short] = self.agents[0].recommend(users[short], k)
        return slates

    def _by_slots(self, users: np.ndarray, k: int) -> np.ndarray:
        rankings = [np.asarray(agent.recommend(users, k)) for agent in self.agents]
        slates = np.empty((users.size, k), dtype=np.int64)
        for row in range(users.size):
            chosen: list[int] = []
            for ranking, share in zip(rankings, self.slots):
                taken = 0
                for item in ranking[row].tolist():
                    if taken == share:
                        break
                    if item not in chosen:
                        chosen.append(item)
                        taken += 1
            for ranking in rankings:  # overlaps left the slate short: fill from the children in order
                chosen.extend(i for i in ranking[row].tolist() if i not in chosen)
            slates[row] = chosen[:k]
        return slates

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        """Every child learns, the bandit (several arms) counts the responses, and the joint index (large
        catalogues) files the keys of every item shown anew: an ignored slate lowers its items, and an index
        that still held them high would fill the candidates with them (on ``news``, FunkSVD alone through the
        index scored 0.884 instead of 0.916 when only clicked items were filed anew)."""
        for agent in self.agents:
            agent.update(users, slates, clicks)
        self.seen.add(users, clicks)
        if self.bandit is not None:
            self.bandit.count(users, clicks >= 0)
        if self.index is not None:
            shown = np.unique(slates)
            self.index.refresh(shown, self.joint_keys(shown))

    def save(self, path: Path) -> None:
        for index, agent in enumerate(self.agents):
            child = Path(path) / f"child-{index}"
            child.mkdir(parents=True, exist_ok=True)
            agent.save(child)
        self.seen.save(path)
        save_json(Path(path) / _META, {"blend": list(self.blend), "arms": [list(arm) for arm in self.arms],
                                       "replay_rates": [[*blend, rate] for blend, rate in self.replay_rates.items()]})
        if self.index is not None:
            save_index(self.index, path)
        if self.bandit is not None:
            self.bandit.save(path)

    def load(self, path: Path) -> None:
        for index, agent in enumerate(self.agents):
            agent.load(Path(path) / f"child-{index}")
        self.seen = SeenItems.load(path)
        meta = load_json(Path(path) / _META)
        self.blend = tuple(float(w) for w in meta["blend"])
        self.arms = tuple(tuple(float(w) for w in arm) for arm in meta["arms"])[:None if self.adapt else 1]
        self.bandit = StepMatchedThompson.load(path) if len(self.arms) > 1 else None
        self.replay_rates = {tuple(row[:-1]): row[-1] for row in meta["replay_rates"]}
        self._moment_items = _moment_sample(self.seen.n_items)
        self.index = load_index(self.joint_keys(), path, nprobe=self.nprobe) if self._retrieves() else None

    def _retrieves(self) -> bool:
        """Whether blends are retrieved through the joint index (blend mode, a large catalogue)."""
        return self.mode == "blend" and self.seen.n_items > FULL_ROW_ITEMS


@contextmanager
def _choices_kept(agents: list[Any]) -> Iterator[None]:
    """Within the block, each agent's options that its ``fit`` chooses (its ``CHOSEN_IN_FIT``: option name ->
    attribute holding the choice) are set to the choices its last ``fit`` made, then given back: the
    children's second fit, on the whole histories, keeps what their first fit chose on the visible part."""
    given = []
    for agent in agents:
        for option, chosen in getattr(agent, "CHOSEN_IN_FIT", {}).items():
            if getattr(agent, option) is None:
                given.append((agent, option))
                setattr(agent, option, getattr(agent, chosen))
    try:
        yield
    finally:
        for agent, option in given:
            setattr(agent, option, None)


def weight_grid(n_children: int, step: float = _GRID_STEP) -> list[tuple[float, ...]]:
    """Every blend of ``n_children`` non-negative weights in multiples of ``step`` that sum to 1, the first
    child's weight descending (``[(1, 0), (0.9, 0.1), ..., (0, 1)]`` for two children at step 0.1)."""
    return [tuple(round(units * step, 10) for units in blend) for blend in _compositions(round(1 / step), n_children)]


def _compositions(total: int, parts: int) -> list[tuple[int, ...]]:
    """The ways to write ``total`` as an ordered sum of ``parts`` non-negative ints, the first part descending."""
    if parts == 1:
        return [(total,)]
    return [(first, *rest) for first in range(total, -1, -1) for rest in _compositions(total - first, parts - 1)]


def _scale(weight: float, spread: np.ndarray) -> np.ndarray:
    """``weight / spread`` per user, 0 where a child scores every item alike (spread 0)."""
    return np.divide(weight, spread, out=np.zeros_like(spread), where=spread > 0)


def _moment_sample(n_items: int) -> np.ndarray:
    """The items whose scores estimate each user's score mean and spread: all of them in a small catalogue,
    else a fixed (seed 0) sample of ``_MOMENT_ITEMS``."""
    if n_items <= _MOMENT_ITEMS:
        return np.arange(n_items)
    return np.sort(np.random.default_rng(0).choice(n_items, size=_MOMENT_ITEMS, replace=False))
