"""What an agent may see: items with their texts, users with their click histories.

- :mod:`recsim_lab.data.dataset`: the :class:`Dataset` container.
- :mod:`recsim_lab.data.jsonl`: JSON-lines reading with file-and-line errors.
- :mod:`recsim_lab.data.datalab`: the DataLab Cup directory format (``user_data.json``, ``item_data.json``).
- real click logs (``recsim-lab data import``): :mod:`~recsim_lab.data.movielens`, :mod:`~recsim_lab.data.mind`,
  :mod:`~recsim_lab.data.news_category`, :mod:`~recsim_lab.data.interactions_csv` read them into a
  :class:`~recsim_lab.data.clicklog.ClickLog`; :mod:`~recsim_lab.data.split` splits it by time;
  :mod:`~recsim_lab.data.ids` keeps the original ids (``ids.json``).
"""

from recsim_lab.data.dataset import Dataset

__all__ = ["Dataset"]
