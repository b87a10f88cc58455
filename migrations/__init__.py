"""Alembic migrations of the hub's database (packaged so `omniman migrate` works from an installed wheel)."""
