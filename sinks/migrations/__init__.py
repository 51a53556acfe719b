"""Alembic migrations of the opportunity database (run through :mod:`sinks.schema`)."""
