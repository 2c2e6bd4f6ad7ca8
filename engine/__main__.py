"""``python -m engine`` is the ``forvent`` command."""

from engine.cli.main import main

main()
