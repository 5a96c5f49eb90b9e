"""Gymnasium ids for the presets: ``gymnasium.make("recsim_lab/Default-v0")`` after ``import envs``.

Importing this module (``import envs`` does) registers one id per preset of
:data:`~recsim_lab.worlds.presets.PRESETS` (:data:`GYMNASIUM_IDS`), each once: importing it again changes
nothing. ``import recsim_lab`` alone registers nothing; ``gymnasium.make("envs:recsim_lab/Default-v0")``
imports ``envs`` itself. Entry points are ``"module:Class"`` strings, so registering builds no world:
``gymnasium.make`` builds the preset's world when it constructs the env.
"""

from __future__ import annotations

import gymnasium

GYMNASIUM_IDS = {"default": "recsim_lab/Default-v0", "datalab": "recsim_lab/DataLab-v0",
                 "small": "recsim_lab/Small-v0", "sparse": "recsim_lab/Sparse-v0"}

for _preset, _env_id in GYMNASIUM_IDS.items():
    if _env_id not in gymnasium.registry:
        gymnasium.register(id=_env_id, entry_point="envs.slate_env:SlateEnv", kwargs={"world": _preset})
