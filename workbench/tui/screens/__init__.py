"""Screens of the TUI, one module per area."""
