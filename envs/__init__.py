"""The environments: what an agent plays against.

- :class:`~envs.slate_env.SlateEnv`: the Gymnasium env, one user served per step;
- :class:`~envs.batch_env.BatchSlateEnv`: the fast path, many distinct users served per step;
- :class:`~envs.vector_env.SlateVectorEnv`: the batched env as a ``gymnasium.vector.VectorEnv``, one sub-env
  per user's session (for vector-env tooling and RL libraries; :class:`~envs.slate_space.SlateSpace` is the
  action space of all three);
- :mod:`envs.datalab`: the DataLab Cup object API (``TrainingEnvironment``, ``TestingEnvironment``), and
  :mod:`envs.datalab_export`, which writes a DataLab Cup folder around it;
- :mod:`envs.registration`: the Gymnasium ids ``recsim_lab/<Preset>-v0``, registered on ``import envs``
  (or by ``gymnasium.make("envs:recsim_lab/Default-v0")``, which imports this package itself).

Worlds come from :mod:`recsim_lab.worlds`; nothing here imports TensorFlow, torch, faiss or matplotlib.
"""

from envs import registration  # noqa: F401  (registers the Gymnasium ids; builds no world)
from envs.batch_env import BatchSlateEnv
from envs.slate_env import SlateEnv
from envs.slate_space import SlateSpace
from envs.vector_env import SlateVectorEnv

__all__ = ["BatchSlateEnv", "SlateEnv", "SlateSpace", "SlateVectorEnv"]
