"""Importers on tiny hand-written files in each format, their errors (file, line, problem), the id mapping,
and the import pipeline end to end (atomic world directories, ``data`` commands, ``--original-ids``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recsim_lab.cli.commands import main
from recsim_lab.data.ids import IdMap, load_ids, save_ids
from recsim_lab.data.interactions_csv import read_interactions_csv
from recsim_lab.data.mind import read_mind
from recsim_lab.data.movielens import read_movielens_1m, read_movielens_100k
from recsim_lab.data.news_category import read_news_category
from recsim_lab.errors import DataFormatError
from recsim_lab.worlds.importing import ImportConfig, build_world, import_world, read_log
from recsim_lab.worlds.world import World

# --- MovieLens 100K: 3 genres; user "10" sorts after "2"; item 5 is never rated ------------------------------
GENRES = "unknown|0\nAction|1\nComedy|2\n"
ITEMS_100K = ("1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n"
              "2|GoldenEye (1995)|01-Jan-1995||http://x|0|1|0\n"
              "3|Café Society|01-Jan-1999||http://x|0|1|1\n"
              "4|Heat (1995)|01-Jan-1995||http://x|0|1|0\n"
              "5|Casino (1995)|01-Jan-1995||http://x|1|0|0\n"
              "6|Babe (1995)|01-Jan-1995||http://x|0|0|1\n")
# user 2: 1 then 3 then 2 (by time); user 10: 4, 6, 1, 2 (time ties keep file order); user 7: one rating
RATINGS_100K = ("2\t3\t4\t200\n10\t4\t5\t100\n2\t1\t3\t100\n10\t6\t1\t100\n7\t1\t5\t50\n"
                "2\t2\t5\t300\n10\t1\t2\t300\n10\t2\t3\t400\n2\t3\t1\t500\n")


def ml100k(directory, ratings=RATINGS_100K, items=ITEMS_100K, genres=GENRES):
    (directory / "u.data").write_text(ratings, encoding="latin-1")
    (directory / "u.item").write_text(items, encoding="latin-1")
    (directory / "u.genre").write_text(genres, encoding="latin-1")
    return directory


def user_log(log, original_user):
    """A user's clicks as original item ids, in time order (ties by file order)."""
    user = log.users.index(original_user)
    rows = np.flatnonzero(log.event_user == user)
    rows = rows[np.lexsort((rows, log.event_time[rows]))]
    return log.items.decode(log.event_item[rows])


def test_movielens_100k_reads_items_users_and_time_order(tmp_path):
    log = read_movielens_100k(ml100k(tmp_path))
    assert log.items.originals == ["1", "2", "3", "4", "5", "6"]
    assert log.users.originals == ["2", "7", "10"]  # numeric order
    assert log.headlines[2] == "Café Society" and log.descriptions[2] == "Action, Comedy; 1999"
    assert log.descriptions[0] == "Comedy; 1995" and log.categories[:3] == ["Comedy", "Action", "Action"]
    assert log.categories[4] == "unknown"
    assert user_log(log, "2") == ["1", "3", "2", "3"]
    assert user_log(log, "10") == ["4", "6", "1", "2"]
    assert log.n_events == 9 and log.source["format"] == "movielens-100k"


def test_movielens_1m_reads_double_colon_files(tmp_path):
    (tmp_path / "movies.dat").write_text("1::Toy Story (1995)::Animation|Children's|Comedy\n"
                                         "7::Sabrina (1995)::Comedy|Romance\n", encoding="latin-1")
    (tmp_path / "ratings.dat").write_text("1::7::5::978300760\n1::1::3::978300700\n3::1::4::978300000\n",
                                          encoding="latin-1")
    log = read_movielens_1m(tmp_path)
    assert log.items.originals == ["1", "7"] and log.users.originals == ["1", "3"]
    assert log.descriptions[0] == "Animation, Children's, Comedy; 1995" and log.categories == ["Animation", "Comedy"]
    assert user_log(log, "1") == ["1", "7"]


