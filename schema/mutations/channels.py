"""Mutations of channels."""

from typing import Annotated

import strawberry

from omniman_gql.errors import OmnimanError
from omniman_gql.services import channels

from ..context import Info
from ..errors import user_errors
from ..inputs.channel import ChannelInput
from ..payloads import ChannelPayload
from ..permissions import Action, authorize
from ..types.channel import Channel

INPUT = "What to do (see the input type)."
ChannelArg = Annotated[ChannelInput, strawberry.argument(description=INPUT)]


@strawberry.type
class ChannelMutations:
    @strawberry.mutation(description="Create a channel, or change the given fields of an existing one. Admin only. "
                                     "Errors: invalid_input (code, policy, currency, name, displayOrder), "
                                     "invalid_config (unknown or malformed `config` keys, a directive topic without "
                                     "a handler, an `on_status` key not in the flow, an unknown notifier; `field` "
                                     "points inside `config`, `context.valid` lists what is accepted).")
    async def upsert_channel(self, info: Info, input: ChannelArg) -> ChannelPayload:
        authorize(info, Action.ADMIN)
        try:
            row, created = await channels.upsert_channel(info.context.hub, actor=info.context.actor,
                                                         **input.to_kwargs())
        except OmnimanError as exc:
            return ChannelPayload(errors=user_errors(exc))
        return ChannelPayload(channel=Channel.from_model(row), created=created)
