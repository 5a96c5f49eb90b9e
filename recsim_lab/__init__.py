"""recsim-lab: online, interactive evaluation of slate recommenders over replayed user click histories.

The data flows one way, one subpackage per stage; each imports only the stages before it::

    recsim_lab.data        click logs, item texts, file formats, importers  -> Dataset (what agents see)
    recsim_lab.worlds      World and Rules, choice model, presets, generators, calibration  (the hidden truth)
    recsim_lab.sim         one episode's population of users, the step rules, log replay
    envs                   Gymnasium SlateEnv, BatchSlateEnv, the DataLab Cup API, registration
    agents                 protocol, checker, registry, built-in agents and their helpers
    recsim_lab.run         runner: fit, checkpoint, episodes from the restored checkpoint, output files
    recsim_lab.evaluation  submissions in a separate process, score files, leaderboard
    recsim_lab.report      HTML report and figures
    recsim_lab.cli         the ``recsim-lab`` command, on top of all

Beside them, small modules every stage may use: :mod:`~recsim_lab.errors`, :mod:`~recsim_lab.validation`,
:mod:`~recsim_lab.names`, :mod:`~recsim_lab.atomic`, :mod:`~recsim_lab.checkpoint`,
:mod:`~recsim_lab.seeding`, :mod:`~recsim_lab.distinct`, :mod:`~recsim_lab.extras`.
Importing this package imports nothing else.
"""

__version__ = "0.1.0"
