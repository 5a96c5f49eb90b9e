"""Secret worlds and receipts: evaluate on a world no submission can rebuild, sign its scores, and let score tell
verified results from what a file merely claims."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from recsim_lab.cli.commands import main
from recsim_lab.evaluation import evaluate as evaluate_module
from recsim_lab.evaluation import leaderboard
from recsim_lab.evaluation.evaluate import EvaluateConfig, evaluate
from recsim_lab.evaluation.leaderboard import score_submissions, submission_inputs
from recsim_lab.evaluation.receipts import (
    RECEIPT_FILE,
    ReceiptError,
    key_id,
    load_key,
    read_receipt,
    recorded_world_seed,
    submission_digest,
    verify_receipt,
    world_fingerprint,
)
from recsim_lab.run import runner as runner_module
from recsim_lab.run.runner import RunConfig, run
from recsim_lab.run.scoring import scores_csv
from recsim_lab.worlds.presets import make_world

WORLD_SEED = 0x5EC2E7_0F_F1CE  # large: a fixed secret-like seed, so that the comparisons below are deterministic

CHEAT = '''
from agents.registry import make_agent
from recsim_lab.worlds.presets import make_world


class RebuildsTheWorld:
    """Builds the preset from the public code and plays the oracle on it."""

    def __init__(self):
        self.oracle = make_agent("oracle", world=make_world("small"))

    def fit(self, data, *, seed):
        self.oracle.fit(data, seed=seed)

    def recommend(self, users, k):
        return self.oracle.recommend(users, k)

    def update(self, users, slates, clicks):
        self.oracle.update(users, slates, clicks)

    def save(self, path):
        self.oracle.save(path)

    def load(self, path):
        self.oracle.load(path)
'''


def evaluated(tmp_path, agent="popularity", env="small", **options):
    config = EvaluateConfig(agent=agent, env=str(env), episodes=1, out=str(tmp_path / "runs"), progress=False,
                            **options)
    outcome = evaluate(config)
    assert outcome.ok, outcome.summary
    return outcome


def test_a_preset_is_evaluated_on_a_fresh_secret_world_recorded_only_beside_the_key(tmp_path, organiser_key):
    first, second = evaluated(tmp_path), evaluated(tmp_path)
    seeds = [recorded_world_seed(organiser_key, o.summary["run_id"]) for o in (first, second)]
    assert seeds[0] != seeds[1] and min(seeds) > 0
    for outcome, seed in zip((first, second), seeds):
        receipt = read_receipt(outcome.directory / RECEIPT_FILE)
        assert receipt["settings"]["world_seed"] == "secret"
        assert receipt["world_fingerprint"] == world_fingerprint(make_world("small", seed=seed))
        for path in outcome.directory.rglob("*"):  # the run directory the submitter may see never names it
            assert not path.is_file() or str(seed).encode() not in path.read_bytes()
        record = organiser_key.parent / "world-seeds" / f"{outcome.summary['run_id']}.json"
        assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert stat.S_IMODE(organiser_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(organiser_key.parent.joinpath("world-seeds").stat().st_mode) == 0o700
    assert world_fingerprint(make_world("small", seed=seeds[0])) != world_fingerprint(make_world("small"))


def test_the_public_world_seed_gives_the_scores_of_run(tmp_path):
    outcome = evaluated(tmp_path, world_seed=0)
    plain = run(RunConfig(env="small", agent="popularity", episodes=1, out=str(tmp_path / "plain"),
                          progress=False)).directory
    assert (outcome.directory / "scores.csv").read_bytes() == (plain / "scores.csv").read_bytes()


def test_rebuilding_the_preset_from_public_code_no_longer_finds_the_world(tmp_path):
    cheat = tmp_path / "cheat.py"
    cheat.write_text(CHEAT)
    spec = f"{cheat}:RebuildsTheWorld"
    on_public = evaluated(tmp_path, spec, world_seed=0).summary["mean_score"]
    oracle = run(RunConfig(env="small", agent="oracle", episodes=1, out=str(tmp_path / "oracle"),
                           progress=False)).summary["mean_score"]
    assert on_public == oracle  # the attack, when the world is the public one
    on_secret = evaluated(tmp_path, spec, world_seed=WORLD_SEED).summary["mean_score"]
    popularity = evaluated(tmp_path, "popularity", world_seed=WORLD_SEED).summary["mean_score"]
    assert on_secret <= popularity


def test_a_world_seed_is_for_presets_only(tmp_path, tiny_world_dir, capsys):
    assert main(["evaluate", "popularity", "--env", str(tiny_world_dir), "--world-seed", "5", "--out",
                 str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a world seed applies to presets" in err
    assert not any(tmp_path.iterdir())


def test_a_guessable_world_seed_is_warned_about(tmp_path, capsys):
    assert main(["evaluate", "popularity", "--env", "small", "--episodes", "1", "--world-seed", "7", "--out",
                 str(tmp_path), "--no-progress"]) == 0
    assert "world seed 7 is small enough" in capsys.readouterr().err


def receipt_and_digest(outcome):
    return (read_receipt(outcome.directory / RECEIPT_FILE),
            hashlib.sha256((outcome.directory / "scores.csv").read_bytes()).hexdigest())


def test_a_receipt_verifies_and_any_change_breaks_it(tmp_path, organiser_key):
    outcome = evaluated(tmp_path)
    receipt, digest = receipt_and_digest(outcome)
    key = load_key(organiser_key)
    verdict = verify_receipt(receipt, digest, key, organiser_key)
    assert verdict.verified and verdict.env == "small"
    assert verdict.world_seed == recorded_world_seed(organiser_key, receipt["run_id"])
    with pytest.raises(ReceiptError, match="scores.csv is not the file the evaluation wrote"):
        verify_receipt(receipt, hashlib.sha256(b"other").hexdigest(), key, organiser_key)
    for field, value in [("settings", {**receipt["settings"], "episodes": 5}), ("env", "default"),
                         ("scores_sha256", "0" * 64), ("world_fingerprint", "1" * 64),
                         ("submission", {"spec": "x.py:A", "kind": "file", "sha256": "2" * 64})]:
        with pytest.raises(ReceiptError, match="does not match its fields"):
            verify_receipt({**receipt, field: value}, digest, key, organiser_key)
    with pytest.raises(ReceiptError, match="never shows its world seed"):
        verify_receipt({**receipt, "settings": {**receipt["settings"], "world_seed": 0}}, digest, key, organiser_key)
    other = verify_receipt(receipt, digest, os.urandom(32), organiser_key)
    assert not other.verified and "another key" in other.reason
    assert not verify_receipt(receipt, digest, None, organiser_key).verified
    (organiser_key.parent / "world-seeds" / f"{receipt['run_id']}.json").unlink()
    with pytest.raises(ReceiptError, match="no world-seed record"):
        verify_receipt(receipt, digest, key, organiser_key)


def test_the_receipt_names_the_submission_by_its_content(tmp_path):
    agent = tmp_path / "mine.py"
    agent.write_text("from agents.popularity import PopularityAgent as Mine\n")
    outcome = evaluated(tmp_path, f"{agent}:Mine")
    submission = read_receipt(outcome.directory / RECEIPT_FILE)["submission"]
    assert submission == {"spec": f"{agent}:Mine", "kind": "file",
                          "sha256": hashlib.sha256(agent.read_bytes()).hexdigest()}
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    before = submission_digest(f"{tmp_path / 'pkg'}:A")
    (tmp_path / "pkg" / "b.py").write_text("")
    assert submission_digest(f"{tmp_path / 'pkg'}:A")["sha256"] != before["sha256"]


def test_a_failed_evaluation_has_no_receipt(tmp_path, organiser_key):
    agent = tmp_path / "bad.py"
    agent.write_text("class Bad:\n    def __init__(self):\n        raise RuntimeError('no')\n")
    outcome = evaluate(EvaluateConfig(agent=f"{agent}:Bad", env="small", episodes=1, out=str(tmp_path),
                                      progress=False))
    assert not outcome.ok and not (outcome.directory / RECEIPT_FILE).exists()
    assert recorded_world_seed(organiser_key, outcome.summary["run_id"]) > 0  # reproducible all the same


def test_the_key_is_private_and_never_made_by_score(tmp_path, capsys):
    key_file = tmp_path / "k" / "receipt.key"
    assert load_key(key_file) is None and not key_file.exists()
    key = load_key(key_file, create=True)
    assert len(key) == 32 and load_key(key_file, create=True) == key and len(key_id(key)) == 16
    key_file.chmod(0o644)
    with pytest.raises(ReceiptError, match="chmod 600"):
        load_key(key_file)
    missing = tmp_path / "none.key"
    assert main(["score", str(tmp_path), "--verified-only", "--key", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--verified-only needs the organiser's key" in err and not missing.exists()


@pytest.fixture
def competition(tmp_path):
    """A folder holding one evaluated run and one hand-written CSV that claims a perfect score."""
    folder = tmp_path / "competition"
    outcome = evaluated(folder)
    run_dir = folder / "runs" / outcome.directory.name
    (folder / "hand.csv").write_text(scores_csv(np.arange(200), np.ones(200)))
    return folder, run_dir


def test_score_verified_only_over_a_folder_lists_only_the_evaluated_run(competition, tmp_path, capsys):
    folder, run_dir = competition
    out = tmp_path / "leaderboard.csv"
    assert main(["score", str(folder / "runs"), str(folder / "hand.csv"), "--verified-only", "--out",
                 str(out)]) == 0
    rows = out.read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith(f"1,{run_dir.name},") and ",verified," in rows[1]
    assert "left out (--verified-only): hand" in capsys.readouterr().err


def test_score_marks_a_hand_written_file_self_reported(competition, tmp_path, capsys):
    folder, run_dir = competition
    out = tmp_path / "leaderboard.csv"
    assert main(["score", str(folder / "runs" / run_dir.name), str(folder / "hand.csv"), "--env", "small",
                 "--out", str(out)]) == 0
    rows = [row.split(",") for row in out.read_text().splitlines()[1:]]
    assert [(r[1], r[5]) for r in rows] == [("hand", "self-reported"), (run_dir.name, "verified")]
    assert rows[0][3] != rows[1][3] and float(rows[0][3]) > 1  # the claim is shown, and marked
    captured = capsys.readouterr()
    assert "hand: self-reported (no receipt)" in captured.err and "above the oracle's" in captured.err
    assert "small (secret world)" in captured.out and "small (public world)" in captured.out


def test_score_needs_an_env_only_for_self_reported_files(competition, capsys):
    folder, _ = competition
    assert main(["score", str(folder / "hand.csv")]) == 2
    assert "give --env" in capsys.readouterr().err


def test_edited_scores_of_a_run_are_invalid(competition, organiser_key):
    folder, run_dir = competition
    scores = run_dir / "scores.csv"
    scores.write_text(scores.read_text().replace(",0.", ",0.9", 1))
    inputs, _ = submission_inputs([run_dir])
    scoring = score_submissions(inputs, env=None, key=load_key(organiser_key), key_file=organiser_key)
    assert not scoring.scored and "not the file the evaluation wrote" in scoring.invalid[0]


def test_a_run_signed_by_another_key_is_self_reported(competition, tmp_path):
    folder, run_dir = competition
    other = tmp_path / "other" / "receipt.key"
    inputs, _ = submission_inputs([folder / "runs"])
    scoring = score_submissions(inputs, env="small", key=load_key(other, create=True), key_file=other)
    assert [s.verified for s in scoring.scored] == [False]
    assert "signed by another key" in scoring.notes[0]


def test_a_folder_passes_over_failed_evaluations(tmp_path):
    failed = tmp_path / "failed_run"
    failed.mkdir()
    (failed / "summary.json").write_text(json.dumps({"status": "timeout"}))
    (tmp_path / "a.csv").write_text("user_id,avg_score\n")
    inputs, notes = submission_inputs([tmp_path])
    assert [i.name for i in inputs] == ["a"] and "failed_run: no scores" in notes[0]


@pytest.mark.parametrize("field", ["key_id", "hmac_sha256", "scores_sha256", "world_fingerprint"])
@pytest.mark.parametrize("value", ["é", "ab", "zz" * 32, "AB" * 32 + "é"])
def test_a_receipt_with_a_non_hex_digest_is_invalid_not_a_crash(competition, organiser_key, field, value):
    folder, run_dir = competition
    receipt = json.loads((run_dir / "receipt.json").read_text())
    receipt[field] = value
    (run_dir / "receipt.json").write_text(json.dumps(receipt))
    with pytest.raises(ReceiptError, match=field):
        read_receipt(run_dir / "receipt.json")
    inputs, _ = submission_inputs([run_dir])
    scoring = score_submissions(inputs, env=None, key=load_key(organiser_key), key_file=organiser_key)
    assert not scoring.scored and scoring.invalid and run_dir.name in scoring.invalid[0]


def test_any_receipt_error_makes_that_submission_invalid_not_the_command_crash(competition, organiser_key,
                                                                               monkeypatch, tmp_path):
    folder, run_dir = competition
    monkeypatch.setattr(leaderboard, "verify_receipt", lambda *args: 1 / 0)
    inputs, _ = submission_inputs([run_dir])
    scoring = score_submissions(inputs, env=None, key=load_key(organiser_key), key_file=organiser_key)
    assert not scoring.scored and "receipt" in scoring.invalid[0]


def test_a_copied_run_is_ranked_once(competition, organiser_key, tmp_path):
    folder, run_dir = competition
    copy = tmp_path / "elsewhere" / "copy_of_run"
    shutil.copytree(run_dir, copy)
    inputs, _ = submission_inputs([run_dir, copy])
    scoring = score_submissions(inputs, env=None, key=load_key(organiser_key), key_file=organiser_key)
    assert [s.verified for s in scoring.scored] == [True]
    assert len(scoring.invalid) == 1 and "copy_of_run" in scoring.invalid[0]
    assert "same run" in scoring.invalid[0] and run_dir.name in scoring.invalid[0]


def test_an_insecure_evaluation_is_not_verified_and_its_child_has_no_key(tmp_path, organiser_key, capsys):
    folder = tmp_path / "team"
    folder.mkdir()
    (folder / "agent.py").write_text(
        "import os\nfrom agents.popularity import PopularityAgent\n\n\nclass Agent(PopularityAgent):\n"
        "    def fit(self, data, *, seed):\n"
        "        assert 'RECSIM_LAB_KEY' not in os.environ, 'the key reached the child'\n"
        "        super().fit(data, seed=seed)\n")
    outcome = evaluated(tmp_path, agent=f"{folder / 'agent.py'}:Agent", insecure=True)
    out = tmp_path / "leaderboard.csv"
    assert main(["score", str(outcome.directory), "--out", str(out), "--env", "small"]) == 0
    assert ",verified-insecure," in out.read_text().splitlines()[1]
    capsys.readouterr()
    main(["score", str(outcome.directory), "--verified-only", "--out", str(out)])
    assert f"left out (--verified-only): {outcome.directory.name}" in capsys.readouterr().err


def test_a_relative_agent_path_works_and_the_receipt_is_written_before_the_summary(tmp_path, monkeypatch):
    folder = tmp_path / "subs" / "team7"
    folder.mkdir(parents=True)
    (folder / "agent.py").write_text("from agents.popularity import PopularityAgent\n")
    monkeypatch.chdir(tmp_path)
    order = []
    real_write_json = runner_module.write_json
    real_write_receipt = evaluate_module.write_receipt
    monkeypatch.setattr(runner_module, "write_json", lambda path, value: (order.append(Path(path).name),
                                                                           real_write_json(path, value)))
    monkeypatch.setattr(evaluate_module, "write_receipt", lambda *a, **k: (order.append("receipt.json"),
                                                                           real_write_receipt(*a, **k)))
    outcome = evaluated(tmp_path, "subs/team7/agent.py:PopularityAgent", world_seed=WORLD_SEED)
    assert outcome.ok
    assert order.index("receipt.json") < len(order) - 1 and order[-1] == "summary.json"
