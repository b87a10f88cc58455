"""The working copy a modify builds: what modifiers transform and validators inspect."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ChannelRules:
    """The parts of a channel the pure rules need."""

    code: str
    pricing_policy: str = "internal"
    edit_policy: str = "open"
    currency: str = "BRL"
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def external_pricing(self) -> bool:
        return self.pricing_policy == "external"


@dataclass(frozen=True, slots=True)
class PriceQuote:
    unit_price_q: int
    name: str = ""
    price_list: str | None = None  # the customer's price list this price came from (None: the list-less price)


@dataclass(slots=True)
class Draft:
    """A session's lines and data while a modify runs; discarded if anything fails."""

    channel: ChannelRules
    items: list[dict[str, Any]]
    data: dict[str, Any]
    pricing: dict[str, Any] = field(default_factory=dict)
    pricing_trace: list[dict[str, Any]] = field(default_factory=list)
    prices: Mapping[str, PriceQuote] = field(default_factory=dict)  # fetched by the service before modifiers run
    actor: str = "system"
    # The actor's role (a token's role, or "system" for the hub's own calls): who may override prices depends on it.
    role: str = "system"
    # line_id -> (op index, op name) of the last op of this call that touched the line, so an error a validator finds
    # on a line can be reported against the input that caused it.
    origins: dict[str, tuple[int, str]] = field(default_factory=dict)
    # line_id -> (op index, op name) of the op of this call that gave the line its `unit_price_q`: only a price sent
    # now can be refused as an override, never one set earlier (by staff, say) on a line this call merely touches.
    priced: dict[str, tuple[int, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, channel: ChannelRules, *, items: Any, data: Any, pricing_trace: Any = (), actor: str = "system",
           prices: Mapping[str, PriceQuote] | None = None, pricing: Any = None, role: str = "system") -> Draft:
        return cls(channel=channel, items=copy.deepcopy(list(items)), data=copy.deepcopy(dict(data)),
                   pricing=copy.deepcopy(dict(pricing or {})), pricing_trace=copy.deepcopy(list(pricing_trace)),
                   prices=prices or {}, actor=actor, role=role)

    def last_op_field(self) -> tuple[str | int, ...]:
        """The input path of the last op of this call that touched a line (what pushed a total over), else `ops`."""
        return ("ops", *max(self.origins.values())) if self.origins else ("ops",)

    def input_field(self, index: int, *rest: str | int) -> tuple[str | int, ...]:
        """The input path of line `index`'s field: the op that touched it in this call, else the session's item."""
        origin = self.origins.get(self.items[index]["line_id"]) if 0 <= index < len(self.items) else None
        if origin is None:
            return ("items", index, *rest)
        return ("ops", origin[0], origin[1], *rest)
