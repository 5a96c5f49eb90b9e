"""Receipts and secret worlds: what lets ``score`` tell an evaluated score from one a file merely claims.

The organiser's key
    32 random bytes, hex, in a file only its owner may read (mode 0600, in a 0700 folder), created on first use
    by ``evaluate``: ``--key PATH``, else the ``RECSIM_LAB_KEY`` environment variable, else
    ``$XDG_CONFIG_HOME/recsim-lab/receipt.key`` (``~/.config/recsim-lab/receipt.key``). ``score`` never creates
    it, and refuses a key that others may read.

The world-seed record
    ``evaluate`` on a preset builds the world from a fresh seed drawn from :mod:`secrets` (or the organiser's
    ``--world-seed``), so a submission cannot rebuild it from the public code. The seed is never written to the
    run directory (which the submitter may see): it goes to ``world-seeds/<run id>.json`` beside the key (0600),
    with the env, the world's fingerprint and the run directory; ``--world-seed`` with that number reproduces
    the world.

The receipt
    ``receipt.json`` beside ``scores.csv``: the run id, the env, the SHA-256 of ``scores.csv``'s bytes, the
    world's fingerprint (:func:`world_fingerprint`), the submission's content hash (:func:`submission_digest`),
    the settings (episodes, seed, limits, agent options, world seed), the key's id and
    ``hmac_sha256``: HMAC-SHA256 under the key over all of that (:func:`signed_bytes`). The world seed of a preset
    shows as ``"secret"``; the HMAC covers the real number, which :func:`verify_receipt` reads from the record.
    So only the key's holder can make a receipt, and changing any byte of the scores or any field breaks it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from recsim_lab.atomic import atomic_write
from recsim_lab.worlds.presets import PRESETS
from recsim_lab.worlds.world import World

KEY_VARIABLE = "RECSIM_LAB_KEY"
"""Environment variable naming the organiser's key file (``--key`` wins over it)."""
RECEIPT_FILE = "receipt.json"
RECEIPT_FORMAT = "recsim-lab receipt 1"
SECRET = "secret"
"""What a receipt shows in place of a preset's world seed."""
SEEDS_FOLDER = "world-seeds"
WORLD_SEED_BITS = 64
"""Bits of a drawn world seed: far too many to find by trying seeds against the dataset an agent is given."""
_KEY_BYTES = 32
_MAX_RECEIPT_BYTES = 1 << 16
_HEX = frozenset("0123456789abcdef")


class ReceiptError(ValueError):
    """A key, receipt or world-seed record that cannot be used; the message is one line."""


# --- the key ---------------------------------------------------------------------------------------------------

def key_path(given: str | os.PathLike[str] | None = None) -> Path:
    """The organiser's key file: ``given``, else ``$RECSIM_LAB_KEY``, else under the user's config folder."""
    if given is not None:
        return Path(given).expanduser()
    if os.environ.get(KEY_VARIABLE):
        return Path(os.environ[KEY_VARIABLE]).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "recsim-lab" / "receipt.key"


def load_key(path: Path, *, create: bool = False) -> bytes | None:
    """The key in ``path``; ``None`` when there is none and ``create`` is false, else a new one (mode 0600).

    Raises:
        ReceiptError: the file is not a key, or group or others may read or write it.
    """
    if create and not path.exists():
        _private_folder(path.parent)
        fresh = (secrets.token_hex(_KEY_BYTES) + "\n").encode("ascii")
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.new")
        _write_private(tmp, fresh)
        try:
            os.link(tmp, path)  # never replaces a key another evaluation has just created
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise ReceiptError(f"the key {path} is not a regular file")
    if info.st_mode & 0o077:
        raise ReceiptError(f"the key {path} may be read or written by others (mode {stat.S_IMODE(info.st_mode):o}); "
                           f"chmod 600 {path}")
    text = path.read_bytes()[: 4 * _KEY_BYTES].decode("ascii", errors="replace").strip()
    if len(text) != 2 * _KEY_BYTES or not set(text) <= _HEX:
        raise ReceiptError(f"{path} is not a recsim-lab key (expected {2 * _KEY_BYTES} hex digits)")
    return bytes.fromhex(text)


def key_id(key: bytes) -> str:
    """A short public name of ``key`` (it reveals nothing of it): which key signed a receipt."""
    return hashlib.sha256(b"recsim-lab key id\0" + key).hexdigest()[:16]


def _private_folder(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)


def _write_private(path: Path, data: bytes) -> None:
    """Write ``path`` atomically, readable by its owner only (whatever the umask)."""

    def write(handle: BinaryIO) -> None:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)

    atomic_write(path, write)


# --- the world ------------------------------------------------------------------------------------------------

def draw_world_seed() -> int:
    """A fresh secret world seed."""
    return secrets.randbits(WORLD_SEED_BITS)


