"""``python -m syncd`` is the ``syncd`` command."""

from syncd.cli.main import main

main()