MALFORMED_MOVIELENS = [
    ({"ratings": "1\t1\t5\t10\n2\t1\t5\n"}, "u.data, line 2: expected 4 tab-separated fields"),
    ({"ratings": "1\t1\t5\t10\n\n1\tx\t5\t10\n"}, "u.data, line 3: item must be an integer, got 'x'"),
    ({"ratings": "1\t1\tgood\t10\n"}, "u.data, line 1: rating must be a number, got 'good'"),
    ({"ratings": "1\t1\t5\t10\n1\t9\t5\t10\n"}, "u.data, line 2: item 9 is not in u.item"),
    ({"items": ITEMS_100K + "7|Seven (1995)|||x|0|1\n"}, "u.item, line 7: expected 8 '|'-separated fields"),
    ({"items": ITEMS_100K + "7|Seven (1995)|||x|0|1|2\n"}, "u.item, line 7: genre flags must be 0 or 1, got '2'"),
    ({"items": ITEMS_100K + "2|Again (1995)|||x|0|1|0\n"},
     "u.item, line 7: movie id 2 is listed twice (first on line 2)"),
    ({"genres": "unknown|0\nAction\n"}, "u.genre, line 2: expected 'name|index'"),
]


@pytest.mark.parametrize(("files", "message"), MALFORMED_MOVIELENS)
def test_malformed_movielens_names_file_line_and_problem(tmp_path, files, message):
    ml100k(tmp_path, **files)
    with pytest.raises(DataFormatError) as error:
        read_movielens_100k(tmp_path)
    assert str(error.value).startswith(str(tmp_path)) and message in str(error.value)


def test_missing_movielens_file_is_reported(tmp_path):
    ml100k(tmp_path)
    (tmp_path / "u.genre").unlink()
    with pytest.raises(DataFormatError, match="u.genre: file not found"):
        read_movielens_100k(tmp_path)
    (tmp_path / "ratings.dat").write_text("1::1::5::1\n")
    with pytest.raises(DataFormatError, match="movies.dat: file not found"):
        read_movielens_1m(tmp_path)


# --- MIND ------------------------------------------------------------------------------------------------------
NEWS = ("N1\tsports\tfootball\tCup final tonight\tThe abstract of one.\thttp://x\t[]\t[]\n"
        "N2\tnews\tworld\tElections held\tAbstract two.\thttp://x\t[]\t[]\n"
        "N3\tfood\trecipes\tBread at home\n"
        "N4\tsports\ttennis\tOpen starts\tAbstract four.\thttp://x\t[]\t[]\n"
        "N5\tnews\tmarkets\tMarkets rally\tAbstract five.\thttp://x\t[]\t[]\n")
BEHAVIORS = ("1\tU7\t11/15/2019 10:00:00 AM\tN3 N9 N1\tN2-1 N4-0\n"
             "2\tU5\t11/15/2019 8:00:00 AM\t\tN4-1 N1-0\n"
             "3\tU7\t11/15/2019 9:00:00 AM\tN3 N9 N1\tN4-1 N8-1 N5-1\n")


def mind(directory, news=NEWS, behaviors=BEHAVIORS):
    (directory / "news.tsv").write_text(news, encoding="utf-8")
    (directory / "behaviors.tsv").write_text(behaviors, encoding="utf-8")
    return directory


def test_mind_history_then_clicked_impressions_in_time_order(tmp_path):
    log = read_mind(mind(tmp_path))
    assert log.items.originals == ["N1", "N2", "N3", "N4", "N5"] and log.users.originals == ["U5", "U7"]
    assert log.headlines[0] == "Cup final tonight" and log.descriptions[0] == "The abstract of one."
    assert log.descriptions[2] == "" and log.categories[3] == "sports"
    # U7: history N3, N1 (N9 unknown; the history repeats on each row), then N4 and N5 clicked at 9:00 (N8
    # unknown), then N2 at 10:00, although the 10:00 row comes first in the file
    assert user_log(log, "U7") == ["N3", "N1", "N3", "N1", "N4", "N5", "N2"]
    assert user_log(log, "U5") == ["N4"]
    assert log.source["unknown_news"] == {"ids": 2, "mentions": 3}  # N9 twice, N8 once


MALFORMED_MIND = [
    ({"behaviors": BEHAVIORS + "4\tU1\t11/15/2019 8:00:00 AM\tN1\n"},
     "behaviors.tsv, line 4: expected 5 tab-separated fields"),
    ({"behaviors": BEHAVIORS + "4\tU1\tyesterday\tN1\tN2-1\n"},
     "behaviors.tsv, line 4: time must look like 11/15/2019 8:55:22 AM, got 'yesterday'"),
    ({"behaviors": "1\tU1\t11/15/2019 8:00:00 AM\tN1\tN2-2\n"},
     "behaviors.tsv, line 1: impressions must be news-label pairs such as N123-1 (label 0 or 1), got 'N2-2'"),
    ({"behaviors": "1\tU1\t11/15/2019 8:00:00 AM\tN1\tN2\n"}, "behaviors.tsv, line 1: impressions must be"),
    ({"news": NEWS + "N6\tsports\n"}, "news.tsv, line 6: expected at least 4 tab-separated fields"),
    ({"news": NEWS + "N1\tsports\tx\tAgain\n"}, "news.tsv, line 6: news id 'N1' is listed twice (first on line 1)"),
]


