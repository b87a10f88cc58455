"""The per-request context: the Hub, fresh dataloaders, and who is calling (never a database session)."""

from dataclasses import dataclass, field
from typing import Any

import strawberry

from omniman_gql.runtime import Hub
from omniman_gql.services.auth import Principal
from omniman_gql.settings import Settings

from .loaders import Loaders, create_loaders

NO_TOKEN = "No API token: send the header `Authorization: Bearer <token>` (`omniman token create` makes one)."
BAD_TOKEN = "The API token is unknown or revoked (send the header `Authorization: Bearer <token>`)."


@dataclass(slots=True, kw_only=True)
class Context:
    """What resolvers get. Each dataloader batch opens its own short transaction, so a context can outlive requests
    (websocket connections) without pinning a connection; subscriptions build fresh `loaders` per event.

    `principal` is None until a valid token is shown (then every operation but introspection is refused with
    UNAUTHENTICATED and `auth_problem` says why); on websockets it is set by `connection_init`."""

    hub: Hub
    loaders: Loaders
    principal: Principal | None = None
    auth_problem: str = NO_TOKEN
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None  # the websocket `connection_init` payload
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return self.hub.settings

    @property
    def actor(self) -> str:
        """The name recorded as `actor` on the events a mutation causes (resolvers authorize first)."""
        if self.principal is None:
            raise RuntimeError("no principal: authorize before acting")
        return self.principal.name

    @property
    def role(self) -> str:
        """The caller's role, which services weigh where a channel's policy depends on it (price overrides)."""
        if self.principal is None:
            raise RuntimeError("no principal: authorize before acting")
        return str(self.principal.role)

    @classmethod
    def create(
        cls, hub: Hub, *, principal: Principal | None = None, auth_problem: str = NO_TOKEN, request: Any = None,
        response: Any = None
    ) -> "Context":
        return cls(hub=hub, loaders=create_loaders(hub), principal=principal, auth_problem=auth_problem,
                   request=request, response=response)


Info = strawberry.Info[Context, None]
