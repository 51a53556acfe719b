"""Alembic revisions, oldest first: r0001 tables, r0002 views and roles."""