@pytest.mark.parametrize(("files", "message"), MALFORMED_MIND)
def test_malformed_mind_names_file_line_and_problem(tmp_path, files, message):
    mind(tmp_path, **files)
    with pytest.raises(DataFormatError) as error:
        read_mind(tmp_path)
    assert message in str(error.value)


# --- News Category ---------------------------------------------------------------------------------------------
def news_lines(n=40):
    topics = [("SPORTS", "match goal team season coach"), ("POLITICS", "vote senate law election party"),
              ("FOOD", "recipe bread cheese dinner oven"), ("TRAVEL", "trip hotel beach flight island")]
    rows = []
    for i in range(n):
        category, words = topics[i % 4]
        w = words.split()
        rows.append({"headline": f"{w[i % 5].title()} and {w[(i + 2) % 5]} news {i}", "category": category,
                     "short_description": f"About the {w[(i + 1) % 5]} and the {w[(i + 3) % 5]}.",
                     "link": f"https://example.org/{i}", "authors": "A", "date": "2022-09-23"})
    return rows


def test_news_category_is_a_catalogue_without_users(tmp_path):
    rows = news_lines(3)
    del rows[1]["short_description"]
    path = tmp_path / "news.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    log = read_news_category(path)
    assert log.n_items == 3 and log.n_users == 0 and log.n_events == 0
    assert log.items.originals == ["1", "2", "3"] and log.descriptions[1] == ""
    assert log.categories == ["SPORTS", "POLITICS", "FOOD"]


@pytest.mark.parametrize(("line", "message"), [
    ('{"category": "X"}', "line 2: missing field 'headline'"),
    ('{"headline": "H", "category": 3}', "line 2: field 'category' must be a string, got 3"),
    ('{"headline": "H", "category": "X"', "line 2: invalid JSON"),
])
def test_malformed_news_category(tmp_path, line, message):
    path = tmp_path / "news.jsonl"
    path.write_text(json.dumps(news_lines(1)[0]) + "\n" + line + "\n")
    with pytest.raises(DataFormatError, match="news.jsonl, " + message.replace("(", r"\(")):
        read_news_category(path)


# --- generic CSV -----------------------------------------------------------------------------------------------
ITEMS_CSV = ('item,headline,category,extra\na,"Hello, world",greetings,1\nb,Second,,2\nc,,misc,3\n'
             'd,Fourth,misc,4\ne,Fifth,misc,5\nf,Sixth,greetings,6\n')
INTERACTIONS_CSV = ("user,item,timestamp,rating\n"
                    "alice,b,2024-01-02T00:00:00,5\nalice,a,2024-01-01T00:00:00,4\n"
                    '"bob, jr",c,1704067200,3\n"bob, jr",zz,1704067300,3\nalice,d,1704240000,1\n'
                    '"bob, jr",f,1704067400,2\nalice,e,1704326400,2\n')


def csv_dir(directory, items=ITEMS_CSV, interactions=INTERACTIONS_CSV):
    (directory / "items.csv").write_text(items)
    (directory / "interactions.csv").write_text(interactions)
    return directory


def test_csv_pair_reads_quoted_fields_iso_and_numeric_times(tmp_path):
    log = read_interactions_csv(csv_dir(tmp_path))
    assert log.items.originals == list("abcdef")
    assert log.headlines[:4] == ["Hello, world", "Second", "item c", "Fourth"]
    assert log.categories[:4] == ["greetings", "", "misc", "misc"]
    assert log.users.originals == ["alice", "bob, jr"]
    assert user_log(log, "alice") == ["a", "b", "d", "e"] and user_log(log, "bob, jr") == ["c", "f"]
    assert log.source["unknown_items"] == {"ids": 1, "mentions": 1}


def test_csv_without_timestamp_uses_file_order(tmp_path):
    log = read_interactions_csv(csv_dir(tmp_path, interactions="item,user\nd,u1\na,u1\n"))
    assert user_log(log, "u1") == ["d", "a"] and log.source["time"] == "file order"


