"""The parse and validation caches hit for a repeated document (they are most of a small operation's cost)."""

from __future__ import annotations

import pytest
from strawberry.extensions.validation_cache import _get_validate_cache

from omniman_gql.settings import Settings
from schema.build import build_schema
from schema.extensions import CACHE_SIZE

pytestmark = pytest.mark.anyio


async def test_a_repeated_document_is_validated_once() -> None:
    schema = build_schema(Settings(max_query_depth=7))
    cache = _get_validate_cache(CACHE_SIZE)
    query = "query CacheProbe { __typename }"
    await schema.execute(query)
    before = cache.cache_info()
    for _ in range(5):
        assert (await schema.execute(query)).errors is None
    after = cache.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 5


async def test_document_limits_still_apply_with_the_cache() -> None:
    schema = build_schema(Settings(max_query_depth=3))
    deep = "{ orders { edges { node { channel { code } } } } }"
    for _ in range(2):
        result = await schema.execute(deep)
        assert result.errors and "exceeds maximum operation depth" in result.errors[0].message
