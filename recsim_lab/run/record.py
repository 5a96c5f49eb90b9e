"""``RunRecord``: what a run keeps in its directory while it plays, so that an interrupted run can resume.

- ``checkpoint.json``: the SHA-256 of every file under the agent's checkpoint, written once the checkpoint
  is complete ("sealed"). A resumed run reuses the checkpoint only when it is sealed and unchanged.
- ``episodes/episode-000.npz``, ...: one file per completed episode (its per-user results and step trace),
  written atomically as soon as the episode ends.

Episodes are independent (each starts from the checkpoint with its own derived seed), so the episodes a
killed run completed plus the ones a resumed run plays give exactly the results of an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from recsim_lab.atomic import atomic_save_npz, atomic_write_text
from recsim_lab.run.episode import EpisodeResult

_EPISODE_ARRAYS = ("users", "session_length", "clicks", "trace")


class RunRecord:
    """The resumable state of the run in ``directory``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.manifest = self.directory / "checkpoint.json"
        self.episodes = self.directory / "episodes"

    def seal_checkpoint(self, checkpoint: Path) -> None:
        """Record that ``checkpoint`` is complete, with a digest of each of its files."""
        text = json.dumps({"files": _digests(checkpoint)}, indent=2, sort_keys=True) + "\n"
        atomic_write_text(self.manifest, text)

    def checkpoint_sealed(self, checkpoint: Path) -> bool:
        """Whether ``checkpoint`` was sealed (``False``: it may be incomplete; fit and save it again).

        Raises:
            ValueError: it was sealed but its files changed since.
        """
        if not self.manifest.is_file():
            return False
        expected = json.loads(self.manifest.read_text(encoding="utf-8"))["files"]
        found = _digests(checkpoint)
        if found != expected:
            changed = sorted(set(expected) ^ set(found) | {n for n in expected if found.get(n) != expected[n]})
            raise ValueError(f"the checkpoint {checkpoint} changed after the run sealed it (files {changed}); "
                             f"it can no longer be resumed")
        return True

    def episode_path(self, episode: int) -> Path:
        return self.episodes / f"episode-{episode:03d}.npz"

    def saved_episodes(self) -> list[Path]:
        """The episode files written so far, in episode order."""
        return sorted(self.episodes.glob("episode-*.npz")) if self.episodes.is_dir() else []

    def save_episode(self, result: EpisodeResult) -> None:
        """Write one completed episode (atomically)."""
        atomic_save_npz(self.episode_path(result.episode), episode=np.int64(result.episode),
                        seed=np.int64(result.seed), seconds=np.float64(result.seconds),
                        **{name: getattr(result, name) for name in _EPISODE_ARRAYS})

    def completed_episodes(self, seeds: list[int], users: np.ndarray) -> dict[int, EpisodeResult]:
        """The episodes already completed, by episode index.

        Args:
            seeds: the run's episode seeds (episode ``e`` was played with ``seeds[e]``).
            users: ``(n,)`` the population's user ids.

        Raises:
            ValueError: an episode file that does not belong to this run (other seed, users or index), or
                completed episodes without a sealed checkpoint.
        """
        found = self.saved_episodes()
        if found and not self.manifest.is_file():
            raise ValueError(f"{self.directory} has completed episodes but no sealed checkpoint "
                             f"({self.manifest.name}); it was not written by this runner")
        completed = {}
        for path in found:
            result = _load_episode(path)
            e = result.episode
            if path != self.episode_path(e) or not 0 <= e < len(seeds) or result.seed != seeds[e] \
                    or not np.array_equal(result.users, users):
                raise ValueError(f"{path} does not belong to this run (episode {e}, seed {result.seed}, "
                                 f"{result.users.size} users; the run has {len(seeds)} episodes, seeds {seeds}, "
                                 f"{users.size} users)")
            completed[e] = result
        return completed

    def remove_temporary_files(self) -> None:
        """Delete the temporary files of atomic writes that a killed process left behind."""
        for path in self.directory.rglob(".*.tmp"):
            path.unlink()


def _load_episode(path: Path) -> EpisodeResult:
    with np.load(path, allow_pickle=False) as npz:
        return EpisodeResult(int(npz["episode"]), int(npz["seed"]), npz["users"], npz["session_length"],
                             npz["clicks"], float(npz["seconds"]), npz["trace"])


def _digests(directory: Path) -> dict[str, str]:
    """``{relative path: sha256 hex}`` for every file under ``directory``."""
    directory = Path(directory)
    return {path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}
