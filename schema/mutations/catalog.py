"""Mutations of the shipped simple backends (admin): the price table and stock levels."""

from typing import Annotated

import strawberry

from omniman_gql.errors import OmnimanError
from omniman_gql.services import catalog

from ..context import Info
from ..errors import user_errors
from ..inputs.catalog import PriceInput, StockLevelInput
from ..payloads import PricesPayload, StockLevelsPayload
from ..permissions import Action, authorize
from ..types.catalog import Price, StockLevel


@strawberry.type
class CatalogMutations:
    @strawberry.mutation(description="Set unit prices by SKU (upsert, at most 1000 per call; admin). "
                                     "Errors: missing_sku, invalid_price, invalid_input.")
    async def set_prices(
        self, info: Info, input: Annotated[list[PriceInput], strawberry.argument(description="The prices to set.")]
    ) -> PricesPayload:
        authorize(info, Action.ADMIN)
        try:
            rows = await catalog.set_prices(info.context.hub, [entry.to_entry() for entry in input])
        except OmnimanError as exc:
            return PricesPayload(errors=user_errors(exc))
        return PricesPayload(prices=[Price.from_model(row) for row in rows])

    @strawberry.mutation(description="Set on-hand quantities by SKU (upsert, at most 1000 per call; admin). "
                                     "Errors: missing_sku, invalid_qty, invalid_input.")
    async def set_stock_levels(
        self, info: Info, input: Annotated[list[StockLevelInput], strawberry.argument(description="The levels to set.")]
    ) -> StockLevelsPayload:
        authorize(info, Action.ADMIN)
        try:
            rows = await catalog.set_stock_levels(info.context.hub, [entry.to_entry() for entry in input])
        except OmnimanError as exc:
            return StockLevelsPayload(errors=user_errors(exc))
        return StockLevelsPayload(stock_levels=[StockLevel.from_row(row) for row in rows])
