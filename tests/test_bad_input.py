"""Bad input gets one line and exit code 2, and loses nothing (issue 11, item 6).

Each test here failed before its fix: malformed world files that gave tracebacks, finite but extreme values
that gave NaN patience, wrong line numbers for undecodable bytes.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recsim_lab.atomic import atomic_write_text
from recsim_lab.cli.commands import main
from recsim_lab.data.interactions_csv import read_interactions_csv
from recsim_lab.data.jsonl import read_json_lines
from recsim_lab.errors import DataFormatError
from recsim_lab.worlds.world import Rules, World

ROOT = Path(__file__).resolve().parents[1]


def copy_world(tiny_world_dir, tmp_path):
    return shutil.copytree(tiny_world_dir, tmp_path / "w")


def rewrite_meta(directory, **changes):
    meta = json.loads((directory / "world.json").read_text())
    meta.update(changes)
    (directory / "world.json").write_text(json.dumps(meta))


def run_on(directory, tmp_path, capsys):
    """``recsim-lab run`` on the world directory: (exit code, stderr); no traceback may escape."""
    code = main(["run", "--env", str(directory), "--agent", "random", "--episodes", "1", "--no-progress",
                 "--no-report", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    return code, err


# --- malformed world files: one line naming the file ------------------------------------------------------------
def truncated_npz(d):
    data = (d / "world.npz").read_bytes()
    (d / "world.npz").write_bytes(data[: len(data) // 2])


def npy_as_npz(d):
    with (d / "world.npz").open("wb") as handle:
        np.save(handle, np.zeros((3, 3)))


@pytest.mark.parametrize(("damage", "message"), [
    (truncated_npz, "world.npz: not a readable .npz file"),
    (lambda d: (d / "world.npz").write_bytes(b""), "world.npz: not a readable .npz file (empty file)"),
    (npy_as_npz, "world.npz: not a readable .npz file (a single .npy array, not an .npz archive of named arrays)"),
    (lambda d: rewrite_meta(d, n_train_users="20"),
     "world.json: n_train_users must be an integer in [0, 40], got '20' (str)"),
    (lambda d: rewrite_meta(d, n_train_users=41), "world.json: n_train_users must be an integer in [0, 40], got 41"),
    (lambda d: rewrite_meta(d, name=["x"]), "world.json: name must be a string, got ['x'] (list)"),
    (lambda d: (d / "world.json").write_text("[" * 100_000 + "]" * 100_000),
     "world.json, line 1: invalid JSON (nested too deeply)"),
    (lambda d: (d / "world.json").write_bytes(b'{\n"name": "a",\n"seed": "\xff"\n}\n'),
     "world.json, line 3: not UTF-8 text (invalid start byte at byte 10 of the line)"),
    (lambda d: (d / "world.json").write_text('{\n"seed": ' + "9" * 4301 + "}"),
     "world.json, line 2: invalid JSON (an integer of more than 4300 digits)"),
])
def test_malformed_world_files_are_one_line(tmp_path, tiny_world_dir, capsys, damage, message):
    directory = copy_world(tiny_world_dir, tmp_path)
    damage(directory)
    with pytest.raises(DataFormatError) as error:
        World.load(directory)
    assert message in str(error.value)
    code, err = run_on(directory, tmp_path, capsys)
    assert code == 2 and err.count("\n") == 1 and message in err
    assert not (tmp_path / "runs").exists()


def user_line(directory, number, text):
    path = directory / "user_data.json"
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = text
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize(("line", "message"), [
    (b'{"user_id": 2, "history": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "user_data.json, line 3: invalid JSON (nested too deeply)"),
    (b'{"user_id": 2, "history": [], "x": "\xc3("}', "user_data.json, line 3: not UTF-8 text"),
    (b'{"user_id": ' + b"9" * 4301 + b', "history": []}',
     "user_data.json, line 3: invalid JSON (an integer of more than 4300 digits)"),
])
def test_malformed_json_lines_are_one_line(tmp_path, tiny_world_dir, capsys, line, message):
    directory = copy_world(tiny_world_dir, tmp_path)
    user_line(directory, 3, line)
    with pytest.raises(DataFormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        list(read_json_lines(directory / "user_data.json"))
    code, err = run_on(directory, tmp_path, capsys)
    assert code == 2 and err.count("\n") == 1 and message in err


def test_undecodable_bytes_far_into_a_json_lines_file_name_their_line(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"a": "' + b"x" * 100 + b'"}\n' * 1 + b"".join(b'{"a": %d}\n' % i for i in range(2, 5000))
                     + b'{"a": "\xff"}\n' + b'{"a": 1}\n' * 100)
    with pytest.raises(DataFormatError, match=r"big.jsonl, line 5000: not UTF-8 text"):
        list(read_json_lines(path))


# --- the CSV importer's line for undecodable bytes ------------------------------------------------------------
@pytest.mark.parametrize("bad_line", [2, 3, 700, 4999])
def test_csv_importer_names_the_line_of_undecodable_bytes(tmp_path, bad_line):
    (tmp_path / "items.csv").write_text("item\n" + "".join(f"i{i}\n" for i in range(10)))
    rows = [b"user,item"] + [b"u%d,i%d" % (n % 7, n % 10) for n in range(2, 5001)]
    rows[bad_line - 1] = b"u\xe9,i1"  # Latin-1, not UTF-8
    (tmp_path / "interactions.csv").write_bytes(b"\r\n".join(rows) + b"\r\n")
    with pytest.raises(DataFormatError) as error:
        read_interactions_csv(tmp_path)
    assert f"interactions.csv, line {bad_line}: not UTF-8 text" in str(error.value)


# --- finite but extreme values --------------------------------------------------------------------------------
def rewrite_arrays(directory, users=1.0, items=1.0, dtype=None):
    with np.load(directory / "world.npz") as arrays:
        data = dict(arrays)
    data["user_embeddings"] = data["user_embeddings"].astype(np.float64) * users
    data["item_embeddings"] = data["item_embeddings"].astype(np.float64) * items
    if dtype is not None:
        data["item_embeddings"] = data["item_embeddings"].astype(dtype)
    np.savez(directory / "world.npz", **data)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: rewrite_arrays(d, users=1e20, items=1e20),
     "world.npz: the largest possible score, max |user_embeddings row| * max |item_embeddings row|"),
    (lambda d: rewrite_arrays(d, users=1e39), "world.npz: user_embeddings holds values outside float32's range"),
    (lambda d: rewrite_arrays(d, dtype=np.complex64),
     "world.npz: item_embeddings must hold real numbers (integers or floats), got dtype complex64"),
    (lambda d: rewrite_meta(d, rules={"no_click_threshold": 1e308}),
     "world.json: rules: |Rules.no_click_threshold| / Rules.temperature must stay within float range"),
    (lambda d: rewrite_meta(d, rules={"temperature": 1e-320}),
     "world.json: rules: |Rules.no_click_threshold| / Rules.temperature must stay within float range"),
    (lambda d: (rewrite_arrays(d, users=1e18, items=1e18), rewrite_meta(d, rules={"temperature": 1e-290})),
     "world.npz: the largest possible score"),
])
def test_extreme_values_are_rejected_at_load(tmp_path, tiny_world_dir, capsys, damage, message):
    directory = copy_world(tiny_world_dir, tmp_path)
    damage(directory)
    with pytest.raises(DataFormatError) as error:
        World.load(directory)
    assert message in str(error.value)
    code, err = run_on(directory, tmp_path, capsys)
    assert code == 2 and err.count("\n") == 1 and message in err


def test_large_but_safe_values_still_load_and_play(tmp_path, tiny_world_dir, capsys):
    directory = copy_world(tiny_world_dir, tmp_path)
    rewrite_arrays(directory, users=1e15, items=1e15)  # scores near 1e30: within float32, a sharp softmax
    World.load(directory)
    code, _ = run_on(directory, tmp_path, capsys)
    assert code == 0
    summary = json.loads(next((tmp_path / "runs").iterdir()).joinpath("summary.json").read_text())
    assert 0.0 <= summary["mean_score"] < 1.0 and np.isfinite(summary["mean_score"])


def test_rules_refuse_a_threshold_whose_softmax_logit_overflows():
    with pytest.raises(ValueError, match=r"\|Rules.no_click_threshold\| / Rules.temperature"):
        Rules(no_click_threshold=1e308)
    with pytest.raises(ValueError, match=r"\|Rules.no_click_threshold\| / Rules.temperature"):
        Rules(no_click_threshold=-1e300, temperature=1e-10)
    Rules(no_click_threshold=1e300, temperature=0.1)  # huge but finite logits: allowed


# --- News Category: the same file and seed give the same world, whatever PYTHONHASHSEED ---------------------------
def test_news_category_import_does_not_depend_on_the_hash_seed(tmp_path):
    topics = {"SPORTS": "match goal team season coach league final score", "FOOD": "recipe bread cheese dinner "
              "oven salad soup spice", "TRAVEL": "trip hotel beach flight island museum city train"}
    rows = []
    for i in range(90):
        category = list(topics)[i % 3]
        words = topics[category].split()
        rows.append({"headline": " ".join(words[(i + j * 3) % 8] for j in range(4)) + f" story {i % 7}",
                     "category": category, "short_description": f"the {words[i % 8]} and {words[(i + 5) % 8]}"})
    source = tmp_path / "news.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    worlds = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"world{hash_seed}"
        subprocess.run([sys.executable, "-c", "from recsim_lab.cli import main; raise SystemExit(main())", "data",
                        "import", "news-category", str(source), "--out", str(out), "--users", "60",
                        "--min-history", "2"],
                       env={**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}, check=True,
                       capture_output=True)
        worlds.append((out / "world.npz").read_bytes())
    assert worlds[0] == worlds[1]


# --- full disk, read-only --out, umask ------------------------------------------------------------------------
def test_outputs_honour_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        os.umask(0o002)
        atomic_write_text(tmp_path / "b.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o664


def full_disk(monkeypatch, after_bytes=10):
    """Every atomic write fails with ENOSPC once ``after_bytes`` of it are written, as a full disk does."""
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, handle):
            self.handle, self.written = handle, 0

        def write(self, data):
            if self.written + len(data) > after_bytes:
                self.handle.write(data[: after_bytes - self.written])
                self.handle.flush()
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.written += len(data)
            return self.handle.write(data)

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    monkeypatch.setattr("recsim_lab.atomic.os.fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))


def every_file(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize("command", [
    ["run", "--env", "{world}", "--agent", "random", "--episodes", "1", "--no-progress", "--no-report",
     "--out", "{out}"],
    ["export-datalab", "{out}/kit", "--env", "{world}"],
    ["data", "import", "csv", "{csv}", "--out", "{out}/world", "--min-history", "1"],
])
def test_a_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path, tiny_world_dir, monkeypatch, capsys, command):
    csv = tmp_path / "csv"
    csv.mkdir()
    (csv / "items.csv").write_text("item\n" + "".join(f"i{i}\n" for i in range(8)))
    (csv / "interactions.csv").write_text("user,item\n" + "".join(f"u{n % 3},i{n % 8}\n" for n in range(40)))
    out = tmp_path / "out"
    out.mkdir()
    full_disk(monkeypatch)
    args = [a.format(world=tiny_world_dir, out=out, csv=csv) for a in command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "Traceback" not in err
    assert every_file(out) == []  # no half-written file, no temporary, no empty run or staging folder


@pytest.mark.parametrize("command", [
    ["run", "--env", "{world}", "--agent", "random", "--episodes", "1", "--no-progress", "--no-report",
     "--out", "{out}/runs"],
    ["export-datalab", "{out}/kit", "--env", "{world}"],
])
def test_a_read_only_out_is_one_line(tmp_path, tiny_world_dir, monkeypatch, capsys, command):
    out = tmp_path / "out"
    out.mkdir()
    if os.geteuid() == 0:  # root writes through permission bits: a read-only file system says so instead
        def read_only(*args, **kwargs):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(out))

        monkeypatch.setattr("recsim_lab.atomic.tempfile.mkstemp", read_only)
        monkeypatch.setattr("pathlib.Path.mkdir", read_only)
    else:
        out.chmod(0o555)
    try:
        assert main([a.format(world=tiny_world_dir, out=out) for a in command]) == 2
    finally:
        out.chmod(0o755)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("recsim-lab: error: ") and "Traceback" not in err
    assert str(out) in err and every_file(out) == []


# --- a closed pipe ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["agents", "envs"])
def test_a_reader_that_has_gone_gets_no_traceback(command):
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first byte, as `| head -1` may be by the flush at exit
    try:
        writer = subprocess.run([sys.executable, "-c", "from recsim_lab.cli import main; raise SystemExit(main())",
                                 command], stdout=write, stderr=subprocess.PIPE, timeout=120,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        os.close(write)
    assert writer.stderr == b"" and writer.returncode == 1


# --- a killed import's staging folder -----------------------------------------------------------------------------
def test_a_killed_imports_staging_folder_is_cleaned_by_the_next_import(tmp_path, capsys):
    csv = tmp_path / "csv"
    csv.mkdir()
    (csv / "items.csv").write_text("item\n" + "".join(f"i{i}\n" for i in range(8)))
    (csv / "interactions.csv").write_text("user,item\n" + "".join(f"u{n % 3},i{n % 8}\n" for n in range(40)))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    stale = tmp_path / f".world.{dead}.abc123.importing"
    stale.mkdir()
    (stale / "world.npz").write_bytes(b"half")
    live = tmp_path / f".world.{os.getpid()}.def456.importing"  # an import still running (this process)
    live.mkdir()
    assert main(["data", "import", "csv", str(csv), "--out", str(tmp_path / "world"), "--min-history", "1"]) == 0
    assert "removed a killed import's staging folder" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["csv", "world", live.name])
