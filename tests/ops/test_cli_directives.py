"""`omniman directives list|retry`: an operator finds a failed directive from the shell and runs it again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from omniman_gql.cli import main
from omniman_gql.runtime import Hub
from omniman_gql.services import directives, outbox
from omniman_gql.settings import Settings, get_settings


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("OMNIMAN_DATABASE_URL", database_url)
    monkeypatch.delenv("OMNIMAN_REDIS_URL", raising=False)  # no broker: a retry waits for the hub's sweeper
    get_settings.cache_clear()
    try:
        yield database_url
    finally:
        get_settings.cache_clear()


def arrange(database_url: str) -> tuple[int, int]:
    """A directive that failed for good (no handler for its topic) and one still queued; returns their ids."""
    async def run() -> tuple[int, int]:
        hub = Hub.create(Settings(database_url=database_url, redis_url=None))
        try:
            async with hub.transaction() as uow:
                broken = await outbox.enqueue(uow, "nobody.handles", {"order_ref": "ORD-X"})
                waiting = await outbox.enqueue(uow, "notification.send", {"message": "hi"})
            outcome = await directives.run_directive(hub, int(broken.id or 0))
            assert outcome.status == "failed"
            return int(broken.id or 0), int(waiting.id or 0)
        finally:
            await hub.dispose()

    return asyncio.run(run())


def test_list_filters_by_status_and_retry_queues_again(cli_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    broken, waiting = arrange(cli_database)

    assert main(["directives", "list", "--status", "failed"]) == 0
    table = capsys.readouterr().out
    assert main(["directives", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(["directives", "retry", str(broken)]) == 0
    retried = capsys.readouterr().out
    assert main(["directives", "list", "--topic", "nobody.handles", "--json"]) == 0
    after = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert "nobody.handles" in table and "failed" in table and "no handler for topic" in table
    assert str(waiting) not in [line.split()[0] for line in table.splitlines()[1:]]
    assert [(r["id"], r["status"]) for r in rows] == [(waiting, "queued"), (broken, "failed")]
    assert f"Directive {broken} (nobody.handles) is queued again" in retried
    assert [(r["id"], r["status"], r["attempts"]) for r in after] == [(broken, "queued", 1)]


def test_retry_refuses_what_is_not_failed(cli_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    _broken, waiting = arrange(cli_database)

    assert main(["directives", "retry", str(waiting)]) == 1
    assert main(["directives", "retry", "999999"]) == 1
    err = capsys.readouterr().err
    assert f"error: Directive {waiting} is 'queued'; only failed directives can be retried." in err
    assert "error: No directive 999999." in err
