"""Reusable widgets and text helpers of the TUI."""
