"""Built-in agents, one file each, all through the same protocol as a user's own agent.

``BUILTIN_AGENTS`` maps each short name (``--agent NAME``) to its ``"module:Class"`` and a one-line
summary. Classes are imported only when used, so listing them is instant.
"""

from __future__ import annotations

BUILTIN_AGENTS: dict[str, tuple[str, str]] = {
    "random": ("agents.random:RandomAgent", "uniformly random unseen items (lower reference)"),
    "popularity": ("agents.popularity:PopularityAgent", "most clicked unseen items, counts updated per click"),
    "oracle": ("agents.oracle:OracleAgent", "top true scores from the hidden world (upper reference)"),
    "funk_svd": ("agents.funk_svd:FunkSVDAgent", "matrix factorisation (TensorFlow), learns per response"),
    "content": ("agents.content:ContentAgent", "items whose text embedding is closest to the user's clicks"),
    "hybrid": ("agents.hybrid:HybridAgent", "funk_svd and content blended (or by slate slots)"),
}

DEFAULT_AGENT = "hybrid"
"""The strongest built-in agent that needs no hidden information (measured: benchmarks/agent_quality.py)."""
