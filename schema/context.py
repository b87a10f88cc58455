"""The per-request context: the Hub, fresh dataloaders, and who is calling (never a database session)."""

from dataclasses import dataclass, field
from typing import Any

import strawberry

from omniman_gql.runtime import Hub
from omniman_gql.services.auth import Principal, Role
from omniman_gql.settings import Settings

from .loaders import Loaders, create_loaders

# Until tokens are checked on every request, callers act as this admin; its name is the actor recorded on events.
ANONYMOUS = Principal(name="anonymous", role=Role.ADMIN, channels=None)


@dataclass(slots=True, kw_only=True)
class Context:
    """What resolvers get. Each dataloader batch opens its own short transaction, so a context can outlive requests
    (websocket connections) without pinning a connection; subscriptions build fresh `loaders` per event."""

    hub: Hub
    loaders: Loaders
    principal: Principal = ANONYMOUS
    request: Any = None
    response: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return self.hub.settings

    @property
    def actor(self) -> str:
        """The name recorded as `actor` on the events a mutation causes."""
        return self.principal.name

    @classmethod
    def create(
        cls, hub: Hub, *, principal: Principal = ANONYMOUS, request: Any = None, response: Any = None
    ) -> "Context":
        return cls(hub=hub, loaders=create_loaders(hub), principal=principal, request=request, response=response)


Info = strawberry.Info[Context, None]
