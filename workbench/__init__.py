"""The Meta-RL Workbench application: CLI, TUI, run store and background runner."""

from workbench.plugins import install

install()  # the registries below find plug-ins through these loaders (workbench/plugins.py)
