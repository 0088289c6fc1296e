"""Optuna studies of the discount factor (or any agent Config field): which value should
an agent use, and is learning it online (meta-gradient) worth it?

A study trains N lifetimes of one agent on one task and chooses each lifetime's values by
grid, random or Bayesian search, or lets a meta-gradient agent learn its discount
(``study.py``: the spec, samplers, pruners; ``space.py``: search spaces from Config
fields). ``worker.py`` takes queued trials and has each lifetime trained by the
:class:`~studies.lifetimes.Trainer` it is handed; ``compare.py`` re-evaluates each
method's choice on fresh lifetimes; ``catalog.py`` reads summaries and trials as
dataclasses; ``storage.py`` opens Optuna's storages (SQLite or PostgreSQL);
``remembered.py`` keeps the URLs of studies created in other databases.

This package imports ``agents`` and ``envs``, never ``workbench``: the workbench hands it
a trainer that records each lifetime as a run.
"""