@pytest.mark.parametrize(("files", "message"), [
    ({"interactions": "who,item\nx,a\n"}, "interactions.csv, line 1: the header must name the column(s) ['user']"),
    ({"interactions": "user,item\nx,a\ny,b,c\n"}, "interactions.csv, line 3: expected 2 fields (user,item), got 3"),
    ({"interactions": "user,item,timestamp\nx,a,soon\n"},
     "interactions.csv, line 2: timestamp must be a number or an ISO 8601 date-time, got 'soon'"),
    ({"interactions": "user,item,rating\nx,a,five\n"}, "interactions.csv, line 2: rating must be a number"),
    ({"interactions": "user,item\n,a\n"}, "interactions.csv, line 2: empty user id"),
    ({"items": "item\na\na\n"}, "items.csv, line 3: item 'a' is listed twice (first on line 2)"),
    ({"items": ""}, "items.csv: empty file"),
])
def test_malformed_csv_names_file_line_and_problem(tmp_path, files, message):
    csv_dir(tmp_path, **files)
    with pytest.raises(DataFormatError) as error:
        read_interactions_csv(tmp_path)
    assert message in str(error.value)


# --- ids -------------------------------------------------------------------------------------------------------
def test_id_map_round_trips_through_ids_json(tmp_path):
    users, items = IdMap.sorted_from(["10", "2", "33", "2"]), IdMap(["N9", "N1", "é, \"q\""])
    assert users.originals == ["2", "10", "33"]
    assert IdMap.sorted_from(["b", "a10", "a2"]).originals == ["a10", "a2", "b"]
    assert users.encode(["33", "2", "nope"]).tolist() == [2, 0, -1] and users.decode([1, 2]) == ["10", "33"]
    save_ids(tmp_path, users, items)
    assert load_ids(tmp_path) == (users, items)
    with pytest.raises(ValueError, match="'x' occurs more than once"):
        IdMap(["x", "y", "x"])


@pytest.mark.parametrize(("text", "message"), [
    ("{", "ids.json, line 1: invalid JSON"),
    ('{"users": ["1"], "items": [1]}', "expected 'items': a list of original ids"),
    ('{"users": ["1", "1"], "items": []}', "users: original ids must be unique"),
])
def test_malformed_ids_json(tmp_path, text, message):
    (tmp_path / "ids.json").write_text(text)
    with pytest.raises(DataFormatError, match=message.replace("(", r"\(")):
        load_ids(tmp_path)


# --- the pipeline ----------------------------------------------------------------------------------------------
def test_import_maps_ids_splits_by_time_and_round_trips(tmp_path):
    out = tmp_path / "world"
    imported = import_world("movielens-100k", ml100k(tmp_path), out, ImportConfig(min_history=3))
    world = World.load(out)
    users, items = load_ids(out)
    assert users == imported.users and items == imported.items
    assert users.originals == ["2", "10"]  # user 7 has one rating < min_history
    assert items.originals == ["1", "2", "3", "4", "6"]  # movie 5 was never rated: dropped
    log = read_log("movielens-100k", tmp_path)
    for user, original in enumerate(users.originals):
        full = list(dict.fromkeys(user_log(log, original)))  # repeated clicks count once, at the first
        visible = items.decode(world.dataset.histories[user])
        future = items.decode(world.futures[user])
        assert visible + future == full and len(future) == len(full) // 2
    assert world.info["split"]["users_dropped"] == 1 and world.info["split"]["repeated_clicks_dropped"] == 1
    assert world.info["provenance"]["format"] == "movielens-100k"
    assert world.info["calibration"]["scale"] > 0 and world.rules.choice == "softmax"
    assert {p.name for p in out.iterdir()} == {"user_data.json", "item_data.json", "world.npz", "ids.json",
                                              "world.json"}


def test_mind_and_csv_import_end_to_end(tmp_path):
    (tmp_path / "m").mkdir()
    world = build_world("mind", mind(tmp_path / "m"), ImportConfig(min_history=2)).world
    assert world.dataset.n_users == 1 and world.info["provenance"]["unknown_news"]["ids"] == 2
    (tmp_path / "c").mkdir()
    imported = build_world("csv", csv_dir(tmp_path / "c"), ImportConfig(min_history=1, holdout=0.25))
    assert imported.users.originals == ["alice", "bob, jr"]
    assert [f.size for f in imported.world.futures] == [1, 0]  # floor(4 * 0.25), floor(2 * 0.25)


