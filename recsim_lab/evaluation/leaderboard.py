"""The leaderboard: rank valid submissions by their score normalised against their own world's references.

``normalised_score = (mean_score - random) / (oracle - random)``: 0 is the built-in ``random`` agent, 1 the
``oracle`` (greedy on the hidden truth, so a strong submission may pass 1). The references are those agents'
mean scores on the submission's world under the official protocol (test population, all active users per
step, :data:`REFERENCE_EPISODES` episodes, root seed :data:`REFERENCE_SEED`), computed in-process once per
world and call (seconds at the DataLab scale). Submissions evaluated on different (secret) worlds have
different references, so the leaderboard ranks by normalised score; on one world that is the order of the
mean scores.

Each entry says whether its scores are ``verified`` (a receipt signed by the organiser's key over these very
bytes, :mod:`~recsim_lab.evaluation.receipts`) or ``self-reported`` (anything else: a hand-written file
claims what it likes). Entries are sorted best first; equal scores share a rank ("1, 2, 2, 4") and keep the
order in which the submissions were given.

Inputs (:func:`submission_inputs`): CSV files, run directories (their ``scores.csv`` with its
``receipt.json``), and folders of those (one level down).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agents.registry import make_agent
from recsim_lab.errors import DataFormatError
from recsim_lab.evaluation.receipts import (
    RECEIPT_FILE,
    ReceiptError,
    Verdict,
    read_receipt,
    verify_receipt,
    world_fingerprint,
)
from recsim_lab.evaluation.submission import DEFAULT_MAX_BYTES, Submission, SubmissionError, read_submission
from recsim_lab.run.runner import mean_score
from recsim_lab.run.scoring import csv_field
from recsim_lab.worlds.presets import PRESETS, make_world
from recsim_lab.worlds.world import World

SCORES_FILE = "scores.csv"
REFERENCE_EPISODES = 5
"""Episodes the reference agents play."""
REFERENCE_SEED = 0
"""Root seed of the reference runs."""
LEADERBOARD_HEADER = "rank,name,mean_score,normalised_score,users,verification,world"
VERIFIED, SELF_REPORTED = "verified", "self-reported"
VERIFIED_INSECURE = "verified-insecure"  # signed, but the agent ran without isolation (--insecure)
WORLD_LABEL = 12
"""Hex digits of the world's fingerprint that name it on the leaderboard."""


@dataclass(frozen=True)
class References:
    """Mean scores of the lower (``random``) and upper (``oracle``) reference agents on a world."""

    random: float
    oracle: float
    episodes: int
    seed: int

    def normalise(self, mean_score: float) -> float:
        """``(mean_score - random) / (oracle - random)``."""
        return (mean_score - self.random) / (self.oracle - self.random)


@dataclass(frozen=True)
class Scored:
    """A valid submission with its world's references and how far it is to be believed."""

    name: str
    submission: Submission
    references: References
    verified: bool
    world: str
    """The world's fingerprint (hex)."""
    insecure: bool = False
    """Signed, but evaluated with ``--insecure`` (the agent could read anything the scorer could)."""


@dataclass(frozen=True)
class Entry:
    """One row of the leaderboard."""

    rank: int
    name: str
    mean_score: float
    normalised_score: float
    users: int
    verification: str
    """:data:`VERIFIED` or :data:`SELF_REPORTED`."""
    world: str
    """The first :data:`WORLD_LABEL` hex digits of the world's fingerprint."""


@dataclass(frozen=True)
class SubmissionInput:
    """One submission to score: its ``scores`` CSV and, from a run directory, the receipt beside it."""

    name: str
    scores: Path
    receipt: Path | None


