"""The News Category Dataset (Misra, 2022; HuffPost 2012-2022) as an item catalogue.

JSON lines, one article per line: ``headline`` (string, required), ``short_description`` (string, may be
missing or empty), ``category`` (string, required), and fields not used here (``link``, ``authors``,
``date``). It has no users and no clicks: ``recsim_lab.worlds.importing`` generates users over its categories and its
text (see ``recsim_lab.worlds.catalogue_users``), so a world with real texts exists without a click log.

Item ids: the 1-based line number of the article in the file (always unique; the dataset's links are not).
"""

from __future__ import annotations

from pathlib import Path

from recsim_lab.data.clicklog import ClickLog
from recsim_lab.data.ids import IdMap
from recsim_lab.data.jsonl import read_json_lines
from recsim_lab.errors import DataFormatError


def read_news_category(path: str | Path) -> ClickLog:
    """Read a News Category JSON-lines file into a catalogue without users.

    Raises:
        DataFormatError: with file and line, for invalid JSON, a line that is not an object, or a missing
            or non-string ``headline`` / ``category`` (or a non-string ``short_description``).
    """
    path = Path(path)
    if path.is_dir():
        raise DataFormatError(path, "expected a JSON-lines file (e.g. News_Category_Dataset_v3.json), got a "
                                    "directory")
    ids, headlines, descriptions, categories = [], [], [], []
    for number, record in read_json_lines(path):
        fields = []
        for name, required in (("headline", True), ("short_description", False), ("category", True)):
            value = record.get(name)
            if value is None and not required:
                value = ""
            if not isinstance(value, str):
                problem = f"missing field {name!r}" if value is None else \
                    f"field {name!r} must be a string, got {value!r}"
                raise DataFormatError(path, problem, number)
            fields.append(value.strip())
        ids.append(str(number))
        headlines.append(fields[0])
        descriptions.append(fields[1])
        categories.append(fields[2])
    if not ids:
        raise DataFormatError(path, "no articles found")
    return ClickLog(items=IdMap(ids), headlines=headlines, descriptions=descriptions, categories=categories,
                    source={"format": "news-category", "path": str(path), "files": [path.name],
                            "items": len(ids), "categories": len(set(categories))})
