"""``python -m recsim_lab.cli``: the ``recsim-lab`` command without its console script."""

from recsim_lab.cli import main

raise SystemExit(main())
