"""``recsim-lab sweep``: a grid or random search over an agent's hyperparameters x seeds x worlds, on Ray Tune.

A trial is one (setting, world, seed): the runner's protocol (fit, checkpoint, ``episodes`` episodes of the test
population from the restored checkpoint, all active users per step, seeds derived from the trial's seed), so its
mean score is that of ``recsim-lab run --agent AGENT --set ... --env WORLD --seed SEED --episodes E``. It reports
(``tune.report``) that mean score and the normalised score ``(mean - random) / (oracle - random)`` against its
world's references (:func:`~recsim_lab.evaluation.leaderboard.reference_scores`, as the leaderboard normalises:
the built-in ``random`` and ``oracle`` agents, 5 episodes, seed 0, computed once per world before the trials).
The worlds and references go into Ray's object store once (``tune.with_parameters``); each trial takes one CPU.

The sweep directory ``<out>/sweep__<config file name>/`` holds Tune's experiment and, each written atomically:

- ``sweep.json``: the configuration (:meth:`~recsim_lab.evaluation.sweep_config.SweepConfig.to_json`);
- ``results.csv``: one row per trial, ``setting,<hyperparameters...>,world,seed,mean_score,normalised_score``,
  ordered by setting (by the hyperparameters' values), world and seed as the configuration lists them;
- ``best.json``: every setting with the mean and spread (sample standard deviation, minimum, maximum) of its
  normalised score over its seeds x worlds, best mean first, and the best one with the fixed options beside
  it: what to pass to ``recsim-lab run --set``.

Resuming: an interrupted sweep (Ctrl-C, a killed process) is finished by the same command with ``resume``
(``--resume``): ``Tuner.restore`` keeps the finished trials, runs those not finished, and those that failed
again from the start. Without ``resume`` an existing sweep directory is refused, and a resumed sweep must have
the configuration it was started with, so that no results of two configurations mix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.registry import make_agent
from recsim_lab.atomic import atomic_write_text, removing_new_folders
from recsim_lab.evaluation.leaderboard import References, reference_scores
from recsim_lab.evaluation.sweep_config import Distribution, SweepConfig
from recsim_lab.extras import optional_import
from recsim_lab.run.parallel import LOCAL_RAY, Parallel, ray_session
from recsim_lab.run.runner import mean_score
from recsim_lab.run.scoring import csv_field
from recsim_lab.worlds.world import World

RESULTS_FILE, BEST_FILE, CONFIG_FILE = "results.csv", "best.json", "sweep.json"
FEATURE = "recsim-lab sweep"
"""How a missing extra names this feature."""


class SweepInterrupted(KeyboardInterrupt):
    """The sweep stopped before every trial finished; its message says how to resume it."""


class TrialsFailed(Exception):
    """Trials raised; the message names how many and the first one's configuration and error."""


@dataclass(frozen=True)
class TrialResult:
    """One finished trial."""

    setting: dict[str, Any]
    world: str
    seed: int
    mean_score: float
    normalised_score: float


@dataclass(frozen=True)
class SettingSummary:
    """A setting's normalised scores over its seeds x worlds."""

    setting: dict[str, Any]
    mean: float
    std: float
    """Sample standard deviation (0 for a single trial)."""
    low: float
    high: float
    trials: int


@dataclass
class SweepOutcome:
    directory: Path
    trials: list[TrialResult]
    """Every trial, in the order of ``results.csv``."""
    settings: list[SettingSummary]
    """Best mean first."""


def sweep_directory(config_path: str | Path, out: str | Path) -> Path:
    """Where the sweep described in ``config_path`` goes: ``<out>/sweep__<config file name without suffix>``."""
    return Path(out).resolve() / f"sweep__{Path(config_path).stem}"


