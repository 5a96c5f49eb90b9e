"""Agents: the protocol every recommender follows, its checker, the registry of names, and the built-ins.

- :mod:`agents.protocol`: :class:`~agents.protocol.Agent`, the contract (``fit``, ``recommend``, ``update``,
  ``save``, ``load``);
- :mod:`agents.checker`: :func:`~agents.checker.check_agent`, which runs an agent through the protocol and
  says everything it does wrong;
- :mod:`agents.registry`: agents by name (built-in short names, ``file.py:Class``, ``module:Class``, and
  third-party agents registered under the ``recsim_lab.agents`` entry-point group);
- the built-ins, one file each (``random``, ``popularity``, ``oracle``, ``funk_svd``, ``content``,
  ``hybrid``), and :mod:`agents.helpers`, what they share (ranking, retrieval, text embeddings).
"""