def submission_inputs(paths: Sequence[str | Path]) -> tuple[list[SubmissionInput], list[str]]:
    """The submissions named by ``paths`` and notes on what was passed over.

    A CSV file is one submission (a ``scores.csv`` with a ``receipt.json`` beside it is its run's); a run
    directory (it holds ``scores.csv``) is one; any other folder stands for the CSV files and run directories
    directly in it, in name order (run directories without scores, failed evaluations, are noted and passed
    over). Names: see :func:`submission_names`.

    Raises:
        FileNotFoundError: a path that does not exist.
    """
    found: list[tuple[Path, Path, Path | None]] = []  # (shown path, scores, receipt)
    notes: list[str] = []
    for path in map(Path, paths):
        if not path.exists():
            raise FileNotFoundError(f"no such file or directory: {str(path)!r}")
        if not path.is_dir():
            found.append((path, path, _receipt_beside(path)))
        elif (path / SCORES_FILE).is_file():
            found.append((path, path / SCORES_FILE, _receipt_beside(path / SCORES_FILE)))
        else:
            before = len(found)
            for child in sorted(path.iterdir()):
                if child.is_dir() and (child / SCORES_FILE).is_file():
                    found.append((child, child / SCORES_FILE, _receipt_beside(child / SCORES_FILE)))
                elif child.is_file() and child.suffix.lower() == ".csv":
                    found.append((child, child, _receipt_beside(child)))
                elif child.is_dir() and (child / "summary.json").is_file():
                    notes.append(f"{child}: no scores (a failed or unfinished evaluation); passed over")
            if len(found) == before:
                notes.append(f"{path}: no CSV files or run directories with scores in it")
    names = submission_names([shown for shown, _, _ in found])
    return [SubmissionInput(name, scores, receipt) for name, (_, scores, receipt) in zip(names, found)], notes


def _receipt_beside(scores: Path) -> Path | None:
    receipt = scores.with_name(RECEIPT_FILE)
    return receipt if scores.name == SCORES_FILE and receipt.is_file() else None


def reference_scores(world: World, *, episodes: int = REFERENCE_EPISODES, seed: int = REFERENCE_SEED) -> References:
    """Play the ``random`` and ``oracle`` agents on ``world``'s test population and return their mean scores.

    Raises:
        ValueError: the oracle does not beat random on this world, so no score can be normalised.
    """

    means = {name: mean_score(world, make_agent(name, world=world), episodes=episodes, seed=seed)
             for name in ("random", "oracle")}
    if not means["oracle"] > means["random"]:
        raise ValueError(f"on world {world.name!r} the oracle ({means['oracle']:.6f}) does not beat random "
                         f"({means['random']:.6f}); scores cannot be normalised")
    return References(means["random"], means["oracle"], episodes, seed)


def submission_names(paths: Sequence[str | Path]) -> list[str]:
    """Leaderboard names: each file's stem (``team_a.csv`` -> ``team_a``) or folder's name, or the paths as
    given when two are the same (``runs/a/scores.csv``, ``runs/b/scores.csv``)."""
    stems = [Path(p).name if Path(p).is_dir() else Path(p).stem for p in paths]
    return stems if len(set(stems)) == len(stems) else [str(p) for p in paths]


def rank(scored: Sequence[Scored]) -> list[Entry]:
    """Entries for the ``scored`` submissions, best normalised score first; ties share a rank, in input order."""
    means = [s.submission.mean_score for s in scored]
    normalised = [s.references.normalise(mean) for s, mean in zip(scored, means)]
    order = sorted(range(len(scored)), key=lambda i: -normalised[i])  # sorted() is stable
    return [Entry(rank=1 + sum(n > normalised[i] for n in normalised), name=scored[i].name, mean_score=means[i],
                  normalised_score=normalised[i], users=int(scored[i].submission.users.size),
                  verification=(SELF_REPORTED if not scored[i].verified else
                                VERIFIED_INSECURE if scored[i].insecure else VERIFIED),
                  world=scored[i].world[:WORLD_LABEL])
            for i in order]


def leaderboard_csv(entries: Sequence[Entry]) -> str:
    """``leaderboard.csv`` text: :data:`LEADERBOARD_HEADER` then one row per entry (exact float repr)."""
    rows = (f"{e.rank},{csv_field(e.name)},{e.mean_score!r},{e.normalised_score!r},{e.users},{e.verification},"
            f"{e.world}" for e in entries)
    return LEADERBOARD_HEADER + "\n" + "".join(row + "\n" for row in rows)


@dataclass(frozen=True)
class WorldReferences:
    """A world the leaderboard scored on: how it was named, its fingerprint, test users and references."""

    label: str
    fingerprint: str
    test_users: np.ndarray
    references: References


@dataclass
class Scoring:
    """What :func:`score_submissions` found."""

    scored: list[Scored] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    """One message per invalid submission (its problems on the following lines)."""
    left_out: list[str] = field(default_factory=list)
    """Names of the self-reported submissions that ``verified_only`` left out."""
    notes: list[str] = field(default_factory=list)
    """Why each self-reported submission is one, and what was passed over."""
    worlds: dict[str, WorldReferences] = field(default_factory=dict)
    """The worlds scored on, by fingerprint."""


