"""Score CSVs: validation with every problem and its line, and the leaderboard."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys

import numpy as np
import pytest

from recsim_lab.cli.commands import main
from recsim_lab.evaluation.leaderboard import (
    LEADERBOARD_HEADER,
    References,
    Scored,
    leaderboard_csv,
    rank,
    reference_scores,
    submission_names,
)
from recsim_lab.evaluation.submission import MAX_PROBLEMS, Submission, SubmissionError, read_submission
from recsim_lab.run.scoring import scores_csv

USERS = np.arange(4)
VALID = "user_id,avg_score\n0,0.5\n1,0.25\n2,0.0\n3,1.0\n"


def write(tmp_path, text: str, name: str = "sub.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_valid_submission(tmp_path):
    submission = read_submission(write(tmp_path, VALID), USERS)
    assert submission.users.tolist() == [0, 1, 2, 3] and submission.scores.tolist() == [0.5, 0.25, 0.0, 1.0]
    assert submission.mean_score == pytest.approx(0.4375)


def test_any_order_a_byte_order_mark_crlf_quotes_and_blank_lines_are_fine(tmp_path):
    text = '\ufeffuser_id,avg_score\r\n3,1.0\r\n\r\n"1",0.25\r\n0, 0.5\r\n2,0\r\n\r\n'
    path = tmp_path / "sub.csv"
    path.write_bytes(text.encode("utf-8"))
    assert read_submission(path, USERS).users.tolist() == [3, 1, 0, 2]


def test_the_runners_scores_csv_is_a_valid_submission(tmp_path):
    scores = np.array([0.1, 0.2, 0.3, 0.4]) / 3
    assert read_submission(write(tmp_path, scores_csv(USERS, scores)), USERS).scores.tolist() == scores.tolist()


@pytest.mark.parametrize(("text", "problems"), [
    ("", ["sub.csv: the file is empty; expected the header 'user_id,avg_score'"]),
    ("user,score\n0,0.5\n1,0.25\n2,0.0\n3,1.0\n",
     ["sub.csv, line 1: the header must be 'user_id,avg_score', got 'user,score'; the rows were not checked"]),
    ("user_id,avg_score\n0,0.5\n1,0.25\n2,0.0\n",
     ["sub.csv: 1 of 4 test users are missing: 3"]),
    ("user_id,avg_score\n0,0.5\n1,0.25\n2,0.0\n3,1.0\n1,0.3\n",
     ["sub.csv, line 6: user_id 1 appears twice (first on line 3)"]),
    ("user_id,avg_score\n0,0.5\n1,0.25\n2,high\n3,1.0\n",
     ["sub.csv, line 4: avg_score 'high' is not a number"]),
    ("user_id,avg_score\n0,0.5\n1,-0.25\n2,nan\n3,1.5\n",
     ["sub.csv, line 3: avg_score -0.25 is outside [0, 1]", "sub.csv, line 4: avg_score nan is outside [0, 1]",
      "sub.csv, line 5: avg_score 1.5 is outside [0, 1]"]),
    ("user_id,avg_score\nzero,0.5\n1,0.25\n2,0.0\n3,1.0\n",
     ["sub.csv, line 2: user_id 'zero' is not a non-negative integer", "sub.csv: 1 of 4 test users are missing: 0"]),
    ("user_id,avg_score\n0,0.5\n1,0.25\n2,0.0\n3,1.0\n9,0.1\n",
     ["sub.csv, line 6: user_id 9 is not a test user of this world (ids 0..3)"]),
    ("user_id,avg_score\n0,0.5,x\n1,0.25\n2,0.0\n3,1.0\n",
     ["sub.csv, line 2: expected 2 fields (user_id,avg_score), got 3: '0,0.5,x'",
      "sub.csv: 1 of 4 test users are missing: 0"]),
])
def test_every_problem_is_reported_with_its_line(tmp_path, text, problems):
    with pytest.raises(SubmissionError) as caught:
        read_submission(write(tmp_path, text), USERS)
    assert [p.replace(str(tmp_path) + "/", "") for p in caught.value.problems] == problems


def test_many_problems_in_one_file_are_all_reported(tmp_path):
    text = "user_id,avg_score\n0,2\n0,0.1\nx,0.1\n1,abc\n"
    with pytest.raises(SubmissionError) as caught:
        read_submission(write(tmp_path, text), USERS)
    assert len(caught.value.problems) == 5  # out of range, duplicate, not an id, not a number, missing users
    assert "line 2" in str(caught.value) and "line 5" in str(caught.value) and "missing: 2, 3" in str(caught.value)


def test_binary_garbage_is_a_submission_error(tmp_path):
    path = tmp_path / "sub.csv"
    path.write_bytes(b"user_id,avg_score\n\xff\xfe\x00\x01")
    with pytest.raises(SubmissionError, match="not UTF-8 text"):
        read_submission(path, USERS)


def problems_of(path, users=USERS, **options) -> list[str]:
    with pytest.raises(SubmissionError) as caught:
        read_submission(path, users, **options)
    return [p.replace(str(path.parent) + "/", "") for p in caught.value.problems]


def test_a_leading_blank_line_is_fine(tmp_path):
    assert read_submission(write(tmp_path, "\n\r\n" + VALID), USERS).users.tolist() == [0, 1, 2, 3]
    assert problems_of(write(tmp_path, "\nuser,score\n" + VALID)) == [
        "sub.csv, line 2: the header must be 'user_id,avg_score', got 'user,score'; the rows were not checked"]


def test_a_csv_error_names_the_line_it_is_on(tmp_path):
    text = "user_id,avg_score\n0,0.5\n1," + "9" * 200_000 + "\n2,0.0\n3,1.0\n"
    assert problems_of(write(tmp_path, text)) == [
        "sub.csv, line 3: not CSV text (field larger than field limit (131072)); the rest was not checked"]


def test_a_row_over_two_lines_is_named_by_its_first_line(tmp_path):
    text = 'user_id,avg_score\n0,0.5\n"1\n",0.25\n2,0.0\n3,1.0\n1,0.3\n'
    assert problems_of(write(tmp_path, text)) == ["sub.csv, line 7: user_id 1 appears twice (first on line 3)"]


def test_undecodable_bytes_are_named_by_their_line_and_the_rest_is_checked(tmp_path):
    path = tmp_path / "sub.csv"
    path.write_bytes(b"user_id,avg_score\r\n0,0.5\r\n1,\xff0.25\r\n2,0.0\r\n3,1.0\r\n3,1.0\r\n")
    assert problems_of(path) == ["sub.csv, line 3: not UTF-8 text (byte 0xff at column 3)",
                                 "sub.csv, line 6: user_id 3 appears twice (first on line 5)",
                                 "sub.csv: 1 of 4 test users are missing: 1"]


def test_a_user_id_of_thousands_of_digits_is_a_problem_not_a_crash(tmp_path):
    text = "user_id,avg_score\n0,0.5\n1,0.25\n2,0.0\n3,1.0\n" + "7" * 5000 + ",0.1\n"
    assert problems_of(write(tmp_path, text)) == [
        "sub.csv, line 6: user_id '7777777777777777777777777777777777777777'... (5,000 characters) is not a test "
        "user of this world (ids 0..3)"]


def test_problems_are_listed_up_to_a_cap_and_counted(tmp_path):
    text = "user_id,avg_score\n" + "".join(f"{i},2\n" for i in range(4)) + "0,0.1\n" * 100
    with pytest.raises(SubmissionError) as caught:
        read_submission(write(tmp_path, text), USERS)
    assert len(caught.value.problems) == MAX_PROBLEMS and caught.value.total == 104
    assert str(caught.value).endswith("... and 84 more problem(s)")


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = write(tmp_path, VALID)
    assert problems_of(path, max_bytes=10) == [
        f"sub.csv: {len(VALID)} bytes, over the size limit of 10 bytes (--max-bytes); not read"]
    assert read_submission(path, USERS, max_bytes=len(VALID)).sha256 == hashlib.sha256(VALID.encode()).hexdigest()


def test_a_line_too_long_ends_the_reading(tmp_path):
    text = "user_id,avg_score\n0,0.5\n" + "1" * (3 << 20)
    assert problems_of(write(tmp_path, text)) == ["sub.csv, line 3: longer than 1,048,576 bytes; the rest was not "
                                                  "checked"]


MEASURE = """
import resource, sys
import numpy as np
from recsim_lab.evaluation.submission import SubmissionError, read_submission
users = np.arange(2000)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_submission(sys.argv[1], users, max_bytes=None)
except SubmissionError as error:
    assert error.total > 100_000, error.total
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_reading_streams_the_file(tmp_path):
    # ~6 MB of rows, each user many times: memory must not grow with the file (the unstreamed parser took
    # about 75 bytes per byte, some 450 MB here).
    path = tmp_path / "big.csv"
    block = "".join(f"{i},0.5\n" for i in range(2000)).encode()
    path.write_bytes(b"user_id,avg_score\n" + block * 400)
    grown_kib = int(subprocess.run([sys.executable, "-c", MEASURE, str(path)], check=True, capture_output=True,
                                   text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout)
    assert grown_kib < 40_000


def submission(scores) -> Submission:
    return Submission(None, np.arange(len(scores)), np.asarray(scores, dtype=float))


REFERENCES = References(random=0.1, oracle=0.3, episodes=5, seed=0)


def scored(name, scores, references=REFERENCES, verified=True, world="ab" * 32) -> Scored:
    return Scored(name, submission(scores), references, verified, world)


def test_ranking_is_best_first_ties_share_a_rank_and_keep_their_order():
    entries = rank([scored("a", [0.2]), scored("b", [0.3]), scored("c", [0.2]), scored("d", [0.1], verified=False)])
    assert [(e.rank, e.name) for e in entries] == [(1, "b"), (2, "a"), (2, "c"), (4, "d")]
    assert [e.normalised_score for e in entries] == pytest.approx([1.0, 0.5, 0.5, 0.0])
    assert [e.verification for e in entries] == ["verified"] * 3 + ["self-reported"]
    text = leaderboard_csv(entries)
    assert text.splitlines()[0] == LEADERBOARD_HEADER and text.splitlines()[1] == "1,b,0.3,1.0,1,verified,abababababab"


def test_submissions_on_different_worlds_rank_by_their_normalised_scores():
    easy = References(random=0.2, oracle=0.6, episodes=5, seed=0)
    entries = rank([scored("raw_higher", [0.4], easy, world="e" * 64), scored("raw_lower", [0.3])])
    assert [(e.name, e.rank, e.world) for e in entries] == [("raw_lower", 1, "ab" * 6),
                                                            ("raw_higher", 2, "e" * 12)]
    assert [e.normalised_score for e in entries] == pytest.approx([1.0, 0.5])


def test_leaderboard_quotes_names_as_csv_readers_expect():
    names = ['team "a", b', "line\nbreak", "plain"]
    entries = rank([scored(name, [0.2]) for name in names])
    rows = list(csv.reader(io.StringIO(leaderboard_csv(entries), newline="")))
    assert [row[1] for row in rows[1:]] == names


def test_names_are_stems_unless_they_collide():
    assert submission_names(["x/team_a.csv", "team_b.csv"]) == ["team_a", "team_b"]
    assert submission_names(["runs/a/scores.csv", "runs/b/scores.csv"]) == ["runs/a/scores.csv", "runs/b/scores.csv"]


def test_references_random_below_oracle(tiny_world):
    references = reference_scores(tiny_world, episodes=2)
    assert 0 < references.random < references.oracle <= 1
    assert references.normalise(references.oracle) == pytest.approx(1.0)


def test_score_command_ranks_the_valid_files_and_reports_the_others(tmp_path, tiny_world_dir, capsys):
    users = np.arange(40)
    good = write(tmp_path, scores_csv(users, np.full(40, 0.02)), "good.csv")
    better = write(tmp_path, scores_csv(users, np.full(40, 0.03)), "better.csv")
    bad = write(tmp_path, scores_csv(users[:-1], np.full(39, 0.5)), "bad.csv")
    out = tmp_path / "leaderboard.csv"
    assert main(["score", str(good), str(better), str(bad), "--env", str(tiny_world_dir), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "bad.csv: 1 of 40 test users are missing: 39" in captured.err and "left out" in captured.err
    rows = [line.split(",") for line in out.read_text().splitlines()]
    assert rows[0] == LEADERBOARD_HEADER.split(",")
    assert [(r[0], r[1], r[4]) for r in rows[1:]] == [("1", "better", "40"), ("2", "good", "40")]
    assert main(["score", str(good), "--env", str(tiny_world_dir)]) == 0
    assert "references on" in capsys.readouterr().out
