"""``python -m engine`` is the ``forvent`` command."""

from engine.cli import main

main()
