"""Mutations of API tokens (admin): create one (its secret shown once), revoke one."""

from typing import Annotated

import strawberry

from omniman_gql.errors import ErrorCode, OmnimanError
from omniman_gql.services import auth

from ..context import Info
from ..errors import user_errors
from ..inputs.token import CreateTokenInput
from ..nodes import row_number
from ..permissions import Action, authorize
from ..types.token import ApiToken, CreateTokenPayload, TokenPayload


def _token_id(value: strawberry.ID) -> int:
    """The token's global id (its `id`) or, as before global ids, its number."""
    number = row_number(str(value), "ApiToken")
    if number is None:
        raise OmnimanError(ErrorCode.NOT_FOUND, f"No token {str(value)[:40]!r}.", field=("id",))
    return number


@strawberry.type
class TokenMutations:
    @strawberry.mutation(description="Create an API token (admin). The payload's `secret` is the only time the token "
                                     "is shown. Errors: invalid_input (name, channels for the role), "
                                     "token_name_taken (a live token has the name), channel_not_found (a listed "
                                     "channel does not exist).")
    async def create_token(
        self, info: Info, input: Annotated[CreateTokenInput, strawberry.argument(description="The new token.")]
    ) -> CreateTokenPayload:
        authorize(info, Action.ADMIN)
        try:
            row, secret = await auth.create_token(info.context.hub, **input.to_kwargs())
        except OmnimanError as exc:
            return CreateTokenPayload(errors=user_errors(exc))
        return CreateTokenPayload(token=ApiToken.from_model(row), secret=secret)

    @strawberry.mutation(description="Revoke an API token (admin): it stops working at once, and its open websockets "
                                     "are closed (4401). Revoking a revoked token is fine. Errors: not_found.")
    async def revoke_token(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The token's id.")]
    ) -> TokenPayload:
        authorize(info, Action.ADMIN)
        try:
            row = await auth.revoke_token(info.context.hub, token_id=_token_id(id))
        except OmnimanError as exc:
            return TokenPayload(errors=user_errors(exc))
        return TokenPayload(token=ApiToken.from_model(row))
