"""Does an imported MIND log keep its popularity? Synthetic MIND-format logs, imported with ``data import mind``.

    python benchmarks/mind_popularity.py [--variants skewed,flat_history,...] [--seed 0] [--dir /tmp/mind_popularity]

Writes, per variant, a MIND directory (``news.tsv``, ``behaviors.tsv``: 2,000 news in 10 categories, 5,000
impressions of 15 news each from 1,000 users) whose clicks favour popular news, imports it with the defaults
of ``recsim-lab data import mind`` (or the calibration the variant names), and prints one row per variant:
users and items kept, the calibration's in-sample recall, one quick episode each of ``random``,
``popularity`` and ``oracle`` (click rate per step, as ``data inspect``) and ``data inspect``'s Spearman's
rho between the log's clicks per item and a random policy's.

The log: news ``i`` has popularity ``1 / rank_i`` (ranks a random permutation: Zipf, exponent 1); each user
likes categories with Dirichlet(0.3) weights; a user's click history (before the logged period) holds
``1 + Poisson(8)`` distinct news drawn in proportion to ``popularity x liking``, and each of their 5
impressions shows 15 news drawn by popularity, one of them clicked in proportion to ``popularity x liking``.
Variants change one thing:

- ``skewed``: as above;
- ``flat_history``: histories drawn by liking alone (popularity shows only in the logged period, i.e. mostly
  in the held-out futures);
- ``popular_first``: each history listed most popular first (so the time-ordered split puts popular news in
  the visible half), one impression per user;
- ``factors8`` / ``alpha1``: ``skewed``'s log calibrated with 8 factors / confidence alpha 1 (32 and 10 by
  default);
- ``flat_history_factors8``: ``flat_history`` with 8 factors.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from recsim_lab.cli.data_commands import popularity_check, quick_scores
from recsim_lab.worlds.calibration import CalibrationConfig
from recsim_lab.worlds.importing import ImportConfig, build_world


@dataclass(frozen=True)
class MindLog:
    """The shape of a synthetic MIND log (see the module docstring)."""

    news: int = 2000
    impressions: int = 5000
    per_user: int = 5
    shown: int = 15
    categories: int = 10
    history_mean: float = 8.0
    popular_history: bool = True
    """Histories drawn by popularity x liking (``False``: liking alone)."""
    history_order: str = "drawn"
    """``drawn`` (the order of the weighted draw) or ``popular_first``."""


VARIANTS: dict[str, tuple[MindLog, CalibrationConfig]] = {
    "skewed": (MindLog(), CalibrationConfig()),
    "flat_history": (MindLog(popular_history=False), CalibrationConfig()),
    "popular_first": (MindLog(history_order="popular_first", per_user=1, history_mean=10.0), CalibrationConfig()),
    "factors8": (MindLog(), CalibrationConfig(factors=8)),
    "alpha1": (MindLog(), CalibrationConfig(alpha=1.0)),
    "flat_history_factors8": (MindLog(popular_history=False), CalibrationConfig(factors=8)),
}


def write_mind_log(shape: MindLog, directory: Path, seed: int) -> Path:
    """Write ``news.tsv`` and ``behaviors.tsv`` of a synthetic log into ``directory`` (deterministic for
    ``seed``)."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    category = rng.integers(shape.categories, size=shape.news)
    popularity = 1.0 / (1.0 + rng.permutation(shape.news))
    (directory / "news.tsv").write_text("".join(
        f"N{i}\tcat{category[i]}\tsub\tTitle {i} about cat{category[i]}\tAbstract {i}\t\t[]\t[]\n"
        for i in range(shape.news)), encoding="utf-8")
    start, rows = datetime(2019, 11, 9), []
    for user in range(shape.impressions // shape.per_user):
        liking = rng.dirichlet(np.full(shape.categories, 0.3))[category]
        clicking = popularity * liking / (popularity * liking).sum()
        drawn = clicking if shape.popular_history else liking / liking.sum()
        history = rng.choice(shape.news, size=1 + rng.poisson(shape.history_mean), replace=False, p=drawn)
        if shape.history_order == "popular_first":
            history = history[np.argsort(-popularity[history], kind="stable")]
        for _ in range(shape.per_user):
            shown = rng.choice(shape.news, size=shape.shown, replace=False, p=popularity / popularity.sum())
            clicked = rng.choice(shape.shown, p=clicking[shown] / clicking[shown].sum())
            when = start + timedelta(minutes=int(rng.integers(0, 6 * 24 * 60)))
            labels = " ".join(f"N{news}-{int(j == clicked)}" for j, news in enumerate(shown))
            rows.append(f"{len(rows) + 1}\tU{user}\t{when.strftime('%m/%d/%Y %I:%M:%S %p')}\t"
                        f"{' '.join(f'N{news}' for news in history)}\t{labels}\n")
    (directory / "behaviors.tsv").write_text("".join(rows), encoding="utf-8")
    return directory


def measure(name: str, directory: Path, seed: int) -> dict:
    """Import variant ``name``'s log (written under ``directory``) and measure it."""
    shape, calibration = VARIANTS[name]
    start = time.perf_counter()
    log = write_mind_log(shape, directory / name, seed)
    world = build_world("mind", log, ImportConfig(calibration=replace(calibration, seed=0)), name=name).world
    quick = quick_scores(world)
    return {"variant": name, "users": world.dataset.n_users, "items": world.dataset.n_items,
            "recall_at_50": world.info["calibration"]["fidelity"]["recall_at_k"],
            **{f"{agent}_click_rate": quick[agent]["click_rate"] for agent in ("random", "popularity", "oracle")},
            "spearman": popularity_check(world)["spearman"], "seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated logs (default: %(default)s)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mind_popularity"), help="where the logs are written")
    args = parser.parse_args(argv)
    rows = [measure(name, args.dir, args.seed) for name in args.variants.split(",")]
    print(f"{'variant':22} {'users':>6} {'items':>6} {'recall@50':>9} {'random':>7} {'popularity':>10} "
          f"{'oracle':>7} {'rho':>6}")
    for r in rows:
        print(f"{r['variant']:22} {r['users']:6,} {r['items']:6,} {r['recall_at_50']:9.3f} "
              f"{r['random_click_rate']:7.4f} {r['popularity_click_rate']:10.4f} {r['oracle_click_rate']:7.4f} "
              f"{r['spearman']:6.3f}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
