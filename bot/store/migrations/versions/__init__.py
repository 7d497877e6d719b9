"""One module per revision, named by its four-digit id; Alembic skips this file."""
