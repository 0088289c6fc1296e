"""Optuna studies of discount tuning (grid, random, Bayesian, meta-gradient).

Nothing here yet: the studies arrive with the issue "Discount studies". The package
exists now so the dependency direction workbench -> studies -> agents -> envs is fixed
from the start.
"""
