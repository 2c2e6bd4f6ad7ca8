"""The ``forvent`` command: ``main`` registers one module per command group on ``app``'s root group."""
