"""The registry of extension points (modifiers, validators, handlers, resolvers, backends), built at start-up."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .domain.draft import Draft
from .domain.limits import Limits
from .domain.pricing import PricingModifier, TotalsModifier
from .domain.validation import (
    AmountBoundsValidator,
    LineCountValidator,
    PricedLinesValidator,
    PriceOverrideValidator,
)
from .errors import OmnimanError
from .protocols import CustomerBackend, Notifier, PaymentBackend, PricingBackend, StockBackend
from .settings import Settings

if TYPE_CHECKING:
    from .runtime import Hub

STAGES = ("draft", "commit", "import")


class Modifier(Protocol):
    """A pure, deterministic, idempotent transform of a draft, run on every modify by ascending `order`."""

    code: str
    order: int

    def apply(self, draft: Draft) -> None: ...


class Validator(Protocol):
    """A pure gate at one stage (`draft`, `commit`, `import`): returns the errors it finds, never mutates."""

    code: str
    stage: str

    def validate(self, draft: Draft) -> list[OmnimanError]: ...


IssueResolver = Callable[["Hub", dict[str, Any], dict[str, Any]], Awaitable[list[dict[str, Any]]]]
"""`async (hub, issue, action) -> ops`: the ops that carry out an issue's action."""

DirectiveHandler = Callable[["Hub", Any], Awaitable[Any]]


async def apply_action_ops(hub: Hub, issue: dict[str, Any], action: dict[str, Any]) -> list[dict[str, Any]]:
    """The default issue resolver: an action's own ops are applied as they are."""
    return list(action.get("ops") or [])


@dataclass
class Registry:
    pricing: PricingBackend
    stock: StockBackend
    payment: PaymentBackend
    notifiers: dict[str, Notifier]
    limits: Limits
    customers: CustomerBackend = field(default_factory=lambda: _no_customers())
    modifiers: list[Modifier] = field(default_factory=list)
    validators: list[Validator] = field(default_factory=list)
    handlers: dict[str, DirectiveHandler] = field(default_factory=dict)
    resolvers: dict[str, IssueResolver] = field(default_factory=dict)

    def add_modifier(self, modifier: Modifier) -> None:
        self.modifiers.append(modifier)
        self.modifiers.sort(key=lambda m: m.order)

    def add_validator(self, validator: Validator) -> None:
        if validator.stage not in STAGES:
            raise ValueError(f"validator stage must be one of {STAGES}")
        self.validators.append(validator)

    def add_handler(self, topic: str, handler: DirectiveHandler) -> None:
        if topic in self.handlers:
            raise ValueError(f"a handler for {topic!r} is already registered (one handler per topic)")
        self.handlers[topic] = handler

    def add_resolver(self, source: str, resolver: IssueResolver) -> None:
        self.resolvers[source] = resolver

    def validators_for(self, stage: str) -> list[Validator]:
        return [v for v in self.validators if v.stage == stage]


def _no_customers() -> CustomerBackend:
    from .backends.db_customers import NoCustomers

    return NoCustomers()


def customer_backend(settings: Settings) -> CustomerBackend:
    """The customer backend the setting names: `database`, `none`, or `package.module:Class`."""
    from .backends.db_customers import DatabaseCustomers, NoCustomers

    if settings.customer_backend == "database":
        return DatabaseCustomers()
    if settings.customer_backend == "none":
        return NoCustomers()
    module_name, _, class_name = settings.customer_backend.partition(":")
    backend: CustomerBackend = getattr(importlib.import_module(module_name), class_name)()
    return backend


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_ops_per_modify=settings.max_ops_per_modify,
        max_lines_per_session=settings.max_lines_per_session,
        # Keys, SKUs, names and references are stored in 200-character columns; a higher setting would let
        # PostgreSQL refuse the insert (SQLite would not notice), so it is capped here.
        max_string_length=min(settings.max_string_length, 200),
        max_json_bytes=settings.max_json_bytes,
        max_json_depth=settings.max_json_depth,
    )


def build_registry(settings: Settings) -> Registry:
    """The registry with the shipped backends, modifiers, validators, handlers and resolvers."""
    from .backends.console_notifier import ConsoleNotifier
    from .backends.db_stock import DatabaseStock
    from .backends.mock_payment import MockPayment
    from .backends.price_table import PriceTable
    from .handlers import register_standard_handlers

    limits = limits_from(settings)
    registry = Registry(
        pricing=PriceTable(),
        stock=DatabaseStock(),
        payment=MockPayment(),
        notifiers={"console": ConsoleNotifier(json_lines=settings.log_json)},
        limits=limits,
        customers=customer_backend(settings),
    )
    registry.add_modifier(PricingModifier())
    registry.add_modifier(TotalsModifier())
    for stage in ("draft", "import"):  # an imported order passes the same gates as a session's lines
        registry.add_validator(LineCountValidator(max_lines=limits.max_lines_per_session, stage=stage))
        registry.add_validator(PricedLinesValidator(stage=stage))
        registry.add_validator(AmountBoundsValidator(stage=stage))
        registry.add_validator(PriceOverrideValidator(stage=stage))
    registry.add_resolver("stock", apply_action_ops)
    register_standard_handlers(registry, settings)
    return registry
