"""A sentence-transformers model loaded on one backend, encoding texts in batches sorted by length.

Backends (:attr:`EncodeSettings.backend`):

- ``"torch"``: sentence-transformers' own PyTorch forward pass, float32.
- ``"openvino"``: the whole pipeline (transformer, pooling, normalisation) converted from PyTorch to an
  OpenVINO model (``openvino.convert_model``, no ONNX file in between) and run by OpenVINO's CPU plugin in
  its default precision (bfloat16 on CPUs with AVX-512 BF16 or AMX, else float32).
- ``"openvino-int8"``: that model with int8 weights and activations, quantised by NNCF (OpenVINO's
  quantiser, with its transformer preset: SmoothQuant, and softmax and layer norms left in float) from the
  activation ranges of a calibration sample of the texts being encoded: :attr:`EncodeSettings.calibration_texts`
  of them, evenly spaced in their given order. The quantised model is built in memory (about 15 s) and kept
  for the process; the embeddings, not the model, go to the cache.
- ``"auto"`` (the default): ``"openvino-int8"`` when ``openvino`` and ``nncf`` are installed, else ``"torch"``.

The OpenVINO backends run several batches at once (one per inference stream: OpenVINO's throughput mode
picks the streams, about one per core), which on two cores beats splitting each matrix product across both.
Calibrating on the texts themselves matters: calibrated on other texts, the int8 model's embeddings were
measurably further from the reference (``benchmarks/README.md``).

Batching: texts are sorted by token count before batching (``length_sort="tokens"``), so a batch pads almost
nothing; sorting by characters, as ``SentenceTransformer.encode`` does, pads noticeably more
(``benchmarks/README.md``).

Heavy imports (torch, sentence-transformers, openvino, nncf: the ``[text]`` extra) happen only inside the
functions that need them, through :func:`recsim_lab.extras.optional_import`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import logging
import threading
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from recsim_lab.extras import optional_import
from recsim_lab.validation import check_choice, check_fields

logger = logging.getLogger(__name__)
_FEATURE = "text embeddings"  # what needs the [text] extra, for the error when it is missing

BACKENDS = ("auto", "torch", "openvino", "openvino-int8")
_LENGTH_SORTS = ("tokens", "chars")


@dataclass(frozen=True)
class EncodeSettings:
    """How a sentence-transformers model encodes texts (ignored by stand-in encoders, except ``normalize``)."""

    backend: str = "auto"
    """``"torch"``, ``"openvino"``, ``"openvino-int8"`` or ``"auto"`` (int8 OpenVINO when installed)."""
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
    calibration_texts: int = 128
    """``"openvino-int8"``: how many of the texts being encoded calibrate the int8 activation ranges."""
    normalize: bool = True
    """Scale every embedding to unit L2 norm."""

    def __post_init__(self) -> None:
        check_choice(self.backend, "backend", BACKENDS)
        check_choice(self.length_sort, "length_sort", _LENGTH_SORTS)
        check_fields(self, ("batch_size", "calibration_texts"), int, min_val=1)
        check_fields(self, ("max_seq_length", "threads"), int, min_val=1, allow_none=True)
        check_fields(self, ("normalize",), bool)

    def resolved(self) -> EncodeSettings:
        """These settings with ``backend="auto"`` replaced by the backend that will actually run."""
        if self.backend != "auto":
            return self
        return replace(self, backend="openvino-int8" if openvino_available() else "torch")

    def key_fields(self) -> dict[str, Any]:
        """The settings that change the numbers, for the cache key (``threads`` does not; the calibration
        size only matters to ``"openvino-int8"``)."""
        values = asdict(self.resolved())
        values.pop("threads")
        if values["backend"] != "openvino-int8":
            values.pop("calibration_texts")
        return values


REFERENCE_SETTINGS = EncodeSettings(backend="torch", batch_size=32, length_sort="chars")
"""sentence-transformers' defaults: ``SentenceTransformer.encode`` as it is (PyTorch float32, batches of 32
sorted by character count, the model's own length limit)."""
FAST_SETTINGS = EncodeSettings(backend="openvino-int8", batch_size=32, length_sort="tokens")
"""The fastest measured setting with a mean cosine >= 0.99 to :data:`REFERENCE_SETTINGS` (the default
``EncodeSettings()`` resolves to it when OpenVINO and NNCF are installed)."""


