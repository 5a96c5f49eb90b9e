"""MIND, the Microsoft News Dataset (Wu et al., ACL 2020), as a click log.

A directory (e.g. ``MINDsmall_train/``) with two tab-separated UTF-8 files:

- ``news.tsv``: ``news id, category, subcategory, title, abstract, url, title entities, abstract entities``
  (the first four are required; a missing abstract reads as empty);
- ``behaviors.tsv``: ``impression id, user id, time (M/D/YYYY h:mm:ss AM), click history (space-separated
  news ids), impressions (space-separated news-label pairs such as N123-1 N456-0, label 1 = clicked)``.

Item text: headline = title, description = abstract, category = category. A user's clicks, in time order:
their click history (clicks before the logged period, in the order given, all at time ``-inf``), then the
clicked impressions by impression time. News ids that a history or an impression mentions but ``news.tsv``
lacks are counted (``source["unknown_news"]``) and dropped, not an error.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from recsim_lab.data.clicklog import ClickLog, CodeBook, note_first_listing, read_lines
from recsim_lab.data.ids import IdMap
from recsim_lab.errors import DataFormatError

_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
_EPOCH = datetime(1970, 1, 1)  # times are read as naive UTC, so the order never depends on the machine


def read_mind(directory: str | Path) -> ClickLog:
    """Read a MIND directory (``news.tsv``, ``behaviors.tsv``).

    Raises:
        DataFormatError: with file and line, for a missing file, too few fields, a repeated or empty news
            id, an unreadable time, or an impression without a 0/1 label.
    """
    directory = Path(directory)
    news_path = directory / "news.tsv"
    item_ids: list[str] = []
    headlines, descriptions, categories = [], [], []
    first_line: dict[str, int] = {}
    for number, text in read_lines(news_path):
        parts = text.split("\t")
        if len(parts) < 4:
            raise DataFormatError(news_path, f"expected at least 4 tab-separated fields (news id, category, "
                                             f"subcategory, title), got {len(parts)}", number)
        news = parts[0].strip()
        if not news:
            raise DataFormatError(news_path, "empty news id", number)
        note_first_listing(news_path, number, "news id", news, first_line)
        item_ids.append(news)
        categories.append(parts[1].strip())
        headlines.append(parts[3].strip())
        descriptions.append(parts[4].strip() if len(parts) > 4 else "")
    items = IdMap(item_ids)
    lookup = items.get

    behaviors_path = directory / "behaviors.tsv"
    book = CodeBook()
    users: list[int] = []
    clicked: list[int] = []
    times: list[float] = []
    unknown: dict[str, int] = {}
    parsed_times: dict[str, float] = {}
    rows = 0

    def add_click(user: int, news: str, when: float) -> None:
        """Record one click; a news id missing from news.tsv is counted and dropped."""
        item = lookup(news)
        if item < 0:
            unknown[news] = unknown.get(news, 0) + 1
            return
        users.append(user)
        clicked.append(item)
        times.append(when)

    for number, text in read_lines(behaviors_path):
        parts = text.split("\t")
        if len(parts) != 5:
            raise DataFormatError(behaviors_path, f"expected 5 tab-separated fields (impression id, user id, "
                                                  f"time, history, impressions), got {len(parts)}", number)
        user_text = parts[1].strip()
        if not user_text:
            raise DataFormatError(behaviors_path, "empty user id", number)
        when = parsed_times.get(parts[2])
        if when is None:
            try:
                when = parsed_times[parts[2]] = (datetime.strptime(parts[2].strip(), _TIME_FORMAT)
                                                     - _EPOCH).total_seconds()
            except ValueError:
                raise DataFormatError(behaviors_path, f"time must look like 11/15/2019 8:55:22 AM, got "
                                                      f"{parts[2]!r}", number) from None
        user = book.add(user_text)
        rows += 1
        for news in parts[3].split():
            add_click(user, news, -np.inf)
        for pair in parts[4].split():
            news, sep, label = pair.rpartition("-")
            if not sep or label not in ("0", "1") or not news:
                raise DataFormatError(behaviors_path, f"impressions must be news-label pairs such as N123-1 "
                                                      f"(label 0 or 1), got {pair!r}", number)
            if label == "1":
                add_click(user, news, when)
    user_ids, remap = book.finish()
    provisional = np.asarray(users, dtype=np.int64)
    return ClickLog(
        items=items, headlines=headlines, descriptions=descriptions, categories=categories, users=user_ids,
        event_user=remap[provisional] if provisional.size else provisional,
        event_item=np.asarray(clicked, dtype=np.int64), event_time=np.asarray(times, dtype=np.float64),
        source={"format": "mind", "path": str(directory), "files": ["news.tsv", "behaviors.tsv"],
                "impressions": rows, "events": len(clicked), "users": len(user_ids), "items": len(items),
                "unknown_news": {"ids": len(unknown), "mentions": sum(unknown.values())}},
    )
