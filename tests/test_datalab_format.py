"""Reading and writing the DataLab Cup directory format, and its errors (file, line, problem)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsim_lab.data.datalab import read_datalab, write_datalab
from recsim_lab.errors import DataFormatError

ITEMS = [
    {"item_id": 0, "headline": "A", "short_description": "a", "category": "X"},
    {"item_id": 1, "headline": "B", "short_description": "b"},
    {"item_id": 2, "headline": "C", "short_description": "c", "category": "Y"},
]
USERS = [{"user_id": 1, "history": [2]}, {"user_id": 0, "history": [0, 2, 1]}]


def write(directory, users=USERS, items=ITEMS, raw_users=None, raw_items=None):
    (directory / "user_data.json").write_text(
        raw_users if raw_users is not None else "".join(json.dumps(u) + "\n" for u in users))
    (directory / "item_data.json").write_text(
        raw_items if raw_items is not None else "".join(json.dumps(i) + "\n" for i in items))
    return directory


def test_read_orders_by_id_and_keeps_history_order(tmp_path):
    data = read_datalab(write(tmp_path))
    assert data.n_users == 2 and data.n_items == 3 and data.n_train_users == 1
    assert [h.tolist() for h in data.histories] == [[0, 2, 1], [2]]
    assert data.headlines == ["A", "B", "C"] and data.categories == ["X", "", "Y"]
    assert data.item_texts()[1] == "B b"


def test_write_then_read_round_trips(tmp_path, tiny_world):
    write_datalab(tiny_world.dataset, tmp_path)
    data = read_datalab(tmp_path, n_train_users=tiny_world.dataset.n_train_users)
    original = tiny_world.dataset
    assert list(data.headlines) == list(original.headlines)
    assert list(data.descriptions) == list(original.descriptions)
    assert list(data.categories) == list(original.categories)
    assert all(np.array_equal(a, b) for a, b in zip(data.histories, original.histories))


MALFORMED = [
    ({"raw_users": '{"user_id": 0, "history": [0]}\n{"user_id": 1, "history": [1\n'},
     "user_data.json, line 2: invalid JSON"),
    ({"raw_users": '{"user_id": 0, "history": [0]}\n[1, 2]\n'},
     "user_data.json, line 2: expected a JSON object, got list"),
    ({"users": [{"user_id": 0}]}, "user_data.json, line 1: missing field 'history'"),
    ({"users": [{"user_id": "0", "history": []}]}, "user_data.json, line 1: field 'user_id' must be an integer"),
    ({"users": [{"user_id": 0, "history": [0, 7]}]},
     "user_data.json, line 1: history has unknown item id 7 (item_data.json has ids 0..2)"),
    ({"users": [{"user_id": 0, "history": [0, 1.5]}]},
     "user_data.json, line 1: history entries must be integers, got 1.5"),
    ({"users": [{"user_id": 0, "history": []}, {"user_id": 0, "history": [1]}]},
     "user_data.json, line 2: duplicate user_id 0 (first on line 1)"),
    ({"users": [{"user_id": 0, "history": []}, {"user_id": 2, "history": []}]},
     "user_data.json, line 2: user_id values must be contiguous from 0; 2 found but 1 missing"),
    ({"items": [ITEMS[0], {"item_id": 1, "short_description": "b"}]},
     "item_data.json, line 2: missing field 'headline'"),
    ({"items": [ITEMS[0], ITEMS[0]]}, "item_data.json, line 2: duplicate item_id 0 (first on line 1)"),
    ({"items": [ITEMS[0], {**ITEMS[1], "headline": 3}]},
     "item_data.json, line 2: field 'headline' must be a string, got 3"),
]


@pytest.mark.parametrize(("files", "message"), MALFORMED)
def test_malformed_files_name_the_file_line_and_problem(tmp_path, files, message):
    write(tmp_path, **files)
    with pytest.raises(DataFormatError) as error:
        read_datalab(tmp_path)
    assert message in str(error.value)
    assert str(error.value).startswith(str(tmp_path))


def test_missing_file_is_reported(tmp_path):
    (tmp_path / "item_data.json").write_text(json.dumps(ITEMS[0]) + "\n")
    with pytest.raises(DataFormatError, match="user_data.json: file not found"):
        read_datalab(tmp_path)
