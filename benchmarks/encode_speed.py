"""Text-encoding speed and quality: the fast settings against sentence-transformers' defaults.

    python benchmarks/encode_speed.py [--data PATH.jsonl] [--n 2000] [--repeats 2] [--backend onnx-int8]
        [--batch-size 32] [--max-seq-length N|p95] [--threads N] [--sweep] [--json PATH]

Texts: ``headline + " " + short_description`` of the first ``--n`` records of ``--data`` (default
``../shared/data/news_category_sample.jsonl`` beside the repository, when present), else the item texts of
the synthetic ``default`` world. Both settings encode the same texts without the cache, after a warm-up
(model loading and the one-time ONNX export are not timed); the reference and fast runs alternate and the
best of ``--repeats`` is kept, so a busy machine penalises both alike. Quality is the cosine between each
text's fast and reference embeddings.

Prints one JSON object: ``texts_per_s`` (fast), ``reference_texts_per_s``, ``speedup``,
``mean_cosine_to_reference``, ``min_cosine_to_reference``, ``p01_cosine_to_reference``, both settings,
token length percentiles and versions. ``--sweep`` adds ``candidates``: the same figures for a grid of
backends, batch sizes and batching orders, and for a length limit at the 95th percentile of token
counts. ``--json PATH`` also writes the object to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from recsim_lab.text_embeddings import (
    FAST_SETTINGS,
    REFERENCE_SETTINGS,
    EncodeSettings,
    default_model_path,
    embed_texts,
    onnx_available,
)

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "news_category_sample.jsonl"


def load_texts(data: Path | None, n: int) -> tuple[list[str], str]:
    """The first ``n`` texts of a News Category JSON-lines file, or of the synthetic default world."""
    if data is not None and data.is_file():
        texts = []
        with data.open(encoding="utf-8") as handle:
            for line in handle:
                if len(texts) == n:
                    break
                if line.strip():
                    record = json.loads(line)
                    texts.append(f"{record.get('headline', '')} {record.get('short_description', '')}".strip())
        return texts, str(data)
    from envs import make_world

    return make_world("default").dataset.item_texts()[:n], "synthetic default world"


def token_lengths(texts: list[str]) -> np.ndarray:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(default_model_path()), local_files_only=True)
    return np.array([len(ids) for ids in tokenizer(texts, add_special_tokens=True)["input_ids"]])


def timed(texts: list[str], settings: EncodeSettings, cache_dir: Path) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    embeddings = embed_texts(texts, settings=settings, cache_dir=cache_dir, use_cache=False, show_progress=False)
    return embeddings, time.perf_counter() - start


def compare(texts: list[str], settings: list[EncodeSettings], repeats: int, cache_dir: Path
            ) -> tuple[list[np.ndarray], list[float]]:
    """Encode with every setting ``repeats`` times, alternating; the best wall time of each."""
    for s in settings:  # warm-up: load models, export ONNX, first-call allocations
        embed_texts(texts[:64], settings=s, cache_dir=cache_dir, use_cache=False, show_progress=False)
    best = [float("inf")] * len(settings)
    results: list[np.ndarray] = [np.empty(0)] * len(settings)
    for _ in range(repeats):
        for index, s in enumerate(settings):
            results[index], seconds = timed(texts, s, cache_dir)
            best[index] = min(best[index], seconds)
    return results, best


def quality(embeddings: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    cosine = (embeddings * reference).sum(axis=1)
    return {"mean_cosine_to_reference": round(float(cosine.mean()), 5),
            "min_cosine_to_reference": round(float(cosine.min()), 5),
            "p01_cosine_to_reference": round(float(np.percentile(cosine, 1)), 5)}


def versions() -> dict[str, str]:
    import sentence_transformers
    import torch

    found = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
             "sentence_transformers": sentence_transformers.__version__}
    if onnx_available():
        import onnx
        import onnxruntime

        found.update(onnxruntime=onnxruntime.__version__, onnx=onnx.__version__)
    return found


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="News Category JSON lines")
    parser.add_argument("--n", type=int, default=2000, help="texts to encode")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per setting (best kept)")
    parser.add_argument("--backend", default=FAST_SETTINGS.backend, help="fast backend (onnx-int8, torch)")
    parser.add_argument("--batch-size", type=int, default=FAST_SETTINGS.batch_size)
    parser.add_argument("--max-seq-length", default=None,
                        help="token limit of the fast setting: an integer, or pNN for that percentile")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: library default)")
    parser.add_argument("--sweep", action="store_true", help="also measure a grid of candidate settings")
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON object here")
    args = parser.parse_args(argv)

    if args.backend == "onnx-int8" and not onnx_available():
        print("onnxruntime/onnx not installed: the fast setting falls back to the torch backend", file=sys.stderr)
        args.backend = "torch"
    texts, source = load_texts(args.data, args.n)
    lengths = token_lengths(texts)
    limit = args.max_seq_length
    if isinstance(limit, str) and limit.startswith("p"):
        limit = int(np.ceil(np.percentile(lengths, float(limit[1:]))))
    reference_settings = replace(REFERENCE_SETTINGS, threads=args.threads)
    fast_settings = replace(FAST_SETTINGS, backend=args.backend, batch_size=args.batch_size,
                            max_seq_length=int(limit) if limit is not None else None, threads=args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = Path(os.environ.get("RECSIM_LAB_CACHE") or tmp)  # keeps a previous ONNX export if set
        (reference, fast), (reference_seconds, fast_seconds) = compare(
            texts, [reference_settings, fast_settings], args.repeats, cache_dir)
        result = {
            "texts_per_s": round(len(texts) / fast_seconds, 1),
            "reference_texts_per_s": round(len(texts) / reference_seconds, 1),
            "speedup": round(reference_seconds / fast_seconds, 2),
            **quality(fast, reference),
            "settings": asdict(fast_settings),
            "reference_settings": asdict(reference_settings),
            "n_texts": len(texts), "data": source, "repeats": args.repeats,
            "token_length_percentiles": {f"p{q}": int(np.percentile(lengths, q)) for q in (50, 90, 95, 99, 100)},
            "cpu_count": os.cpu_count(), "versions": versions(),
        }
        if args.sweep:
            p95 = int(np.ceil(np.percentile(lengths, 95)))
            backends = (["onnx-int8"] if onnx_available() else []) + ["torch"]
            grid = [replace(fast_settings, backend=b, batch_size=bs, length_sort=order, max_seq_length=None)
                    for b in backends for order in ("tokens", "chars") for bs in (8, 16, 32, 64)]
            grid += [replace(fast_settings, backend=b, max_seq_length=p95) for b in backends]
            embeddings, seconds = compare(texts, grid, args.repeats, cache_dir)
            result["candidates"] = [{"settings": asdict(s), "texts_per_s": round(len(texts) / t, 1),
                                     **quality(e, reference)} for s, e, t in zip(grid, embeddings, seconds)]
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
