"""Gymnasium ids for the presets: ``gymnasium.make("recsim_lab/Default-v0")`` after ``import recsim_lab``.

Entry points are strings, so registering imports neither the environment nor any world.
"""

from __future__ import annotations

import gymnasium

GYMNASIUM_IDS = {"default": "recsim_lab/Default-v0", "datalab": "recsim_lab/DataLab-v0",
                 "small": "recsim_lab/Small-v0"}

for _preset, _env_id in GYMNASIUM_IDS.items():
    if _env_id not in gymnasium.registry:
        gymnasium.register(id=_env_id, entry_point="recsim_lab.env:SlateEnv", kwargs={"world": _preset})
