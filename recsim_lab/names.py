"""Looking up things by name, with "did you mean" suggestions for typos."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def unknown_name_error(kind: str, name: str, known: Iterable[str], hint: str = "") -> ValueError:
    """A ``ValueError`` for an unknown ``name``, suggesting close matches and listing the known names."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    suggestion = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"unknown {kind} {name!r}.{suggestion} Known {kind}s: {', '.join(known)}.{hint}")