def world_fingerprint(world: World) -> str:
    """SHA-256 hex of everything that makes the world: its dataset (item texts and categories, histories, the
    train split), hidden vectors, held-out futures and rules. Equal for equal worlds, whatever their name."""
    digest = hashlib.sha256()
    dataset = world.dataset
    head = {"format": "recsim-lab world 1", "n_users": dataset.n_users, "n_items": dataset.n_items,
            "dim": world.dim, "n_train_users": dataset.n_train_users,
            "rules": {name: getattr(world.rules, name) for name in sorted(vars(world.rules))}}
    digest.update(json.dumps(head, sort_keys=True).encode("utf-8") + b"\0")
    for texts in (dataset.headlines, dataset.descriptions, dataset.categories):
        for text in texts:
            data = str(text).encode("utf-8", errors="surrogatepass")
            digest.update(len(data).to_bytes(8, "little") + data)
    lengths = np.array([len(h) for h in dataset.histories], dtype="<i8")
    digest.update(lengths.tobytes())
    if lengths.sum():
        digest.update(np.concatenate(dataset.histories).astype("<i8").tobytes())
    for array in (world.user_embeddings, world.item_embeddings):
        digest.update(np.ascontiguousarray(array, dtype="<f4").tobytes())
    indptr, items = world.future_csr()
    digest.update(indptr.astype("<i8").tobytes() + items.astype("<i8").tobytes())
    return digest.hexdigest()


def record_world_seed(key_file: Path, run_id: str, record: dict[str, Any]) -> Path:
    """Write ``record`` (it holds ``world_seed``) to ``world-seeds/<run_id>.json`` beside the key, mode 0600."""
    folder = key_file.parent / SEEDS_FOLDER
    _private_folder(folder)
    path = folder / f"{run_id}.json"
    _write_private(path, (json.dumps({"run_id": run_id, **record}, indent=2, sort_keys=True) + "\n").encode())
    return path


def recorded_world_seed(key_file: Path, run_id: str) -> int | None:
    """The world seed recorded for ``run_id`` (``None`` for a world directory).

    Raises:
        ReceiptError: no record, or a malformed one.
    """
    if not _is_run_id(run_id):
        raise ReceiptError(f"run id {run_id!r} is not 32 hex digits")
    path = key_file.parent / SEEDS_FOLDER / f"{run_id}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReceiptError(f"no world-seed record {path} for run {run_id}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReceiptError(f"{path} is not a world-seed record ({error})") from None
    seed = record.get("world_seed") if isinstance(record, dict) else "?"
    if seed is not None and (type(seed) is not int or seed < 0):
        raise ReceiptError(f"{path}: world_seed must be a non-negative integer or null, got {seed!r}")
    return seed


def new_run_id() -> str:
    return secrets.token_hex(16)


def _is_run_id(text: object) -> bool:
    return isinstance(text, str) and len(text) == 32 and set(text) <= _HEX


# --- the submission -------------------------------------------------------------------------------------------

def submission_digest(spec: str) -> dict[str, Any]:
    """What was evaluated: for ``path/to/agent.py:Class`` the SHA-256 of the file's bytes (what ``sha256sum``
    prints); for a folder (``path/to/folder:Class``, or a ``.py`` file's package ``__init__.py``), the
    SHA-256 of its manifest, one ``<sha256>  <relative path>\\n`` line per file, sorted by path; a built-in or
    ``package.module:Class`` is named by the spec only (``sha256`` is ``None``)."""
    source = spec.rpartition(":")[0] if ":" in spec else ""
    path = Path(source)
    if source and path.is_file():
        return {"spec": spec, "kind": "file", "sha256": _file_sha256(path)}
    if source and path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        manifest = "".join(f"{_file_sha256(p)}  {p.relative_to(path).as_posix()}\n" for p in files)
        return {"spec": spec, "kind": "folder", "files": len(files),
                "sha256": hashlib.sha256(manifest.encode("utf-8")).hexdigest()}
    return {"spec": spec, "kind": "name", "sha256": None}


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# --- receipts -------------------------------------------------------------------------------------------------

def signed_bytes(body: dict[str, Any]) -> bytes:
    """The bytes the HMAC covers: ``body`` (the receipt without ``hmac_sha256``, the real world seed in its
    settings) as compact JSON with sorted keys."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def make_receipt(key: bytes, *, run_id: str, env: str, scores: bytes, fingerprint: str,
                 submission: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The receipt of an evaluation (``settings["world_seed"]``: the real seed, or ``None`` for a world
    directory), as written: a preset's world seed shows as :data:`SECRET`."""
    body = {"format": RECEIPT_FORMAT, "run_id": run_id, "env": env,
            "scores_sha256": hashlib.sha256(scores).hexdigest(), "world_fingerprint": fingerprint,
            "submission": submission, "settings": settings, "key_id": key_id(key)}
    mac = hmac.new(key, signed_bytes(body), hashlib.sha256).hexdigest()
    shown = {**settings, "world_seed": None if settings["world_seed"] is None else SECRET}
    return {**body, "settings": shown, "signed": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "hmac_sha256": mac}


