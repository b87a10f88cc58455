"""A repeated document is parsed and validated once (that is most of a small operation's cost), and the document
limits hold all the same; input objects built from a plan made once per type are those Strawberry builds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from strawberry.types.arguments import convert_argument

from omniman_gql.settings import Settings
from schema.accel_strawberry.documents import Documents, PreparedDocuments
from schema.build import OmnimanSchema, build_schema
from schema.inputs.session import (
    AddLineInput,
    LineRefInput,
    ModifySessionInput,
    ReplaceSkuInput,
    SessionOpInput,
    SetDataInput,
)

pytestmark = pytest.mark.anyio


def documents_of(schema: OmnimanSchema) -> Documents:
    return next(e.documents for e in schema.get_extensions() if isinstance(e, PreparedDocuments))


async def test_a_repeated_document_is_parsed_and_validated_once() -> None:
    schema = build_schema(Settings(max_query_depth=7, accelerate=True))
    cache = documents_of(schema).prepare
    query = "query CacheProbe { __typename }"
    await schema.execute(query)
    before = cache.cache_info()
    for _ in range(5):
        assert (await schema.execute(query)).errors is None
    after = cache.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 5


@pytest.mark.parametrize("accelerate", [True, False], ids=["prepared", "stock"])
async def test_document_limits_still_apply_with_the_cache(accelerate: bool) -> None:
    schema = build_schema(Settings(max_query_depth=3, accelerate=accelerate))
    deep = "{ orders { edges { node { channel { code } } } } }"
    for _ in range(2):
        result = await schema.execute(deep)
        assert result.errors and "exceeds maximum operation depth" in result.errors[0].message
    if accelerate:
        assert documents_of(schema).prepare.cache_info().hits == 1


@pytest.mark.parametrize("accelerate", [True, False], ids=["prepared", "stock"])
async def test_a_document_over_the_token_limit_is_refused_every_time_and_never_remembered(accelerate: bool) -> None:
    schema = build_schema(Settings(max_query_tokens=100, accelerate=accelerate))
    long = "{ " + "__typename " * 120 + "}"
    for _ in range(2):
        result = await schema.execute(long)
        assert result.errors and "more than 100 tokens" in result.errors[0].message
    if accelerate:
        assert documents_of(schema).prepare.cache_info().currsize == 0


def test_planned_input_conversion_builds_what_strawberrys_own_builds() -> None:
    schema = build_schema(Settings(accelerate=True))
    definition = SessionOpInput.__strawberry_definition__  # type: ignore[attr-defined]
    ops = [{"addLine": {"sku": "COFFEE", "qty": Decimal("2"), "unitPriceQ": None, "meta": {"a": [1]}}},
           {"setData": {"path": "customer.name", "value": None}}, {"removeLine": {"lineId": "L-1"}},
           {"replaceSku": {"lineId": "L-1", "sku": "TEA"}}]
    value = {"channelCode": "pos", "sessionKey": "S-1", "ops": ops}
    config, registry = schema.config, schema.schema_converter.scalar_registry
    planned = convert_argument(value, ModifySessionInput, registry, config)
    nested = [definition, *(t.__strawberry_definition__ for t in (  # type: ignore[attr-defined]
        ModifySessionInput, AddLineInput, SetDataInput, LineRefInput, ReplaceSkuInput))]
    plans = [d.from_input for d in nested]
    assert all(plans), "every input type has a planned from_input"
    try:
        for d in nested:
            d.from_input = None
        generic = convert_argument(value, ModifySessionInput, registry, config)
    finally:
        for d, plan in zip(nested, plans, strict=True):
            d.from_input = plan
    assert planned == generic and repr(planned) == repr(generic)
    assert [op.to_op() for op in planned.ops] == [op.to_op() for op in generic.ops]  # type: ignore[attr-defined]
