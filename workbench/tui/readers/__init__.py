"""What the TUI shows, read from the store and the study storages as dataclasses.

Nothing here imports Textual (as toolong's ``log_file.py`` knows nothing of its UI): a
screen's worker calls a reader on its own thread and posts what it returns as a message.
"""
