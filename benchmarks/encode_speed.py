"""Text-encoding speed and quality: the fast settings against sentence-transformers' defaults, side by side.

    python benchmarks/encode_speed.py [--data PATH.jsonl] [--n 10000] [--repeats 1] [--backend openvino-int8]
        [--batch-size 32] [--threads N] [--sweep] [--json PATH]

Texts: ``headline + " " + short_description`` of the first ``--n`` records of ``--data`` (default
``../shared/data/news_category_sample.jsonl`` beside the repository, when present), else the item texts of
the synthetic ``default`` world. Each setting's model is prepared first (loading; for OpenVINO conversion,
and for int8 the quantisation calibrated on a sample of these texts) and that time is reported apart
(``prepare_seconds``); then every setting encodes all the texts, without the cache, ``--repeats`` times in
turn, and the best time is kept, so a busy machine penalises all alike. Quality is the cosine between each
text's embedding and the reference embedding.

Prints one JSON object: ``texts_per_s`` (fast), ``reference_texts_per_s``, ``speedup``,
``mean_cosine_to_reference``, ``min_cosine_to_reference``, ``p01_cosine_to_reference``, ``prepare_seconds``,
both settings, token length percentiles and versions. ``--sweep`` adds ``candidates``: the same figures for
a grid of backends and batch sizes. ``--json PATH`` also writes the object to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from agents.helpers.sentence_model import (
    FAST_SETTINGS,
    REFERENCE_SETTINGS,
    EncodeSettings,
    SentenceModel,
    calibration_sample,
    openvino_available,
)
from agents.helpers.text_embeddings import default_model_path, l2_normalised

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
    from recsim_lab.worlds.presets import make_world

    return make_world("default").dataset.item_texts()[:n], "synthetic default world"


def prepared(texts: list[str], settings: EncodeSettings) -> tuple[SentenceModel, float]:
    """The model for ``settings`` (int8: calibrated on these texts, as ``embed_texts`` would), and the
    seconds it took to prepare."""
    start = time.perf_counter()
    model = SentenceModel(default_model_path(), settings, calibration_sample(texts, settings))
    model.encode(texts[:64], show_progress=False)  # first-call allocations
    return model, time.perf_counter() - start


def compare(texts: list[str], settings: list[EncodeSettings], repeats: int) -> list[dict]:
    """Prepare every setting, then encode with each ``repeats`` times in turn; per setting the unit-row
    embeddings, the best encoding time and the preparation time."""
    models = [prepared(texts, s) for s in settings]
    results = [{"settings": s, "model": model, "prepare_seconds": seconds, "seconds": float("inf")}
               for s, (model, seconds) in zip(settings, models)]
    for _ in range(repeats):
        for result, (model, _) in zip(results, models):
            start = time.perf_counter()
            result["embeddings"] = l2_normalised(model.encode(texts, show_progress=False))
            result["seconds"] = min(result["seconds"], time.perf_counter() - start)
    return results


def figures(result: dict, reference: np.ndarray, n_texts: int) -> dict:
    cosine = (result["embeddings"] * reference).sum(axis=1)
    return {"texts_per_s": round(n_texts / result["seconds"], 1),
            "mean_cosine_to_reference": round(float(cosine.mean()), 5),
            "min_cosine_to_reference": round(float(cosine.min()), 5),
            "p01_cosine_to_reference": round(float(np.percentile(cosine, 1)), 5),
            "prepare_seconds": round(result["prepare_seconds"], 1)}


def versions() -> dict[str, str]:
    import sentence_transformers
    import torch

    found = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
             "sentence_transformers": sentence_transformers.__version__}
    if openvino_available():
        import nncf
        import openvino

        found.update(openvino=openvino.__version__, nncf=nncf.__version__)
    return found


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="News Category JSON lines")
    parser.add_argument("--n", type=int, default=10_000, help="texts to encode")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per setting (best kept)")
    parser.add_argument("--backend", default=FAST_SETTINGS.backend, help="fast backend (openvino-int8, ...)")
    parser.add_argument("--batch-size", type=int, default=FAST_SETTINGS.batch_size)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: library default)")
    parser.add_argument("--sweep", action="store_true", help="also measure a grid of candidate settings")
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON object here")
    args = parser.parse_args(argv)

    texts, source = load_texts(args.data, args.n)
    reference_settings = replace(REFERENCE_SETTINGS, threads=args.threads)
    fast_settings = replace(FAST_SETTINGS, backend=args.backend, batch_size=args.batch_size, threads=args.threads)
    grid = [fast_settings]
    if args.sweep:
        backends = (["openvino-int8", "openvino"] if openvino_available() else []) + ["torch"]
        grid += [replace(fast_settings, backend=b, batch_size=size) for b in backends for size in (16, 32, 64)
                 if (b, size) != (fast_settings.backend, fast_settings.batch_size)]
    reference, fast, *others = compare(texts, [reference_settings, *grid], args.repeats)
    lengths = [len(ids) for ids in reference["model"].model.tokenizer(texts)["input_ids"]]
    result = {
        **figures(fast, reference["embeddings"], len(texts)),
        "reference_texts_per_s": round(len(texts) / reference["seconds"], 1),
        "speedup": round(reference["seconds"] / fast["seconds"], 2),
        "settings": asdict(fast_settings),
        "reference_settings": asdict(reference_settings),
        "n_texts": len(texts), "data": source, "repeats": args.repeats,
        "token_length_percentiles": {f"p{q}": int(np.percentile(lengths, q)) for q in (50, 90, 95, 99, 100)},
        "cpu_count": os.cpu_count(), "versions": versions(),
    }
    if others:
        result["candidates"] = [{"settings": asdict(o["settings"]), **figures(o, reference["embeddings"], len(texts))}
                                for o in others]
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
