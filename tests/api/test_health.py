"""GET /health: ok when the database and broker answer; 503 naming the part that does not."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from omniman_gql import __version__
from omniman_gql.settings import Settings
from schema.asgi import create_app
from tests.fixtures.app import free_port
from tests.graphql import bearer, create_token_in


def test_health_is_ok_on_the_embedded_setup(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__, "database": "ok", "broker": "ok"}


def test_health_pings_redis_when_configured(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"}))) as client:
        response = client.get("/health")
    body = response.json()
    if body["broker"] != "ok":  # Redis is part of the test environment; say so clearly when it is absent
        from tests.fixtures.db import service_missing

        service_missing("Redis")
    assert response.status_code == 200 and body["status"] == "ok"


def test_health_names_a_broker_that_is_down(settings: Settings) -> None:
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with TestClient(create_app(down)) as client:
        response = client.get("/health")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable" and body["failing"] == ["broker"]
    assert body["database"] == "ok" and body["broker"].startswith("unavailable")


def test_health_names_a_database_that_is_down() -> None:
    settings = Settings(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nothing", redis_url=None)
    with TestClient(create_app(settings)) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


def test_oversized_bodies_are_refused(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"max_body_bytes": 2048}))) as client:
        response = client.post("/graphql", json={"query": "{ channels { code } }", "variables": {"x": "y" * 4096}})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"] == {"code": "PAYLOAD_TOO_LARGE"}


def test_what_the_app_starts_with_is_frozen_while_it_serves(settings: Settings) -> None:
    """The objects alive once the app is up are kept out of the collector's generations (full collections would
    walk the schema's ≈ 160k objects at every request's expense) and handed back at shutdown."""
    import gc

    assert gc.get_freeze_count() == 0
    with TestClient(create_app(settings)) as client:
        assert gc.get_freeze_count() > 10_000
        assert client.get("/health").status_code == 200
        gc.collect()  # a full collection leaves them where they are (only freeing by reference count shrinks them)
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0


READ_ONLY = {"status": "unavailable", "version": __version__, "database": "read_only", "broker": "ok",
             "failing": ["database"]}
OPEN = 'mutation { openSession(input: {channelCode: "pos", sessionKey: "K"}) { errors { code } } }'


def sqlite_copy(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "omniman.db"
    shutil.copy(template, path)
    return path


def test_health_names_a_sqlite_file_opened_read_only(sqlite_template: Path, tmp_path: Path) -> None:
    """The deployment's own setting: a URL that opens the file read-only (`?mode=ro`, as a read-only mount or a
    file without write permission does for a non-root process; root ignores permissions, so the URL is what this
    test can use). Reads work, writes fail: not ok."""
    path = sqlite_copy(sqlite_template, tmp_path)
    secret = create_token_in(Settings(database_url=f"sqlite:///{path}", redis_url=None), "admin")
    settings = Settings(database_url=f"sqlite:///file:{path}?mode=ro&uri=true", redis_url=None)
    with TestClient(create_app(settings, run_directives=False)) as client:
        response = client.get("/health")
        read = client.post("/graphql", json={"query": "{ channels { code } }"}, headers=bearer(secret))
        write = client.post("/graphql", json={"query": OPEN}, headers=bearer(secret))
    assert read.json() == {"data": {"channels": []}}
    assert (response.status_code, response.json()) == (503, READ_ONLY)
    # The writes it foretold: refused as the database being unavailable (for writing), not as a bug.
    assert write.status_code == 503 and write.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to files without write permission")
def test_health_names_a_sqlite_file_without_write_permission(sqlite_template: Path, tmp_path: Path) -> None:
    path = sqlite_copy(sqlite_template, tmp_path)
    path.chmod(0o444)
    with TestClient(create_app(Settings(database_url=f"sqlite:///{path}", redis_url=None))) as client:
        response = client.get("/health")
    assert (response.status_code, response.json()) == (503, READ_ONLY)


def test_a_busy_sqlite_writer_is_no_read_only_database(sqlite_template: Path, tmp_path: Path) -> None:
    """The probe never waits for the write lock: a writer holding it shows the file takes writes."""
    path = sqlite_copy(sqlite_template, tmp_path)
    with TestClient(create_app(Settings(database_url=f"sqlite:///{path}", redis_url=None))) as client:
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            response = client.get("/health")
            took = time.monotonic() - started
        finally:
            writer.execute("ROLLBACK")
            writer.close()
    assert response.status_code == 200 and response.json()["database"] == "ok"
    assert took < 1.0  # far below the busy timeout the app's own writers wait


def test_health_names_a_postgresql_database_that_refuses_writes(postgresql_url: str) -> None:
    """`default_transaction_read_only` for this connection only (as a hot standby answers): reads work, writes fail."""
    read_only_url = postgresql_url + ("&" if "?" in postgresql_url else "?") + \
        "options=-c%20default_transaction_read_only%3Don"
    with TestClient(create_app(Settings(database_url=read_only_url, redis_url=None), run_directives=False)) as client:
        response = client.get("/health")
    assert (response.status_code, response.json()) == (503, READ_ONLY)
    with TestClient(create_app(Settings(database_url=postgresql_url, redis_url=None))) as client:
        assert client.get("/health").json()["database"] == "ok"