def write_receipt(directory: Path, receipt: dict[str, Any]) -> Path:
    path = directory / RECEIPT_FILE
    atomic_write(path, lambda handle: handle.write((json.dumps(receipt, indent=2, sort_keys=True) + "\n").encode()))
    return path


def read_receipt(path: Path) -> dict[str, Any]:
    """A receipt file's fields (checked for shape, not yet for its HMAC).

    Raises:
        ReceiptError: too large, not JSON, or not a receipt.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_RECEIPT_BYTES + 1)
    except OSError as error:
        raise ReceiptError(f"{path}: cannot read ({error.strerror or error})") from None
    if len(data) > _MAX_RECEIPT_BYTES:
        raise ReceiptError(f"{path}: larger than a receipt can be ({_MAX_RECEIPT_BYTES} bytes)")
    try:
        receipt = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ReceiptError(f"{path}: not a JSON receipt ({type(error).__name__})") from None
    if not isinstance(receipt, dict) or receipt.get("format") != RECEIPT_FORMAT:
        raise ReceiptError(f"{path}: not a recsim-lab receipt (format {RECEIPT_FORMAT!r})")
    expected = {"run_id": str, "env": str, "scores_sha256": str, "world_fingerprint": str, "submission": dict,
                "settings": dict, "key_id": str, "hmac_sha256": str}
    wrong = [name for name, kind in expected.items() if not isinstance(receipt.get(name), kind)]
    if wrong or not _is_run_id(receipt["run_id"]) or "world_seed" not in receipt["settings"]:
        raise ReceiptError(f"{path}: malformed receipt (fields {', '.join(wrong) or 'run_id, settings'})")
    not_hex = [name for name, length in _HEX_FIELDS.items() if not _is_hex(receipt[name], length)]
    if not_hex:
        raise ReceiptError(f"{path}: malformed receipt (fields {', '.join(not_hex)}: not lowercase hex digests of "
                           f"the right length)")
    return receipt


_HEX_FIELDS = {"key_id": 16, "hmac_sha256": 64, "scores_sha256": 64, "world_fingerprint": 64}


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and all(char in "0123456789abcdef" for char in value)


@dataclass(frozen=True)
class Verdict:
    """What a receipt says about its ``scores.csv``: ``verified`` (signed by this key over these bytes), or
    not, with why (``reason``); a verified receipt's world is ``env`` built from ``world_seed``."""

    verified: bool
    reason: str
    env: str | None = None
    world_seed: int | None = None
    fingerprint: str | None = None


def verify_receipt(receipt: dict[str, Any], scores_sha256: str, key: bytes | None, key_file: Path) -> Verdict:
    """Check ``receipt`` against the SHA-256 of the ``scores.csv`` bytes read and the organiser's ``key``.

    A receipt signed by another key (or with no key to check it) is not verified (the row is self-reported).

    Raises:
        ReceiptError: the receipt names this key but does not match: the scores or the receipt were changed
            after the evaluation, or its world-seed record is missing.
    """
    if key is None:
        return Verdict(False, f"no organiser's key at {key_file} to check it")
    if not hmac.compare_digest(receipt["key_id"].encode(), key_id(key).encode()):
        return Verdict(False, "its receipt is signed by another key")
    body = {name: value for name, value in receipt.items() if name not in ("hmac_sha256", "signed")}
    world_seed = receipt["settings"]["world_seed"]
    if world_seed == SECRET:
        world_seed = recorded_world_seed(key_file, receipt["run_id"])
        if world_seed is None:
            raise ReceiptError(f"run {receipt['run_id']}: the receipt hides a world seed, the record has none")
    elif world_seed is not None:
        raise ReceiptError(f"run {receipt['run_id']}: a receipt never shows its world seed")
    body["settings"] = {**body["settings"], "world_seed": world_seed}
    mac = hmac.new(key, signed_bytes(body), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac.encode(), receipt["hmac_sha256"].encode()):
        raise ReceiptError(f"run {receipt['run_id']}: the receipt does not match its fields (changed after "
                           f"the evaluation)")
    if not hmac.compare_digest(scores_sha256.encode(), receipt["scores_sha256"].encode()):
        raise ReceiptError(f"run {receipt['run_id']}: scores.csv is not the file the evaluation wrote "
                           f"(its SHA-256 differs from the receipt's)")
    if (world_seed is None) == (receipt["env"] in PRESETS):
        raise ReceiptError(f"run {receipt['run_id']}: env {receipt['env']!r} and its world seed disagree")
    return Verdict(True, "verified", receipt["env"], world_seed, receipt["world_fingerprint"])
