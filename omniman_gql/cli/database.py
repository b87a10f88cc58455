"""The database commands share: Alembic configured for the settings, and upgrading a database to a revision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..settings import Settings


def alembic_config(settings: Settings) -> Any:
    """Alembic configured for `settings`, with the packaged `migrations` (works from an installed wheel too)."""
    from alembic.config import Config

    import migrations

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["settings"] = settings
    return cfg


def upgrade_database(settings: Settings, revision: str = "head") -> None:
    """Create or upgrade the database schema (idempotent: nothing happens at head)."""
    from alembic import command

    if settings.is_sqlite:  # SQLite creates the file, not its directory
        path = settings.database_url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), revision)
