"""What an agent may see: items with their texts, users with their click histories.

- :mod:`recsim_lab.data.dataset`: the :class:`Dataset` container.
- :mod:`recsim_lab.data.jsonl`: JSON-lines reading with file-and-line errors.
- :mod:`recsim_lab.data.datalab`: the DataLab Cup directory format (``user_data.json``, ``item_data.json``).
"""

from recsim_lab.data.dataset import Dataset

__all__ = ["Dataset"]