def openvino_available() -> bool:
    """Whether the OpenVINO backends can run (``openvino`` and ``nncf`` importable)."""
    return all(importlib.util.find_spec(name) is not None for name in ("openvino", "nncf"))


def calibration_sample(texts: Sequence[str], settings: EncodeSettings) -> list[str]:
    """The texts that calibrate ``"openvino-int8"`` when encoding ``texts``: ``settings.calibration_texts``
    of them evenly spaced in their order (all of them when there are fewer); none for the other backends."""
    size = settings.calibration_texts
    if settings.backend != "openvino-int8":
        return []
    if len(texts) <= size:
        return list(texts)
    return [texts[i] for i in np.linspace(0, len(texts) - 1, size).round().astype(np.int64)]


class SentenceModel:
    """A sentence-transformers model directory loaded for ``settings`` (a resolved backend).

    Args:
        path: the model directory.
        settings: encoding settings; ``backend`` must not be ``"auto"``.
        calibration: ``"openvino-int8"`` only: the texts whose activations calibrate the quantisation.
    """

    def __init__(self, path: Path, settings: EncodeSettings, calibration: Sequence[str] = ()) -> None:
        SentenceTransformer = optional_import("sentence_transformers", _FEATURE).SentenceTransformer
        if settings.backend == "auto":
            raise ValueError("resolve the backend first (EncodeSettings.resolved())")
        self.settings = settings
        # eager attention: a plain graph that OpenVINO fuses, instead of PyTorch's fused kernel
        options = {} if settings.backend == "torch" else {"model_kwargs": {"attn_implementation": "eager"}}
        with _quiet_transformers():
            self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True, **options)
            if settings.max_seq_length is not None:
                self.model.max_seq_length = settings.max_seq_length
            self.compiled = None if settings.backend == "torch" else _openvino_model(self.model, settings,
                                                                                    calibration)

    @property
    def dimension(self) -> int:
        """Width of an embedding."""
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get() or 0)

    def encode(self, texts: list[str], show_progress: bool = True) -> np.ndarray:
        """``(len(texts), dimension)`` float32 embeddings (not normalised here), batched by length."""
        from tqdm.auto import tqdm

        settings = self.settings
        if settings.backend == "torch" and settings.length_sort == "chars":  # sentence-transformers itself
            with _torch_threads(settings.threads):
                return self.model.encode(texts, batch_size=settings.batch_size, convert_to_numpy=True,
                                         show_progress_bar=show_progress).astype(np.float32, copy=False)
        order = np.argsort(-self._lengths(texts), kind="stable")  # longest first, as sentence-transformers
        batches = [order[start:start + settings.batch_size] for start in range(0, len(texts), settings.batch_size)]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        with tqdm(total=len(texts), unit="text", desc="embedding texts", disable=not show_progress) as bar:
            if self.compiled is None:
                with _torch_threads(settings.threads):
                    for rows in batches:
                        out[rows] = self.model.encode([texts[i] for i in rows], batch_size=rows.size,
                                                      convert_to_numpy=True, show_progress_bar=False)
                        bar.update(rows.size)
            else:
                self._run_openvino(texts, batches, out, bar)
        return out

    def _run_openvino(self, texts: list[str], batches: list[np.ndarray], out: np.ndarray, bar: Any) -> None:
        """Tokenise each batch here while OpenVINO runs earlier ones, one per inference request."""
        ov = optional_import("openvino", _FEATURE)
        queue = ov.AsyncInferQueue(self.compiled, self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))

        def finished(request: Any, rows: np.ndarray) -> None:
            out[rows] = request.get_output_tensor(0).data
            bar.update(rows.size)

        queue.set_callback(finished)
        for rows in batches:
            queue.start_async(_inputs(self.model, [texts[i] for i in rows]), rows)
        queue.wait_all()

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


