"""Migrations on each backend: upgrade → downgrade → upgrade round-trips, and the models match the migrations."""

from __future__ import annotations

import datetime as dt
import logging
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


def plant_orders(url: str, orders: list[tuple[str, int, int]]) -> None:
    """Write a channel and orders `(ref, total_q, a line's total)` straight into the database, as an older hub could."""
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO channels (code, name, pricing_policy, edit_policy, currency, display_order, is_active, "
                "config, created_at, updated_at) VALUES ('pos', 'POS', 'internal', 'open', 'BRL', 0, true, '{}', "
                ":now, :now)"), {"now": now})
            for ref, total, line_total in orders:
                order_id = conn.execute(text(
                    "INSERT INTO orders (ref, channel_code, session_key, status, currency, total_q, items_count, "
                    "snapshot, created_at, updated_at) VALUES (:ref, 'pos', :ref, 'new', 'BRL', :total, 1, '{}', "
                    ":now, :now) RETURNING id"), {"ref": ref, "total": total, "now": now}).scalar_one()
                conn.execute(text(
                    "INSERT INTO order_items (order_id, line_id, sku, name, qty, unit_price_q, line_total_q, meta) "
                    "VALUES (:id, 'L-1', 'COFFEE', 'Coffee', 1, 550, :line_total, '{}')"),
                    {"id": order_id, "line_total": line_total})
    finally:
        engine.dispose()


def test_the_amounts_check_stops_the_upgrade_on_a_planted_out_of_range_order(
        scratch_url: str, caplog: pytest.LogCaptureFixture) -> None:
    # Given orders an older hub stored: one fine, one whose total overflows a GraphQL Int, one with a bad line only
    cfg = alembic_config(scratch_url)
    command.upgrade(cfg, "0001")
    plant_orders(scratch_url, [("ORD-FINE", 550, 550), ("ORD-HUGE", 549_999_999_450, 549_999_999_450),
                               ("ORD-LINE", 550, 2**31)])
    # When the database is upgraded, then the check names both bad orders and stops
    with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError, match="2 stored order") as info:
        command.upgrade(cfg, "head")
    assert "ORD-HUGE" in str(info.value) and "ORD-LINE" in str(info.value) and "ORD-FINE" not in str(info.value)
    assert [r.getMessage() for r in caplog.records if "outside the GraphQL Int" in r.getMessage()] == [
        "order ORD-HUGE has an amount outside the GraphQL Int range (total_q=549999999450)",
        "order ORD-LINE has an amount outside the GraphQL Int range (total_q=550)"]
    assert current_revision(scratch_url) == "0001"  # nothing was stamped
    # Once an operator removed them, the upgrade goes through
    engine = create_engine(sync_url(scratch_url))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM order_items WHERE order_id IN "
                          "(SELECT id FROM orders WHERE ref IN ('ORD-HUGE', 'ORD-LINE'))"))
        conn.execute(text("DELETE FROM orders WHERE ref IN ('ORD-HUGE', 'ORD-LINE')"))
    engine.dispose()
    command.upgrade(cfg, "head")
    assert current_revision(scratch_url) == ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(url: str) -> str | None:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