def score_submissions(inputs: Sequence[SubmissionInput], *, env: str | None, key: bytes | None, key_file: Path,
                      verified_only: bool = False, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Scoring:
    """Check each input's receipt, validate its scores on its world, and compute each world's references.

    A receipt verified by ``key`` puts the submission on the world it names (its env, built from the world
    seed recorded beside the key); any other submission is self-reported and scored on ``env`` (its public
    world). Worlds are built once each and only their test users and references are kept.

    Raises:
        ValueError: a self-reported submission to score and no ``env``, or an ``env`` that cannot be built.
    """
    scoring = Scoring()
    known: dict[tuple[str, int | None], WorldReferences] = {}
    signed_runs: dict[str, str] = {}  # the run_id of each verified receipt: the first submission with it

    def world_of(spec: str, seed: int | None) -> WorldReferences:
        if (spec, seed) not in known:
            world = make_world(spec, seed=seed)
            label = f"{spec} ({'secret' if seed is not None else 'public' if spec in PRESETS else 'files'} world)"
            found = WorldReferences(label, world_fingerprint(world), world.dataset.users("test"),
                                    reference_scores(world))
            known[(spec, seed)] = scoring.worlds.setdefault(found.fingerprint, found)
        return known[(spec, seed)]

    for item in inputs:
        verdict = Verdict(False, "no receipt")
        try:
            if item.receipt is not None:
                receipt = read_receipt(item.receipt)
                digest = _file_sha256(item.scores, max_bytes)
                if digest is not None:
                    verdict = verify_receipt(receipt, digest, key, key_file)
        except ReceiptError as error:
            scoring.invalid.append(f"{item.name}: {error}")
            continue
        except Exception as error:  # noqa: BLE001  (whatever a receipt holds, it fails its own submission only)
            scoring.invalid.append(f"{item.name}: its receipt cannot be checked ({type(error).__name__}: {error})")
            continue
        insecure = verdict.verified and receipt["settings"].get("isolated") is not True
        if insecure and verified_only:
            scoring.left_out.append(item.name)
            continue
        if insecure:
            scoring.notes.append(f"{item.name}: verified-insecure (evaluated with --insecure, without isolation)")
        if verdict.verified:
            run_id = receipt["run_id"]
            if run_id in signed_runs:
                scoring.invalid.append(f"{item.name}: the same run ({run_id}) as {signed_runs[run_id]}: a copy of "
                                       f"a run directory is ranked once")
                continue
            signed_runs[run_id] = item.name
        if not verdict.verified:
            if verified_only:
                scoring.left_out.append(item.name)
                continue
            scoring.notes.append(f"{item.name}: self-reported ({verdict.reason})")
            if env is None:
                raise ValueError(f"{item.name} has no receipt this key verifies: give --env, the world to score "
                                 f"it on (or --verified-only)")
        try:
            world = world_of(env, None) if not verdict.verified else world_of(verdict.env, verdict.world_seed)
        except (ValueError, OSError, DataFormatError) as error:
            if not verdict.verified:
                raise
            scoring.invalid.append(f"{item.name}: the world of its receipt cannot be built ({error})")
            continue
        if verdict.verified and world.fingerprint != verdict.fingerprint:
            scoring.invalid.append(f"{item.name}: its world ({verdict.env}) is no longer the one it was evaluated on "
                                   f"(fingerprint {world.fingerprint[:WORLD_LABEL]}, receipt "
                                   f"{verdict.fingerprint[:WORLD_LABEL]})")
            continue
        try:
            submission = read_submission(item.scores, world.test_users, max_bytes=max_bytes)
        except SubmissionError as error:
            scoring.invalid.append(str(error))
            continue
        if verdict.verified and submission.sha256 != digest:
            scoring.invalid.append(f"{item.name}: {item.scores} changed while it was read")
            continue
        scoring.scored.append(Scored(item.name, submission, world.references, verdict.verified, world.fingerprint,
                                     insecure))
    return scoring


def _file_sha256(path: Path, max_bytes: int | None) -> str | None:
    """SHA-256 hex of the file, ``None`` when it is over ``max_bytes`` (the validation then says so)."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            size += len(block)
            if max_bytes is not None and size > max_bytes:
                return None
            digest.update(block)
    return digest.hexdigest()
