"""``python -m workbench``: the same as the ``workbench`` command."""

from workbench.entry import main

main()
