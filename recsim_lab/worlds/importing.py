"""Any click log as a world: FORMAT -> parsed log -> time-ordered split -> calibrated World -> world directory.

``recsim-lab data import FORMAT PATH --out WORLD_DIR`` runs :func:`import_world`:

1. **parse** PATH with the format's reader (``recsim_lab.data.movielens``, ``.mind``, ``.news_category``,
   ``.interactions_csv``) into a :class:`~recsim_lab.data.clicklog.ClickLog` with contiguous ids;
2. **split** each user's time-ordered distinct clicks into a visible history and a held-out future
   (:mod:`recsim_lab.data.split`; ``--holdout``, ``--min-history``); items that no kept user clicked are
   dropped from the catalogue. The News Category Dataset has no log: users and their logs are generated
   over its categories and texts first (:mod:`recsim_lab.worlds.catalogue_users`), then split the same way;
3. **calibrate** the hidden truth on the full log (:mod:`recsim_lab.worlds.calibration`; for generated users the truth
   is the one they were generated from) and record the figures;
4. **write** ``user_data.json``, ``item_data.json``, ``world.npz`` (vectors and futures), ``ids.json`` and
   ``world.json`` into a temporary directory beside WORLD_DIR, then rename it to WORLD_DIR: nothing appears
   at WORLD_DIR unless the whole import succeeded. The temporary directory, ``.NAME.PID.XXXX.importing``,
   names the importing process; one left by a killed import (its process gone) is removed by the next
   import to the same WORLD_DIR.

Users are numbered in sorted order of their original ids (numerically when all are integers) and the first
half form the training population; items keep the order of the catalogue file.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recsim_lab.data import Dataset
from recsim_lab.data.clicklog import ClickLog
from recsim_lab.data.ids import IdMap, save_ids
from recsim_lab.data.interactions_csv import read_interactions_csv
from recsim_lab.data.mind import read_mind
from recsim_lab.data.movielens import read_movielens_1m, read_movielens_100k
from recsim_lab.data.news_category import read_news_category
from recsim_lab.data.split import split_by_time
from recsim_lab.names import unknown_name_error
from recsim_lab.validation import check_choice, check_fields, check_scalar
from recsim_lab.worlds.calibration import CalibrationConfig, calibrate, fidelity
from recsim_lab.worlds.catalogue_users import CatalogueUsersConfig, generate_users
from recsim_lab.worlds.world import CHOICE_MODELS, Rules, World

FORMATS: dict[str, tuple[Callable[[Path], ClickLog], str]] = {
    "movielens-100k": (read_movielens_100k, "a MovieLens 100K directory: u.data, u.item, u.genre"),
    "movielens-1m": (read_movielens_1m, "a MovieLens 1M directory: ratings.dat, movies.dat"),
    "mind": (read_mind, "a MIND directory: news.tsv, behaviors.tsv"),
    "news-category": (read_news_category, "a News Category Dataset JSON-lines file (items; users generated)"),
    "csv": (read_interactions_csv, "a directory with interactions.csv (user,item[,timestamp][,rating]) and "
                                   "items.csv (item[,headline][,short_description][,category])"),
}


@dataclass(frozen=True)
class ImportConfig:
    """How a click log becomes a world."""

    min_history: int = 5
    """Users with fewer distinct clicked items are dropped."""
    holdout: float = 0.5
    """Share of each user's time-ordered distinct clicks held out as their future, in (0, 1): the future is
    what the truth is calibrated to make attractive, and what the replay choice model clicks from."""
    seed: int = 0
    """Seed of the fit (and of the generated users for a catalogue without a log)."""
    choice: str = "softmax"
    """Choice model of the world: ``softmax`` (calibrated truth) or ``replay`` (held-out futures)."""
    calibration: CalibrationConfig | None = None
    """Fit and scale settings (default: ``CalibrationConfig(seed=seed)``)."""
    catalogue_users: CatalogueUsersConfig | None = None
    """Generated users for the News Category Dataset (default: ``CatalogueUsersConfig(seed=seed)``)."""
    rules: Rules = field(default_factory=Rules)
    """Session rules (``choice`` is taken from the field above)."""

    def __post_init__(self) -> None:
        check_fields(self, ("min_history",), int, min_val=1)
        check_fields(self, ("holdout",), float, min_val=0.0, max_val=1.0, include_boundaries="neither")
        check_fields(self, ("seed",), int, min_val=0)
        check_choice(self.choice, "choice", CHOICE_MODELS)
        check_scalar(self.calibration, "calibration", CalibrationConfig, allow_none=True)
        check_scalar(self.catalogue_users, "catalogue_users", CatalogueUsersConfig, allow_none=True)
        check_scalar(self.rules, "rules", Rules)


@dataclass
class Imported:
    """An imported world with its original ids and the time each stage took."""

    world: World
    users: IdMap
    items: IdMap
    seconds: dict[str, float]
    removed: list[Path] = field(default_factory=list)
    """Staging folders of killed imports to the same place, removed by this one."""


def read_log(fmt: str, path: str | Path) -> ClickLog:
    """Parse ``path`` in format ``fmt`` (a key of :data:`FORMATS`).

    Raises:
        ValueError: unknown format (with suggestions); ``DataFormatError`` for malformed input.
    """
    if fmt not in FORMATS:
        raise unknown_name_error("format", fmt, FORMATS)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found ({fmt} expects {FORMATS[fmt][1]})")
    return FORMATS[fmt][0](path)


def build_world(fmt: str, path: str | Path, config: ImportConfig = ImportConfig(), name: str = "world"
                ) -> Imported:
    """Parse, split and calibrate (steps 1-3 of the module docstring); nothing is written."""
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    log = read_log(fmt, path)
    seconds["parse"] = time.perf_counter() - start
    rules = Rules(**{**asdict(config.rules), "choice": config.choice})
    generated = None
    if log.n_events == 0 and fmt == "news-category":
        start = time.perf_counter()
        users_config = config.catalogue_users or CatalogueUsersConfig(seed=config.seed)
        user_vectors, item_vectors, event_user, event_item, event_time, figures = generate_users(
            _texts(log), log.categories, rules, users_config)
        log = ClickLog(items=log.items, headlines=log.headlines, descriptions=log.descriptions,
                       categories=log.categories, users=IdMap(f"g{u}" for u in range(users_config.n_users)),
                       event_user=event_user, event_item=event_item, event_time=event_time,
                       source={**log.source, "events": int(event_user.size), "users": users_config.n_users})
        generated = (user_vectors, item_vectors, figures)
        seconds["generate"] = time.perf_counter() - start
    if log.n_events == 0:
        raise ValueError(f"{path}: the log has no clicks, so there is nothing to replay")

    start = time.perf_counter()
    split = split_by_time(log.event_user, log.event_item, log.event_time, n_users=log.n_users,
                          n_items=log.n_items, holdout=config.holdout, min_history=config.min_history)
    if not split.histories:
        raise ValueError(f"{path}: no user has at least --min-history {config.min_history} distinct clicks "
                         f"({log.n_users} users in the log)")
    if generated is None:
        items_kept = np.flatnonzero(np.bincount(np.concatenate([split.full(u) for u in range(len(split.users))]),
                                                minlength=log.n_items))
    else:
        items_kept = np.arange(log.n_items)
    if items_kept.size < rules.slate_size:
        raise ValueError(f"{path}: only {items_kept.size} items were clicked by the users kept; a world needs "
                         f"at least slate_size = {rules.slate_size}")
    renumber = np.full(log.n_items, -1, dtype=np.int64)
    renumber[items_kept] = np.arange(items_kept.size)
    histories = [renumber[h] for h in split.histories]
    futures = [renumber[f] for f in split.futures]
    dataset = Dataset(headlines=[log.headlines[i] for i in items_kept],
                      descriptions=[log.descriptions[i] for i in items_kept],
                      categories=[log.categories[i] for i in items_kept],
                      histories=histories, n_train_users=len(histories) // 2)
    seconds["split"] = time.perf_counter() - start

    start = time.perf_counter()
    if generated is None:
        calibration_config = config.calibration or CalibrationConfig(seed=config.seed)
        user_vectors, item_vectors, figures = calibrate(histories, futures, items_kept.size,
                                                        rules.no_click_threshold, calibration_config)
    else:
        user_vectors = generated[0][split.users]
        item_vectors = generated[1]
        figures = {**generated[2], "fidelity": fidelity(user_vectors, item_vectors, histories, futures,
                                                        rules.no_click_threshold)}
    seconds["calibrate"] = time.perf_counter() - start

    visible = np.array([h.size for h in histories])
    held_out = np.array([f.size for f in futures])
    info = {
        "provenance": {**log.source, "importer": f"recsim-lab data import {fmt}"},
        "split": {"holdout": config.holdout, "min_history": config.min_history, "users": len(histories),
                  "users_dropped": split.dropped_users, "repeated_clicks_dropped": split.repeated_clicks,
                  "items": int(items_kept.size), "items_dropped": int(log.n_items - items_kept.size),
                  "visible_clicks": int(visible.sum()), "future_clicks": int(held_out.sum()),
                  "time_order": "per user by time, ties in log order; a repeated click counts once"},
        "calibration": figures,
    }
    world = World(dataset, user_vectors, item_vectors, rules=rules, name=name, info=info, futures=futures)
    return Imported(world, log.users.subset(split.users), log.items.subset(items_kept), seconds)


def import_world(fmt: str, path: str | Path, out: str | Path, config: ImportConfig = ImportConfig(),
                 force: bool = False) -> Imported:
    """Build the world and write it to ``out`` atomically (see the module docstring).

    Raises:
        ValueError: ``out`` exists and is not empty, and ``force`` is false (checked before parsing).
    """
    out = Path(out)
    _check_target(out, force)
    started = time.perf_counter()
    imported = build_world(fmt, path, config, name=out.name)
    start = time.perf_counter()
    write_world_directory(imported, out, force=force)
    imported.seconds["write"] = time.perf_counter() - start
    imported.seconds["total"] = time.perf_counter() - started
    return imported


def write_world_directory(imported: Imported, out: str | Path, force: bool = False) -> Path:
    """Write the world files and ``ids.json`` into a temporary directory next to ``out``, then rename it to
    ``out`` (replacing an existing ``out`` only when ``force``)."""
    out = Path(out)
    _check_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    imported.removed.extend(remove_stale_staging(out))
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".importing", dir=out.parent))
    try:
        imported.world.save(staging)
        save_ids(staging, imported.users, imported.items)
        if out.exists():
            retired = out.with_name(f".{out.name}.{os.getpid()}.replaced")
            os.replace(out, retired)
            os.replace(staging, out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def remove_stale_staging(out: Path) -> list[Path]:
    """Remove the staging (``.NAME.PID.XXXX.importing``) and retired (``.NAME.PID.replaced``) folders beside
    ``out`` whose process PID is gone: what a killed import left. Folders of a live process, and those
    without a PID in their name, are left alone. Returns the folders removed."""
    removed = []
    prefix = f".{out.name}."
    for path in out.parent.glob(f"{glob.escape(prefix)}*"):
        rest = path.name[len(prefix):]
        pid = rest.partition(".")[0]
        if not (path.is_dir() and rest.endswith((".importing", ".replaced")) and pid.isdigit()):
            continue
        if _process_alive(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError, OSError):  # another user's process, or not a pid
        return True
    return True


def _check_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ValueError(f"--out {out} exists and is not empty; choose another directory or pass --force")


def _texts(log: ClickLog) -> list[str]:
    return [f"{h} {d}".strip() for h, d in zip(log.headlines, log.descriptions)]


def describe(imported: Imported) -> dict[str, Any]:
    """A short JSON-able summary of an import: sizes, seconds and the fidelity figures."""
    world = imported.world
    return {"users": world.dataset.n_users, "items": world.dataset.n_items,
            "choice": world.rules.choice, "seconds": {k: round(v, 3) for k, v in imported.seconds.items()},
            "fidelity": world.info["calibration"]["fidelity"]}
