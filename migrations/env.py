"""Alembic environment: the URL comes from Omniman's settings; SQLite runs in batch mode."""

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from omniman_gql.infra.db import create_engine
from omniman_gql.models import metadata
from omniman_gql.settings import Settings, get_settings

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        user_module_prefix="omniman_gql.models._base.",
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


def run() -> None:
    connection: Any = config.attributes.get("connection")
    if connection is not None:  # a caller (tests, `omniman migrate`) handed us a sync connection
        _run_sync(connection)
        return
    settings: Settings = config.attributes.get("settings") or get_settings()
    asyncio.run(_run_async(settings))


run()