def run_sweep(config: SweepConfig, directory: Path, *, resume: bool = False,
              parallel: Parallel | None = None) -> SweepOutcome:
    """Run (or, with ``resume``, finish) the sweep ``config`` in ``directory`` and write its outputs.

    Args:
        parallel: where the trials run: a Ray started here with ``workers`` CPUs (default all), or the cluster
            at ``ray``; local worker processes are not an option (Tune needs Ray).

    Raises:
        ValueError: the directory exists without ``resume``, or with ``resume`` holds another sweep or none;
            a world, agent or hyperparameter value that is refused (before any trial).
        TrialsFailed: trials raised (the first failure's last line; resume to run them again).
        SweepInterrupted: on Ctrl-C; resume to finish.
        MissingExtraError: Ray Tune is not installed.
    """
    optional_import("ray.tune", FEATURE)  # before any work: Ray and Tune's own dependencies
    parallel = parallel or Parallel(ray=LOCAL_RAY)
    if parallel.ray is None:
        raise ValueError("a sweep runs on Ray: give ray (a local Ray, or a cluster's address)")
    recorded = directory / CONFIG_FILE
    if resume and not recorded.is_file():
        raise ValueError(f"{directory} holds no sweep to resume ({CONFIG_FILE} is missing); start it without --resume")
    if resume and json.loads(recorded.read_text(encoding="utf-8")) != config.to_json():
        raise ValueError(f"the configuration changed since the sweep in {directory} started (see its {CONFIG_FILE}); "
                         f"a sweep resumes only with its own configuration")
    if not resume and directory.exists():
        raise ValueError(f"{directory} already exists: finish that sweep with --resume, or choose another --out")
    worlds = config.build_worlds()
    references = {name: reference_scores(world) for name, world in worlds.items()}
    with removing_new_folders(directory):
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(recorded, json.dumps(config.to_json(), indent=2, sort_keys=True) + "\n")
    with ray_session(parallel.ray, parallel.workers, FEATURE):
        grid = _tuner(config, directory, worlds, references, resume).fit()
    trials, failed, unfinished = _collect(grid)
    if failed:
        raise TrialsFailed(f"{len(failed)} of {config.trials} trials failed, e.g. {failed[0]}; once fixed, run them "
                           f"again with --resume")
    if unfinished or len(trials) < config.trials:
        raise SweepInterrupted(f"{len(trials)} of {config.trials} trials are done in {directory}; finish the sweep "
                               f"with --resume")
    trials = _ordered(trials, config)
    settings = _summaries(trials)
    atomic_write_text(directory / RESULTS_FILE, results_csv(trials, list(config.parameters)))
    best = {"agent": config.agent, "options": config.options, "best": _jsonable(settings[0]),
            "score": "normalised_score = (mean_score - random) / (oracle - random); mean and spread over each "
                     "setting's seeds x worlds (std: sample standard deviation)",
            "references": {name: {"random": r.random, "oracle": r.oracle} for name, r in references.items()},
            "settings": [_jsonable(summary) for summary in settings]}
    atomic_write_text(directory / BEST_FILE, json.dumps(best, indent=2) + "\n")
    return SweepOutcome(directory, trials, settings)


def _tuner(config: SweepConfig, directory: Path, worlds: dict[str, World], references: dict[str, References],
           resume: bool) -> Any:
    tune = optional_import("ray.tune", FEATURE)
    search = optional_import("ray.tune.search.basic_variant", FEATURE)
    trainable = tune.with_resources(tune.with_parameters(
        _trial, agent=config.agent, options=config.options, episodes=config.episodes, worlds=worlds,
        references=references), {"cpu": 1})
    if resume and tune.Tuner.can_restore(str(directory)):
        return tune.Tuner.restore(str(directory), trainable=trainable, resume_unfinished=True, restart_errored=True)

    def space(values: tuple[Any, ...] | Distribution) -> Any:
        if isinstance(values, Distribution):
            return getattr(tune, values.kind)(values.low, values.high)
        return tune.grid_search(list(values)) if config.search == "grid" else tune.choice(list(values))

    return tune.Tuner(
        trainable,
        param_space={"setting": {name: space(values) for name, values in config.parameters.items()},
                     "world": tune.grid_search(list(config.worlds)), "seed": tune.grid_search(list(config.seeds))},
        # a random setting is drawn once and played on every seed and world (constant_grid_search)
        tune_config=tune.TuneConfig(num_samples=config.samples, search_alg=search.BasicVariantGenerator(
            constant_grid_search=True, random_state=config.sample_seed)),
        run_config=tune.RunConfig(name=directory.name, storage_path=str(directory.parent), verbose=0))