def test_failed_import_writes_nothing(tmp_path, monkeypatch):
    (tmp_path / "src").mkdir()
    source = ml100k(tmp_path / "src", ratings=RATINGS_100K + "1\t1\t5\n")
    out = tmp_path / "out" / "world"
    with pytest.raises(DataFormatError, match="u.data, line 10"):
        import_world("movielens-100k", source, out)
    assert not out.parent.exists()

    def broken_disk(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("recsim_lab.worlds.importing.save_ids", broken_disk)  # fails after the world files are written
    with pytest.raises(OSError, match="disk full"):
        import_world("movielens-100k", ml100k(source), out, ImportConfig(min_history=3))
    assert not any(out.parent.iterdir())  # the staging directory is gone too
    monkeypatch.undo()
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="exists and is not empty"):
        import_world("movielens-100k", ml100k(tmp_path / "src"), out, ImportConfig(min_history=3))
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    import_world("movielens-100k", ml100k(tmp_path / "src"), out, ImportConfig(min_history=3), force=True)
    assert (out / "world.npz").is_file() and not (out / "keep.txt").exists()
    assert [p.name for p in out.parent.iterdir()] == ["world"]  # no staging or retired directory left


def test_news_category_import_generates_users_over_real_texts(tmp_path):
    path = tmp_path / "news.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in news_lines(60)))
    from recsim_lab.worlds.catalogue_users import CatalogueUsersConfig

    config = ImportConfig(min_history=3, catalogue_users=CatalogueUsersConfig(n_users=30, attractive_items=6,
                                                                              mean_clicks=10.0, min_clicks=4))
    first = build_world("news-category", path, config).world
    again = build_world("news-category", path, config).world
    np.testing.assert_array_equal(first.user_embeddings, again.user_embeddings)
    assert first.dataset.n_items == 60 and first.dataset.headlines[0] == news_lines(1)[0]["headline"]
    assert all(h.size + f.size >= 3 for h, f in zip(first.dataset.histories, first.futures))
    assert first.info["calibration"]["fidelity"]["recall_at_k"] > first.info["calibration"]["fidelity"][
        "chance_recall_at_k"]


def test_data_commands_import_inspect_and_original_ids(tmp_path, capsys):
    out = tmp_path / "world"
    assert main(["data", "import", "csv", str(csv_dir(tmp_path)), "--out", str(out), "--min-history", "2"]) == 0
    assert "recall@6 of held-out items" in capsys.readouterr().out  # k = 50 capped by the 6 items
    assert main(["data", "inspect", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["users"] == 2 and report["items"] == 6 and report["fidelity"]["k"] == 6
    assert set(report["quick_scores"]) >= {"random", "popularity", "oracle"}
    assert report["quick_scores"]["oracle"]["click_rate"] >= report["quick_scores"]["random"]["click_rate"]
    assert report["popularity"]["spearman"] is None  # each item clicked by one user: no popularity to rank
    assert main(["data", "inspect", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "quick scores" in printed and "popularity kept: Spearman's rho undefined" in printed

    runs = tmp_path / "runs"
    assert main(["run", "--env", str(out), "--agent", "random", "--episodes", "1", "--original-ids",
                 "--out", str(runs), "--no-progress"]) == 0
    (run,) = runs.iterdir()
    assert (run / "scores.csv").read_text().splitlines()[1].startswith("alice,")


@pytest.mark.parametrize(("args", "message"), [
    (["data", "import", "movielens-100k", "{src}", "--out", "{out}"], "u.data, line 1: expected 4 tab-separated"),
    (["data", "import", "mind", "{tmp}/nowhere", "--out", "{out}"], "nowhere: not found"),
    (["data", "import", "csv", "{src}", "--out", "{out}", "--holdout", "1.5"], "holdout must be a float in (0, 1)"),
    (["run", "--env", "small", "--original-ids", "--out", "{out}"], "--original-ids needs an imported world"),
])
def test_data_command_errors(tmp_path, capsys, args, message):
    source = tmp_path / "src"
    source.mkdir()
    ml100k(source, ratings="1 1 5 10\n")
    args = [a.format(src=source, out=tmp_path / "out", tmp=tmp_path) for a in args]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_text_embedding_does_not_depend_on_the_string_hash_seed():
    """The same texts and seed give the same embedding in every process (Python salts str hashes per process,
    so a vocabulary built in set order would pair words with different random projections)."""
    script = ("import sys; from recsim_lab.worlds.catalogue_users import text_embedding; "
              "words = 'alpha beta gamma delta epsilon zeta eta theta iota kappa'.split(); "
              "texts = [' '.join(words[i:i + 4]) for i in range(7)]; "
              "sys.stdout.write(text_embedding(texts, 3, seed=5).round(12).tobytes().hex())")
    outputs = {subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
                              cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                              check=True).stdout for hash_seed in (1, 2, 3)}
    assert len(outputs) == 1
