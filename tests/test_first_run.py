"""What a first ``recsim-lab run`` shows: the report beside the scores, and no native start-up noise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents.helpers.native_log import VERBOSE_ENV, quiet_native_log
from recsim_lab.cli.commands import main

INFO_LINE = b"I0000 00:00:1796285864.327849    9346 cudart_stub.cc:31] Could not find cuda drivers on your machine\n"
PREAMBLE = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
WARNING_LINE = b"W0000 00:00:1796285864.327849    9346 something.cc:12] a real warning\n"


def _run(out: Path, *extra: str) -> int:
    return main(["run", "--env", "small", "--agent", "popularity", "--episodes", "2", "--seed", "3",
                 "--out", str(out), "--no-progress", *extra])


def test_run_writes_the_report_into_the_run_directory_and_the_same_scores(tmp_path, capsys):
    assert _run(tmp_path / "with") == 0
    out = capsys.readouterr().out
    (directory,) = (tmp_path / "with").iterdir()
    report = directory / "report"
    assert {p.name for p in report.iterdir()} == {"report.html", "episode_scores.png", "score_distribution.png",
                                                  "click_rate.png", "active_users.png"}
    assert f"report: {report / 'report.html'}" in out
    assert _run(tmp_path / "without", "--no-report") == 0
    (plain,) = (tmp_path / "without").iterdir()
    assert not (plain / "report").exists() and "report:" not in capsys.readouterr().out
    assert (directory / "scores.csv").read_bytes() == (plain / "scores.csv").read_bytes()


def test_without_matplotlib_the_run_succeeds_and_prints_the_install_hint_and_the_command(tmp_path, capsys,
                                                                                         monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # import of matplotlib... halted: as if not installed
    assert _run(tmp_path) == 0
    out = capsys.readouterr().out
    (directory,) = tmp_path.iterdir()
    assert "report: not made: recsim-lab report needs matplotlib: pip install 'recsim-lab[report]'" in out
    assert f"recsim-lab report {directory} --out {directory / 'report'}" in out
    assert (directory / "scores.csv").is_file() and not (directory / "report").exists()


def test_verbose_asks_for_the_native_log(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(VERBOSE_ENV, raising=False)  # restored after the test
    assert _run(tmp_path, "--verbose", "--no-report") == 0
    assert os.environ[VERBOSE_ENV] == "1"


def test_quiet_native_log_drops_native_info_lines_and_keeps_the_rest(capfd, monkeypatch):
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    with quiet_native_log():
        os.write(2, PREAMBLE + INFO_LINE + WARNING_LINE + b"Traceback: python text\n" + INFO_LINE)
    assert capfd.readouterr().err.encode() == WARNING_LINE + b"Traceback: python text\n"
    os.write(2, b"after\n")  # descriptor 2 is restored
    assert capfd.readouterr().err == "after\n"


def test_quiet_native_log_writes_back_everything_when_the_block_raises(capfd, monkeypatch):
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    with pytest.raises(ImportError, match="no such module"), quiet_native_log():
        os.write(2, PREAMBLE + INFO_LINE)
        raise ImportError("no such module")
    assert capfd.readouterr().err.encode() == PREAMBLE + INFO_LINE


def test_quiet_native_log_filters_nothing_when_verbose(capfd, monkeypatch):
    monkeypatch.setenv(VERBOSE_ENV, "1")
    with quiet_native_log():
        os.write(2, PREAMBLE + INFO_LINE)
    assert capfd.readouterr().err.encode() == PREAMBLE + INFO_LINE


def test_importing_tensorflow_for_funk_svd_prints_no_start_up_banner():
    code = "import agents.funk_svd as f; f._tensorflow()"
    env = {key: value for key, value in os.environ.items() if key not in (VERBOSE_ENV, "TF_CPP_MIN_LOG_LEVEL")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert "absl::InitializeLog" not in done.stderr and "port.cc" not in done.stderr, done.stderr
    assert "cudart_stub.cc" not in done.stderr, done.stderr