def _trial(trial: dict[str, Any], *, agent: str, options: dict[str, Any], episodes: int, worlds: dict[str, World],
           references: dict[str, References]) -> None:
    """One trial, in a Ray worker: fit, checkpoint and play as ``recsim-lab run`` does; report the scores."""
    world = worlds[trial["world"]]
    setting = {name: _plain(value) for name, value in trial["setting"].items()}
    mean = mean_score(world, make_agent(agent, world=world, **options, **setting), episodes=episodes,
                      seed=trial["seed"])
    optional_import("ray.tune", FEATURE).report(
        {"mean_score": mean, "normalised_score": references[trial["world"]].normalise(mean)})


def _collect(grid: Any) -> tuple[list[TrialResult], list[str], list[dict[str, Any]]]:
    """The finished trials, a line per failed one, and the configurations of those not finished."""
    trials, failed, unfinished = [], [], []
    for result in grid:
        config = result.config
        if result.error is not None:
            failed.append(f"{json.dumps(_plain(config), sort_keys=True)}: {str(result.error).strip().splitlines()[-1]}")
        elif "normalised_score" not in (result.metrics or {}):
            unfinished.append(config)
        else:
            trials.append(TrialResult(_plain(config["setting"]), config["world"], int(config["seed"]),
                                      float(result.metrics["mean_score"]), float(result.metrics["normalised_score"])))
    return trials, failed, unfinished


def _ordered(trials: list[TrialResult], config: SweepConfig) -> list[TrialResult]:
    """Each trial once (a trial Tune ran twice counts once), by setting, then world and seed as configured."""
    unique = {(_key(t.setting), t.world, t.seed): t for t in trials}
    return sorted(unique.values(), key=lambda t: (_order(t.setting, config), config.worlds.index(t.world),
                                                  config.seeds.index(t.seed)))


def _order(setting: dict[str, Any], config: SweepConfig) -> tuple[Any, ...]:
    """Settings by their values, parameter by parameter in the configuration's order: numbers by size, the rest
    by their JSON text."""
    values = (setting[name] for name in config.parameters)
    return tuple((0, float(v), "") if isinstance(v, int | float) and not isinstance(v, bool) else
                 (1, 0.0, json.dumps(v)) for v in values)


def _summaries(trials: list[TrialResult]) -> list[SettingSummary]:
    """Per setting (in the trials' order), its normalised scores' mean and spread; best mean first (stable)."""
    groups: dict[str, list[TrialResult]] = {}
    for trial in trials:
        groups.setdefault(_key(trial.setting), []).append(trial)
    summaries = []
    for group in groups.values():
        scores = np.array([t.normalised_score for t in group])
        summaries.append(SettingSummary(group[0].setting, float(scores.mean()),
                                        float(scores.std(ddof=1)) if scores.size > 1 else 0.0,
                                        float(scores.min()), float(scores.max()), int(scores.size)))
    return sorted(summaries, key=lambda s: -s.mean)


def results_csv(trials: list[TrialResult], parameters: list[str]) -> str:
    """``results.csv`` text: a header, then one row per trial; ``setting`` numbers the settings from 0 in row
    order; a hyperparameter's value as JSON (text as it is)."""
    numbers: dict[str, int] = {}
    lines = [",".join(["setting", *parameters, "world", "seed", "mean_score", "normalised_score"])]
    for t in trials:
        number = numbers.setdefault(_key(t.setting), len(numbers))
        values = [csv_field(v if isinstance(v, str) else json.dumps(v)) for v in (t.setting[p] for p in parameters)]
        lines.append(",".join([str(number), *values, csv_field(t.world), str(t.seed), repr(t.mean_score),
                               repr(t.normalised_score)]))
    return "\n".join(lines) + "\n"


def _key(setting: dict[str, Any]) -> str:
    return json.dumps(setting, sort_keys=True)


def _plain(value: Any) -> Any:
    """``value`` with NumPy scalars (Tune's draws) as Python numbers, in lists and dicts too."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value.item() if isinstance(value, np.generic) else value


def _jsonable(summary: SettingSummary) -> dict[str, Any]:
    return {"setting": summary.setting, "mean": summary.mean, "std": summary.std, "min": summary.low,
            "max": summary.high, "trials": summary.trials}
