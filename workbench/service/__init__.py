"""The service layer the CLI and the TUI share: what a user does to runs and studies."""
