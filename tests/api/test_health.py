"""GET /health: ok when the database and broker answer; 503 naming the part that does not."""

from __future__ import annotations

from starlette.testclient import TestClient

from omniman_gql import __version__
from omniman_gql.settings import Settings
from schema.asgi import create_app
from tests.fixtures.app import free_port


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
