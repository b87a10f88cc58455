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

    @classmethod
    def of(cls, channel: ChannelRules, *, items: Any, data: Any, pricing_trace: Any = (), actor: str = "system",
           prices: Mapping[str, PriceQuote] | None = None) -> Draft:
        return cls(channel=channel, items=copy.deepcopy(list(items)), data=copy.deepcopy(dict(data)),
                   pricing_trace=copy.deepcopy(list(pricing_trace)), prices=prices or {}, actor=actor)
