"""Migrations on each backend: upgrade → downgrade → upgrade round-trips, and the models match the migrations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from omniman_gql.models import metadata
from tests.fixtures.db import PG_ADMIN_URL, alembic_config, service_missing, sync_url

SCRATCH_DB = "omniman_migrations_test"  # its own database: the shared test database is left alone


@pytest.fixture
def scratch_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database (plain URL) that only this test migrates."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{SCRATCH_DB}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "not reachable"
        service_missing(f"PostgreSQL ({type(exc).__name__})")
    yield PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql") + f"/{SCRATCH_DB}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)'))
    admin.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def drift(url: str) -> list[Any]:
    """What `alembic check` would report: differences between the models and the migrated database."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trips(scratch_url: str) -> None:
    cfg = alembic_config(scratch_url)
    command.upgrade(cfg, "head")
    assert tables(scratch_url) == set(metadata.tables)
    command.downgrade(cfg, "base")
    assert tables(scratch_url) == set()
    command.upgrade(cfg, "head")
    assert tables(scratch_url) == set(metadata.tables)


def test_each_revision_steps_down_and_up_again(scratch_url: str) -> None:
    cfg = alembic_config(scratch_url)
    revisions = [r.revision for r in ScriptDirectory.from_config(cfg).walk_revisions("base", "heads")][::-1]
    for revision in revisions:  # oldest first: up to it, one step down, up again
        command.upgrade(cfg, revision)
        command.downgrade(cfg, "-1")
        command.upgrade(cfg, revision)
    assert tables(scratch_url) == set(metadata.tables)


def test_models_and_migrations_do_not_drift(scratch_url: str) -> None:
    command.upgrade(alembic_config(scratch_url), "head")
    assert drift(scratch_url) == []


def test_there_is_a_single_head(scratch_url: str) -> None:
    heads = ScriptDirectory.from_config(alembic_config(scratch_url)).get_heads()
    assert len(heads) == 1, f"migrations have several heads {heads}: merge them"
