"""Alembic revisions, shipped inside the package so an installed Forvent can create its schema."""
