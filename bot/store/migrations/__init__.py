"""Alembic's migration scripts: a package so `pip install .` ships them (see migrate.py)."""