_MODELS: dict[tuple, SentenceModel] = {}
_MODELS_LOCK = threading.Lock()


def load_sentence_model(path: Path, settings: EncodeSettings, calibration: Sequence[str] = ()) -> SentenceModel:
    """The loaded model for these settings (and, for ``"openvino-int8"``, this calibration sample), kept
    for the process; the two most recently loaded models are kept."""
    sample = hashlib.sha256("\0".join(calibration).encode("utf-8")).hexdigest()
    key = (str(Path(path).resolve()), settings, sample)
    with _MODELS_LOCK:
        if key not in _MODELS:
            if len(_MODELS) >= 2:
                _MODELS.pop(next(iter(_MODELS)))
            _MODELS[key] = SentenceModel(path, settings, calibration)
        return _MODELS[key]


def _inputs(model: Any, texts: list[str]) -> dict[int, np.ndarray]:
    """The tokenised ``texts`` as the converted model's inputs, by position."""
    torch = optional_import("torch", _FEATURE)
    return {index: value.numpy() for index, value in
            enumerate(v for v in model.preprocess(texts).values() if isinstance(v, torch.Tensor))}


def _openvino_model(model: Any, settings: EncodeSettings, calibration: Sequence[str]) -> Any:
    """Convert the pipeline of ``model`` (token ids -> sentence embedding) to a compiled OpenVINO model,
    quantised to int8 on ``calibration`` for ``"openvino-int8"``."""
    ov, torch = optional_import("openvino", _FEATURE), optional_import("torch", _FEATURE)
    sample = model.preprocess(["a sample text to trace the model", "another"])
    names = [name for name, value in sample.items() if isinstance(value, torch.Tensor)]
    constants = {name: value for name, value in sample.items() if not isinstance(value, torch.Tensor)}

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model({**dict(zip(names, tensors)), **constants})["sentence_embedding"]

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        converted = ov.convert_model(Pipeline().eval(), example_input=tuple(sample[n] for n in names))
    if settings.backend == "openvino-int8" and calibration:  # no calibration texts: nothing to encode either
        converted = _quantised(converted, [_inputs(model, [text]) for text in calibration])
    config: dict[str, Any] = {"PERFORMANCE_HINT": "THROUGHPUT"}
    if settings.threads is not None:
        config["INFERENCE_NUM_THREADS"] = settings.threads
    return ov.Core().compile_model(converted, "CPU", config)


def _quantised(converted: Any, calibration: list[dict[int, np.ndarray]]) -> Any:
    """NNCF post-training int8 quantisation of ``converted`` with its transformer preset."""
    nncf = optional_import("nncf", _FEATURE)
    logger.info("quantising the text encoder to int8 on %d calibration texts", len(calibration))
    nncf.set_log_level(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # its progress bars
        return nncf.quantize(converted, nncf.Dataset(calibration), model_type=nncf.ModelType.TRANSFORMER,
                             subset_size=len(calibration))


@contextlib.contextmanager
def _quiet_transformers() -> Any:
    """Inside: transformers logs errors only and shows no progress bars (loading and tracing a model print
    both); its previous settings are restored after."""
    from transformers.utils import logging as transformers_logging

    verbosity, bars = transformers_logging.get_verbosity(), transformers_logging.is_progress_bar_enabled()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(verbosity)
        if bars:
            transformers_logging.enable_progress_bar()


class _torch_threads:
    """Context manager: ``torch.set_num_threads(n)`` inside, the previous value restored after."""

    def __init__(self, threads: int | None) -> None:
        self.threads = threads
        self.before: int | None = None

    def __enter__(self) -> None:
        if self.threads is not None:
            torch = optional_import("torch", _FEATURE)
            self.before = torch.get_num_threads()
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc: object) -> None:
        if self.before is not None:
            optional_import("torch", _FEATURE).set_num_threads(self.before)
