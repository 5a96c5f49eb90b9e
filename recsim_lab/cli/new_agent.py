"""``recsim-lab new-agent NAME``: a commented agent file that passes ``check_agent``, and a test file for it.

``NAME`` is a Python module name (``my_bandit``); the class is its CamelCase (``MyBandit``). The agent is
an epsilon-greedy item bandit: small, but it shows every part of the protocol (state learned in ``update``
only, the seeding pattern of an exploring agent, what was shown but not clicked, ``SeenItems``).
"""

from __future__ import annotations

import keyword
from pathlib import Path

from recsim_lab.atomic import atomic_write_text

AGENT_TEMPLATE = '''"""{name}: an epsilon-greedy item bandit, written by `recsim-lab new-agent {name}`. Make it yours.

    recsim-lab run --agent {name}.py:{cls} --env small      # play 5 episodes, write runs/...
    python -m pytest test_{name}.py                          # check it against the protocol

The protocol (README, "The agent contract"): fit once on the visible data; save once; then, before every
episode, load; during it, recommend and update for batches of active users.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agents.helpers.ranking import first_k_unseen, random_unseen
from recsim_lab.checkpoint import load_arrays, save_arrays
from recsim_lab.data import Dataset
from recsim_lab.data.seen import SeenItems


class {cls}:
    """Shows the items with the best click rate (clicks / times shown, with a Beta prior), skipping what
    each user already clicked; with probability ``epsilon`` a user's slate is random instead (exploration).

    Args:
        epsilon: share of slates drawn at random, in [0, 1].
        prior_clicks: pseudo-clicks added to every item (> 0).
        prior_shows: pseudo-shows added to every item (> prior_clicks).
    """

    def __init__(self, epsilon: float = 0.1, prior_clicks: float = 1.0, prior_shows: float = 20.0) -> None:
        # Hyperparameters are constructor keywords: `--set epsilon=0.2` on the command line. Reject bad ones here.
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {{epsilon!r}}")
        if not 0.0 < prior_clicks < prior_shows:
            raise ValueError(f"need 0 < prior_clicks < prior_shows, got {{prior_clicks!r}} and {{prior_shows!r}}")
        self.epsilon, self.prior_clicks, self.prior_shows = epsilon, prior_clicks, prior_shows

    def fit(self, data: Dataset, *, seed: int) -> None:
        """Called once, on what an agent may see: item texts and every user's initial clicks."""
        self.seen = SeenItems.from_histories(data.histories, data.n_items)  # who clicked what, as bitsets
        self.clicks = data.click_counts().astype(np.float64)  # (n_items,) a history click was shown too
        self.shows = self.clicks.copy()                       # (n_items,)
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def recommend(self, users: np.ndarray, k: int) -> np.ndarray:
        """(B,) int64 user ids -> (B, k) distinct item ids. Must not learn: only update() changes the state."""
        rate = (self.clicks + self.prior_clicks) / (self.shows + self.prior_shows)
        ranking = np.argsort(-rate, kind="stable")            # one global ranking, best first
        slates = first_k_unseen(ranking, users, self.seen, k)  # each user's first k items not yet clicked
        explore = self.rng.random(users.size) < self.epsilon
        if explore.any():
            slates[explore] = random_unseen(self.rng, users[explore], self.seen, k)
        return slates

    def update(self, users: np.ndarray, slates: np.ndarray, clicks: np.ndarray) -> None:
        """users (B,), slates (B, k) as shown, clicks (B,): the clicked item id, or -1 for no click."""
        np.add.at(self.shows, slates.ravel(), 1.0)    # every item shown, clicked or passed over
        clicked = clicks[clicks >= 0]
        np.add.at(self.clicks, clicked, 1.0)
        self.seen.add(users, clicks)                   # -1 entries are skipped

    def save(self, path: Path) -> None:
        """Write the learned state into the (existing, empty) folder `path`."""
        save_arrays(path, clicks=self.clicks, shows=self.shows, seed=np.array(self.seed))
        self.seen.save(path)

    def load(self, path: Path) -> None:
        """Restore exactly what save() wrote; called before every episode."""
        self.clicks, self.shows, seed = load_arrays(path, "clicks", "shows", "seed")
        self.seen = SeenItems.load(path)
        # The seeding pattern of an exploring agent: the generator is not saved state (recommend draws from
        # it), so each episode restarts it from the saved seed, and every episode explores reproducibly.
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
'''

TEST_TEMPLATE = '''"""Tests of {name} (written by `recsim-lab new-agent {name}`): python -m pytest test_{name}.py"""

import numpy as np

from agents.checker import check_agent
from recsim_lab.worlds.presets import make_world
from {name} import {cls}


def test_it_follows_the_protocol():
    check_agent({cls}(), make_world("small").dataset)  # raises, listing every problem


def test_items_passed_over_lose_their_place():
    agent = {cls}(epsilon=0.0)
    agent.fit(make_world("small").dataset, seed=0)
    user = np.array([1])
    first = agent.recommend(user, 5)[0, 0]
    for _ in range(50):
        agent.update(user, agent.recommend(user, 5), np.array([-1]))  # shown, never clicked
    assert first not in agent.recommend(user, 5)[0]
'''


def class_name(name: str) -> str:
    """``my_bandit`` -> ``MyBandit``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def write_agent_template(name: str, folder: Path) -> list[Path]:
    """Write ``folder/NAME.py`` and ``folder/test_NAME.py``; returns their paths.

    Raises:
        ValueError: ``name`` is not a Python module name, or one of the files exists (nothing is written).
    """
    if not name.isidentifier() or keyword.iskeyword(name) or not class_name(name).isidentifier():
        raise ValueError(f"agent name must be a Python module name such as my_bandit, got {name!r}")
    files = {Path(folder) / f"{name}.py": AGENT_TEMPLATE, Path(folder) / f"test_{name}.py": TEST_TEMPLATE}
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise ValueError(f"{', '.join(existing)} already exist(s); choose another name or remove it")
    for path, template in files.items():
        atomic_write_text(path, template.format(name=name, cls=class_name(name)))
    return list(files)
