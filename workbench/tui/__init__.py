"""The Textual terminal UI: reads the store, never trains, never blocks on SQLite."""
