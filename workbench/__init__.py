"""The Meta-RL Workbench application: CLI, TUI, run store and background runner."""
