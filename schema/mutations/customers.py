"""Mutations of customers (staff and admin)."""

from typing import Annotated

import strawberry

from omniman_gql.errors import OmnimanError
from omniman_gql.services import customers

from ..context import Info
from ..errors import user_errors
from ..inputs.customer import CustomerInput
from ..payloads import CustomerPayload
from ..permissions import Action, authorize
from ..types.customer import Customer


@strawberry.type
class CustomerMutations:
    @strawberry.mutation(description="Create or update a customer (staff, admin). A phone is a natural key: without "
                                     "a code, the customer with the same phone digits is updated (one customer per "
                                     "phone, also under concurrency). Errors: invalid_input (formats and bounds of "
                                     "each field, a phone of another customer, a new customer without name, phone "
                                     "or e-mail).")
    async def upsert_customer(
        self, info: Info, input: Annotated[CustomerInput, strawberry.argument(description="The customer.")]
    ) -> CustomerPayload:
        authorize(info, Action.MANAGE_CUSTOMERS)
        try:
            customer = await customers.upsert_customer(info.context.hub, input.to_fields())
        except OmnimanError as exc:
            return CustomerPayload(errors=user_errors(exc))
        return CustomerPayload(customer=Customer.from_info(customer))
