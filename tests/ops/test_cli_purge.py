"""`omniman purge [--dry-run]`: prints per kind what it removes (or would remove); a dry run deletes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest

from omniman_gql.cli import main
from omniman_gql.models import Directive, IdempotencyKey, utcnow
from omniman_gql.runtime import Hub
from omniman_gql.settings import Settings, get_settings
from tests.services.support import count


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("OMNIMAN_DATABASE_URL", database_url)
    monkeypatch.delenv("OMNIMAN_REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        yield database_url
    finally:
        get_settings.cache_clear()


def _in_db(database_url: str, work: object) -> int:
    async def run() -> int:
        hub = Hub.create(Settings(database_url=database_url, redis_url=None))
        try:
            return await work(hub)  # type: ignore[operator,no-any-return]
        finally:
            await hub.dispose()

    return asyncio.run(run())


async def _arrange(hub: Hub) -> int:
    """Three keys past the default 72 h TTL, one recent; two done directives past 30 days, one failed one."""
    old, recent = utcnow() - dt.timedelta(hours=73), utcnow() - dt.timedelta(hours=71)
    async with hub.transaction() as uow:
        for n, at in enumerate((old, old, old, recent)):
            uow.db.add(IdempotencyKey(scope="commit:pos", key=f"K-{n}", status="done", session_key=f"S-{n}",
                                      created_at=at, updated_at=at))
        month_ago = utcnow() - dt.timedelta(days=31)
        for status in ("done", "done", "failed"):
            uow.db.add(Directive(topic="notification.send", status=status, updated_at=month_ago))
    return 0


async def _left(hub: Hub) -> int:
    return await count(hub, IdempotencyKey) * 100 + await count(hub, Directive)


def test_purge_dry_run_prints_the_counts_and_deletes_nothing_then_purge_deletes(
        cli_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    _in_db(cli_database, _arrange)

    assert main(["purge", "--dry-run"]) == 0
    dry = capsys.readouterr().out.splitlines()
    assert _in_db(cli_database, _left) == 403
    assert main(["purge"]) == 0
    done = capsys.readouterr().out.splitlines()

    assert dry == ["idempotency_keys  would remove 3", "directives        would remove 2",
                   "sessions          would remove 0", "Nothing was deleted (--dry-run)."]
    assert done == ["idempotency_keys  removed 3", "directives        removed 2", "sessions          removed 0"]
    assert _in_db(cli_database, _left) == 101
