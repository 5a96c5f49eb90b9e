"""recsim-lab: online, interactive evaluation of slate recommenders over replayed user click histories.

Data flow, one module per stage: ``data`` (what agents see) -> ``world`` and ``choice`` (the hidden truth
and rules) -> ``population`` (one episode's state) -> ``env`` / ``batch_env`` (Gymnasium and batched
environments) <-> ``agent`` (the protocol; built-ins in the top-level ``agents`` package) <- ``runner``
(episodes from a checkpoint) -> ``scoring`` (CSV and JSON outputs).

Importing this package registers the Gymnasium ids ``recsim_lab/<Preset>-v0`` (see ``envs.registration``).
"""

__version__ = "0.1.0"

import envs.registration  # noqa: E402,F401  (Gymnasium ids; imports no world and no agent)
