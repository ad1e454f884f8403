"""Alembic migrations of the server's schema, for SQLite and PostgreSQL alike (``db.py``)."""
